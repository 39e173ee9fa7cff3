//! Flow test coverage: which states and branches of the flows the scenarios of
//! `centralino test` visited, and which no scenario reaches.
//!
//! ```text
//!  flow sources ──► ast ──► check::exits ──► Points (every state; every written way out of a
//!        │                                    state with more than one), `// coverage: skip` read
//!  Graph ─┘ (node ids)
//!  Visits (nodes entered, edges followed: from the simulator) ──► Report: per flow and in total
//! ```
//!
//! A *branch* is a way out of a state as the flow file writes it: a menu key,
//! `timeout`, `invalid`, each `if` / `else if` / `else`, `-> next` (the action
//! went well) and each failure outcome written by name (`busy -> ...`) or
//! gathered by `else`. A state with one way out has no branches: entering it
//! is what counts. Outcomes the flow does not write (a transfer answered, a
//! ticket that could not be stored) are not counted.
//!
//! A line that ends with `// coverage: skip <reason>` justifies the last branch
//! written on it (the `-> target` the comment follows) and the state whose name
//! is on it: for ways out a scenario cannot reach. The report shows them as
//! justified, with the reason.

use std::collections::BTreeSet;

use crate::ast::{self, Action};
use crate::check::exits;
use crate::graph::{Action as GraphAction, EdgeLabel, Graph, Node, NodeId, Target};
use crate::source::{Sources, Span};

/// The marker of a justified exception, after `//` on the line of a branch or state.
pub const SKIP_MARKER: &str = "coverage: skip";

/// What a set of scenarios did: the nodes entered and the edges followed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visits {
    pub entered: BTreeSet<NodeId>,
    pub followed: BTreeSet<(NodeId, EdgeLabel)>,
}

/// Something that should be visited: a state, or one of its branches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    pub flow: String,
    pub state: String,
    pub node: NodeId,
    /// `None` for the state itself; for a branch, how it is written (`1 -> informazioni`).
    pub branch: Option<String>,
    /// The outcomes the branch is taken on (empty for a state).
    pub labels: Vec<EdgeLabel>,
    /// The state's name, or the branch's target.
    pub span: Span,
    /// The reason of a `// coverage: skip` on its line.
    pub skip: Option<String>,
}

/// Whether a point was visited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Visited,
    /// Not visited, and the flow says why.
    Justified(String),
    Missed,
}

/// One point and whether the scenarios visited it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub point: Point,
    pub status: Status,
}

/// Counts of visited, justified and missed points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub visited: usize,
    pub justified: usize,
    pub missed: usize,
}

impl Tally {
    pub fn total(&self) -> usize {
        self.visited + self.justified + self.missed
    }

    /// Visited or justified, in tenths of a percent, rounded down (so 99.96 % is not 100 %);
    /// 1000 when there is nothing to visit.
    pub fn permille(&self) -> usize {
        match self.total() {
            0 => 1000,
            total => (self.visited + self.justified) * 1000 / total,
        }
    }

    /// `87.5 %`, rounded down.
    pub fn percent(&self) -> String {
        let permille = self.permille();
        if permille.is_multiple_of(10) {
            format!("{} %", permille / 10)
        } else {
            format!("{}.{} %", permille / 10, permille % 10)
        }
    }

    fn add(&mut self, status: &Status) {
        match status {
            Status::Visited => self.visited += 1,
            Status::Justified(_) => self.justified += 1,
            Status::Missed => self.missed += 1,
        }
    }

    fn sum(self, other: Tally) -> Tally {
        Tally {
            visited: self.visited + other.visited,
            justified: self.justified + other.justified,
            missed: self.missed + other.missed,
        }
    }
}

/// The coverage of one flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowCoverage {
    pub flow: String,
    pub states: Vec<Checked>,
    pub branches: Vec<Checked>,
}

impl FlowCoverage {
    pub fn state_tally(&self) -> Tally {
        tally(&self.states)
    }

    pub fn branch_tally(&self) -> Tally {
        tally(&self.branches)
    }
}

fn tally(points: &[Checked]) -> Tally {
    let mut tally = Tally::default();
    for point in points {
        tally.add(&point.status);
    }
    tally
}

/// The coverage of every flow, in source order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub flows: Vec<FlowCoverage>,
}

