//! Parsing with pest, and the only module that sees pest types: flow text to
//! [`crate::ast::File`] (here, grammar `grammars/flow.pest`) and `.test` text to
//! scenarios ([`scenario`], grammar `grammars/scenario.pest`).
//!
//! ```text
//!  .flow text ──► FlowParser ─────┐                      ┌─► Lower (here) ──────► ast::File
//!                                 ├─► chunked (recovery) ┤
//!  .test text ──► ScenarioParser ─┘                      └─► scenario::Lower ───► ScenarioFile
//! ```
//!
//! A file that parses is lowered whole. A file with a syntax error is split into
//! its top-level definitions (for flows each starts at column 0 with a keyword
//! such as `flow` or `office`; for tests, a line beginning with `scenario`) and
//! each is parsed on its own, so one mistake does not hide the rest of the file:
//! every broken definition gets its errors and the good ones are still
//! checked. Inside a broken definition, [`recover`] finds every broken state or
//! line, so one run reports all the mistakes of a flow; [`balance`] explains a
//! delimiter without its partner and [`habit`] what a word processor or a habit
//! brought in. The names of broken definitions are kept so that later checks do
//! not report them as unknown.

mod balance;
mod chunked;
mod habit;
mod recover;
pub mod scenario;

use pest::Parser;
use pest::RuleType;
use pest::error::ErrorVariant;
use pest::iterators::Pair;

use chunked::Piece;

use crate::ast::*;
use crate::diagnostic::{self, Diagnostics, NameKind, Problem};
use crate::source::{SourceId, Span};

#[derive(pest_derive::Parser)]
#[grammar = "../grammars/flow.pest"]
struct FlowParser;

/// A parsed file and what its broken parts were called.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub file: File,
    /// Definitions that did not parse: their kind and name, when readable.
    pub broken: Vec<(NameKind, String)>,
}

/// Parse one source file. Syntax errors go to `diagnostics`; the result holds
/// every definition that did parse.
pub fn parse(source: SourceId, text: &str, diagnostics: &mut Diagnostics) -> Parsed {
    let mut items = Vec::new();
    let mut broken = Vec::new();
    let starts_definition = |line: &str| {
        let first_word: String = line
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        TOP_LEVEL.contains(&first_word.as_str())
    };
    chunked::parse_in_chunks::<FlowParser, _>(
        source,
        text,
        Rule::file,
        starts_definition,
        |piece| match piece {
            Piece::Parsed { file, at } => items.extend(Lower { at }.items(file)),
            Piece::Broken {
                text: chunk,
                base,
                error,
            } => {
                let recovered = match unbalanced_problem(source, text, chunk, base) {
                    Some((problem, text_open)) => {
                        diagnostics.report(problem);
                        // A text never closed: without its line, the rest may still read.
                        text_open.and_then(|open| {
                            let (from, to) = line_around(chunk, open);
                            let fixed = recover::blank(chunk, from, to);
                            let lost = state_name(chunk.get(from..to).unwrap_or(""));
                            let (problems, recovered) = recover_definition(
                                source,
                                &fixed,
                                base,
                                lost.into_iter().collect(),
                            );
                            let recovered = recovered?;
                            for problem in problems {
                                diagnostics.report(problem);
                            }
                            Some(recovered)
                        })
                    }
                    None => {
                        let (problems, recovered) = syntax_problems(source, chunk, base, &error);
                        for problem in problems {
                            diagnostics.report(problem);
                        }
                        recovered
                    }
                };
                // A flow keeps the states that read; other definitions are left out whole.
                if let Some(recovered) = recovered
                    && let Ok(mut pairs) = FlowParser::parse(Rule::file, &recovered.text)
                    && let Some(file) = pairs.next()
                {
                    let lower = Lower {
                        at: Origin { source, base },
                    };
                    for mut item in lower.items(file) {
                        if let Item::Flow(flow) = &mut item {
                            flow.lost_states = recovered.lost_states.clone();
                            items.push(item);
                        }
                    }
                }
                broken.extend(chunk_names(chunk));
            }
        },
    );
    Parsed {
        file: File { source, items },
        broken,
    }
}

/// The keywords that start a top-level definition at column 0.
const TOP_LEVEL: [&str; 7] = [
    "import", "calendar", "office", "category", "service", "prompt", "flow",
];

/// What a broken definition would have defined, read without the grammar, so that
/// later checks do not report it as unknown: the definitions its lines start
/// (`flow main answers ...` -> (Flow, "main")), and the variables it sets
/// (`set avviso = ...`, `collect ... into codice`).
fn chunk_names(chunk: &str) -> Vec<(NameKind, String)> {
    let mut names = Vec::new();
    for line in chunk.lines() {
        let mut words = line
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty());
        let kind = match words.next() {
            Some("calendar") => NameKind::Calendar,
            Some("office") => NameKind::Office,
            Some("category") => NameKind::Category,
            Some("service") => NameKind::Service,
            Some("prompt") => NameKind::Prompt,
            Some("flow") => NameKind::Flow,
            _ => continue,
        };
        if let Some(name) = words.next() {
            names.push((kind, name.to_owned()));
        }
    }
    let words: Vec<&str> = chunk
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    for pair in words.windows(2) {
        if let ["set" | "into", name] = pair {
            names.push((NameKind::Variable, (*name).to_owned()));
        }
    }
    names
}

