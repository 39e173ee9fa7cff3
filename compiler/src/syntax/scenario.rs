//! Parsing of flow tests: `.test` text to a [`ScenarioFile`] with the grammar
//! `grammars/scenario.pest`, recovering at the next `scenario` line after a
//! syntax error (the chunked parse the flow grammar uses too). What a scenario
//! means, and its checks, are in [`crate::scenario`].

use pest::error::{Error, ErrorVariant};
use pest::iterators::Pair;

use super::chunked::{Piece, error_offset, parse_in_chunks};
use super::{Origin, found_token};
use crate::ast::Str;
use crate::diagnostic::{self, Diagnostics, Problem, ScenarioValue};
use crate::scenario::{
    Answer, Broken, CallLine, Expect, Expectation, Press, Scenario, ScenarioFile, Statement,
    StatementKind, WebhookReply, Who, default_time, parse_time,
};
use crate::source::{SourceId, Span};

#[derive(pest_derive::Parser)]
#[grammar = "../grammars/scenario.pest"]
struct ScenarioParser;

/// Parse one `.test` file. Syntax errors (E031) and values that do not read
/// (E033) go to `diagnostics`; the result holds every scenario that parsed.
pub fn parse(source: SourceId, text: &str, diagnostics: &mut Diagnostics) -> ScenarioFile {
    let mut file = ScenarioFile {
        source,
        scenarios: Vec::new(),
        broken: Vec::new(),
    };
    let starts_scenario = |line: &str| {
        line.trim_start()
            .strip_prefix("scenario")
            .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
    };
    parse_in_chunks::<ScenarioParser, _>(source, text, Rule::file, starts_scenario, |piece| {
        match piece {
            Piece::Parsed { file: pair, at } => {
                let lower = Lower {
                    at,
                    diagnostics: &mut *diagnostics,
                };
                file.scenarios.extend(lower.scenarios(pair));
            }
            Piece::Broken { text, base, error } => {
                diagnostics.report(syntax_problem(source, text, base, &error));
                let trimmed = text.trim_end().len();
                file.broken.push(Broken {
                    name: chunk_name(text),
                    span: Span::new(source, base, base + trimmed),
                });
            }
        }
    });
    file
}

/// `scenario "name" {` -> `name`, read without the grammar.
fn chunk_name(chunk: &str) -> Option<String> {
    let rest = chunk.trim_start().strip_prefix("scenario")?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let end = rest.find(['"', '\n'])?;
    rest.get(..end).map(str::to_owned)
}

fn syntax_problem(source: SourceId, chunk: &str, base: usize, error: &Error<Rule>) -> Problem {
    let pos = error_offset(error);
    let rest = chunk.get(pos..).unwrap_or("");
    let token = found_token(rest);
    let mut words: Vec<(u8, String)> = Vec::new();
    let mut fitting: Vec<&str> = Vec::new();
    if let ErrorVariant::ParsingError { positives, .. } = &error.variant {
        for rule in positives {
            let name = format!("{rule:?}");
            if let Some(keyword) = rule_keyword(&name) {
                fitting.push(keyword);
            }
            let one = diagnostic::scenario_rule_words(&name);
            if !words.contains(&one) {
                words.push(one);
            }
        }
    }
    // The most specific words only; in a stable order.
    let most = words.iter().map(|(s, _)| *s).max().unwrap_or(0);
    let mut expected: Vec<String> = words
        .into_iter()
        .filter(|(s, _)| *s == most)
        .map(|(_, w)| w)
        .collect();
    expected.sort();
    // Point at the token, not at the whitespace before it.
    let skipped = rest.len() - rest.trim_start().len();
    let start = pos + skipped;
    let len = token.map_or(0, str::len).max(1);
    let end = (start + len).min(chunk.len()).max(start);
    // A misspelt keyword: the close ones that fit here, else any close one.
    let candidates = match token {
        Some(word)
            if word.chars().count() >= 3
                && word.starts_with(|c: char| c.is_alphabetic())
                && !KEYWORDS.contains(&word) =>
        {
            let close = crate::check::suggest(word, fitting);
            if close.is_empty() {
                crate::check::suggest(word, KEYWORDS)
            } else {
                close
            }
        }
        _ => Vec::new(),
    };
    Problem::ScenarioSyntax {
        span: Span::new(source, base + start, base + end),
        expected,
        found: diagnostic::found_words(token),
        candidates,
    }
}