impl Report {
    /// Check every point against what the scenarios did.
    pub fn new(points: &[Point], visits: &Visits) -> Report {
        let mut flows: Vec<FlowCoverage> = Vec::new();
        for point in points {
            let visited = if point.branch.is_none() {
                visits.entered.contains(&point.node)
            } else {
                point
                    .labels
                    .iter()
                    .any(|label| visits.followed.contains(&(point.node, label.clone())))
            };
            let status = match (visited, &point.skip) {
                (true, _) => Status::Visited,
                (false, Some(reason)) => Status::Justified(reason.clone()),
                (false, None) => Status::Missed,
            };
            let checked = Checked {
                point: point.clone(),
                status,
            };
            let index = match flows.iter().position(|f| f.flow == point.flow) {
                Some(index) => index,
                None => {
                    flows.push(FlowCoverage {
                        flow: point.flow.clone(),
                        states: Vec::new(),
                        branches: Vec::new(),
                    });
                    flows.len() - 1
                }
            };
            if let Some(flow) = flows.get_mut(index) {
                if checked.point.branch.is_none() {
                    flow.states.push(checked);
                } else {
                    flow.branches.push(checked);
                }
            }
        }
        Report { flows }
    }

    pub fn state_tally(&self) -> Tally {
        self.flows
            .iter()
            .fold(Tally::default(), |t, f| t.sum(f.state_tally()))
    }

    pub fn branch_tally(&self) -> Tally {
        self.flows
            .iter()
            .fold(Tally::default(), |t, f| t.sum(f.branch_tally()))
    }
}

/// Every state and branch of the flows in `graph`, read from their sources.
/// States are matched to graph nodes by flow and state name; a flow or state
/// the graph does not have (a source that did not compile) is left out.
pub fn points(sources: &Sources, graph: &Graph) -> Vec<Point> {
    let mut points = Vec::new();
    for (id, file) in sources.iter() {
        let mut ignored = crate::Diagnostics::new();
        let parsed = crate::syntax::parse(id, &file.text, &mut ignored);
        for item in &parsed.file.items {
            let ast::Item::Flow(flow) = item else {
                continue;
            };
            let Some(flow_id) = graph
                .flows
                .iter()
                .find(|f| f.name == flow.name.name)
                .map(|f| f.id)
            else {
                continue;
            };
            for state in &flow.states {
                let Some(graph_node) = graph
                    .nodes
                    .iter()
                    .find(|n| n.flow == flow_id && n.state == state.name.name)
                else {
                    continue;
                };
                let node = graph_node.id;
                let point = |branch: Option<String>, labels: Vec<EdgeLabel>, span: Span| Point {
                    flow: flow.name.name.clone(),
                    state: state.name.name.clone(),
                    node,
                    branch,
                    labels,
                    span,
                    skip: skip_reason(sources, span),
                };
                points.push(point(None, Vec::new(), state.name.span));
                let branches = branches(state, graph_node, graph);
                if branches.len() > 1 {
                    for branch in branches {
                        let written = format!("{} -> {}", branch.written, branch.target);
                        points.push(point(Some(written), branch.labels, branch.span));
                    }
                }
            }
        }
    }
    // A `skip` justifies only the last branch written on its line (the one the
    // comment follows), so a branch a scenario can take is never hidden by it.
    let line = |span: Span| {
        sources
            .get(span.source)
            .map(|f| (span.source, f.line_col(span.start as usize).0))
    };
    let lasts: Vec<bool> = points
        .iter()
        .map(|p| {
            p.branch.is_none()
                || !points.iter().any(|q| {
                    q.branch.is_some()
                        && line(q.span) == line(p.span)
                        && q.span.start > p.span.start
                })
        })
        .collect();
    for (point, last) in points.iter_mut().zip(lasts) {
        if !last {
            point.skip = None;
        }
    }
    points
}

/// A way out of a state as written: its word, the outcomes it covers, its target.
#[derive(Debug)]
struct Written {
    written: String,
    labels: Vec<EdgeLabel>,
    target: String,
    span: Span,
}

