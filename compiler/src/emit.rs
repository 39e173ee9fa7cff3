//! Pictures of a graph for people: Graphviz dot and Mermaid.
//!
//! ```text
//!  Graph ──► Picture (clusters, boxes, arrows; ordered, words chosen once)
//!              ├─► dot()      digraph { subgraph cluster_N { ... } }
//!              └─► mermaid()  flowchart TB / subgraph fN["..."] ... end
//! ```
//!
//! One cluster per flow (titled with the numbers it answers), one box per
//! state (its name and a few words on what it does), arrows labelled with the
//! outcome they are taken on. `hangup` and `return` are small terminal nodes
//! of each flow; a `call` is a dashed arrow to the called flow's first state.
//! Output depends only on the graph (everything is iterated in order), so the
//! pictures can be diffed and snapshotted. The JSON form is [`Graph::to_json`].

use std::fmt::Write as _;

use crate::graph::{Action, EdgeLabel, Expr, Flow, Graph, Node, PromptBody, Target};

/// Longest text shown from a prompt or an expression before it is cut with `…`.
const MAX_TEXT: usize = 32;

/// A box of the picture.
struct Box_ {
    id: String,
    state: String,
    description: String,
    entry: bool,
}

/// An arrow of the picture.
struct Arrow {
    from: String,
    to: String,
    /// Empty for the ordinary way on (`ok`).
    label: String,
    /// A sub-flow call: drawn dashed.
    call: bool,
}

/// A terminal of a flow: where `hangup` or `return` arrows end.
struct Terminal {
    id: String,
    label: &'static str,
}

struct Cluster {
    id: String,
    title: String,
    boxes: Vec<Box_>,
    terminals: Vec<Terminal>,
}

/// The whole picture, independent of the output syntax.
struct Picture {
    clusters: Vec<Cluster>,
    arrows: Vec<Arrow>,
}

fn node_id(node: &Node) -> String {
    format!("n{}", node.id.0)
}

fn flow_title(flow: &Flow) -> String {
    if flow.answers.is_empty() {
        format!("flow {}", flow.name)
    } else {
        format!("flow {} ({})", flow.name, flow.answers.join(", "))
    }
}

/// `6s`, `2m`, `1h30m`, `500ms`.
fn duration(ms: u64) -> String {
    if ms == 0 {
        return String::from("0s");
    }
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let total = ms / 1000;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    let mut out = String::new();
    if h > 0 {
        let _ = write!(out, "{h}h");
    }
    if m > 0 {
        let _ = write!(out, "{m}m");
    }
    if s > 0 {
        let _ = write!(out, "{s}s");
    }
    out
}

fn retries(n: u32) -> String {
    match n {
        0 => String::from("no retries"),
        1 => String::from("1 retry"),
        n => format!("{n} retries"),
    }
}