/// The keyword a grammar rule starts with (`kw_press`, `expect_ticket`, `type_text`...).
fn rule_keyword(rule: &str) -> Option<&'static str> {
    let word = rule
        .strip_prefix("kw_")
        .or_else(|| rule.strip_prefix("expect_"))
        .or_else(|| rule.strip_suffix("_answer"))
        .unwrap_or(match rule {
            "type_text" => "type",
            "expect" => "expect",
            other => other,
        });
    KEYWORDS.iter().find(|k| **k == word).copied()
}

/// The words of the flow-test language, for "did you mean" on a misspelt one.
const KEYWORDS: [&str; 32] = [
    "scenario",
    "call",
    "from",
    "at",
    "press",
    "wait",
    "hangup",
    "booking",
    "type",
    "transfer",
    "queue",
    "answered",
    "busy",
    "noanswer",
    "failed",
    "timeout",
    "webhook",
    "returns",
    "fails",
    "absent",
    "expect",
    "not",
    "say",
    "ticket",
    "priority",
    "with",
    "callback",
    "cancelled",
    "recording",
    "conference",
    "state",
    "language",
];

type P<'a> = Pair<'a, Rule>;

/// Lowering of pest pairs to the syntax tree (span, name and string helpers come from
/// [`Origin`], shared with the flow grammar's lowering).
struct Lower<'d> {
    at: Origin,
    diagnostics: &'d mut Diagnostics,
}

impl std::ops::Deref for Lower<'_> {
    type Target = Origin;

    fn deref(&self) -> &Origin {
        &self.at
    }
}