/// Most syntax errors reported for one definition.
const MAX_ERRORS_PER_DEFINITION: usize = 20;

/// A broken definition with every unit that did not read blanked out: it parses.
struct Recovered {
    text: String,
    /// The names of the states blanked out (for a flow).
    lost_states: Vec<String>,
}

/// The line of `text` around `offset`, as a range.
fn line_around(text: &str, offset: usize) -> (usize, usize) {
    let from = text
        .get(..offset)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |i| i + 1);
    let to = text
        .get(offset..)
        .and_then(|t| t.find('\n'))
        .map_or(text.len(), |i| offset + i);
    (from, to)
}

/// The state a unit of a flow defines (`benvenuto: say ...` or `benvenuto say ...`): its first word.
fn state_name(unit: &str) -> Option<String> {
    let word: String = unit
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!word.is_empty() && !word.starts_with(|c: char| c.is_ascii_digit())).then_some(word)
}

/// Every syntax error of the broken definition `chunk` (see [`syntax_problems`]), and, when the
/// definition's own lines read, its text with the units that did not read blanked out.
fn recover_definition(
    source: SourceId,
    chunk: &str,
    base: usize,
    lost: Vec<String>,
) -> (Vec<Problem>, Option<Recovered>) {
    match FlowParser::parse(Rule::file, chunk) {
        Ok(_) => (
            Vec::new(),
            Some(Recovered {
                text: chunk.to_owned(),
                lost_states: lost,
            }),
        ),
        Err(error) => {
            let (problems, recovered) = syntax_problems(source, chunk, base, &error);
            let recovered = recovered.map(|mut r| {
                r.lost_states.splice(0..0, lost);
                r
            });
            (problems, recovered)
        }
    }
}

/// Every syntax error of the broken definition `chunk`, in order (see [`recover`]);
/// `error` is the parser's error for the whole of it. With them, the definition with
/// the units that did not read blanked out, when its own lines read.
fn syntax_problems(
    source: SourceId,
    chunk: &str,
    base: usize,
    error: &pest::error::Error<Rule>,
) -> (Vec<Problem>, Option<Recovered>) {
    let units = recover::Units::of(chunk);
    let ranges = units.ranges();
    let body_end = units.body_end();
    let whole = || (vec![syntax_problem(source, chunk, base, error)], None);
    // The definition's own lines (its first line, its closing `}`) must read first.
    let Some(&(first, _)) = ranges.first() else {
        return whole();
    };
    if FlowParser::parse(Rule::file, &recover::blank(chunk, first, body_end)).is_err() {
        return whole();
    }
    let mut problems = Vec::new();
    let mut lost_states = Vec::new();
    let mut text = chunk.to_owned();
    let mut next = 0;
    while problems.len() < MAX_ERRORS_PER_DEFINITION {
        let mut broken = None;
        for (k, &(from, to)) in ranges.iter().enumerate().skip(next) {
            let probe = recover::blank(&text, to, body_end);
            if let Err(e) = FlowParser::parse(Rule::file, &probe) {
                broken = Some((k, from, to, probe, e));
                break;
            }
        }
        let Some((k, from, to, probe, e)) = broken else {
            break;
        };
        problems.push(syntax_problem(source, &probe, base, &e));
        lost_states.extend(state_name(chunk.get(from..to).unwrap_or("")));
        text = recover::blank(&text, from, to);
        next = k + 1;
    }
    if problems.is_empty() {
        return whole();
    }
    let recovered = FlowParser::parse(Rule::file, &text)
        .is_ok()
        .then_some(Recovered { text, lost_states });
    (problems, recovered)
}

/// E037 when the broken definition `chunk` (at `base` in `file`) has a delimiter without its partner.
/// With it, for a text never closed, the offset (in `chunk`) of its opening `"`.
fn unbalanced_problem(
    source: SourceId,
    file: &str,
    chunk: &str,
    base: usize,
) -> Option<(Problem, Option<usize>)> {
    let line = |offset: usize| {
        file.get(..base + offset)
            .map_or(0, |before| before.matches('\n').count())
            + 1
    };
    let at = |offset: usize| Span::new(source, base + offset, base + offset + 1);
    let (what, span) = match balance::scan(chunk)? {
        balance::Unbalanced::UnclosedBrace {
            open,
            opener,
            closer,
        } => (
            diagnostic::Unbalanced::UnclosedBrace {
                owner: opener,
                line: line(open),
                closer: closer.map(at),
            },
            at(open),
        ),
        balance::Unbalanced::UnclosedText { open, end } => {
            let end_span = if end >= chunk.len() {
                let last = chunk.trim_end().len().saturating_sub(1);
                at(last)
            } else {
                at(end)
            };
            (
                diagnostic::Unbalanced::UnclosedText {
                    line: line(open),
                    end: end_span,
                },
                at(open),
            )
        }
        balance::Unbalanced::ExtraBrace {
            extra,
            open,
            closed,
        } => (
            diagnostic::Unbalanced::ExtraBrace {
                owner: open.map(|(_, opener)| opener),
                closed: closed.map(at),
            },
            at(extra),
        ),
    };
    let text_open = match &what {
        diagnostic::Unbalanced::UnclosedText { .. } => {
            usize::try_from(span.start).ok().map(|s| s - base)
        }
        _ => None,
    };
    Some((Problem::Unbalanced { what, span }, text_open))
}

