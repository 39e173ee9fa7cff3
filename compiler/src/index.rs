//! Where every name of a deployment is defined and used: the data behind an editor's
//! "go to definition", "find references" and name completion.
//!
//! ```text
//!  Sources ──► syntax::parse (per file) ──► ast ──► Index { (kind, name, span, role, flow) }
//! ```
//!
//! Plain data: what is defined or referred to, its kind, its name and its span. States
//! are scoped by their flow (`menu` in `main` is not `menu` in `info`); every other kind
//! is global, as the checker resolves them ([`crate::check`]). Definitions that did not
//! parse are simply absent, so an editor still finds everything that did.

use serde::Serialize;

use crate::ast::{self, Action, Expr, ExprKind, Ident, Item, PromptRef};
use crate::diagnostic::{Diagnostics, NameKind};
use crate::graph::Function;
use crate::source::{SourceId, Sources, Span};

/// Whether a name is written where it is defined or where it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Definition,
    Reference,
}

/// One occurrence of a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Symbol {
    /// State, prompt, office, calendar, category, service or flow.
    pub kind: NameKind,
    pub name: String,
    /// The name as written.
    pub span: Span,
    pub role: Role,
    /// For states: the flow they belong to.
    pub flow: Option<String>,
}

impl Symbol {
    /// Whether two occurrences name the same thing.
    pub fn same_thing(&self, other: &Symbol) -> bool {
        self.kind == other.kind && self.name == other.name && self.flow == other.flow
    }
}

/// Every definition and reference of a deployment, in source order per file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Index {
    pub symbols: Vec<Symbol>,
    /// Each parsed flow: its name, span and state names in order (for completion).
    pub flows: Vec<FlowOutline>,
}

/// A flow as far as it parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowOutline {
    pub name: String,
    pub span: Span,
    pub states: Vec<String>,
}

impl Index {
    /// Parse every source (syntax errors are ignored here: they are `check`'s) and index it.
    pub fn of_sources(sources: &Sources) -> Index {
        let files: Vec<ast::File> = sources
            .iter()
            .map(|(id, file)| {
                let mut ignored = Diagnostics::new();
                crate::syntax::parse(id, &file.text, &mut ignored).file
            })
            .collect();
        Index::of_files(&files)
    }

    /// Index parsed files.
    pub fn of_files(files: &[ast::File]) -> Index {
        let mut indexer = Indexer::default();
        for file in files {
            for item in &file.items {
                indexer.item(item);
            }
        }
        Index {
            symbols: indexer.symbols,
            flows: indexer.flows,
        }
    }

    /// The occurrence whose name covers a byte offset of a file (the end counts, so a
    /// cursor just after a name finds it).
    pub fn at(&self, source: SourceId, offset: usize) -> Option<&Symbol> {
        self.symbols.iter().find(|s| {
            s.span.source == source
                && (s.span.start as usize..=s.span.end as usize).contains(&offset)
        })
    }

    /// Where the thing a symbol names is defined (the first definition, as the checker
    /// keeps the first of duplicates).
    pub fn definition(&self, symbol: &Symbol) -> Option<&Symbol> {
        self.symbols
            .iter()
            .find(|s| s.role == Role::Definition && s.same_thing(symbol))
    }

    /// Every occurrence of the thing a symbol names, definitions included, in index order.
    pub fn references<'a>(&'a self, symbol: &'a Symbol) -> impl Iterator<Item = &'a Symbol> {
        self.symbols.iter().filter(move |s| s.same_thing(symbol))
    }

    /// The names defined of one kind (not states), sorted and without repeats.
    pub fn names(&self, kind: NameKind) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .symbols
            .iter()
            .filter(|s| s.kind == kind && s.role == Role::Definition)
            .map(|s| s.name.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The flow whose text covers a byte offset of a file.
    pub fn flow_at(&self, source: SourceId, offset: usize) -> Option<&FlowOutline> {
        self.flows.iter().find(|f| {
            f.span.source == source
                && (f.span.start as usize..=f.span.end as usize).contains(&offset)
        })
    }
}

#[derive(Default)]
struct Indexer {
    symbols: Vec<Symbol>,
    flows: Vec<FlowOutline>,
}

impl Indexer {
    fn push(&mut self, kind: NameKind, name: &Ident, role: Role, flow: Option<&str>) {
        self.symbols.push(Symbol {
            kind,
            name: name.name.clone(),
            span: name.span,
            role,
            flow: flow.map(str::to_owned),
        });
    }

    fn define(&mut self, kind: NameKind, name: &Ident) {
        self.push(kind, name, Role::Definition, None);
    }

