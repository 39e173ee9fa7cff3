//! Name and value checks: every name a deployment uses resolves, every value is in range.
//!
//! ```text
//!  definitions ─► references (E002, E026, E028, E030) ─► what is used ─► unused (W002, W004)
//!  variables   ─► expressions, `cancel booking`, templates (E012, E013)
//!  calendars   ─► time zones, weekly hours, closures (W003, E014, E015, E016, E022, E023)
//!  prompts     ─► audio files (E010, E011; facts for the graph), languages (E002, E003)
//!  flows       ─► numbers (E005), bounds (E008, E019, E020, E022); imports (E018)
//! ```
//!
//! Variables are flow-insensitive: a variable is defined when any flow of the
//! deployment sets it (`set`, `collect ... into`, `record ... into`,
//! `webhook ... into`), or when it is a built-in.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::audio::{AudioError, probe_audio};
use super::templates::{SUGGESTED_FILTERS, is_plain_text, template_variables, unknown_filters};
use super::{AudioFacts, Checked, MAX_RETRIES, Symbols, suggest};
use crate::ast::{
    self, Action, ClosureWhen, Expr, ExprKind, Ident, Item, PromptBody, PromptRef, Retries, Str,
    TimeOfDay, Weekday,
};
use crate::calendar::{
    HolidaySet, is_known_timezone, is_valid_date, is_valid_month_day, timezone_names,
};
use crate::diagnostic::{Allowed, Diagnostics, NameKind, OfficeLack, Problem, ValueKind};
use crate::graph::{self, Function};
use crate::load::normalize;
use crate::source::{Sources, Span};

// ------------------------------------------------------------------ tables

/// The priorities of tickets and categories.
const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];

/// Built-in variables, with the fields they have when those are fixed.
/// `None`: no fields to check (the field part is left to the runtime).
const BUILTINS: [(&str, Option<&[&str]>); 9] = [
    ("caller", None),
    ("number", None),
    ("language", None),
    ("now", None),
    ("ticket", Some(&["ref", "category"])),
    ("callback", Some(&["ref"])),
    ("booking", Some(&["ref", "time", "service", "office"])),
    ("recording", Some(&["duration"])),
    ("call", Some(&["id"])),
];

/// Longest distance from Easter, in days, a closure may name.
const MAX_EASTER_OFFSET: u64 = 366;
/// Most digits a `collect` may ask for.
const MAX_DIGITS: u64 = 32;

const SECOND: u64 = 1_000;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// The range a duration (in milliseconds) or a count must fall in.
struct Bound {
    /// The message id of what is bounded (`what-timeout`...).
    what: &'static str,
    min: u64,
    max: u64,
    /// The same range as written in flow files, for the help line.
    allowed: Allowed,
}

const INPUT_TIMEOUT: Bound = Bound {
    what: "what-timeout",
    min: SECOND,
    max: 60 * SECOND,
    allowed: Allowed::Between {
        min: "1s",
        max: "60s",
    },
};
const RING: Bound = Bound {
    what: "what-ring",
    min: 5 * SECOND,
    max: 120 * SECOND,
    allowed: Allowed::Between {
        min: "5s",
        max: "120s",
    },
};
const MAX_WAIT: Bound = Bound {
    what: "what-max-wait",
    min: 10 * SECOND,
    max: 60 * MINUTE,
    allowed: Allowed::Between {
        min: "10s",
        max: "60m",
    },
};
const RECORD_MAX: Bound = Bound {
    what: "what-max-recording",
    min: SECOND,
    max: 10 * MINUTE,
    allowed: Allowed::Between {
        min: "1s",
        max: "10m",
    },
};
const WEBHOOK_TIMEOUT: Bound = Bound {
    what: "what-webhook-timeout",
    min: 100,
    max: 30 * SECOND,
    allowed: Allowed::Between {
        min: "100ms",
        max: "30s",
    },
};
const MAX_DURATION: Bound = Bound {
    what: "what-max-duration",
    min: MINUTE,
    max: 4 * HOUR,
    allowed: Allowed::Between {
        min: "1m",
        max: "4h",
    },
};
const SLOT: Bound = Bound {
    what: "what-slot",
    min: 5 * MINUTE,
    max: 8 * HOUR,
    allowed: Allowed::Between {
        min: "5m",
        max: "8h",
    },
};
const SLA: Bound = Bound {
    what: "what-sla",
    min: HOUR,
    max: 365 * DAY,
    allowed: Allowed::Between {
        min: "1h",
        max: "365d",
    },
};
const MAX_VISITS: Bound = Bound {
    what: "what-max-visits",
    min: 1,
    max: 50,
    allowed: Allowed::Between {
        min: "1",
        max: "50",
    },
};
/// `offer N`: keys 1 to N choose a time and N + 1 asks for others, all on one key.
const OFFER: Bound = Bound {
    what: "what-offer",
    min: 1,
    max: 8,
    allowed: Allowed::Between { min: "1", max: "8" },
};
const CAPACITY: Bound = Bound {
    what: "what-capacity",
    min: 1,
    max: 100,
    allowed: Allowed::Between {
        min: "1",
        max: "100",
    },
};

// ------------------------------------------------------------------ entry point

/// Check every name and value of the deployment; fill `checked` with what the graph needs.
pub fn check(
    sources: &Sources,
    files: &[ast::File],
    symbols: &Symbols<'_>,
    checked: &mut Checked,
    diagnostics: &mut Diagnostics,
) {
    let mut names = Names {
        sources,
        symbols,
        variables: defined_variables(files),
        languages: languages_in_use(files),
        used: BTreeSet::new(),
        probed: BTreeMap::new(),
        checked,
        diagnostics,
    };
    for file in files {
        for item in &file.items {
            names.item(item);
        }
    }
    names.unused();
    duplicate_numbers(symbols, names.diagnostics);
    nothing_answers(symbols, names.diagnostics);
}