/// The ways out of a state: as written, in the order the checks resolve them,
/// then those the compiler adds (a transfer answered hangs up; a ticket not
/// stored says goodbye), at the state's name.
fn branches(state: &ast::State, node: &Node, graph: &Graph) -> Vec<Written> {
    let resolved = exits::resolve(state);
    let mut out: Vec<Written> = Vec::new();
    for (label, target) in resolved.edges {
        let written = match (&state.action, &label) {
            (Action::If { .. }, EdgeLabel::Case(0)) => String::from("if"),
            (Action::If { .. }, EdgeLabel::Case(_)) => String::from("else if"),
            (_, EdgeLabel::Else) => String::from("else"),
            (Action::Menu { .. }, label) => label.describe(),
            (_, EdgeLabel::Ok) => String::from("ok"),
            (_, label) => {
                let name = label.describe();
                let by_name = state.exits.branches.iter().any(|b| {
                    b.target.span == target.span && b.labels.iter().any(|l| l.name == name)
                });
                if by_name { name } else { String::from("else") }
            }
        };
        match out
            .iter_mut()
            .find(|w| w.written == written && w.span == target.span && written == "else")
        {
            Some(gathered) => gathered.labels.push(label),
            None => out.push(Written {
                written,
                labels: vec![label],
                target: target.name.clone(),
                span: target.span,
            }),
        }
    }
    for edge in &node.edges {
        if out.iter().any(|w| w.labels.contains(&edge.on)) {
            continue;
        }
        let target = match edge.to {
            Target::Node(id) => graph.node(id).map_or("?", |n| n.state.as_str()),
            Target::Hangup => "hangup",
            Target::Return => "return",
        };
        let word = match (&node.action, &edge.on) {
            (GraphAction::Transfer { .. } | GraphAction::Queue { .. }, EdgeLabel::Ok) => {
                String::from("answered")
            }
            (_, label) => label.describe(),
        };
        out.push(Written {
            written: format!("{word} (not written)"),
            labels: vec![edge.on.clone()],
            target: target.to_owned(),
            span: state.name.span,
        });
    }
    out
}