    fn refer(&mut self, kind: NameKind, name: &Ident) {
        self.push(kind, name, Role::Reference, None);
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Import(_) => {}
            Item::Calendar(calendar) => self.define(NameKind::Calendar, &calendar.name),
            Item::Office(office) => {
                self.define(NameKind::Office, &office.name);
                if let Some(hours) = &office.hours {
                    self.refer(NameKind::Calendar, hours);
                }
            }
            Item::Category(category) => {
                self.define(NameKind::Category, &category.name);
                if let Some(office) = &category.office {
                    self.refer(NameKind::Office, office);
                }
            }
            Item::Service(service) => {
                self.define(NameKind::Service, &service.name);
                if let Some(office) = &service.office {
                    self.refer(NameKind::Office, office);
                }
                if let Some(hours) = &service.hours {
                    self.refer(NameKind::Calendar, hours);
                }
            }
            Item::Prompt(prompt) => self.define(NameKind::Prompt, &prompt.name),
            Item::Flow(flow) => self.flow(flow),
        }
    }

    fn flow(&mut self, flow: &ast::Flow) {
        self.define(NameKind::Flow, &flow.name);
        self.flows.push(FlowOutline {
            name: flow.name.name.clone(),
            span: flow.span,
            states: flow.states.iter().map(|s| s.name.name.clone()).collect(),
        });
        let scope = Some(flow.name.name.as_str());
        for state in &flow.states {
            self.push(NameKind::State, &state.name, Role::Definition, scope);
            self.action(&state.action, scope);
            let exits = &state.exits;
            let targets = exits
                .next
                .iter()
                .chain(&exits.otherwise)
                .chain(exits.branches.iter().map(|b| &b.target));
            for target in targets {
                self.target(target, scope);
            }
        }
    }

    /// A state target; the built-ins `hangup` and `return` are not states.
    fn target(&mut self, target: &Ident, flow: Option<&str>) {
        if !matches!(target.name.as_str(), "hangup" | "return") {
            self.push(NameKind::State, target, Role::Reference, flow);
        }
    }

    fn prompt(&mut self, prompt: &PromptRef) {
        match prompt {
            PromptRef::Named(name) => self.refer(NameKind::Prompt, name),
            PromptRef::Inline(_) => {}
        }
    }

    fn action(&mut self, action: &Action, flow: Option<&str>) {
        match action {
            Action::Say(prompt)
            | Action::Play(prompt)
            | Action::Menu { prompt, .. }
            | Action::Collect { prompt, .. }
            | Action::Record { prompt, .. } => self.prompt(prompt),
            Action::Set { value, .. } => self.expr(value),
            Action::If { arms } => {
                for arm in arms {
                    self.expr(&arm.condition);
                    self.target(&arm.target, flow);
                }
            }
            Action::Goto(target) => self.target(target, flow),
            Action::Call(name) => self.refer(NameKind::Flow, name),
            Action::Transfer { office, .. }
            | Action::Callback { office, .. }
            | Action::Appointment { office, .. } => self.refer(NameKind::Office, office),
            Action::Queue { office, music, .. } => {
                self.refer(NameKind::Office, office);
                if let Some(music) = music {
                    self.prompt(music);
                }
            }
            Action::Ticket {
                category, fields, ..
            } => {
                self.refer(NameKind::Category, category);
                for field in fields {
                    self.expr(&field.value);
                }
            }
            Action::Book { service, .. } => self.refer(NameKind::Service, service),
            Action::Webhook { send, .. } => {
                for field in send {
                    self.expr(&field.value);
                }
            }
            Action::CancelBooking { .. }
            | Action::MoveBooking { .. }
            | Action::Return
            | Action::Conference { .. }
            | Action::Hangup => {}
        }
    }