/// The state of one run over the deployment.
struct Names<'c, 'd> {
    sources: &'c Sources,
    symbols: &'c Symbols<'d>,
    /// First segments of every variable the deployment defines, built-ins included.
    variables: BTreeSet<String>,
    /// Valid language codes written anywhere, for "did you mean".
    languages: BTreeSet<String>,
    /// Every definition referred to, by kind and name.
    used: BTreeSet<(NameKind, String)>,
    /// Audio files already probed, by resolved path.
    probed: BTreeMap<PathBuf, Result<AudioFacts, AudioError>>,
    checked: &'c mut Checked,
    diagnostics: &'c mut Diagnostics,
}

impl<'d> Names<'_, 'd> {
    fn report(&mut self, problem: Problem) {
        self.diagnostics.report(problem);
    }

    /// The source text under a span ("" if the span is outside its file).
    fn text(&self, span: Span) -> &str {
        self.sources
            .get(span.source)
            .and_then(|file| file.text.get(span.range()))
            .unwrap_or("")
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Import(import) => self.import(import),
            Item::Calendar(calendar) => self.calendar(calendar),
            Item::Office(office) => self.office(office),
            Item::Category(category) => self.category(category),
            Item::Service(service) => self.service(service),
            Item::Prompt(prompt) => self.prompt(prompt),
            Item::Flow(flow) => self.flow(flow),
        }
    }
}

// ------------------------------------------------------------------ name lookup

impl<'d> Names<'_, 'd> {
    /// Mark `name` as used and find its definition; E002 when there is none.
    fn lookup<T>(
        &mut self,
        kind: NameKind,
        name: &Ident,
        map: &BTreeMap<&'d str, &'d T>,
    ) -> Option<&'d T> {
        self.used.insert((kind, name.name.clone()));
        let found = map.get(name.name.as_str()).copied();
        if found.is_none() {
            self.unknown(kind, name, map.keys().copied());
        }
        found
    }

    /// E002 with "did you mean", unless the definition exists but failed to parse.
    fn unknown<'n>(
        &mut self,
        kind: NameKind,
        name: &Ident,
        known: impl IntoIterator<Item = &'n str>,
    ) {
        if self.symbols.is_broken(kind, &name.name) {
            return;
        }
        // Definitions that failed to parse still have names worth suggesting.
        let symbols = self.symbols;
        let mut names: Vec<&str> = known.into_iter().collect();
        names.extend(
            symbols
                .broken
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, n)| n.as_str()),
        );
        let candidates = suggest(&name.name, names);
        // The definition meant is used once the name is corrected: no W002 for it too.
        if let Some(meant) = candidates.first() {
            self.used.insert((kind, meant.clone()));
        }
        self.report(Problem::UnknownName {
            kind,
            name: name.name.clone(),
            span: name.span,
            candidates,
        });
    }

    fn find_calendar(&mut self, name: &Ident) -> Option<&'d ast::Calendar> {
        let symbols = self.symbols;
        self.lookup(NameKind::Calendar, name, &symbols.calendars)
    }

    fn find_office(&mut self, name: &Ident) -> Option<&'d ast::Office> {
        let symbols = self.symbols;
        self.lookup(NameKind::Office, name, &symbols.offices)
    }

    fn find_category(&mut self, name: &Ident) -> Option<&'d ast::Category> {
        let symbols = self.symbols;
        self.lookup(NameKind::Category, name, &symbols.categories)
    }

    fn find_service(&mut self, name: &Ident) -> Option<&'d ast::Service> {
        let symbols = self.symbols;
        self.lookup(NameKind::Service, name, &symbols.services)
    }

    fn find_prompt(&mut self, name: &Ident) -> Option<&'d ast::PromptDef> {
        let symbols = self.symbols;
        self.lookup(NameKind::Prompt, name, &symbols.prompts)
    }

    fn find_flow(&mut self, name: &Ident) -> Option<&'d ast::Flow> {
        let symbols = self.symbols;
        self.lookup(NameKind::Flow, name, &symbols.flows)
    }

    /// E028 when the office lacks what its use needs.
    fn office_can(&mut self, office: &ast::Office, used_as: &Ident, lack: OfficeLack) {
        let lacks = match lack {
            OfficeLack::NoStaff => office.staff.is_empty(),
            OfficeLack::NoAppointments => office.appointments.is_none(),
            OfficeLack::NoHours => office.hours.is_none(),
        };
        if lacks {
            self.report(Problem::OfficeCannot {
                office: office.name.name.clone(),
                lack,
                span: used_as.span,
                office_span: office.name.span,
            });
        }
    }

    /// E002 unless `priority` is one of [`PRIORITIES`].
    fn priority(&mut self, priority: &Ident) {
        if !PRIORITIES.contains(&priority.name.as_str()) {
            self.unknown(NameKind::Priority, priority, PRIORITIES);
        }
    }

    /// E002 unless `language` is a two-letter lowercase code.
    fn language(&mut self, language: &Ident) {
        if is_language_code(&language.name) {
            return;
        }
        let lowercase = language.name.to_ascii_lowercase();
        let candidates = if is_language_code(&lowercase) {
            vec![lowercase]
        } else {
            suggest(&language.name, self.languages.iter().map(String::as_str))
        };
        self.report(Problem::UnknownName {
            kind: NameKind::Language,
            name: language.name.clone(),
            span: language.span,
            candidates,
        });
    }
}

/// `it`, `en`: two lowercase ASCII letters.
fn is_language_code(name: &str) -> bool {
    name.len() == 2 && name.bytes().all(|b| b.is_ascii_lowercase())
}

/// Every valid language code the deployment writes, and the default.
fn languages_in_use(files: &[ast::File]) -> BTreeSet<String> {
    let mut languages = BTreeSet::from([graph::DEFAULT_LANGUAGE.to_owned()]);
    for item in files.iter().flat_map(|file| &file.items) {
        let written: Vec<&Ident> = match item {
            Item::Flow(flow) => flow
                .language
                .iter()
                .chain(&flow.fallback_language)
                .collect(),
            Item::Prompt(prompt) => prompt
                .variants
                .iter()
                .filter_map(|variant| variant.language.as_ref())
                .collect(),
            _ => Vec::new(),
        };
        languages.extend(
            written
                .into_iter()
                .filter(|language| is_language_code(&language.name))
                .map(|language| language.name.clone()),
        );
    }
    languages
}