impl Lower<'_> {
    fn scenarios(mut self, file: P<'_>) -> Vec<Scenario> {
        file.into_inner()
            .filter(|p| p.as_rule() == Rule::scenario)
            .map(|p| self.scenario(p))
            .collect()
    }

    fn scenario(&mut self, pair: P<'_>) -> Scenario {
        let span = self.span(&pair);
        let mut name = None;
        let mut statements = Vec::new();
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::string if name.is_none() => name = Some(self.string(&part)),
                Rule::kw_scenario | Rule::open_brace | Rule::close_brace => {}
                _ => {
                    if let Some(statement) = self.statement(part) {
                        statements.push(statement);
                    }
                }
            }
        }
        Scenario {
            name: name.unwrap_or(Str {
                value: String::new(),
                span,
            }),
            span,
            statements,
        }
    }

    fn statement(&mut self, pair: P<'_>) -> Option<Statement> {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::call => StatementKind::Call(self.call(&pair, span)),
            Rule::press => StatementKind::Press(
                pair.into_inner()
                    .flat_map(|p| match p.as_rule() {
                        Rule::keys => p.as_str().chars().map(Press::Key).collect(),
                        Rule::kw_wait => vec![Press::Wait],
                        Rule::kw_hangup => vec![Press::Hangup],
                        Rule::kw_booking => vec![Press::Booking],
                        _ => Vec::new(),
                    })
                    .collect(),
            ),
            Rule::type_text => StatementKind::Type(self.child_string(&pair, Rule::string)?),
            Rule::transfer_answer => StatementKind::Transfer(answer(&pair)?),
            Rule::queue_answer => StatementKind::Queue(answer(&pair)?),
            Rule::webhook_answer => {
                let url = self.child_string(&pair, Rule::string)?;
                let reply = match pair.into_inner().find(|p| p.as_rule() == Rule::returns_opt) {
                    Some(returns) => self.reply(&returns),
                    None => WebhookReply::Fails,
                };
                StatementKind::Webhook { url, reply }
            }
            Rule::absent => StatementKind::Absent(
                pair.into_inner()
                    .filter_map(|p| match p.as_rule() {
                        Rule::string => Some(Who::Contact(self.string(&p))),
                        Rule::name => Some(Who::Office(self.ident(&p))),
                        _ => None,
                    })
                    .collect(),
            ),
            Rule::expect => StatementKind::Expect(self.expect(pair, span)?),
            _ => return None,
        };
        Some(Statement { kind, span })
    }

    fn call(&mut self, pair: &P<'_>, span: Span) -> CallLine {
        let number = self.child_string(pair, Rule::string).unwrap_or(Str {
            value: String::new(),
            span,
        });
        let mut from = None;
        let mut at = None;
        for part in pair.clone().into_inner() {
            match part.as_rule() {
                Rule::from_opt => from = self.child_string(&part, Rule::string),
                Rule::at_opt => at = self.child_string(&part, Rule::string),
                _ => {}
            }
        }
        let when = match &at {
            Some(text) => match parse_time(&text.value) {
                Ok(when) => when,
                Err(reason) => {
                    self.diagnostics.report(Problem::ScenarioBadValue {
                        what: ScenarioValue::Time,
                        text: text.value.clone(),
                        reason,
                        span: text.span,
                    });
                    default_time()
                }
            },
            None => default_time(),
        };
        CallLine {
            number,
            from,
            at,
            when,
        }
    }

    fn reply(&mut self, returns: &P<'_>) -> WebhookReply {
        let Some(value) = returns
            .clone()
            .into_inner()
            .find(|p| p.as_rule() != Rule::kw_returns)
        else {
            return WebhookReply::Fails;
        };
        let span = self.span(&value);
        let json = match value.as_rule() {
            Rule::string => {
                let text = self.string(&value).value;
                let looks_like_json = text.trim_start().starts_with(['{', '[']);
                if !looks_like_json {
                    return WebhookReply::Returns(serde_json::Value::String(text));
                }
                text
            }
            _ => value.as_str().to_owned(),
        };
        match serde_json::from_str(&json) {
            Ok(parsed) => WebhookReply::Returns(parsed),
            Err(e) => {
                self.diagnostics.report(Problem::ScenarioBadValue {
                    what: ScenarioValue::Json,
                    text: json,
                    reason: e.to_string(),
                    span,
                });
                WebhookReply::Fails
            }
        }
    }

    fn expect(&self, pair: P<'_>, span: Span) -> Option<Expectation> {
        let mut negated = false;
        let mut what = None;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::kw_not => negated = true,
                Rule::kw_expect => {}
                _ => what = self.expectation(&part),
            }
        }
        Some(Expectation {
            negated,
            what: what?,
            span,
        })
    }

    fn expectation(&self, pair: &P<'_>) -> Option<Expect> {
        Some(match pair.as_rule() {
            Rule::expect_say => Expect::Say(self.child_string(pair, Rule::string)?),
            Rule::expect_ticket => {
                let mut category = None;
                let mut priority = None;
                let mut fields = Vec::new();
                for part in pair.clone().into_inner() {
                    match part.as_rule() {
                        Rule::name => category = Some(self.ident(&part)),
                        Rule::priority_opt => priority = self.child_ident(&part, Rule::name),
                        Rule::with_opt => {
                            for field in part.into_inner().filter(|p| p.as_rule() == Rule::field) {
                                if let (Some(name), Some(value)) = (
                                    self.child_ident(&field, Rule::name),
                                    self.child_string(&field, Rule::string),
                                ) {
                                    fields.push((name, value));
                                }
                            }
                        }
                        _ => {}
                    }
                }
                Expect::Ticket {
                    category,
                    priority,
                    fields,
                }
            }
            Rule::expect_callback => Expect::Callback(self.child_ident(pair, Rule::name)),
            Rule::expect_booking => Expect::Booking(self.child_ident(pair, Rule::name)),
            Rule::expect_cancelled => Expect::Cancelled,
            Rule::expect_transfer => Expect::Transfer(self.child_ident(pair, Rule::name)),
            Rule::expect_queue => Expect::Queue(self.child_ident(pair, Rule::name)),
            Rule::expect_recording => Expect::Recording,
            Rule::expect_conference => Expect::Conference(self.child_string(pair, Rule::string)),
            Rule::expect_state => {
                let state_ref = pair
                    .clone()
                    .into_inner()
                    .find(|p| p.as_rule() == Rule::state_ref)?;
                let mut names = state_ref
                    .into_inner()
                    .filter(|p| p.as_rule() == Rule::name)
                    .map(|p| self.ident(&p));
                let flow = names.next()?;
                Expect::State {
                    flow,
                    state: names.next(),
                }
            }
            Rule::expect_hangup => Expect::Hangup,
            Rule::expect_language => Expect::Language(self.child_ident(pair, Rule::name)?),
            _ => return None,
        })
    }
}

fn answer(pair: &P<'_>) -> Option<Answer> {
    pair.clone().into_inner().find_map(|p| match p.as_rule() {
        Rule::kw_answered => Some(Answer::Answered),
        Rule::kw_busy => Some(Answer::Busy),
        Rule::kw_noanswer => Some(Answer::NoAnswer),
        Rule::kw_failed => Some(Answer::Failed),
        Rule::kw_timeout => Some(Answer::Timeout),
        _ => None,
    })
}