    /// Calendars and offices named as function arguments: `open(uffici)`, `available(urp)`.
    fn expr(&mut self, expr: &Expr) {
        match &expr.kind {
            ExprKind::Bool(_) | ExprKind::Int(_) | ExprKind::Str(_) | ExprKind::Var(_) => {}
            ExprKind::Call { function, args } => {
                let kind = match Function::from_name(&function.name) {
                    Some(Function::Open | Function::Closed | Function::Holiday) => {
                        Some(NameKind::Calendar)
                    }
                    Some(Function::Available) => Some(NameKind::Office),
                    Some(Function::StartsWith | Function::Len) | None => None,
                };
                for arg in args {
                    match (&arg.kind, kind) {
                        (ExprKind::Var(path), Some(kind)) if path.len() == 1 => {
                            if let Some(name) = path.first() {
                                self.refer(kind, name);
                            }
                        }
                        _ => self.expr(arg),
                    }
                }
            }
            ExprKind::Not(inner) => self.expr(inner),
            ExprKind::Binary { left, right, .. } => {
                self.expr(left);
                self.expr(right);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYMENT: &str = r#"calendar uffici {
  timezone "Europe/Rome"
  mon-fri 08:30-13:30
}
office urp "Ufficio relazioni con il pubblico" {
  hours uffici
  staff "sip:1001@comune.perugia.it"
}
category buche "Strade" { office urp  priority normal  sla 5d }
prompt benvenuto {
  it "Benvenuto nella Città di Perugia."
}
flow main answers "075075075" {
  inizio: say benvenuto -> orario
  orario: if open(uffici) and available(urp) -> passa
    else -> segnala
  passa: transfer urp else -> segnala
  segnala: ticket buche -> fine else -> fine
  fine: say "Arrivederci." -> hangup
}
flow altro {
  fine: hangup
}
"#;

    fn index() -> (Sources, Index) {
        let mut sources = Sources::new();
        sources.add("main.flow", DEPLOYMENT);
        let index = Index::of_sources(&sources);
        (sources, index)
    }

    fn offset_of(needle: &str, nth: usize) -> usize {
        DEPLOYMENT
            .match_indices(needle)
            .nth(nth)
            .map(|(i, _)| i)
            .expect("needle in the deployment")
    }

    fn listing(index: &Index) -> Vec<String> {
        index
            .symbols
            .iter()
            .map(|s| {
                format!(
                    "{:?} {:?} {}{} @{}..{}",
                    s.role,
                    s.kind,
                    s.flow
                        .as_deref()
                        .map(|f| format!("{f}."))
                        .unwrap_or_default(),
                    s.name,
                    s.span.start,
                    s.span.end
                )
            })
            .collect()
    }

    #[test]
    fn lists_definitions_and_references_in_order() {
        let (_, index) = index();
        let listing = listing(&index);
        let kinds: Vec<&str> = listing
            .iter()
            .map(|l| l.split(" @").next().unwrap_or_default())
            .collect();
        assert_eq!(
            kinds,
            [
                "Definition Calendar uffici",
                "Definition Office urp",
                "Reference Calendar uffici",
                "Definition Category buche",
                "Reference Office urp",
                "Definition Prompt benvenuto",
                "Definition Flow main",
                "Definition State main.inizio",
                "Reference Prompt benvenuto",
                "Reference State main.orario",
                "Definition State main.orario",
                "Reference Calendar uffici",
                "Reference Office urp",
                "Reference State main.passa",
                "Reference State main.segnala",
                "Definition State main.passa",
                "Reference Office urp",
                "Reference State main.segnala",
                "Definition State main.segnala",
                "Reference Category buche",
                "Reference State main.fine",
                "Reference State main.fine",
                "Definition State main.fine",
                "Definition Flow altro",
                "Definition State altro.fine",
            ]
        );
        // Spans cover the name as written.
        let first = &index.symbols[0];
        assert_eq!(&DEPLOYMENT[first.span.range()], "uffici");
        for symbol in &index.symbols {
            assert_eq!(&DEPLOYMENT[symbol.span.range()], symbol.name);
        }
    }

    #[test]
    fn definition_and_references_of_a_state_stay_in_its_flow() {
        let (sources, index) = index();
        let id = sources.iter().next().map(|(id, _)| id).expect("one file");
        // `fine` in `-> fine` of `segnala`.
        let at = offset_of("-> fine", 0) + 3;
        let symbol = index.at(id, at).expect("a symbol at the target");
        assert_eq!(
            (symbol.kind, symbol.name.as_str()),
            (NameKind::State, "fine")
        );
        let definition = index.definition(symbol).expect("defined");
        assert_eq!(definition.span.start as usize, offset_of("fine: say", 0));
        assert_eq!(definition.flow.as_deref(), Some("main"));
        let references: Vec<usize> = index
            .references(symbol)
            .map(|s| s.span.start as usize)
            .collect();
        assert_eq!(
            references,
            [
                offset_of("-> fine", 0) + 3,
                offset_of("-> fine", 1) + 3,
                offset_of("fine: say", 0)
            ]
        );
        // `fine` of `altro` is another state.
        let other = index
            .at(id, offset_of("fine: hangup", 0))
            .expect("altro.fine");
        assert_eq!(index.references(other).count(), 1);
    }

    #[test]
    fn function_arguments_are_calendars_and_offices() {
        let (sources, index) = index();
        let id = sources.iter().next().map(|(id, _)| id).expect("one file");
        let calendar = index
            .at(id, offset_of("open(uffici)", 0) + 5)
            .expect("calendar argument");
        assert_eq!(calendar.kind, NameKind::Calendar);
        assert_eq!(
            index.definition(calendar).map(|d| d.span.start as usize),
            Some(offset_of("uffici {", 0))
        );
        let office = index
            .at(id, offset_of("available(urp)", 0) + 10)
            .expect("office argument");
        assert_eq!(office.kind, NameKind::Office);
        assert_eq!(index.references(office).count(), 4);
    }

    #[test]
    fn names_and_flows_for_completion() {
        let (sources, index) = index();
        let id = sources.iter().next().map(|(id, _)| id).expect("one file");
        assert_eq!(index.names(NameKind::Office), ["urp"]);
        assert_eq!(index.names(NameKind::Flow), ["altro", "main"]);
        let flow = index.flow_at(id, offset_of("passa:", 0)).expect("in main");
        assert_eq!(flow.name, "main");
        assert_eq!(
            flow.states,
            ["inizio", "orario", "passa", "segnala", "fine"]
        );
        assert!(index.flow_at(id, 0).is_none());
    }

    #[test]
    fn a_broken_definition_leaves_the_rest_indexed() {
        let mut sources = Sources::new();
        let text = "office urp \"URP\" {\n  ring\n}\nprompt ciao \"Ciao\"\n";
        sources.add("x.flow", text);
        let index = Index::of_sources(&sources);
        assert_eq!(index.names(NameKind::Prompt), ["ciao"]);
    }
}