// ------------------------------------------------------------------ values

impl Names<'_, '_> {
    /// E022 when a duration is outside its bound.
    fn duration_within(&mut self, duration: Option<ast::Duration>, bound: &Bound) {
        if let Some(duration) = duration {
            self.value_within(duration.millis, duration.span, bound);
        }
    }

    /// E022 when a count is outside its bound.
    fn count_within(&mut self, count: Option<ast::Int>, bound: &Bound) {
        if let Some(count) = count {
            self.value_within(count.value, count.span, bound);
        }
    }

    /// E039 when a value the runtime uses as written does not have the shape it needs.
    fn value_shape(&mut self, kind: ValueKind, value: &Str) {
        if let Some(fault) = crate::check::values::fault(kind, &value.value) {
            self.report(Problem::BadValue {
                kind,
                fault,
                text: value.value.clone(),
                span: value.span,
            });
        }
    }

    fn value_within(&mut self, value: u64, span: Span, bound: &Bound) {
        if value < bound.min || value > bound.max {
            self.report(Problem::ValueOutOfRange {
                what: bound.what,
                span,
                allowed: bound.allowed.clone(),
            });
        }
    }

    /// E008 for `retries unlimited` or more than [`MAX_RETRIES`].
    fn retries(&mut self, retries: Option<Retries>) {
        let span = match retries {
            Some(Retries::Unlimited(span)) => span,
            Some(Retries::Count(count)) if count.value > MAX_RETRIES => count.span,
            _ => return,
        };
        self.report(Problem::UnboundedRetries {
            span,
            max: MAX_RETRIES,
        });
    }

    /// E020 for `digits` with min 0, min above max, or max above [`MAX_DIGITS`].
    fn digits(&mut self, digits: Option<ast::DigitsRange>) {
        let Some(digits) = digits else { return };
        let (min, max) = (digits.min.value, digits.max.value);
        if min == 0 || min > max || max > MAX_DIGITS {
            self.report(Problem::BadDigitsRange {
                min,
                max,
                span: digits.span,
            });
        }
    }

    /// E022 unless the end key is `#` or `*`.
    fn end_key(&mut self, end: Option<&Str>) {
        let Some(end) = end else { return };
        if end.value != "#" && end.value != "*" {
            self.report(Problem::ValueOutOfRange {
                what: "what-end-key",
                span: end.span,
                allowed: Allowed::EndKey,
            });
        }
    }

    /// E019 when a `collect` pattern does not compile.
    fn pattern(&mut self, pattern: Option<&Str>) {
        let Some(pattern) = pattern else { return };
        if let Err(error) = regex::Regex::new(&pattern.value) {
            self.report(Problem::BadPattern {
                message: regex_message(&error),
                span: pattern.span,
            });
        }
    }
}

/// The line of a regex error that says what is wrong (`unclosed character class`).
fn regex_message(error: &regex::Error) -> String {
    let text = error.to_string();
    text.lines()
        .find_map(|line| line.trim().strip_prefix("error: "))
        .or_else(|| text.lines().next())
        .unwrap_or("")
        .to_owned()
}

// ------------------------------------------------------------------ imports

impl Names<'_, '_> {
    /// E018 when an import names no file of the deployment.
    fn import(&mut self, import: &ast::Import) {
        let base = self.sources.base_dir(import.span.source);
        let path = normalize(&base.join(&import.path.value));
        let reason = if path.extension().is_none_or(|ext| ext != "flow") {
            "not a flow file (flow files end in `.flow`)"
        } else if self.sources.find(&path).is_some() {
            return;
        } else if path.is_dir() {
            "it is a folder"
        } else if !path.exists() {
            "no such file"
        } else {
            // It exists but the caller compiled other sources: nothing to say.
            return;
        };
        self.report(Problem::ImportNotFound {
            path: import.path.value.clone(),
            span: import.path.span,
            reason: reason.to_owned(),
        });
    }
}

// ------------------------------------------------------------------ calendars

impl Names<'_, '_> {
    fn calendar(&mut self, calendar: &ast::Calendar) {
        self.timezone(calendar);
        self.weekly_hours(calendar);
        for closure in &calendar.closures {
            self.closure(closure);
        }
    }

    /// W003 without a time zone, E016 with an unknown one.
    fn timezone(&mut self, calendar: &ast::Calendar) {
        match &calendar.timezone {
            None => self.report(Problem::CalendarWithoutTimeZone {
                calendar: calendar.name.name.clone(),
                span: calendar.name.span,
            }),
            Some(zone) if !is_known_timezone(&zone.value) => {
                self.report(Problem::UnknownTimeZone {
                    name: zone.value.clone(),
                    span: zone.span,
                    candidates: timezone_candidates(&zone.value),
                });
            }
            Some(_) => {}
        }
    }

    /// E023/E014 per range, then E015 for ranges that overlap on a day, across lines.
    fn weekly_hours(&mut self, calendar: &ast::Calendar) {
        let mut by_day: BTreeMap<Weekday, Vec<ast::TimeRange>> = BTreeMap::new();
        let mut reported: Vec<(Span, Span)> = Vec::new();
        for line in &calendar.hours {
            let mut days = line.days.clone();
            days.sort();
            days.dedup();
            for range in &line.ranges {
                if !self.time_range_ok(range) {
                    continue;
                }
                for day in &days {
                    let earlier = by_day.entry(*day).or_default();
                    let overlapping = earlier.iter().find(|previous| {
                        range.start.minutes < previous.end.minutes
                            && previous.start.minutes < range.end.minutes
                    });
                    if let Some(previous) = overlapping
                        && !reported.contains(&(range.span, previous.span))
                    {
                        reported.push((range.span, previous.span));
                        self.diagnostics.report(Problem::OverlappingRanges {
                            day: day.as_str(),
                            span: range.span,
                            previous: previous.span,
                        });
                    }
                    earlier.push(*range);
                }
            }
        }
    }

