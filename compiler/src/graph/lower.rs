//! Lowering: a checked AST to a [`Graph`]. Runs only when the checks found no
//! error, so names resolve; anything that still does not is left out rather
//! than guessed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::*;
use crate::ast;
use crate::check::{Checked, Symbols, exits, templates};
use crate::diagnostic::Diagnostics;
use crate::source::{Sources, Span, sha256_hex};

/// Build the graph of a deployment that passed its checks.
pub fn lower(sources: &Sources, files: &[ast::File], checked: &Checked) -> Graph {
    // The symbol table again (cheap); duplicates were errors, so none are reported here.
    let mut ignored = Diagnostics::new();
    let symbols = Symbols::build(files, &[], &mut ignored);
    let mut lowering = Lowering {
        sources,
        checked,
        symbols: &symbols,
        prompts: BTreeMap::new(),
    };
    lowering.graph()
}

struct Lowering<'a> {
    sources: &'a Sources,
    checked: &'a Checked,
    symbols: &'a Symbols<'a>,
    prompts: BTreeMap<String, Prompt>,
}

impl Lowering<'_> {
    fn location(&self, span: Span) -> Location {
        self.sources.location(span)
    }

    fn graph(&mut self) -> Graph {
        // Flows in source order (files are sorted by path), so ids are stable.
        let flows: Vec<&ast::Flow> = self
            .symbols
            .all_flows
            .iter()
            .copied()
            .filter(|f| {
                self.symbols
                    .flows
                    .get(f.name.name.as_str())
                    .is_some_and(|first| std::ptr::eq(*first, *f))
            })
            .collect();
        let flow_ids: BTreeMap<&str, FlowId> = flows
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.name.as_str(), FlowId(to_u32(i))))
            .collect();
        let mut first_node = Vec::with_capacity(flows.len());
        let mut next_id = 0usize;
        for flow in &flows {
            first_node.push(next_id);
            next_id += flow.states.len();
        }

        let mut graph_flows = Vec::new();
        let mut nodes = Vec::with_capacity(next_id);
        let mut numbers = BTreeMap::new();
        for (i, flow) in flows.iter().enumerate() {
            let id = FlowId(to_u32(i));
            let base = first_node.get(i).copied().unwrap_or(0);
            for number in &flow.answers {
                numbers.insert(number.value.clone(), id);
            }
            graph_flows.push(Flow {
                id,
                name: flow.name.name.clone(),
                answers: flow.answers.iter().map(|a| a.value.clone()).collect(),
                entry: NodeId(to_u32(base)),
                language: flow
                    .language
                    .as_ref()
                    .map_or_else(|| DEFAULT_LANGUAGE.to_owned(), |l| l.name.clone()),
                fallback_language: flow.fallback_language.as_ref().map(|l| l.name.clone()),
                max_duration_ms: flow
                    .max_duration
                    .map_or(DEFAULT_MAX_DURATION_MS, |d| d.millis),
                max_visits: flow.max_visits.map_or(DEFAULT_MAX_VISITS, |v| {
                    u32::try_from(v.value).unwrap_or(u32::MAX)
                }),
                location: self.location(flow.name.span),
            });
            let states: BTreeMap<&str, usize> = flow
                .states
                .iter()
                .enumerate()
                .map(|(j, s)| (s.name.name.as_str(), j))
                .collect();
            for (j, state) in flow.states.iter().enumerate() {
                let node_id = NodeId(to_u32(base + j));
                let action = self.action(flow, state, &flow_ids, &first_node);
                let edges = self.edges(state, &action, &states, base);
                nodes.push(Node {
                    id: node_id,
                    flow: id,
                    state: state.name.name.clone(),
                    location: self.location(state.name.span),
                    action,
                    edges,
                });
            }
        }

        // Named prompts, including ones only used by other definitions.
        for (name, prompt) in &self.symbols.prompts {
            let lowered = self.prompt_def(prompt);
            self.prompts.insert((*name).to_owned(), lowered);
        }

        let sources: Vec<SourceEntry> = self
            .sources
            .iter()
            .map(|(_, f)| SourceEntry {
                path: f.name(),
                sha256: sha256_hex(f.text.as_bytes()),
            })
            .collect();
        Graph {
            format_version: FORMAT_VERSION,
            content_hash: self.content_hash(&sources),
            sources,
            numbers,
            flows: graph_flows,
            nodes,
            prompts: std::mem::take(&mut self.prompts),
            calendars: self.calendars(),
            offices: self.offices(),
            categories: self.categories(),
            services: self.services(),
        }
    }

    /// One hash over every source (path and text) and every audio file, in path order.
    fn content_hash(&self, sources: &[SourceEntry]) -> String {
        let mut entries: Vec<(String, String)> = sources
            .iter()
            .map(|s| (s.path.clone(), s.sha256.clone()))
            .collect();
        entries.extend(
            self.checked
                .audio
                .iter()
                .map(|(path, facts)| (path_string(path), facts.sha256.clone())),
        );
        entries.sort();
        let mut all = String::new();
        for (path, hash) in entries {
            all.push_str(&path);
            all.push('\0');
            all.push_str(&hash);
            all.push('\n');
        }
        format!("sha256:{}", sha256_hex(all.as_bytes()))
    }

    fn edges(
        &self,
        state: &ast::State,
        action: &Action,
        states: &BTreeMap<&str, usize>,
        base: usize,
    ) -> Vec<Edge> {
        let resolved = exits::resolve(state);
        let mut edges: Vec<Edge> = resolved
            .edges
            .into_iter()
            .filter_map(|(on, target)| {
                let to = match target.name.as_str() {
                    name if states.contains_key(name) => Target::Node(NodeId(to_u32(
                        base + states.get(name).copied().unwrap_or(0),
                    ))),
                    "hangup" => Target::Hangup,
                    "return" => Target::Return,
                    _ => return None,
                };
                Some(Edge { on, to })
            })
            .collect();
        let has = |edges: &[Edge], label: &EdgeLabel| edges.iter().any(|e| &e.on == label);
        // Implicit outcomes: a bridged transfer or answered queue ends the call when
        // the office hangs up; a failed store write without a path says goodbye.
        match action {
            Action::Transfer { .. } | Action::Queue { .. } if !has(&edges, &EdgeLabel::Ok) => {
                edges.push(Edge {
                    on: EdgeLabel::Ok,
                    to: Target::Hangup,
                });
            }
            Action::Ticket { .. } | Action::Callback { .. } if !has(&edges, &EdgeLabel::Failed) => {
                edges.push(Edge {
                    on: EdgeLabel::Failed,
                    to: Target::Hangup,
                });
            }
            _ => {}
        }
        edges.sort_by(|a, b| a.on.cmp(&b.on));
        edges
    }

    fn action(
        &mut self,
        flow: &ast::Flow,
        state: &ast::State,
        flow_ids: &BTreeMap<&str, FlowId>,
        first_node: &[usize],
    ) -> Action {
        let inline_key = format!("{}.{}", flow.name.name, state.name.name);
        match &state.action {
            ast::Action::Say(prompt) | ast::Action::Play(prompt) => Action::Play {
                prompt: self.prompt_ref(prompt, &inline_key),
            },
            ast::Action::Menu {
                prompt,
                timeout,
                retries,
            } => Action::Menu {
                prompt: self.prompt_ref(prompt, &inline_key),
                timeout_ms: timeout.map_or(DEFAULT_MENU_TIMEOUT_MS, |d| d.millis),
                retries: retries_count(*retries),
            },
            ast::Action::Collect {
                prompt,
                into,
                digits,
                end,
                pattern,
                timeout,
                retries,
            } => Action::Collect {
                prompt: self.prompt_ref(prompt, &inline_key),
                var: into.name.clone(),
                min_digits: digits.map_or(1, |d| to_u32_u64(d.min.value)),
                max_digits: digits.map_or(20, |d| to_u32_u64(d.max.value)),
                terminator: end.as_ref().map(|e| e.value.clone()),
                pattern: pattern.as_ref().map(|p| p.value.clone()),
                timeout_ms: timeout.map_or(DEFAULT_MENU_TIMEOUT_MS, |d| d.millis),
                retries: retries_count(*retries),
            },
            ast::Action::Set { var, value } => Action::Set {
                var: var.name.clone(),
                value: expr(value),
            },
            ast::Action::If { arms } => Action::Branch {
                conditions: arms.iter().map(|arm| expr(&arm.condition)).collect(),
            },
            ast::Action::Goto(_) => Action::Goto,
            ast::Action::Call(name) => {
                let flow = flow_ids
                    .get(name.name.as_str())
                    .copied()
                    .unwrap_or(FlowId(0));
                let entry = first_node.get(flow.0 as usize).copied().unwrap_or(0);
                Action::Call {
                    flow,
                    entry: NodeId(to_u32(entry)),
                }
            }
            ast::Action::Return => Action::Return,
            ast::Action::Hangup => Action::Hangup,
            ast::Action::Transfer {
                office,
                ring,
                ring_all,
            } => Action::Transfer {
                office: office.name.clone(),
                ring_all: ring_all.is_some(),
                ring_ms: ring.map(|d| d.millis).unwrap_or_else(|| {
                    self.symbols
                        .offices
                        .get(office.name.as_str())
                        .and_then(|o| o.ring)
                        .map_or(DEFAULT_RING_MS, |d| d.millis)
                }),
            },
            ast::Action::Queue {
                office,
                music,
                max_wait,
                announce_position,
            } => Action::Queue {
                office: office.name.clone(),
                music: music
                    .as_ref()
                    .map(|m| self.prompt_ref(m, &format!("{inline_key}.music"))),
                max_wait_ms: max_wait.map_or(DEFAULT_QUEUE_WAIT_MS, |d| d.millis),
                announce_position: *announce_position,
            },
            ast::Action::Callback { office, options } => Action::Callback {
                office: office.name.clone(),
                // The first of each option counts (a second one is E040).
                note: options.iter().find_map(|option| match option {
                    ast::CallbackOption::Note(note) => Some(note.value.clone()),
                    ast::CallbackOption::First { .. } => None,
                }),
                citizen_first: options
                    .iter()
                    .find_map(|option| match option {
                        ast::CallbackOption::First { citizen, .. } => Some(*citizen),
                        ast::CallbackOption::Note(_) => None,
                    })
                    .unwrap_or(false),
            },
            ast::Action::Ticket {
                category,
                priority,
                fields,
            } => Action::Ticket {
                category: category.name.clone(),
                priority: priority
                    .as_ref()
                    .map(|p| p.name.clone())
                    .unwrap_or_else(|| {
                        self.symbols
                            .categories
                            .get(category.name.as_str())
                            .and_then(|c| c.priority.as_ref())
                            .map_or_else(|| String::from("normal"), |p| p.name.clone())
                    }),
                fields: fields_map(fields),
            },
            ast::Action::Appointment { office, offer } => Action::Appointment {
                office: office.name.clone(),
                offer: offer.map(|o| offer_count(o.value)),
            },
            ast::Action::Book { service, offer } => Action::BookService {
                service: service.name.clone(),
                offer: offer.map(|o| offer_count(o.value)),
            },
            ast::Action::MoveBooking { reference, offer } => Action::MoveBooking {
                var: reference.name.clone(),
                offer: offer_count(offer.value),
            },
            ast::Action::CancelBooking { reference } => Action::CancelBooking {
                var: reference.name.clone(),
            },
            ast::Action::Record { prompt, into, max } => Action::Record {
                prompt: self.prompt_ref(prompt, &inline_key),
                var: into.name.clone(),
                max_ms: max.map_or(DEFAULT_RECORD_MAX_MS, |d| d.millis),
            },
            ast::Action::Conference { room, pin } => Action::Conference {
                room: room.value.clone(),
                pin: pin.as_ref().map(|p| p.value.clone()),
            },
            ast::Action::Webhook {
                url,
                timeout,
                send,
                into,
            } => Action::Webhook {
                url: url.value.clone(),
                timeout_ms: timeout.map_or(DEFAULT_WEBHOOK_TIMEOUT_MS, |d| d.millis),
                send: fields_map(send),
                into: into.as_ref().map(|i| i.name.clone()),
            },
        }
    }

    /// The key of a prompt in `Graph::prompts`; inline prompts are stored under `inline_key`.
    fn prompt_ref(&mut self, prompt: &ast::PromptRef, inline_key: &str) -> String {
        match prompt {
            ast::PromptRef::Named(name) => name.name.clone(),
            ast::PromptRef::Inline(body) => {
                let mut variants = BTreeMap::new();
                variants.insert(String::from("*"), self.body(body));
                self.prompts
                    .insert(inline_key.to_owned(), Prompt { variants });
                inline_key.to_owned()
            }
        }
    }

    fn prompt_def(&self, prompt: &ast::PromptDef) -> Prompt {
        let variants = prompt
            .variants
            .iter()
            .map(|v| {
                let language = v
                    .language
                    .as_ref()
                    .map_or_else(|| String::from("*"), |l| l.name.clone());
                (language, self.body(&v.body))
            })
            .collect();
        Prompt { variants }
    }

    fn body(&self, body: &ast::PromptBody) -> PromptBody {
        match body {
            ast::PromptBody::Text(text) => PromptBody::Text {
                template: text.value.clone(),
                variables: if templates::is_plain_text(&text.value) {
                    Vec::new()
                } else {
                    self.checked
                        .templates
                        .get(&text.value)
                        .cloned()
                        .unwrap_or_default()
                },
            },
            ast::PromptBody::Audio(path) => {
                let resolved = crate::load::normalize(
                    &self.sources.base_dir(path.span.source).join(&path.value),
                );
                let facts = self.checked.audio.get(&resolved);
                PromptBody::Audio {
                    path: path_string(&resolved),
                    duration_ms: facts.map_or(0, |f| f.info.duration_ms),
                    sha256: facts.map(|f| f.sha256.clone()).unwrap_or_default(),
                }
            }
        }
    }

    fn calendars(&self) -> BTreeMap<String, Calendar> {
        self.symbols
            .calendars
            .iter()
            .map(|(name, cal)| {
                let mut weekly: BTreeMap<Weekday, Vec<(u32, u32)>> = BTreeMap::new();
                for line in &cal.hours {
                    for day in &line.days {
                        let ranges = weekly.entry(*day).or_default();
                        ranges.extend(line.ranges.iter().map(|r| (r.start.minutes, r.end.minutes)));
                    }
                }
                for ranges in weekly.values_mut() {
                    ranges.sort_unstable();
                    ranges.dedup();
                }
                let closures = cal
                    .closures
                    .iter()
                    .map(|c| Closure {
                        when: match &c.when {
                            ast::ClosureWhen::Holidays(set) => ClosureRule::Holidays {
                                set: crate::calendar::HolidaySet::from_name(&set.name).map_or_else(
                                    || set.name.clone(),
                                    |s| format!("{s:?}").to_lowercase(),
                                ),
                            },
                            ast::ClosureWhen::Easter { offset_days } => ClosureRule::Easter {
                                offset_days: *offset_days,
                            },
                            ast::ClosureWhen::Yearly { month, day } => ClosureRule::Yearly {
                                month: *month,
                                day: *day,
                            },
                            ast::ClosureWhen::Date(d) => ClosureRule::Dates {
                                from: date_string(*d),
                                to: date_string(*d),
                            },
                            ast::ClosureWhen::Range { from, to } => ClosureRule::Dates {
                                from: date_string(*from),
                                to: date_string(*to),
                            },
                        },
                        label: c.label.as_ref().map(|l| l.value.clone()),
                    })
                    .collect();
                (
                    (*name).to_owned(),
                    Calendar {
                        timezone: cal.timezone.as_ref().map_or_else(
                            || crate::calendar::DEFAULT_TIMEZONE.to_owned(),
                            |tz| {
                                crate::calendar::canonical_timezone_name(&tz.value)
                                    .unwrap_or_else(|| tz.value.clone())
                            },
                        ),
                        weekly,
                        closures,
                    },
                )
            })
            .collect()
    }

    fn offices(&self) -> BTreeMap<String, Office> {
        self.symbols
            .offices
            .iter()
            .map(|(name, office)| {
                (
                    (*name).to_owned(),
                    Office {
                        title: office.title.value.clone(),
                        hours: office.hours.as_ref().map(|h| h.name.clone()),
                        staff: office
                            .staff
                            .iter()
                            .map(|s| StaffMember {
                                contact: s.contact.value.clone(),
                                name: s.display_name.as_ref().map(|n| n.value.clone()),
                            })
                            .collect(),
                        ring_ms: office.ring.map_or(DEFAULT_RING_MS, |d| d.millis),
                        callback_ms: office.callback.map(|d| d.millis),
                        appointments: office.appointments.as_ref().map(|a| SlotPolicy {
                            slot_ms: a.slot.millis,
                            capacity: a.capacity.map_or(1, |c| to_u32_u64(c.value)),
                        }),
                    },
                )
            })
            .collect()
    }

    fn categories(&self) -> BTreeMap<String, Category> {
        self.symbols
            .categories
            .iter()
            .map(|(name, category)| {
                (
                    (*name).to_owned(),
                    Category {
                        title: category.title.value.clone(),
                        office: category.office.as_ref().map(|o| o.name.clone()),
                        priority: category
                            .priority
                            .as_ref()
                            .map_or_else(|| String::from("normal"), |p| p.name.clone()),
                        sla_ms: category.sla.map(|d| d.millis),
                    },
                )
            })
            .collect()
    }

    fn services(&self) -> BTreeMap<String, Service> {
        self.symbols
            .services
            .iter()
            .map(|(name, service)| {
                (
                    (*name).to_owned(),
                    Service {
                        title: service.title.value.clone(),
                        office: service.office.as_ref().map(|o| o.name.clone()),
                        hours: service.hours.as_ref().map(|h| h.name.clone()),
                        slots: SlotPolicy {
                            slot_ms: service.slot.map_or(60 * 60 * 1000, |d| d.millis),
                            capacity: service.capacity.map_or(1, |c| to_u32_u64(c.value)),
                        },
                    },
                )
            })
            .collect()
    }
}