fn syntax_problem(
    source: SourceId,
    chunk: &str,
    base: usize,
    error: &pest::error::Error<Rule>,
) -> Problem {
    let pos = chunked::error_offset(error);
    let rest = chunk.get(pos..).unwrap_or("");
    let token = found_token(rest);
    let mut expected: Vec<String> = Vec::new();
    let mut rules: Vec<String> = Vec::new();
    if let ErrorVariant::ParsingError { positives, .. } = &error.variant {
        for rule in positives {
            let name = format!("{rule:?}");
            let words = diagnostic::rule_words(&name);
            if !expected.contains(&words) {
                expected.push(words);
            }
            rules.push(name);
        }
    }
    if let Some((habit, from, to)) = habit::explain(chunk, pos, &rules) {
        return Problem::Habit {
            habit,
            span: Span::new(source, base + from, base + to),
        };
    }
    let len = token.map_or(0, str::len).max(1);
    let end = (pos + len).min(chunk.len()).max(pos);
    Problem::Syntax {
        span: Span::new(source, base + pos, base + end),
        expected,
        found: diagnostic::found_words(token),
    }
}

/// The word or symbol at the start of `rest`, for "found ...".
pub(crate) fn found_token(rest: &str) -> Option<&str> {
    let trimmed = rest.trim_start();
    let first = trimmed.chars().next()?;
    let len = if first.is_alphanumeric() || first == '_' {
        trimmed
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map_or(trimmed.len(), |(i, _)| i)
    } else if first == '"' {
        trimmed
            .char_indices()
            .skip(1)
            .find(|(_, c)| *c == '"' || *c == '\n')
            .map_or(trimmed.len(), |(i, c)| if c == '"' { i + 1 } else { i })
    } else {
        first.len_utf8()
    };
    trimmed.get(..len)
}

/// Where a parsed text sits in its file: turns the pairs of any of the crate's pest grammars
/// (flows, scenarios) into spans, and lowers the leaf tokens they share (names, strings).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin {
    pub(crate) source: SourceId,
    /// The offset of the parsed text in its file.
    pub(crate) base: usize,
}

impl Origin {
    /// The pair's span without the whitespace pest skipped after it.
    pub(crate) fn span<R: RuleType>(&self, pair: &Pair<'_, R>) -> Span {
        let s = pair.as_span();
        let len = pair.as_str().trim_end().len();
        Span::new(
            self.source,
            self.base + s.start(),
            self.base + s.start() + len,
        )
    }

    /// A name token.
    pub(crate) fn ident<R: RuleType>(&self, pair: &Pair<'_, R>) -> Ident {
        Ident {
            name: pair.as_str().to_owned(),
            span: self.span(pair),
        }
    }

    /// The first child of `pair` that `rule` made, as a name.
    pub(crate) fn child_ident<R: RuleType>(&self, pair: &Pair<'_, R>, rule: R) -> Option<Ident> {
        child(pair, rule).map(|p| self.ident(&p))
    }

    /// The first child of `pair` that `rule` made, as a string.
    pub(crate) fn child_string<R: RuleType>(&self, pair: &Pair<'_, R>, rule: R) -> Option<Str> {
        child(pair, rule).map(|p| self.string(&p))
    }

    /// A string token: its first inner pair is the text between the quotes.
    pub(crate) fn string<R: RuleType>(&self, pair: &Pair<'_, R>) -> Str {
        let raw = pair
            .clone()
            .into_inner()
            .next()
            .map_or("", |inner| inner.as_str());
        Str {
            value: unescape(raw),
            span: self.span(pair),
        }
    }
}

/// The first child of `pair` that `rule` made.
pub(crate) fn child<'i, R: RuleType>(pair: &Pair<'i, R>, rule: R) -> Option<Pair<'i, R>> {
    pair.clone().into_inner().find(|p| p.as_rule() == rule)
}

/// Lowering of pest pairs to the AST (span, name and string helpers come from [`Origin`]).
struct Lower {
    at: Origin,
}

impl std::ops::Deref for Lower {
    type Target = Origin;

    fn deref(&self) -> &Origin {
        &self.at
    }
}

type P<'a> = Pair<'a, Rule>;

impl Lower {
    fn int(&self, pair: &P<'_>) -> Int {
        Int {
            value: pair.as_str().parse().unwrap_or(u64::MAX),
            span: self.span(pair),
        }
    }