    /// Whether both times are real and the range ends after it starts (else E023/E014).
    fn time_range_ok(&mut self, range: &ast::TimeRange) -> bool {
        let start_ok = self.time_ok(range.start, false);
        let end_ok = self.time_ok(range.end, true);
        if !(start_ok && end_ok) {
            return false;
        }
        if range.end.minutes <= range.start.minutes {
            self.report(Problem::RangeEndsBeforeStart { span: range.span });
            return false;
        }
        true
    }

    /// E023 for minutes past 59, hours past 23, or 24:00 anywhere but an end.
    fn time_ok(&mut self, time: TimeOfDay, is_end: bool) -> bool {
        let text = self.text(time.span).to_owned();
        let parsed = text
            .split_once(':')
            .and_then(|(h, m)| Some((h.parse::<u32>().ok()?, m.parse::<u32>().ok()?)));
        let valid = match parsed {
            Some((hours, minutes)) => {
                minutes < 60 && (hours < 24 || (is_end && hours == 24 && minutes == 0))
            }
            None => time.minutes <= 24 * 60,
        };
        if !valid {
            self.report(Problem::InvalidDateOrTime {
                text,
                span: time.span,
            });
        }
        valid
    }

    fn closure(&mut self, closure: &ast::Closure) {
        let when = self.closure_when_span(closure);
        match &closure.when {
            ClosureWhen::Holidays(set) => {
                if HolidaySet::from_name(&set.name).is_none() {
                    let known = HolidaySet::known_names().iter().copied();
                    self.unknown(NameKind::HolidaySet, set, known);
                }
            }
            ClosureWhen::Easter { offset_days } => {
                if offset_days.unsigned_abs() > MAX_EASTER_OFFSET {
                    self.report(Problem::ValueOutOfRange {
                        what: "what-easter",
                        span: when,
                        allowed: Allowed::Easter {
                            max: MAX_EASTER_OFFSET,
                        },
                    });
                }
            }
            ClosureWhen::Yearly { month, day } => {
                if !is_valid_month_day(*month, *day) {
                    self.invalid_date(when);
                }
            }
            ClosureWhen::Date(date) => {
                if !is_valid_date(date.year, date.month, date.day) {
                    self.invalid_date(when);
                }
            }
            ClosureWhen::Range { from, to } => self.date_range(when, from, to),
        }
    }

    /// E023 for either date of `from..to`, else E014 when `to` is before `from`.
    fn date_range(&mut self, span: Span, from: &ast::Date, to: &ast::Date) {
        let text = self.text(span).to_owned();
        let (from_span, to_span) = match text.split_once("..") {
            Some((first, _)) => {
                let split = span.start as usize + first.len();
                (
                    Span::new(span.source, span.start as usize, split),
                    Span::new(span.source, split + 2, span.end as usize),
                )
            }
            None => (span, span),
        };
        let from_ok = is_valid_date(from.year, from.month, from.day);
        let to_ok = is_valid_date(to.year, to.month, to.day);
        if !from_ok {
            self.invalid_date(from_span);
        }
        if !to_ok {
            self.invalid_date(to_span);
        }
        if from_ok && to_ok && to < from {
            self.report(Problem::RangeEndsBeforeStart { span });
        }
    }

    fn invalid_date(&mut self, span: Span) {
        let text = self.text(span).to_owned();
        self.report(Problem::InvalidDateOrTime { text, span });
    }

    /// The span of the date or `easter±n` after `closed` (the closure has no finer spans).
    fn closure_when_span(&self, closure: &ast::Closure) -> Span {
        let text = self.text(closure.span);
        let Some(rest) = text.strip_prefix("closed") else {
            return closure.span;
        };
        let skipped = rest.len() - rest.trim_start().len();
        let start = "closed".len() + skipped;
        let token = rest
            .trim_start()
            .split(|c: char| c.is_whitespace() || c == '"' || c == '/')
            .next()
            .unwrap_or("");
        let base = closure.span.start as usize;
        Span::new(
            closure.span.source,
            base + start,
            base + start + token.len(),
        )
    }
}

/// "Did you mean" for a time zone: close city names first (`Europe/Roma`, `Roma`
/// find `Europe/Rome`), preferring the same region, then close full names.
fn timezone_candidates(name: &str) -> Vec<String> {
    let names = timezone_names();
    let city = |zone: &str| zone.rsplit('/').next().unwrap_or(zone).to_lowercase();
    let region = |zone: &str| {
        zone.rsplit_once('/')
            .map(|(region, _)| region.to_lowercase())
            .unwrap_or_default()
    };
    let wanted_city = city(name);
    let wanted_region = region(name);
    let mut scored: Vec<(f64, &String)> = names
        .iter()
        .map(|zone| {
            let bonus = if region(zone) == wanted_region {
                0.05
            } else {
                0.0
            };
            (
                strsim::jaro_winkler(&wanted_city, &city(zone)) + bonus,
                zone,
            )
        })
        .filter(|(score, _)| *score >= 0.85)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    let found: Vec<String> = scored
        .into_iter()
        .take(3)
        .map(|(_, zone)| zone.clone())
        .collect();
    if found.is_empty() {
        suggest(name, names.iter().map(String::as_str))
    } else {
        found
    }
}

// ------------------------------------------------------------------ directory

impl Names<'_, '_> {
    fn office(&mut self, office: &ast::Office) {
        for staff in &office.staff {
            self.value_shape(ValueKind::StaffAddress, &staff.contact);
        }
        if let Some(hours) = &office.hours {
            self.find_calendar(hours);
        }
        self.duration_within(office.ring, &RING);
        if let Some(appointments) = &office.appointments {
            self.duration_within(Some(appointments.slot), &SLOT);
            self.count_within(appointments.capacity, &CAPACITY);
        }
    }