/// Functions whose arguments name a definition rather than a call variable.
fn takes_names(function: Function) -> bool {
    matches!(
        function,
        Function::Open | Function::Closed | Function::Holiday | Function::Available
    )
}

fn expr(e: &ast::Expr) -> Expr {
    match &e.kind {
        ast::ExprKind::Bool(b) => Expr::Bool(*b),
        ast::ExprKind::Int(i) => Expr::Int(i64::try_from(*i).unwrap_or(i64::MAX)),
        ast::ExprKind::Str(s) => Expr::Str(s.clone()),
        ast::ExprKind::Var(path) => Expr::Var(var_path(path)),
        ast::ExprKind::Call { function, args } => {
            let f = Function::from_name(&function.name).unwrap_or(Function::Len);
            Expr::Call {
                function: f,
                args: args
                    .iter()
                    .map(|a| match &a.kind {
                        ast::ExprKind::Var(path) if takes_names(f) => Expr::Name(var_path(path)),
                        _ => expr(a),
                    })
                    .collect(),
            }
        }
        ast::ExprKind::Not(inner) => Expr::Not(Box::new(expr(inner))),
        ast::ExprKind::Binary { op, left, right } => Expr::Binary {
            op: *op,
            left: Box::new(expr(left)),
            right: Box::new(expr(right)),
        },
    }
}

fn var_path(path: &[ast::Ident]) -> String {
    path.iter()
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join(".")
}

fn fields_map(fields: &[ast::Field]) -> BTreeMap<String, Expr> {
    fields
        .iter()
        .map(|f| (f.name.name.clone(), expr(&f.value)))
        .collect()
}

fn retries_count(retries: Option<ast::Retries>) -> u32 {
    match retries {
        Some(ast::Retries::Count(n)) => to_u32_u64(n.value),
        // Rejected by the checks (E008); never lowered.
        Some(ast::Retries::Unlimited(_)) => u32::MAX,
        None => DEFAULT_RETRIES,
    }
}

fn date_string(d: ast::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

fn path_string(path: &std::path::Path) -> String {
    PathBuf::from(path).to_string_lossy().replace('\\', "/")
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn to_u32_u64(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The count of `offer N`, kept to the keys a caller has (the check reports anything else).
fn offer_count(n: u64) -> u32 {
    u32::try_from(n.clamp(1, 8)).unwrap_or(1)
}