    fn duration(&self, pair: &P<'_>) -> Duration {
        let text = pair.as_str();
        let digits_end = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(digits_end);
        let n: u64 = digits.parse().unwrap_or(u64::MAX);
        let factor = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => 86_400_000,
        };
        Duration {
            millis: n.saturating_mul(factor),
            span: self.span(pair),
        }
    }

    fn items(&self, file: P<'_>) -> Vec<Item> {
        file.into_inner()
            .filter_map(|pair| match pair.as_rule() {
                Rule::import => Some(Item::Import(self.import(pair))),
                Rule::calendar => Some(Item::Calendar(self.calendar(pair))),
                Rule::office => Some(Item::Office(self.office(pair))),
                Rule::category => Some(Item::Category(self.category(pair))),
                Rule::service => Some(Item::Service(self.service(pair))),
                Rule::prompt_def => Some(Item::Prompt(self.prompt_def(pair))),
                Rule::flow => Some(Item::Flow(self.flow(pair))),
                _ => None,
            })
            .collect()
    }

    fn import(&self, pair: P<'_>) -> Import {
        let span = self.span(&pair);
        let path = pair
            .into_inner()
            .find(|p| p.as_rule() == Rule::string)
            .map(|p| self.string(&p))
            .unwrap_or(Str {
                value: String::new(),
                span,
            });
        Import { path, span }
    }

    /// The first `ident` child: the name of a definition.
    fn name_of(&self, pair: &P<'_>) -> Ident {
        self.child_ident(pair, Rule::ident).unwrap_or(Ident {
            name: String::new(),
            span: self.span(pair),
        })
    }

    /// The first `string` child: the title of a definition.
    fn title_of(&self, pair: &P<'_>) -> Str {
        self.child_string(pair, Rule::string).unwrap_or(Str {
            value: String::new(),
            span: self.span(pair),
        })
    }

    fn child_duration(&self, pair: &P<'_>) -> Option<Duration> {
        child(pair, Rule::duration).map(|p| self.duration(&p))
    }

    fn child_int(&self, pair: &P<'_>) -> Option<Int> {
        child(pair, Rule::int).map(|p| self.int(&p))
    }

    // ------------------------------------------------------------ calendars

    fn calendar(&self, pair: P<'_>) -> Calendar {
        let span = self.span(&pair);
        let name = self.name_of(&pair);
        let mut calendar = Calendar {
            name,
            timezone: None,
            hours: Vec::new(),
            closures: Vec::new(),
            span,
        };
        for item in pair.into_inner() {
            match item.as_rule() {
                Rule::timezone => calendar.timezone = self.child_string(&item, Rule::string),
                Rule::weekly_hours => calendar.hours.push(self.weekly_hours(item)),
                Rule::closure => calendar.closures.push(self.closure(item)),
                _ => {}
            }
        }
        calendar
    }

    fn weekly_hours(&self, pair: P<'_>) -> WeeklyHours {
        let span = self.span(&pair);
        let mut days = Vec::new();
        let mut ranges = Vec::new();
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::days => {
                    for spec in part.into_inner() {
                        let ends: Vec<Weekday> = spec
                            .into_inner()
                            .filter_map(|d| weekday(d.as_str()))
                            .collect();
                        match ends.as_slice() {
                            [one] => days.push(*one),
                            [from, to] => {
                                let (a, b) = (from.index(), to.index());
                                // `fri-mon` wraps round the weekend.
                                let mut i = a;
                                loop {
                                    if let Some(d) = Weekday::ALL.get(i) {
                                        days.push(*d);
                                    }
                                    if i == b {
                                        break;
                                    }
                                    i = (i + 1) % 7;
                                }
                            }
                            _ => {}
                        }
                    }
                }
                Rule::time_range => {
                    let range_span = self.span(&part);
                    let times: Vec<TimeOfDay> = part
                        .into_inner()
                        .map(|t| TimeOfDay {
                            minutes: parse_time(t.as_str()),
                            span: self.span(&t),
                        })
                        .collect();
                    if let [start, end] = times.as_slice() {
                        ranges.push(TimeRange {
                            start: *start,
                            end: *end,
                            span: range_span,
                        });
                    }
                }
                _ => {}
            }
        }
        WeeklyHours { days, ranges, span }
    }

    fn closure(&self, pair: P<'_>) -> Closure {
        let span = self.span(&pair);
        let mut when = ClosureWhen::Easter { offset_days: 0 };
        let mut label = None;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::holiday_set => {
                    if let Some(name) = self.child_ident(&part, Rule::ident) {
                        when = ClosureWhen::Holidays(name);
                    }
                }
                Rule::easter_offset => {
                    let mut sign = 1i64;
                    let mut days = 0i64;
                    for p in part.into_inner() {
                        match p.as_rule() {
                            Rule::offset_sign if p.as_str() == "-" => sign = -1,
                            Rule::int => days = p.as_str().parse().unwrap_or(i64::MAX),
                            _ => {}
                        }
                    }
                    when = ClosureWhen::Easter {
                        offset_days: sign.saturating_mul(days),
                    };
                }
                Rule::date_range => {
                    let dates: Vec<Date> =
                        part.into_inner().map(|d| parse_date(d.as_str())).collect();
                    if let [from, to] = dates.as_slice() {
                        when = ClosureWhen::Range {
                            from: *from,
                            to: *to,
                        };
                    }
                }
                Rule::date => when = ClosureWhen::Date(parse_date(part.as_str())),
                Rule::month_day => {
                    let (month, day) = parse_month_day(part.as_str());
                    when = ClosureWhen::Yearly { month, day };
                }
                Rule::string => label = Some(self.string(&part)),
                _ => {}
            }
        }
        Closure { when, label, span }
    }

    // ------------------------------------------------------------ directory

    fn office(&self, pair: P<'_>) -> Office {
        let mut office = Office {
            name: self.name_of(&pair),
            title: self.title_of(&pair),
            hours: None,
            staff: Vec::new(),
            ring: None,
            appointments: None,
            callback: None,
            span: self.span(&pair),
        };
        for item in pair.into_inner() {
            match item.as_rule() {
                Rule::hours_ref => office.hours = self.child_ident(&item, Rule::ident),
                Rule::ring => office.ring = self.child_duration(&item),
                Rule::office_callback => office.callback = self.child_duration(&item),
                Rule::staff => {
                    let span = self.span(&item);
                    let mut strings = item
                        .into_inner()
                        .filter(|p| p.as_rule() == Rule::string)
                        .map(|p| self.string(&p));
                    if let Some(contact) = strings.next() {
                        office.staff.push(Staff {
                            contact,
                            display_name: strings.next(),
                            span,
                        });
                    }
                }
                Rule::appointments => {
                    let span = self.span(&item);
                    if let Some(slot) = self.child_duration(&item) {
                        office.appointments = Some(Appointments {
                            slot,
                            capacity: self.child_int(&item),
                            span,
                        });
                    }
                }
                _ => {}
            }
        }
        office
    }

    fn category(&self, pair: P<'_>) -> Category {
        let mut category = Category {
            name: self.name_of(&pair),
            title: self.title_of(&pair),
            office: None,
            priority: None,
            sla: None,
            span: self.span(&pair),
        };
        for item in pair.into_inner() {
            match item.as_rule() {
                Rule::office_ref => category.office = self.child_ident(&item, Rule::ident),
                Rule::priority => category.priority = self.child_ident(&item, Rule::ident),
                Rule::sla => category.sla = self.child_duration(&item),
                _ => {}
            }
        }
        category
    }

    fn service(&self, pair: P<'_>) -> Service {
        let mut service = Service {
            name: self.name_of(&pair),
            title: self.title_of(&pair),
            office: None,
            hours: None,
            slot: None,
            capacity: None,
            span: self.span(&pair),
        };
        for item in pair.into_inner() {
            match item.as_rule() {
                Rule::office_ref => service.office = self.child_ident(&item, Rule::ident),
                Rule::hours_ref => service.hours = self.child_ident(&item, Rule::ident),
                Rule::slot => service.slot = self.child_duration(&item),
                Rule::capacity => service.capacity = self.child_int(&item),
                _ => {}
            }
        }
        service
    }

    // ------------------------------------------------------------ prompts

    fn prompt_body(&self, pair: P<'_>) -> Option<PromptBody> {
        match pair.as_rule() {
            Rule::string => Some(PromptBody::Text(self.string(&pair))),
            Rule::audio_file => self
                .child_string(&pair, Rule::string)
                .map(PromptBody::Audio),
            _ => None,
        }
    }

    fn prompt_def(&self, pair: P<'_>) -> PromptDef {
        let span = self.span(&pair);
        let name = self.name_of(&pair);
        let mut variants = Vec::new();
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::prompt_variants => {
                    for variant in part.into_inner() {
                        let vspan = self.span(&variant);
                        let mut language = None;
                        let mut body = None;
                        for p in variant.into_inner() {
                            if p.as_rule() == Rule::ident {
                                language = Some(self.ident(&p));
                            } else {
                                body = self.prompt_body(p);
                            }
                        }
                        if let Some(body) = body {
                            variants.push(PromptVariant {
                                language,
                                body,
                                span: vspan,
                            });
                        }
                    }
                }
                Rule::string | Rule::audio_file => {
                    let vspan = self.span(&part);
                    if let Some(body) = self.prompt_body(part) {
                        variants.push(PromptVariant {
                            language: None,
                            body,
                            span: vspan,
                        });
                    }
                }
                _ => {}
            }
        }
        PromptDef {
            name,
            variants,
            span,
        }
    }

    fn prompt_ref(&self, pair: &P<'_>) -> PromptRef {
        let span = self.span(pair);
        match pair.clone().into_inner().next() {
            Some(inner) if inner.as_rule() == Rule::ident => PromptRef::Named(self.ident(&inner)),
            Some(inner) => match self.prompt_body(inner) {
                Some(body) => PromptRef::Inline(body),
                None => PromptRef::Inline(PromptBody::Text(Str {
                    value: String::new(),
                    span,
                })),
            },
            None => PromptRef::Inline(PromptBody::Text(Str {
                value: String::new(),
                span,
            })),
        }
    }

    // ------------------------------------------------------------ flows

    fn flow(&self, pair: P<'_>) -> Flow {
        let mut flow = Flow {
            name: self.name_of(&pair),
            answers: Vec::new(),
            language: None,
            fallback_language: None,
            max_duration: None,
            max_visits: None,
            states: Vec::new(),
            span: self.span(&pair),
            lost_states: Vec::new(),
        };
        for item in pair.into_inner() {
            match item.as_rule() {
                Rule::answers => {
                    flow.answers = item
                        .into_inner()
                        .filter(|p| p.as_rule() == Rule::string)
                        .map(|p| self.string(&p))
                        .collect();
                }
                Rule::language => {
                    let mut idents = item
                        .into_inner()
                        .filter(|p| p.as_rule() == Rule::ident)
                        .map(|p| self.ident(&p));
                    flow.language = idents.next();
                    flow.fallback_language = idents.next();
                }
                Rule::max_duration => flow.max_duration = self.child_duration(&item),
                Rule::max_visits => flow.max_visits = self.child_int(&item),
                Rule::state => flow.states.push(self.state(item)),
                _ => {}
            }
        }
        flow
    }

    fn state(&self, pair: P<'_>) -> State {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = inner.next().map(|p| self.ident(&p)).unwrap_or(Ident {
            name: String::new(),
            span,
        });
        let (action, exits) = match inner.next() {
            Some(action) => self.action(action),
            None => (Action::Hangup, Exits::default()),
        };
        State {
            name,
            action,
            exits,
            span,
        }
    }

    /// Collect the exits of an action from its children; returns the other children.
    fn split_exits<'a>(&self, pair: P<'a>) -> (Vec<P<'a>>, Exits) {
        let mut exits = Exits::default();
        let mut rest = Vec::new();
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::next => exits.next = self.target_of(&child),
                Rule::otherwise => exits.otherwise = self.target_of(&child),
                Rule::branches => {
                    exits.block = Some(self.span(&child));
                    for branch in child.into_inner() {
                        let span = self.span(&branch);
                        let mut labels = Vec::new();
                        let mut target = None;
                        for part in branch.into_inner() {
                            match part.as_rule() {
                                Rule::branch_label => labels.push(Ident {
                                    name: part.as_str().to_owned(),
                                    span: self.span(&part),
                                }),
                                Rule::target => target = Some(self.ident(&part)),
                                _ => {}
                            }
                        }
                        if let Some(target) = target {
                            exits.branches.push(Branch {
                                labels,
                                target,
                                span,
                            });
                        }
                    }
                }
                _ => rest.push(child),
            }
        }
        (rest, exits)
    }

    fn target_of(&self, pair: &P<'_>) -> Option<Target> {
        pair.clone()
            .into_inner()
            .find(|p| p.as_rule() == Rule::target)
            .map(|p| self.ident(&p))
    }

    fn action(&self, pair: P<'_>) -> (Action, Exits) {
        let rule = pair.as_rule();
        let span = self.span(&pair);
        if rule == Rule::if_chain {
            return self.if_chain(pair);
        }
        let (children, exits) = self.split_exits(pair);
        let find = |r: Rule| children.iter().find(|p| p.as_rule() == r);
        let prompt = || {
            find(Rule::prompt_ref)
                .map(|p| self.prompt_ref(p))
                .unwrap_or(PromptRef::Inline(PromptBody::Text(Str {
                    value: String::new(),
                    span,
                })))
        };
        let ident = || {
            find(Rule::ident).map(|p| self.ident(p)).unwrap_or(Ident {
                name: String::new(),
                span,
            })
        };
        let opt_duration = |r: Rule| find(r).and_then(|p| self.child_duration(p));
        let retries = || {
            find(Rule::retries_opt).and_then(|p| {
                p.clone().into_inner().find_map(|c| match c.as_rule() {
                    Rule::int => Some(Retries::Count(self.int(&c))),
                    Rule::kw_unlimited => Some(Retries::Unlimited(self.span(&c))),
                    _ => None,
                })
            })
        };
        let action = match rule {
            Rule::say => Action::Say(prompt()),
            Rule::play => Action::Play(prompt()),
            Rule::menu => Action::Menu {
                prompt: prompt(),
                timeout: opt_duration(Rule::timeout_opt),
                retries: retries(),
            },
            Rule::collect => Action::Collect {
                prompt: prompt(),
                into: ident(),
                digits: find(Rule::digits_opt).map(|p| {
                    let dspan = self.span(p);
                    let ints: Vec<Int> = p
                        .clone()
                        .into_inner()
                        .filter(|c| c.as_rule() == Rule::int)
                        .map(|c| self.int(&c))
                        .collect();
                    let (min, max) = match ints.as_slice() {
                        [one] => (*one, *one),
                        [a, b, ..] => (*a, *b),
                        [] => {
                            let zero = Int {
                                value: 0,
                                span: dspan,
                            };
                            (zero, zero)
                        }
                    };
                    DigitsRange {
                        min,
                        max,
                        span: dspan,
                    }
                }),
                end: find(Rule::end_opt).and_then(|p| self.child_string(p, Rule::string)),
                pattern: find(Rule::pattern_opt).and_then(|p| self.child_string(p, Rule::string)),
                timeout: opt_duration(Rule::timeout_opt),
                retries: retries(),
            },
            Rule::set => Action::Set {
                var: ident(),
                value: find(Rule::expr)
                    .map(|p| self.expr(p.clone()))
                    .unwrap_or(Expr {
                        kind: ExprKind::Bool(false),
                        span,
                    }),
            },
            Rule::goto => {
                Action::Goto(find(Rule::target).map(|p| self.ident(p)).unwrap_or(Ident {
                    name: String::new(),
                    span,
                }))
            }
            Rule::call => Action::Call(ident()),
            Rule::return_ => Action::Return,
            Rule::hangup => Action::Hangup,
            Rule::transfer => {
                let ring = find(Rule::transfer_ring);
                Action::Transfer {
                    office: ident(),
                    ring: ring.and_then(|p| self.child_duration(p)),
                    ring_all: ring.and_then(|p| {
                        p.clone()
                            .into_inner()
                            .find(|c| c.as_rule() == Rule::ring_all)
                            .map(|c| self.span(&c))
                    }),
                }
            }
            Rule::queue => Action::Queue {
                office: ident(),
                music: find(Rule::music_opt).and_then(|p| {
                    p.clone()
                        .into_inner()
                        .find(|c| c.as_rule() == Rule::prompt_ref)
                        .map(|c| self.prompt_ref(&c))
                }),
                max_wait: opt_duration(Rule::max_wait_opt),
                announce_position: find(Rule::announce_opt).is_some(),
            },
            Rule::callback => Action::Callback {
                office: ident(),
                options: children
                    .iter()
                    .filter_map(|p| match p.as_rule() {
                        Rule::note_opt => {
                            self.child_string(p, Rule::string).map(CallbackOption::Note)
                        }
                        Rule::first_opt => Some(CallbackOption::First {
                            citizen: child(p, Rule::first_citizen).is_some(),
                            span: self.span(p),
                        }),
                        _ => None,
                    })
                    .collect(),
            },
            Rule::ticket => Action::Ticket {
                category: ident(),
                priority: find(Rule::priority).and_then(|p| self.child_ident(p, Rule::ident)),
                fields: find(Rule::fields)
                    .map(|p| self.fields(p.clone()))
                    .unwrap_or_default(),
            },
            Rule::appointment => Action::Appointment {
                office: ident(),
                offer: find(Rule::offer_opt).and_then(|p| self.child_int(p)),
            },
            Rule::book => Action::Book {
                service: ident(),
                offer: find(Rule::offer_opt).and_then(|p| self.child_int(p)),
            },
            Rule::cancel => Action::CancelBooking { reference: ident() },
            Rule::move_ => Action::MoveBooking {
                reference: ident(),
                offer: find(Rule::offer_opt)
                    .and_then(|p| self.child_int(p))
                    .unwrap_or(Int { value: 0, span }),
            },
            Rule::record => Action::Record {
                prompt: prompt(),
                into: ident(),
                max: opt_duration(Rule::max_len_opt),
            },
            Rule::conference => Action::Conference {
                room: find(Rule::string).map(|p| self.string(p)).unwrap_or(Str {
                    value: String::new(),
                    span,
                }),
                pin: find(Rule::pin_opt).and_then(|p| self.child_string(p, Rule::string)),
            },
            Rule::webhook => Action::Webhook {
                url: find(Rule::string).map(|p| self.string(p)).unwrap_or(Str {
                    value: String::new(),
                    span,
                }),
                timeout: opt_duration(Rule::timeout_opt),
                send: find(Rule::send_opt)
                    .map(|p| self.fields(p.clone()))
                    .unwrap_or_default(),
                into: find(Rule::into_opt).and_then(|p| self.child_ident(p, Rule::ident)),
            },
            _ => Action::Hangup,
        };
        (action, exits)
    }

    fn fields(&self, pair: P<'_>) -> Vec<Field> {
        pair.into_inner()
            .filter(|p| p.as_rule() == Rule::field)
            .filter_map(|field| {
                let span = self.span(&field);
                let mut inner = field.into_inner();
                let name = self.ident(&inner.next()?);
                let value = self.expr(inner.next()?);
                Some(Field { name, value, span })
            })
            .collect()
    }

    fn if_chain(&self, pair: P<'_>) -> (Action, Exits) {
        let mut arms = Vec::new();
        let mut exits = Exits::default();
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::if_arm => {
                    let span = self.span(&child);
                    let mut condition = None;
                    let mut target = None;
                    for part in child.into_inner() {
                        match part.as_rule() {
                            Rule::expr => condition = Some(self.expr(part)),
                            Rule::next => target = self.target_of(&part),
                            _ => {}
                        }
                    }
                    if let (Some(condition), Some(target)) = (condition, target) {
                        arms.push(IfArm {
                            condition,
                            target,
                            span,
                        });
                    }
                }
                Rule::otherwise => exits.otherwise = self.target_of(&child),
                _ => {}
            }
        }
        (Action::If { arms }, exits)
    }

    // ------------------------------------------------------------ expressions

    fn expr(&self, pair: P<'_>) -> Expr {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::expr => match pair.into_inner().next() {
                Some(inner) => self.expr(inner),
                None => Expr {
                    kind: ExprKind::Bool(false),
                    span,
                },
            },
            Rule::or_expr | Rule::and_expr | Rule::sum | Rule::comparison => {
                let rule = pair.as_rule();
                let mut inner = pair.into_inner();
                let Some(first) = inner.next() else {
                    return Expr {
                        kind: ExprKind::Bool(false),
                        span,
                    };
                };
                let mut left = self.expr(first);
                let mut op = None;
                for part in inner {
                    match part.as_rule() {
                        Rule::kw_or => op = Some(BinaryOp::Or),
                        Rule::kw_and => op = Some(BinaryOp::And),
                        Rule::add_op | Rule::cmp_op => op = binary_op(part.as_str()),
                        _ => {
                            let right = self.expr(part);
                            let op = op.take().unwrap_or(match rule {
                                Rule::or_expr => BinaryOp::Or,
                                Rule::and_expr => BinaryOp::And,
                                _ => BinaryOp::Add,
                            });
                            let span = left.span.to(right.span);
                            left = Expr {
                                kind: ExprKind::Binary {
                                    op,
                                    left: Box::new(left),
                                    right: Box::new(right),
                                },
                                span,
                            };
                        }
                    }
                }
                left
            }
            Rule::not_expr => match pair.into_inner().next() {
                Some(inner) => self.expr(inner),
                None => Expr {
                    kind: ExprKind::Bool(false),
                    span,
                },
            },
            Rule::negation => {
                let operand = pair
                    .into_inner()
                    .find(|p| p.as_rule() == Rule::not_expr)
                    .map(|p| self.expr(p))
                    .unwrap_or(Expr {
                        kind: ExprKind::Bool(false),
                        span,
                    });
                Expr {
                    kind: ExprKind::Not(Box::new(operand)),
                    span,
                }
            }
            Rule::boolean => Expr {
                kind: ExprKind::Bool(pair.as_str() == "true"),
                span,
            },
            Rule::int => Expr {
                kind: ExprKind::Int(pair.as_str().parse().unwrap_or(u64::MAX)),
                span,
            },
            Rule::string => Expr {
                kind: ExprKind::Str(self.string(&pair).value),
                span,
            },
            Rule::variable => Expr {
                kind: ExprKind::Var(pair.into_inner().map(|p| self.ident(&p)).collect()),
                span,
            },
            Rule::function_call => {
                let mut inner = pair.into_inner();
                let function = inner.next().map(|p| self.ident(&p)).unwrap_or(Ident {
                    name: String::new(),
                    span,
                });
                let args = inner.map(|p| self.expr(p)).collect();
                Expr {
                    kind: ExprKind::Call { function, args },
                    span,
                }
            }
            _ => Expr {
                kind: ExprKind::Bool(false),
                span,
            },
        }
    }
}