/// The reason of a `// coverage: skip <reason>` on the line where `span` starts;
/// `None` when there is none, or it gives no reason.
fn skip_reason(sources: &Sources, span: Span) -> Option<String> {
    let file = sources.get(span.source)?;
    let (line, _) = file.line_col(span.start as usize);
    let text = file.text.lines().nth(line.checked_sub(1)?)?;
    let at = text.find(SKIP_MARKER)?;
    let before = text.get(..at)?.trim_end();
    if !before.ends_with("//") {
        return None;
    }
    let reason = text.get(at + SKIP_MARKER.len()..)?.trim();
    (!reason.is_empty()).then(|| reason.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const FLOW: &str = r#"
calendar orario {
  timezone "Europe/Rome"
  mon-fri 09:00-13:00
}

office ufficio "Ufficio" {
  hours orario
  staff "sip:1@example.it"
}

flow main answers "100" {
  language it
  menu: menu "Prema 1 o 2." timeout 5s retries 1 {
    1 -> scelta
    2 -> fine
    timeout, invalid -> fine
  }
  scelta: if language == "en" -> fine
    else if language == "de" -> fine // coverage: skip nessuno parla tedesco
    else -> avvisi
  avvisi: webhook "https://example.it/avvisi" timeout 3s -> passa else -> fine // coverage: skip x
  passa: transfer ufficio else -> fine
  fine: say "Arrivederci." -> hangup
  mai: say "Mai." -> hangup
}
"#;

    fn compiled() -> (Sources, Graph) {
        let mut sources = Sources::new();
        sources.add("test.flow", FLOW);
        let compiled = crate::compile(&sources);
        let graph = compiled.graph.unwrap_or_else(|| {
            panic!(
                "{}",
                crate::render::human(&sources, &compiled.diagnostics, false)
            )
        });
        (sources, graph)
    }

    fn node(graph: &Graph, state: &str) -> NodeId {
        graph.nodes.iter().find(|n| n.state == state).unwrap().id
    }

    #[test]
    fn branches_are_the_written_ways_out_of_states_with_more_than_one() {
        let (sources, graph) = compiled();
        let written: Vec<(String, Option<String>)> = points(&sources, &graph)
            .into_iter()
            .map(|p| (p.state, p.branch))
            .collect();
        let branch = |state: &str, b: &str| (state.to_owned(), Some(b.to_owned()));
        let state = |state: &str| (state.to_owned(), None);
        assert_eq!(
            written,
            vec![
                state("menu"),
                branch("menu", "1 -> scelta"),
                branch("menu", "2 -> fine"),
                branch("menu", "timeout -> fine"),
                branch("menu", "invalid -> fine"),
                state("scelta"),
                branch("scelta", "if -> fine"),
                branch("scelta", "else if -> fine"),
                branch("scelta", "else -> avvisi"),
                state("avvisi"),
                branch("avvisi", "ok -> passa"),
                branch("avvisi", "else -> fine"),
                state("passa"),
                branch("passa", "else -> fine"),
                branch("passa", "answered (not written) -> hangup"),
                state("fine"),
                state("mai"),
            ]
        );
    }

    #[test]
    fn a_branch_counts_as_visited_when_one_of_its_edges_was_followed() {
        let (sources, graph) = compiled();
        let points = points(&sources, &graph);
        let (menu, scelta, avvisi, fine) = (
            node(&graph, "menu"),
            node(&graph, "scelta"),
            node(&graph, "avvisi"),
            node(&graph, "fine"),
        );
        // One call: 1, no language matches, the webhook fails.
        let visits = Visits {
            entered: [menu, scelta, avvisi, fine].into_iter().collect(),
            followed: [
                (menu, EdgeLabel::Key(String::from("1"))),
                (scelta, EdgeLabel::Else),
                (avvisi, EdgeLabel::Failed),
                (fine, EdgeLabel::Ok),
            ]
            .into_iter()
            .collect(),
        };
        let report = Report::new(&points, &visits);
        let flow = report.flows.first().unwrap();
        let status = |branch: &str| {
            flow.branches
                .iter()
                .find(|c| c.point.branch.as_deref() == Some(branch))
                .map(|c| c.status.clone())
                .unwrap()
        };
        assert_eq!(status("1 -> scelta"), Status::Visited);
        assert_eq!(status("2 -> fine"), Status::Missed);
        assert_eq!(status("timeout -> fine"), Status::Missed);
        assert_eq!(status("if -> fine"), Status::Missed);
        assert_eq!(
            status("else if -> fine"),
            Status::Justified(String::from("nessuno parla tedesco"))
        );
        assert_eq!(status("else -> avvisi"), Status::Visited);
        // `else` of a webhook gathers its failure outcomes.
        assert_eq!(status("else -> fine"), Status::Visited);
        // The skip on its line is for the `else` after it.
        assert_eq!(status("ok -> passa"), Status::Missed);
        assert_eq!(status("answered (not written) -> hangup"), Status::Missed);
        assert_eq!(
            report.branch_tally(),
            Tally {
                visited: 3,
                justified: 1,
                missed: 7
            }
        );
        assert_eq!(report.branch_tally().percent(), "36.3 %");
        assert_eq!(
            report.state_tally(),
            Tally {
                visited: 4,
                justified: 0,
                missed: 2
            }
        );
    }

    #[test]
    fn nothing_visited_is_zero_and_nothing_to_visit_is_everything() {
        let (sources, graph) = compiled();
        let report = Report::new(&points(&sources, &graph), &Visits::default());
        assert_eq!(report.state_tally().visited, 0);
        // Two of eleven branches are justified.
        assert_eq!(report.branch_tally().percent(), "18.1 %");
        assert_eq!(Tally::default().percent(), "100 %");
        let almost = Tally {
            visited: 9999,
            justified: 0,
            missed: 1,
        };
        assert_eq!(almost.percent(), "99.9 %");
    }

    #[test]
    fn a_skip_needs_the_marker_after_two_slashes_and_a_reason() {
        let mut sources = Sources::new();
        let id = sources.add(
            "a.flow",
            "a -> b // coverage: skip il servizio non fallisce\nc -> d // coverage: skip\ne \"coverage: skip x\"\n",
        );
        let span = |start: u32| Span {
            source: id,
            start,
            end: start + 1,
        };
        assert_eq!(
            skip_reason(&sources, span(5)).as_deref(),
            Some("il servizio non fallisce")
        );
        assert_eq!(skip_reason(&sources, span(52)), None);
        assert_eq!(skip_reason(&sources, span(75)), None);
    }
}