    fn category(&mut self, category: &ast::Category) {
        if let Some(office) = &category.office {
            self.find_office(office);
        }
        if let Some(priority) = &category.priority {
            self.priority(priority);
        }
        self.duration_within(category.sla, &SLA);
    }

    fn service(&mut self, service: &ast::Service) {
        if let Some(office) = &service.office {
            self.find_office(office);
        }
        if let Some(hours) = &service.hours {
            self.find_calendar(hours);
        }
        match service.slot {
            Some(slot) => self.duration_within(Some(slot), &SLOT),
            None => self.report(Problem::ValueOutOfRange {
                what: SLOT.what,
                span: service.name.span,
                allowed: match SLOT.allowed {
                    Allowed::Between { min, max } => Allowed::SlotMissing { min, max },
                    other => other,
                },
            }),
        }
        self.count_within(service.capacity, &CAPACITY);
    }
}

// ------------------------------------------------------------------ prompts

impl Names<'_, '_> {
    /// A named prompt: its languages (E002, E003) and each body.
    fn prompt(&mut self, prompt: &ast::PromptDef) {
        let mut seen: Vec<&Ident> = Vec::new();
        for variant in &prompt.variants {
            if let Some(language) = &variant.language {
                self.language(language);
                match seen.iter().find(|s| s.name == language.name) {
                    Some(first) => self.report(Problem::DuplicateDefinition {
                        kind: NameKind::Language,
                        name: language.name.clone(),
                        span: language.span,
                        previous: first.span,
                    }),
                    None => seen.push(language),
                }
            }
            self.prompt_body(&variant.body);
        }
    }

    fn prompt_body(&mut self, body: &PromptBody) {
        match body {
            PromptBody::Text(text) => self.template(text),
            PromptBody::Audio(path) => self.audio(path),
        }
    }

    /// What a state speaks: an inline body, or a named prompt that must exist
    /// and speak the flow's language.
    fn prompt_ref(&mut self, flow: &ast::Flow, prompt: &PromptRef) {
        match prompt {
            PromptRef::Inline(body) => self.prompt_body(body),
            PromptRef::Named(name) => {
                if let Some(definition) = self.find_prompt(name) {
                    self.prompt_language(flow, definition, name);
                }
            }
        }
    }

    /// E030 when a prompt has no variant for the flow's language, its fallback, or every language.
    fn prompt_language(&mut self, flow: &ast::Flow, prompt: &ast::PromptDef, used_as: &Ident) {
        let language = flow
            .language
            .as_ref()
            .map_or(graph::DEFAULT_LANGUAGE, |l| l.name.as_str());
        if !is_language_code(language) {
            return; // Already E002.
        }
        let fallback = flow.fallback_language.as_ref().map(|l| l.name.as_str());
        let speaks = prompt
            .variants
            .iter()
            .any(|variant| match &variant.language {
                None => true,
                Some(l) => l.name == language || Some(l.name.as_str()) == fallback,
            });
        if !speaks {
            let mut available: Vec<String> = prompt
                .variants
                .iter()
                .filter_map(|variant| variant.language.as_ref().map(|l| l.name.clone()))
                .collect();
            available.sort();
            available.dedup();
            self.report(Problem::MissingPromptLanguage {
                prompt: prompt.name.name.clone(),
                language: language.to_owned(),
                span: used_as.span,
                available,
            });
        }
    }
}

// ------------------------------------------------------------------ audio

impl Names<'_, '_> {
    /// E010/E011 unless the file plays; its facts go to [`Checked::audio`].
    fn audio(&mut self, file: &Str) {
        let base = self.sources.base_dir(file.span.source);
        let path = normalize(&base.join(&file.value));
        let outcome = self
            .probed
            .entry(path.clone())
            .or_insert_with(|| probe(&path))
            .clone();
        match outcome {
            Ok(facts) => {
                self.checked.audio.insert(path, facts);
            }
            Err(AudioError::Missing) => self.report(Problem::AudioMissing {
                path: file.value.clone(),
                span: file.span,
            }),
            Err(AudioError::Unreadable(reason) | AudioError::Undecodable(reason)) => {
                self.report(Problem::AudioUndecodable {
                    path: file.value.clone(),
                    reason,
                    span: file.span,
                });
            }
        }
    }
}