/// Cut to [`MAX_TEXT`] characters, on one line.
fn short(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= MAX_TEXT {
        one_line
    } else {
        let cut: String = one_line.chars().take(MAX_TEXT - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

fn is_name(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// A prompt as staff recognise it: its name when it has one, else the start
/// of its text in the flow's language (or the first one it has).
fn prompt(graph: &Graph, key: &str, language: &str) -> String {
    if is_name(key) {
        return String::from(key);
    }
    let body = graph.prompts.get(key).and_then(|p| {
        p.variants
            .get(language)
            .or_else(|| p.variants.get("*"))
            .or_else(|| p.variants.values().next())
    });
    match body {
        Some(PromptBody::Text { template, .. }) => format!("\"{}\"", short(template)),
        Some(PromptBody::Audio { path, .. }) => short(path),
        None => short(key),
    }
}

fn expr(e: &Expr) -> String {
    fn go(e: &Expr, out: &mut String) {
        match e {
            Expr::Bool(b) => {
                let _ = write!(out, "{b}");
            }
            Expr::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Expr::Str(s) => {
                let _ = write!(out, "\"{s}\"");
            }
            Expr::Var(v) | Expr::Name(v) => out.push_str(v),
            Expr::Call { function, args } => {
                out.push_str(function.name());
                out.push('(');
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    go(arg, out);
                }
                out.push(')');
            }
            Expr::Not(inner) => {
                out.push_str("not ");
                go(inner, out);
            }
            Expr::Binary { op, left, right } => {
                go(left, out);
                let _ = write!(out, " {} ", op.symbol());
                go(right, out);
            }
        }
    }
    let mut out = String::new();
    go(e, &mut out);
    short(&out)
}

fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

/// A few words on what a node does: `menu (6s, 2 retries)`, `transfer anagrafe`.
fn describe(graph: &Graph, action: &Action, language: &str) -> String {
    match action {
        Action::Play { prompt: p } => format!("say {}", prompt(graph, p, language)),
        Action::Menu {
            timeout_ms,
            retries: r,
            ..
        } => format!("menu ({}, {})", duration(*timeout_ms), retries(*r)),
        Action::Collect {
            var,
            min_digits,
            max_digits,
            ..
        } => {
            let digits = if min_digits == max_digits {
                format!("{min_digits}")
            } else {
                format!("{min_digits}-{max_digits}")
            };
            format!("collect {var} ({digits} digits)")
        }
        Action::Set { var, value } => format!("set {var} = {}", expr(value)),
        Action::Branch { .. } => String::from("if"),
        Action::Goto => String::from("goto"),
        Action::Call { flow, .. } => match graph.flow(*flow) {
            Some(f) => format!("call {}", f.name),
            None => String::from("call"),
        },
        Action::Return => String::from("return"),
        Action::Hangup => String::from("hangup"),
        Action::Transfer { office, .. } => format!("transfer {office}"),
        Action::Queue {
            office,
            max_wait_ms,
            ..
        } => format!("queue {office} (max {})", duration(*max_wait_ms)),
        Action::Callback {
            office,
            citizen_first: true,
            ..
        } => format!("callback {office} (citizen first)"),
        Action::Callback { office, .. } => format!("callback {office}"),
        Action::Ticket { category, .. } => format!("ticket {category}"),
        Action::Appointment {
            office,
            offer: None,
        } => format!("appointment {office}"),
        Action::Appointment {
            office,
            offer: Some(n),
        } => format!("appointment {office} (offer {n})"),
        Action::BookService {
            service,
            offer: None,
        } => format!("book {service}"),
        Action::BookService {
            service,
            offer: Some(n),
        } => format!("book {service} (offer {n})"),
        Action::CancelBooking { var } => format!("cancel booking {var}"),
        Action::MoveBooking { var, offer } => format!("move booking {var} (offer {offer})"),
        Action::Record { var, max_ms, .. } => {
            format!("record {var} (max {})", duration(*max_ms))
        }
        Action::Conference { room, .. } => format!("conference {room}"),
        Action::Webhook {
            url, timeout_ms, ..
        } => format!("webhook {} ({})", host(url), duration(*timeout_ms)),
    }
}

/// Words on an arrow: the edge label, or for `if` arms the condition itself.
fn edge_words(node: &Node, label: &EdgeLabel) -> String {
    match (label, &node.action) {
        (EdgeLabel::Ok, _) => String::new(),
        (EdgeLabel::Case(i), Action::Branch { conditions }) => conditions
            .get(*i as usize)
            .map_or_else(|| label.describe(), expr),
        _ => label.describe(),
    }
}

fn picture(graph: &Graph) -> Picture {
    let mut clusters = Vec::new();
    let mut arrows = Vec::new();
    for flow in &graph.flows {
        let prefix = format!("f{}", flow.id.0);
        let hangup_id = format!("{prefix}_hangup");
        let return_id = format!("{prefix}_return");
        let mut boxes = Vec::new();
        let (mut uses_hangup, mut uses_return) = (false, false);
        for node in graph.nodes.iter().filter(|n| n.flow == flow.id) {
            let from = node_id(node);
            boxes.push(Box_ {
                id: from.clone(),
                state: node.state.clone(),
                description: describe(graph, &node.action, &flow.language),
                entry: node.id == flow.entry,
            });
            if let Action::Call { entry, .. } = node.action
                && let Some(called) = graph.node(entry)
            {
                arrows.push(Arrow {
                    from: from.clone(),
                    to: node_id(called),
                    label: String::new(),
                    call: true,
                });
            }
            // One arrow per target, with every label that leads there ("timeout, invalid").
            let mut merged: Vec<(String, Vec<String>)> = Vec::new();
            for edge in &node.edges {
                let to = match edge.to {
                    Target::Node(id) => match graph.node(id) {
                        Some(target) => node_id(target),
                        None => continue,
                    },
                    Target::Hangup => {
                        uses_hangup = true;
                        hangup_id.clone()
                    }
                    Target::Return => {
                        uses_return = true;
                        return_id.clone()
                    }
                };
                let words = edge_words(node, &edge.on);
                match merged.iter_mut().find(|(t, _)| *t == to) {
                    Some((_, labels)) => labels.push(words),
                    None => merged.push((to, vec![words])),
                }
            }
            for (to, labels) in merged {
                let labels: Vec<String> = labels.into_iter().filter(|l| !l.is_empty()).collect();
                arrows.push(Arrow {
                    from: from.clone(),
                    to,
                    label: labels.join(", "),
                    call: false,
                });
            }
        }
        let mut terminals = Vec::new();
        if uses_hangup {
            terminals.push(Terminal {
                id: hangup_id,
                label: "hangup",
            });
        }
        if uses_return {
            terminals.push(Terminal {
                id: return_id,
                label: "return",
            });
        }
        clusters.push(Cluster {
            id: prefix,
            title: flow_title(flow),
            boxes,
            terminals,
        });
    }
    Picture { clusters, arrows }
}

/// A dot string literal's content: `"` and `\` escaped, line breaks as `\n`.
fn dot_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// The graph in Graphviz dot: `dot -Tsvg` draws it.
pub fn dot(graph: &Graph) -> String {
    let picture = picture(graph);
    let mut out = String::new();
    out.push_str("digraph centralino {\n");
    out.push_str("  compound=true;\n");
    out.push_str("  fontname=\"Helvetica\";\n");
    out.push_str("  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f5f5f5\", fontname=\"Helvetica\", fontsize=11];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    for cluster in &picture.clusters {
        let _ = writeln!(out, "  subgraph cluster_{} {{", cluster.id);
        let _ = writeln!(out, "    label=\"{}\";", dot_escape(&cluster.title));
        out.push_str("    style=\"rounded\";\n    color=\"#888888\";\n");
        for b in &cluster.boxes {
            let label = dot_escape(&format!("{}\n{}", b.state, b.description));
            let extra = if b.entry { ", penwidth=2" } else { "" };
            let _ = writeln!(out, "    {} [label=\"{label}\"{extra}];", b.id);
        }
        for t in &cluster.terminals {
            let _ = writeln!(
                out,
                "    {} [label=\"{}\", shape=circle, style=filled, fillcolor=\"#dddddd\", fontsize=8, width=0.3, margin=0];",
                t.id, t.label
            );
        }
        out.push_str("  }\n");
    }
    for arrow in &picture.arrows {
        let mut attrs = Vec::new();
        if !arrow.label.is_empty() {
            attrs.push(format!("label=\"{}\"", dot_escape(&arrow.label)));
        }
        if arrow.call {
            attrs.push(String::from("style=dashed"));
        }
        if attrs.is_empty() {
            let _ = writeln!(out, "  {} -> {};", arrow.from, arrow.to);
        } else {
            let _ = writeln!(
                out,
                "  {} -> {} [{}];",
                arrow.from,
                arrow.to,
                attrs.join(", ")
            );
        }
    }
    out.push_str("}\n");
    out
}

/// Text inside a Mermaid `"..."` label: quotes and the characters Mermaid
/// reads as syntax or markup become entity codes (`#quot;`), line breaks `<br/>`.
fn mermaid_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '|' => out.push_str("#124;"),
            '`' => out.push_str("#96;"),
            '\n' => out.push_str("<br/>"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// The graph as a Mermaid flowchart (renders in GitHub markdown and mermaid.live).
pub fn mermaid(graph: &Graph) -> String {
    let picture = picture(graph);
    let mut out = String::new();
    out.push_str("flowchart TB\n");
    for cluster in &picture.clusters {
        let _ = writeln!(
            out,
            "  subgraph {}[\"{}\"]",
            cluster.id,
            mermaid_escape(&cluster.title)
        );
        for b in &cluster.boxes {
            let label = mermaid_escape(&format!("{}\n{}", b.state, b.description));
            let _ = writeln!(out, "    {}[\"{label}\"]", b.id);
        }
        for t in &cluster.terminals {
            let _ = writeln!(out, "    {}((\"{}\"))", t.id, t.label);
        }
        out.push_str("  end\n");
    }
    for arrow in &picture.arrows {
        let link = if arrow.call { "-.->" } else { "-->" };
        if arrow.label.is_empty() {
            let _ = writeln!(out, "  {} {link} {}", arrow.from, arrow.to);
        } else {
            let _ = writeln!(
                out,
                "  {} {link}|\"{}\"| {}",
                arrow.from,
                mermaid_escape(&arrow.label),
                arrow.to
            );
        }
    }
    let entries: Vec<&str> = picture
        .clusters
        .iter()
        .flat_map(|c| c.boxes.iter().filter(|b| b.entry).map(|b| b.id.as_str()))
        .collect();
    let terminals: Vec<&str> = picture
        .clusters
        .iter()
        .flat_map(|c| c.terminals.iter().map(|t| t.id.as_str()))
        .collect();
    if !entries.is_empty() {
        out.push_str("  classDef entry stroke-width:3px\n");
        let _ = writeln!(out, "  class {} entry", entries.join(","));
    }
    if !terminals.is_empty() {
        out.push_str("  classDef terminal fill:#dddddd,stroke:#888888,font-size:10px\n");
        let _ = writeln!(out, "  class {} terminal", terminals.join(","));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::graph::{
        BinaryOp, Edge, FORMAT_VERSION, FlowId, Function, Location, NodeId, Prompt,
    };

    fn at(line: usize) -> Location {
        Location {
            file: String::from("main.flow"),
            line,
            column: 3,
            end_line: line,
            end_column: 10,
        }
    }

    fn node(
        id: u32,
        flow: u32,
        state: &str,
        action: Action,
        edges: Vec<(EdgeLabel, Target)>,
    ) -> Node {
        Node {
            id: NodeId(id),
            flow: FlowId(flow),
            state: String::from(state),
            location: at(id as usize + 1),
            action,
            edges: edges.into_iter().map(|(on, to)| Edge { on, to }).collect(),
        }
    }

    fn flow(id: u32, name: &str, answers: &[&str], entry: u32) -> Flow {
        Flow {
            id: FlowId(id),
            name: String::from(name),
            answers: answers.iter().map(|a| String::from(*a)).collect(),
            entry: NodeId(entry),
            language: String::from("it"),
            fallback_language: None,
            max_duration_ms: 600_000,
            max_visits: 3,
            location: at(1),
        }
    }

    /// main: benvenuto -> orario (if) -> menu -> {1: anagrafe, 2: info (call), timeout/invalid: saluto}
    /// info: orari -> return
    fn small() -> Graph {
        let mut prompts = BTreeMap::new();
        prompts.insert(
            String::from("main.benvenuto#0"),
            Prompt {
                // The flow's language is shown, though `en` sorts first.
                variants: BTreeMap::from([
                    (
                        String::from("en"),
                        PromptBody::Text {
                            template: String::from("Welcome to the City of Perugia."),
                            variables: Vec::new(),
                        },
                    ),
                    (
                        String::from("it"),
                        PromptBody::Text {
                            template: String::from(
                                "Benvenuto nel \"Comune\" di Perugia, il numero unico.",
                            ),
                            variables: Vec::new(),
                        },
                    ),
                ]),
            },
        );
        let nodes = vec![
            node(
                0,
                0,
                "benvenuto",
                Action::Play {
                    prompt: String::from("main.benvenuto#0"),
                },
                vec![(EdgeLabel::Ok, Target::Node(NodeId(1)))],
            ),
            node(
                1,
                0,
                "orario",
                Action::Branch {
                    conditions: vec![Expr::Call {
                        function: Function::Open,
                        args: vec![Expr::Name(String::from("uffici"))],
                    }],
                },
                vec![
                    (EdgeLabel::Case(0), Target::Node(NodeId(2))),
                    (EdgeLabel::Else, Target::Hangup),
                ],
            ),
            node(
                2,
                0,
                "menu",
                Action::Menu {
                    prompt: String::from("menu_principale"),
                    timeout_ms: 6_000,
                    retries: 2,
                },
                vec![
                    (EdgeLabel::Key(String::from("1")), Target::Node(NodeId(3))),
                    (EdgeLabel::Key(String::from("#")), Target::Node(NodeId(4))),
                    (EdgeLabel::Timeout, Target::Node(NodeId(5))),
                    (EdgeLabel::Invalid, Target::Node(NodeId(5))),
                ],
            ),
            node(
                3,
                0,
                "anagrafe",
                Action::Transfer {
                    office: String::from("anagrafe"),
                    ring_ms: 20_000,
                    ring_all: false,
                },
                vec![
                    (EdgeLabel::Ok, Target::Hangup),
                    (EdgeLabel::Closed, Target::Node(NodeId(5))),
                ],
            ),
            node(
                4,
                0,
                "info",
                Action::Call {
                    flow: FlowId(1),
                    entry: NodeId(6),
                },
                vec![(EdgeLabel::Ok, Target::Node(NodeId(5)))],
            ),
            node(
                5,
                0,
                "saluto",
                Action::Set {
                    var: String::from("esito"),
                    value: Expr::Binary {
                        op: BinaryOp::Eq,
                        left: Box::new(Expr::Var(String::from("language"))),
                        right: Box::new(Expr::Str(String::from("en"))),
                    },
                },
                vec![(EdgeLabel::Ok, Target::Hangup)],
            ),
            node(
                6,
                1,
                "orari",
                Action::Ticket {
                    category: String::from("buche"),
                    priority: String::from("normal"),
                    fields: BTreeMap::new(),
                },
                vec![(EdgeLabel::Ok, Target::Return)],
            ),
        ];
        Graph {
            format_version: FORMAT_VERSION,
            content_hash: String::from("sha256:0"),
            sources: Vec::new(),
            numbers: BTreeMap::from([(String::from("075075075"), FlowId(0))]),
            flows: vec![
                flow(0, "main", &["075075075", "+39075075075"], 0),
                flow(1, "informazioni", &[], 6),
            ],
            nodes,
            prompts,
            calendars: BTreeMap::new(),
            offices: BTreeMap::new(),
            categories: BTreeMap::new(),
            services: BTreeMap::new(),
        }
    }

    #[test]
    fn dot_draws_clusters_boxes_terminals_and_calls() {
        insta::assert_snapshot!(dot(&small()), @r##"
        digraph centralino {
          compound=true;
          fontname="Helvetica";
          node [shape=box, style="rounded,filled", fillcolor="#f5f5f5", fontname="Helvetica", fontsize=11];
          edge [fontname="Helvetica", fontsize=10];
          subgraph cluster_f0 {
            label="flow main (075075075, +39075075075)";
            style="rounded";
            color="#888888";
            n0 [label="benvenuto\nsay \"Benvenuto nel \"Comune\" di Perug…\"", penwidth=2];
            n1 [label="orario\nif"];
            n2 [label="menu\nmenu (6s, 2 retries)"];
            n3 [label="anagrafe\ntransfer anagrafe"];
            n4 [label="info\ncall informazioni"];
            n5 [label="saluto\nset esito = language == \"en\""];
            f0_hangup [label="hangup", shape=circle, style=filled, fillcolor="#dddddd", fontsize=8, width=0.3, margin=0];
          }
          subgraph cluster_f1 {
            label="flow informazioni";
            style="rounded";
            color="#888888";
            n6 [label="orari\nticket buche", penwidth=2];
            f1_return [label="return", shape=circle, style=filled, fillcolor="#dddddd", fontsize=8, width=0.3, margin=0];
          }
          n0 -> n1;
          n1 -> n2 [label="open(uffici)"];
          n1 -> f0_hangup [label="else"];
          n2 -> n3 [label="1"];
          n2 -> n4 [label="#"];
          n2 -> n5 [label="timeout, invalid"];
          n3 -> f0_hangup;
          n3 -> n5 [label="closed"];
          n4 -> n6 [style=dashed];
          n4 -> n5;
          n5 -> f0_hangup;
          n6 -> f1_return;
        }
        "##);
    }

    #[test]
    fn mermaid_draws_subgraphs_with_escaped_labels() {
        insta::assert_snapshot!(mermaid(&small()), @r##"
        flowchart TB
          subgraph f0["flow main (075075075, +39075075075)"]
            n0["benvenuto<br/>say #quot;Benvenuto nel #quot;Comune#quot; di Perug…#quot;"]
            n1["orario<br/>if"]
            n2["menu<br/>menu (6s, 2 retries)"]
            n3["anagrafe<br/>transfer anagrafe"]
            n4["info<br/>call informazioni"]
            n5["saluto<br/>set esito = language == #quot;en#quot;"]
            f0_hangup(("hangup"))
          end
          subgraph f1["flow informazioni"]
            n6["orari<br/>ticket buche"]
            f1_return(("return"))
          end
          n0 --> n1
          n1 -->|"open(uffici)"| n2
          n1 -->|"else"| f0_hangup
          n2 -->|"1"| n3
          n2 -->|"#35;"| n4
          n2 -->|"timeout, invalid"| n5
          n3 --> f0_hangup
          n3 -->|"closed"| n5
          n4 -.-> n6
          n4 --> n5
          n5 --> f0_hangup
          n6 --> f1_return
          classDef entry stroke-width:3px
          class n0,n6 entry
          classDef terminal fill:#dddddd,stroke:#888888,font-size:10px
          class f0_hangup,f1_return terminal
        "##);
    }

    #[test]
    fn output_is_deterministic() {
        let graph = small();
        assert_eq!(dot(&graph), dot(&graph));
        assert_eq!(mermaid(&graph), mermaid(&graph));
    }

    #[test]
    fn durations_and_retries_read_naturally() {
        assert_eq!(duration(6_000), "6s");
        assert_eq!(duration(120_000), "2m");
        assert_eq!(duration(5_400_000), "1h30m");
        assert_eq!(duration(1_500), "1500ms");
        assert_eq!(retries(1), "1 retry");
        assert_eq!(retries(0), "no retries");
        assert_eq!(
            host("https://servizi.comune.perugia.it/centralino/avvisi"),
            "servizi.comune.perugia.it"
        );
    }

    #[test]
    fn an_empty_graph_is_still_a_picture() {
        let mut graph = small();
        graph.flows.clear();
        graph.nodes.clear();
        assert_eq!(dot(&graph).lines().next(), Some("digraph centralino {"));
        assert_eq!(mermaid(&graph), "flowchart TB\n");
    }

    #[test]
    fn a_compiled_flow_draws_every_state() {
        let mut sources = crate::Sources::new();
        sources.add(
            "main.flow",
            "flow main answers \"075075075\" {\n  language it\n  benvenuto: say \"Buongiorno.\" -> saluto\n  saluto: say \"Arrivederci.\" -> hangup\n}\n",
        );
        let compiled = crate::compile(&sources);
        let graph = compiled.graph.expect("a clean flow compiles");
        let dot = dot(&graph);
        let mermaid = mermaid(&graph);
        for node in &graph.nodes {
            assert!(dot.contains(&format!("{}\\n", node.state)), "{dot}");
            assert!(
                mermaid.contains(&format!("[\"{}<br/>", node.state)),
                "{mermaid}"
            );
        }
        for flow in &graph.flows {
            assert!(
                dot.contains(&format!("label=\"{}", flow_title(flow))),
                "{dot}"
            );
        }
    }
}