fn binary_op(symbol: &str) -> Option<BinaryOp> {
    Some(match symbol {
        "==" => BinaryOp::Eq,
        "!=" => BinaryOp::Ne,
        "<" => BinaryOp::Lt,
        "<=" => BinaryOp::Le,
        ">" => BinaryOp::Gt,
        ">=" => BinaryOp::Ge,
        "+" => BinaryOp::Add,
        "-" => BinaryOp::Sub,
        _ => return None,
    })
}

fn weekday(text: &str) -> Option<Weekday> {
    Weekday::ALL.into_iter().find(|d| d.as_str() == text)
}

/// `08:30` -> 510. Out-of-range values are kept (the checker reports them).
fn parse_time(text: &str) -> u32 {
    let (h, m) = text.split_once(':').unwrap_or((text, "0"));
    h.parse::<u32>().unwrap_or(99) * 60 + m.parse::<u32>().unwrap_or(99)
}

fn parse_date(text: &str) -> Date {
    let mut parts = text.splitn(3, '-');
    let year = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let month = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let day = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Date { year, month, day }
}

fn parse_month_day(text: &str) -> (u32, u32) {
    let (m, d) = text.split_once('-').unwrap_or((text, "0"));
    (m.parse().unwrap_or(0), d.parse().unwrap_or(0))
}

/// `\"` -> `"`, `\\` -> `\`, `\n` -> newline; other escapes keep the character.
pub(crate) fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The paths a file imports, read without a full parse (the loader needs them
/// before checking). Lines that start with `import "..."`.
pub fn imports(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix("import")?;
            let rest = rest.trim_start().strip_prefix('"')?;
            let end = rest.find('"')?;
            rest.get(..end).map(str::to_owned)
        })
        .collect()
}

#[doc(hidden)]
pub fn bench_pest_only(text: &str) -> usize {
    FlowParser::parse(Rule::file, text).map_or(0, |p| p.count())
}