/// Decode an audio file and hash its bytes.
fn probe(path: &Path) -> Result<AudioFacts, AudioError> {
    let info = probe_audio(path)?;
    let bytes = std::fs::read(path).map_err(|error| AudioError::Unreadable(error.to_string()))?;
    let sha256 = Sha256::digest(&bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Ok(AudioFacts { info, sha256 })
}

// ------------------------------------------------------------------ templates and variables

/// Why a dotted variable path is not defined.
struct Undefined {
    /// The path as reported (`avviso`, `ticket.numero`).
    name: String,
    candidates: Vec<String>,
    /// How many segments of the path the problem covers (1 or 2).
    segments: usize,
}

impl Names<'_, '_> {
    /// E012 for a broken template, E013 for each variable it reads that is never set, E035
    /// for each filter that does not exist.
    fn template(&mut self, text: &Str) {
        if is_plain_text(&text.value) {
            return;
        }
        for (name, range) in unknown_filters(&text.value) {
            let span = self.literal_span(text, Some(range));
            self.report(Problem::UnknownFilter {
                candidates: suggest(&name, SUGGESTED_FILTERS.iter().copied()),
                name,
                span,
            });
        }
        let parsed = match self.checked.templates.get(&text.value) {
            Some(known) => Ok(known.iter().cloned().collect()),
            None => template_variables(&text.value),
        };
        if let Ok(paths) = &parsed {
            self.checked
                .templates
                .insert(text.value.clone(), paths.iter().cloned().collect());
        }
        match parsed {
            Err(error) => {
                let span = self.literal_span(text, error.offset);
                self.report(Problem::TemplateSyntax {
                    message: error.message,
                    span,
                });
            }
            Ok(paths) => {
                let mut reported = BTreeSet::new();
                for path in paths {
                    let segments: Vec<&str> = path.split('.').collect();
                    let Some(undefined) = self.undefined(&segments) else {
                        continue;
                    };
                    if reported.insert(undefined.name.clone()) {
                        let span = self.find_in_literal(text, &undefined.name);
                        self.report(Problem::UndefinedVariable {
                            name: undefined.name,
                            span,
                            candidates: undefined.candidates,
                        });
                    }
                }
            }
        }
    }

    /// E013 for a variable an expression or `cancel booking` reads.
    fn variable(&mut self, path: &[Ident]) {
        let segments: Vec<&str> = path.iter().map(|s| s.name.as_str()).collect();
        let Some(undefined) = self.undefined(&segments) else {
            return;
        };
        let (Some(first), Some(last)) = (path.first(), path.get(undefined.segments - 1)) else {
            return;
        };
        self.report(Problem::UndefinedVariable {
            name: undefined.name,
            span: first.span.to(last.span),
            candidates: undefined.candidates,
        });
    }

    /// Whether the dotted path is not defined: its first segment is neither a
    /// built-in nor set anywhere, or it names a field a built-in does not have.
    fn undefined(&self, path: &[&str]) -> Option<Undefined> {
        let root = *path.first()?;
        let builtin = BUILTINS.iter().find(|(name, _)| *name == root);
        if let Some((_, Some(fields))) = builtin {
            let field = *path.get(1)?;
            if fields.contains(&field) {
                return None;
            }
            let mut close = suggest(field, fields.iter().copied());
            if close.is_empty() {
                close = fields.iter().map(|f| (*f).to_owned()).collect();
            }
            return Some(Undefined {
                name: format!("{root}.{field}"),
                candidates: close.iter().map(|f| format!("{root}.{f}")).collect(),
                segments: 2,
            });
        }
        // A variable set in a definition that failed to parse is not reported as well.
        if self.variables.contains(root) || self.symbols.is_broken(NameKind::Variable, root) {
            return None;
        }
        Some(Undefined {
            name: root.to_owned(),
            candidates: suggest(root, self.variables.iter().map(String::as_str)),
            segments: 1,
        })
    }

    /// The literal's text between its quotes, and the offset of that text in the file.
    fn literal_inner(&self, text: &Str) -> (&str, usize) {
        let raw = self.text(text.span);
        let start = text.span.start as usize;
        match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            Some(inner) => (inner, start + 1),
            None => (raw, start),
        }
    }

    /// Map a byte range of a string's value to its span in the file, through escapes.
    fn literal_span(&self, text: &Str, range: Option<Range<usize>>) -> Span {
        let Some(range) = range else {
            return text.span;
        };
        let (inner, base) = self.literal_inner(text);
        let start = raw_offset(inner, range.start);
        let mut end = raw_offset(inner, range.end).max(start);
        if end == start {
            end = inner
                .get(start..)
                .and_then(|rest| rest.chars().next())
                .map_or(start, |c| start + c.len_utf8());
        }
        Span::new(text.span.source, base + start, base + end)
    }

    /// The first place a variable path is written in a template, or the whole literal.
    fn find_in_literal(&self, text: &Str, path: &str) -> Span {
        let (inner, base) = self.literal_inner(text);
        let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
        let found = inner.match_indices(path).find(|(at, _)| {
            let before = inner.get(..*at).and_then(|b| b.chars().next_back());
            let after = inner.get(at + path.len()..).and_then(|a| a.chars().next());
            !before.is_some_and(|c| is_name(c) || c == '.') && !after.is_some_and(is_name)
        });
        match found {
            Some((at, _)) => Span::new(text.span.source, base + at, base + at + path.len()),
            None => text.span,
        }
    }
}

/// The offset in `raw` (escapes as written) of byte `offset` of its unescaped value.
fn raw_offset(raw: &str, offset: usize) -> usize {
    let mut value_at = 0;
    let mut chars = raw.char_indices();
    while let Some((at, c)) = chars.next() {
        if value_at >= offset {
            return at;
        }
        let produced = if c == '\\' {
            match chars.next() {
                Some((_, 'n' | 't')) => 1,
                Some((_, other)) => other.len_utf8(),
                None => 0,
            }
        } else {
            c.len_utf8()
        };
        value_at += produced;
    }
    raw.len()
}

/// First segments of every variable: the built-ins and what any flow sets.
fn defined_variables(files: &[ast::File]) -> BTreeSet<String> {
    let mut variables: BTreeSet<String> = BUILTINS.iter().map(|(n, _)| (*n).to_owned()).collect();
    let flows = files
        .iter()
        .flat_map(|file| &file.items)
        .filter_map(|item| match item {
            Item::Flow(flow) => Some(flow),
            _ => None,
        });
    for state in flows.flat_map(|flow| &flow.states) {
        let defined = match &state.action {
            Action::Set { var, .. } => Some(var),
            Action::Collect { into, .. } | Action::Record { into, .. } => Some(into),
            Action::Webhook { into, .. } => into.as_ref(),
            _ => None,
        };
        variables.extend(defined.map(|var| var.name.clone()));
    }
    variables
}

// ------------------------------------------------------------------ expressions

impl Names<'_, '_> {
    fn expr(&mut self, expr: &Expr) {
        match &expr.kind {
            ExprKind::Bool(_) | ExprKind::Int(_) | ExprKind::Str(_) => {}
            ExprKind::Var(path) => self.variable(path),
            ExprKind::Call { function, args } => self.call(function, args, expr.span),
            ExprKind::Not(inner) => self.expr(inner),
            ExprKind::Binary { left, right, .. } => {
                self.expr(left);
                self.expr(right);
            }
        }
    }

    /// A function call: the function exists and its arguments fit (E002, E026).
    fn call(&mut self, function: &Ident, args: &[Expr], span: Span) {
        let Some(known) = Function::from_name(&function.name) else {
            let names = Function::ALL.iter().map(|(name, _)| *name);
            self.unknown(NameKind::Function, function, names);
            // Bare names may be calendars or offices: only check the rest.
            for arg in args.iter().filter(|arg| bare_name(arg).is_none()) {
                self.expr(arg);
            }
            return;
        };
        match known {
            Function::Open | Function::Closed | Function::Holiday => {
                let takes = "takes-calendar";
                if let Some(name) = self.name_argument(function, args, span, takes) {
                    self.calendar_argument(function, name, takes);
                }
            }
            Function::Available => {
                let takes = "takes-office";
                if let Some(name) = self.name_argument(function, args, span, takes) {
                    self.office_argument(function, name, takes);
                }
            }
            Function::StartsWith => {
                let takes = "takes-two-texts";
                self.value_arguments(function, args, 2, span, takes);
            }
            Function::Len => {
                let takes = "takes-text";
                self.value_arguments(function, args, 1, span, takes);
            }
        }
    }

    /// The single bare name a function takes; E026 otherwise.
    fn name_argument<'e>(
        &mut self,
        function: &Ident,
        args: &'e [Expr],
        span: Span,
        takes: &'static str,
    ) -> Option<&'e Ident> {
        let (arg, wrong_span) = match args {
            [arg] => (bare_name(arg), arg.span),
            _ => (None, span),
        };
        if arg.is_none() {
            self.wrong_arguments(function, wrong_span, takes);
        }
        arg
    }

    fn calendar_argument(&mut self, function: &Ident, name: &Ident, takes: &'static str) {
        if self.symbols.calendars.contains_key(name.name.as_str()) {
            self.used.insert((NameKind::Calendar, name.name.clone()));
        } else if self.symbols.offices.contains_key(name.name.as_str()) {
            self.used.insert((NameKind::Office, name.name.clone()));
            self.wrong_arguments(function, name.span, takes);
        } else {
            self.find_calendar(name);
        }
    }

    fn office_argument(&mut self, function: &Ident, name: &Ident, takes: &'static str) {
        let symbols = self.symbols;
        if let Some(office) = symbols.offices.get(name.name.as_str()) {
            self.used.insert((NameKind::Office, name.name.clone()));
            self.office_can(office, name, OfficeLack::NoHours);
        } else if symbols.calendars.contains_key(name.name.as_str()) {
            self.used.insert((NameKind::Calendar, name.name.clone()));
            self.wrong_arguments(function, name.span, takes);
        } else {
            self.find_office(name);
        }
    }

    /// Functions of values: E026 for a wrong count, then each argument as an expression.
    fn value_arguments(
        &mut self,
        function: &Ident,
        args: &[Expr],
        count: usize,
        span: Span,
        takes: &'static str,
    ) {
        if args.len() != count {
            self.wrong_arguments(function, span, takes);
        }
        for arg in args {
            self.expr(arg);
        }
    }

    fn wrong_arguments(&mut self, function: &Ident, span: Span, takes: &'static str) {
        self.report(Problem::WrongArguments {
            function: function.name.clone(),
            span,
            takes,
        });
    }
}

/// `uffici` in `open(uffici)`: a variable of one segment.
fn bare_name(expr: &Expr) -> Option<&Ident> {
    match &expr.kind {
        ExprKind::Var(path) if path.len() == 1 => path.first(),
        _ => None,
    }
}

// ------------------------------------------------------------------ flows

impl Names<'_, '_> {
    fn flow(&mut self, flow: &ast::Flow) {
        for language in flow.language.iter().chain(&flow.fallback_language) {
            self.language(language);
        }
        for number in &flow.answers {
            self.value_shape(ValueKind::Number, number);
        }
        self.duration_within(flow.max_duration, &MAX_DURATION);
        self.count_within(flow.max_visits, &MAX_VISITS);
        for state in &flow.states {
            self.action(flow, &state.action);
        }
    }

    fn action(&mut self, flow: &ast::Flow, action: &Action) {
        match action {
            Action::Say(prompt) | Action::Play(prompt) => self.prompt_ref(flow, prompt),
            Action::Menu {
                prompt,
                timeout,
                retries,
            } => {
                self.prompt_ref(flow, prompt);
                self.duration_within(*timeout, &INPUT_TIMEOUT);
                self.retries(*retries);
            }
            Action::Collect {
                prompt,
                digits,
                end,
                pattern,
                timeout,
                retries,
                ..
            } => {
                self.prompt_ref(flow, prompt);
                self.digits(*digits);
                self.end_key(end.as_ref());
                self.pattern(pattern.as_ref());
                self.duration_within(*timeout, &INPUT_TIMEOUT);
                self.retries(*retries);
            }
            Action::Set { value, .. } => self.expr(value),
            Action::If { arms } => {
                for arm in arms {
                    self.expr(&arm.condition);
                }
            }
            Action::Call(name) => {
                self.find_flow(name);
            }
            Action::Transfer {
                office,
                ring,
                ring_all,
            } => {
                if let Some(found) = self.find_office(office) {
                    self.office_can(found, office, OfficeLack::NoStaff);
                    self.office_can(found, office, OfficeLack::NoHours);
                    if let Some(all) = ring_all
                        && found.staff.len() == 1
                    {
                        self.report(Problem::RingAllWithOneStaff {
                            office: office.name.clone(),
                            span: *all,
                            office_span: found.name.span,
                        });
                    }
                }
                self.duration_within(*ring, &RING);
            }
            Action::Queue {
                office,
                music,
                max_wait,
                ..
            } => {
                if let Some(found) = self.find_office(office) {
                    self.office_can(found, office, OfficeLack::NoStaff);
                }
                if let Some(music) = music {
                    self.prompt_ref(flow, music);
                }
                self.duration_within(*max_wait, &MAX_WAIT);
            }
            Action::Callback { office, options } => {
                self.find_office(office);
                for (at, option) in options.iter().enumerate() {
                    let first = options[..at]
                        .iter()
                        .find(|earlier| earlier.keyword() == option.keyword());
                    if let Some(first) = first {
                        self.report(Problem::OptionTwice {
                            action: "callback",
                            option: option.keyword(),
                            span: option.span(),
                            previous: first.span(),
                        });
                    }
                }
            }
            Action::Ticket {
                category,
                priority,
                fields,
            } => {
                self.find_category(category);
                if let Some(priority) = priority {
                    self.priority(priority);
                }
                for field in fields {
                    self.expr(&field.value);
                }
            }
            Action::Appointment { office, offer } => {
                if let Some(found) = self.find_office(office) {
                    self.office_can(found, office, OfficeLack::NoAppointments);
                }
                self.count_within(*offer, &OFFER);
            }
            Action::Book { service, offer } => {
                self.find_service(service);
                self.count_within(*offer, &OFFER);
            }
            Action::CancelBooking { reference } => self.variable(std::slice::from_ref(reference)),
            Action::MoveBooking { reference, offer } => {
                self.variable(std::slice::from_ref(reference));
                self.count_within(Some(*offer), &OFFER);
            }
            Action::Record { prompt, max, .. } => {
                self.prompt_ref(flow, prompt);
                self.duration_within(*max, &RECORD_MAX);
            }
            Action::Webhook {
                url, timeout, send, ..
            } => {
                self.value_shape(ValueKind::WebhookAddress, url);
                self.duration_within(*timeout, &WEBHOOK_TIMEOUT);
                for field in send {
                    self.expr(&field.value);
                }
            }
            Action::Conference { pin, .. } => {
                if let Some(pin) = pin {
                    self.value_shape(ValueKind::Pin, pin);
                }
            }
            Action::Goto(_) | Action::Return | Action::Hangup => {}
        }
    }
}

// ------------------------------------------------------------------ deployment-wide

impl Names<'_, '_> {
    /// W002 for definitions nothing refers to, and sub-flows nothing calls.
    /// Skipped when a definition failed to parse: it may be the one that used them.
    fn unused(&mut self) {
        let symbols = self.symbols;
        // With no flow at all (E038) everything is unused: that says nothing more.
        if !symbols.broken.is_empty() || symbols.all_flows.is_empty() {
            return;
        }
        let mut unused: Vec<(NameKind, &Ident)> = Vec::new();
        unused.extend(
            symbols
                .calendars
                .values()
                .map(|d| (NameKind::Calendar, &d.name)),
        );
        unused.extend(
            symbols
                .offices
                .values()
                .map(|d| (NameKind::Office, &d.name)),
        );
        unused.extend(
            symbols
                .categories
                .values()
                .map(|d| (NameKind::Category, &d.name)),
        );
        unused.extend(
            symbols
                .services
                .values()
                .map(|d| (NameKind::Service, &d.name)),
        );
        unused.extend(
            symbols
                .prompts
                .values()
                .map(|d| (NameKind::Prompt, &d.name)),
        );
        // When nothing answers (W004), every flow looks like an uncalled sub-flow.
        if symbols
            .all_flows
            .iter()
            .any(|flow| !flow.answers.is_empty())
        {
            unused.extend(
                symbols
                    .flows
                    .values()
                    .filter(|flow| flow.answers.is_empty())
                    .map(|d| (NameKind::Flow, &d.name)),
            );
        }
        for (kind, name) in unused {
            if !self.used.contains(&(kind, name.name.clone())) {
                self.report(Problem::UnusedDefinition {
                    kind,
                    name: name.name.clone(),
                    span: name.span,
                });
            }
        }
    }
}

/// E005 for a number (compared by its digits) answered twice.
fn duplicate_numbers(symbols: &Symbols<'_>, diagnostics: &mut Diagnostics) {
    let mut seen: BTreeMap<String, (Span, &str)> = BTreeMap::new();
    for flow in &symbols.all_flows {
        for number in &flow.answers {
            let digits = graph::normalize_number(&number.value);
            match seen.get(&digits) {
                Some((previous, previous_flow)) => {
                    diagnostics.report(Problem::DuplicateNumber {
                        number: number.value.clone(),
                        span: number.span,
                        flow: flow.name.name.clone(),
                        previous: *previous,
                        previous_flow: (*previous_flow).to_owned(),
                    });
                }
                None => {
                    seen.insert(digits, (number.span, flow.name.name.as_str()));
                }
            }
        }
    }
}

/// W004 when flows exist but none answers a number (unless a flow failed to parse).
fn nothing_answers(symbols: &Symbols<'_>, diagnostics: &mut Diagnostics) {
    let Some(first) = symbols.all_flows.first() else {
        return;
    };
    let broken_flow = symbols
        .broken
        .iter()
        .any(|(kind, _)| *kind == NameKind::Flow);
    if broken_flow
        || symbols
            .all_flows
            .iter()
            .any(|flow| !flow.answers.is_empty())
    {
        return;
    }
    diagnostics.report(Problem::NothingAnswers {
        span: first.name.span,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_codes() {
        assert!(is_language_code("it"));
        assert!(is_language_code("en"));
        assert!(!is_language_code("IT"));
        assert!(!is_language_code("ita"));
        assert!(!is_language_code("i"));
    }

    #[test]
    fn raw_offsets_follow_escapes() {
        assert_eq!(raw_offset("abc", 2), 2);
        // value `a"b{{`: the quote is two bytes in the source.
        assert_eq!(raw_offset(r#"a\"b{{"#, 3), 4);
        assert_eq!(raw_offset(r"a\nb", 2), 3);
        assert_eq!(raw_offset("è{{", 2), 2);
        assert_eq!(raw_offset("ab", 9), 2);
    }

    #[test]
    fn time_zone_suggestions() {
        assert_eq!(
            timezone_candidates("Europe/Roma")
                .first()
                .map(String::as_str),
            Some("Europe/Rome")
        );
        assert_eq!(
            timezone_candidates("Roma").first().map(String::as_str),
            Some("Europe/Rome")
        );
    }

    #[test]
    fn regex_messages_name_the_problem() {
        let unclosed = String::from("[0-9");
        let error = regex::Regex::new(&unclosed).err();
        let message = error.as_ref().map(regex_message).unwrap_or_default();
        assert_eq!(message, "unclosed character class");
    }
}
