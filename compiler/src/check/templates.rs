//! Text prompt templates: parses minijinja prompt text, lists the variables it reads and the
//! filters it applies; and the filters Centralino adds to minijinja's.
//!
//! Text prompts such as `"La sua segnalazione è la numero {{ ticket.ref }}."` are minijinja
//! templates. The compiler parses each one to report syntax errors with their position, to
//! compare the variables the template reads with those the flow defines, and to find filters
//! that do not exist (minijinja itself only finds those when the prompt is spoken).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::{Mutex, OnceLock};

use minijinja::{Environment, ErrorKind, Value};

/// A template that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// What is wrong, e.g. `syntax error: unexpected end of input, expected end of variable block`.
    pub message: String,
    /// Byte range within the template text where the error is, when minijinja knows it.
    pub offset: Option<Range<usize>>,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TemplateError {}

/// Add Centralino's own filters to a template environment: the runtime speaks prompts with
/// them, and the compiler checks that templates use only filters that exist.
pub fn add_filters(env: &mut Environment<'_>) {
    env.add_filter("spell", spell);
}

/// The `spell` template filter: a code read out one character at a time, so that a caller can
/// write it down or key it in (`4815162` → `4 8 1 5 1 6 2`; `PG-2026-000123` →
/// `P G, 2 0 2 6, 0 0 0 1 2 3`). Text-to-speech reads a run of digits as one large number
/// ("four million eight hundred..."). Anything that is not a letter or digit is a pause.
pub fn spell(value: &Value) -> String {
    let text = value.to_string();
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|group| !group.is_empty())
        .map(|group| {
            let mut spelled = String::with_capacity(group.len() * 2);
            for (i, c) in group.chars().enumerate() {
                if i > 0 {
                    spelled.push(' ');
                }
                spelled.push(c);
            }
            spelled
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Filter names offered as "did you mean" for a filter that does not exist: Centralino's and
/// the minijinja built-ins a prompt is likely to use. (Whether a filter exists is asked of
/// minijinja itself, not of this list.)
pub const SUGGESTED_FILTERS: &[&str] = &[
    "spell",
    "abs",
    "capitalize",
    "default",
    "first",
    "float",
    "int",
    "join",
    "last",
    "length",
    "lower",
    "replace",
    "round",
    "string",
    "title",
    "trim",
    "upper",
];

/// The filters `text` applies (`{{ x | name }}`, `{% filter name %}`) that no template
/// environment of Centralino knows, each with its byte range in `text`. Text inside string
/// literals does not count.
pub fn unknown_filters(text: &str) -> Vec<(String, Range<usize>)> {
    if is_plain_text(text) {
        return Vec::new();
    }
    let names = filter_names(text);
    if names.is_empty() {
        return names;
    }
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    // Filter name → exists: asking minijinja compiles a small template, so each name is asked
    // once per process.
    static ANSWERS: Mutex<BTreeMap<String, bool>> = Mutex::new(BTreeMap::new());
    let env = ENVIRONMENT.get_or_init(|| {
        let mut env = Environment::new();
        add_filters(&mut env);
        env
    });
    let ask = |name: &str| match env.render_str(&format!("{{{{ none | {name} }}}}"), ()) {
        Ok(_) => true,
        Err(error) => error.kind() != ErrorKind::UnknownFilter,
    };
    let exists = |name: &str| {
        let Ok(mut answers) = ANSWERS.lock() else {
            return ask(name);
        };
        *answers.entry(name.to_owned()).or_insert_with(|| ask(name))
    };
    names
        .into_iter()
        .filter(|(name, _)| !exists(name))
        .collect()
}

/// Every filter name `text` applies, with its byte range, in order.
fn filter_names(text: &str) -> Vec<(String, Range<usize>)> {
    let bytes = text.as_bytes();
    let mut names = Vec::new();
    let mut i = 0;
    while i + 1 < bytes.len() {
        let opens_block = bytes[i] == b'{' && (bytes[i + 1] == b'{' || bytes[i + 1] == b'%');
        if !opens_block {
            i += 1;
            continue;
        }
        let statement = bytes[i + 1] == b'%';
        let close: &[u8] = if statement { b"%}" } else { b"}}" };
        i += 2;
        let mut quote: Option<u8> = None;
        let mut first_word = statement;
        while i < bytes.len() {
            let b = bytes[i];
            if let Some(q) = quote {
                if b == b'\\' {
                    i += 1;
                } else if b == q {
                    quote = None;
                }
                i += 1;
                continue;
            }
            if bytes[i..].starts_with(close) {
                i += 2;
                break;
            }
            match b {
                b'\'' | b'"' => {
                    quote = Some(b);
                    i += 1;
                }
                b'|' => {
                    let (name, range, next) = identifier_after(text, i + 1);
                    if let Some(name) = name {
                        names.push((name, range));
                    }
                    i = next;
                }
                _ if first_word && b.is_ascii_alphabetic() => {
                    // `{% filter name %}` applies a filter to a whole block.
                    let (word, _, next) = identifier_after(text, i);
                    first_word = false;
                    i = next;
                    if word.as_deref() == Some("filter") {
                        let (name, range, next) = identifier_after(text, i);
                        if let Some(name) = name {
                            names.push((name, range));
                        }
                        i = next;
                    }
                }
                _ => i += 1,
            }
        }
    }
    names
}

/// The identifier after optional whitespace from `start`: its text, its range, and where
/// scanning goes on.
fn identifier_after(text: &str, start: usize) -> (Option<String>, Range<usize>, usize) {
    let bytes = text.as_bytes();
    let mut from = start;
    while from < bytes.len() && bytes[from].is_ascii_whitespace() {
        from += 1;
    }
    let mut to = from;
    while to < bytes.len() && (bytes[to].is_ascii_alphanumeric() || bytes[to] == b'_') {
        to += 1;
    }
    let starts_well = bytes
        .get(from)
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_');
    match text.get(from..to) {
        Some(name) if starts_well => (Some(name.to_owned()), from..to, to),
        _ => (None, from..from, from),
    }
}

/// True when `text` has no template syntax at all (`{{`, `{%` or `{#`), so it needs no parsing.
pub fn is_plain_text(text: &str) -> bool {
    !(text.contains("{{") || text.contains("{%") || text.contains("{#"))
}

/// Parses `text` as a minijinja template and returns the variables it reads but does not
/// define itself.
///
/// Attribute lookups are returned as dotted paths (`ticket.ref`); a variable used both bare
/// and with attributes may appear both as `ticket` and `ticket.ref`. Variables bound inside
/// the template (`{% set %}`, loop variables, macro arguments) are not returned, and neither
/// are minijinja's built-in global functions (`range`, `dict`, `namespace`, ...). This is a
/// static analysis: both branches of an `{% if %}` count.
pub fn template_variables(text: &str) -> Result<BTreeSet<String>, TemplateError> {
    if is_plain_text(text) {
        return Ok(BTreeSet::new());
    }
    let env = Environment::new();
    let template = env
        .template_from_str(text)
        .map_err(|err| to_template_error(text, &err))?;
    let globals: BTreeSet<&str> = env.globals().map(|(name, _)| name).collect();
    Ok(template
        .undeclared_variables(true)
        .into_iter()
        .filter(|path| {
            let root = path.split('.').next().unwrap_or(path);
            !globals.contains(root)
        })
        .collect())
}

fn to_template_error(text: &str, err: &minijinja::Error) -> TemplateError {
    let message = match err.detail() {
        Some(detail) => format!("{}: {}", err.kind(), detail),
        None => err.kind().to_string(),
    };
    let offset = err
        .range()
        .map(|range| clamp_range(text, range))
        .or_else(|| err.line().and_then(|line| line_range(text, line)));
    TemplateError { message, offset }
}

/// Keeps a reported range inside the text and on character boundaries.
fn clamp_range(text: &str, range: Range<usize>) -> Range<usize> {
    let mut start = range.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    if range.end <= range.start {
        return start..start;
    }
    let mut end = range.end.clamp(start, text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

/// The byte range of 1-based line `line` of `text`, without its line ending.
fn line_range(text: &str, line: usize) -> Option<Range<usize>> {
    let mut start = 0;
    for (index, content) in text.split('\n').enumerate() {
        let end = start + content.len();
        if index + 1 == line {
            let trimmed = content.strip_suffix('\r').map_or(end, |c| start + c.len());
            return Some(start..trimmed);
        }
        start = end + 1;
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a failed test.
mod tests {
    use super::*;

    fn vars(text: &str) -> Vec<String> {
        template_variables(text).unwrap().into_iter().collect()
    }

    #[test]
    fn plain_text() {
        let text = "Benvenuti al centralino del Comune. Premere 1 per l'anagrafe.";
        assert!(is_plain_text(text));
        assert!(vars(text).is_empty());
        assert!(is_plain_text("Un { solo } graffa e 50% di sconto"));
        assert!(!is_plain_text("Buongiorno {{ nome }}"));
        assert!(!is_plain_text("{% if x %}sì{% endif %}"));
        assert!(!is_plain_text("{# nota #}testo"));
    }

    #[test]
    fn one_variable() {
        assert_eq!(vars("Buongiorno {{ nome }}."), ["nome"]);
    }

    #[test]
    fn nested_attribute() {
        assert_eq!(
            vars("La sua segnalazione è la numero {{ ticket.ref }}."),
            ["ticket.ref"]
        );
        assert_eq!(
            vars("{{ a.b.c }} e {{ d['e'] }}"),
            ["a.b.c", "d"],
            "subscripts are reported by their root"
        );
    }

    #[test]
    fn filters_are_not_variables() {
        assert_eq!(vars("{{ caller | upper }}"), ["caller"]);
        assert_eq!(
            vars("{{ importo | round(2) }} euro, {{ nome | default('cittadino') }}"),
            ["importo", "nome"]
        );
    }

    #[test]
    fn loop_and_set_variables_are_not_reported() {
        assert_eq!(
            vars("{% for u in uffici %}{{ u.nome }} {{ loop.index }}{% endfor %}"),
            ["uffici"]
        );
        assert_eq!(
            vars("{% set saluto = 'Salve' %}{{ saluto }} {{ nome }}"),
            ["nome"]
        );
    }

    #[test]
    fn builtin_functions_are_not_reported() {
        assert_eq!(
            vars("{% for i in range(3) %}{{ i }}{% endfor %}"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn syntax_error_has_range() {
        let text = "Buongiorno {{ nome ";
        let err = template_variables(text).unwrap_err();
        assert_eq!(
            err.message,
            "syntax error: unexpected end of input, expected end of variable block"
        );
        // minijinja points at the last token before the input ran out.
        let range = err.offset.unwrap();
        assert_eq!(range, 14..18);
        assert_eq!(&text[range], "nome");
    }

    #[test]
    fn syntax_error_range_points_at_the_bad_token() {
        let text = "Riga uno\nriga {{ 1 + }} due";
        let err = template_variables(text).unwrap_err();
        let range = err.offset.unwrap();
        assert_eq!(&text[range], "}}");
    }

    #[test]
    fn unclosed_block_is_an_error() {
        let err = template_variables("{% if aperto %}Siamo aperti.").unwrap_err();
        assert!(err.message.contains("syntax error"), "{}", err.message);
        assert!(err.offset.is_some());
    }

    #[test]
    fn line_range_maps_lines() {
        let text = "uno\r\ndue\ntre";
        assert_eq!(line_range(text, 1), Some(0..3));
        assert_eq!(line_range(text, 2), Some(5..8));
        assert_eq!(line_range(text, 3), Some(9..12));
        assert_eq!(line_range(text, 4), None);
    }

    #[test]
    fn clamp_range_stays_on_char_boundaries() {
        let text = "è";
        assert_eq!(clamp_range(text, 1..1), 0..0);
        assert_eq!(clamp_range(text, 0..1), 0..2);
        assert_eq!(clamp_range(text, 5..9), 2..2);
    }

    #[test]
    fn filters_are_found_outside_string_literals() {
        let text = "{{ a | upper }} e {{ 'x | falso' | spell }} {% filter title %}b{% endfilter %} {{ c|round(2)|trim }} | testo";
        let names: Vec<String> = super::filter_names(text)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["upper", "spell", "title", "round", "trim"]);
        let (name, range) = &super::filter_names("{{ x |  spel }}")[0];
        assert_eq!((name.as_str(), range.clone()), ("spel", 8..12));
    }

    #[test]
    fn only_filters_that_exist_nowhere_are_unknown() {
        let unknown: Vec<String> = super::unknown_filters(
            "{{ a | spell }} {{ b | upper }} {{ c | spel }} {{ d | default('x') | maiuscolo }}",
        )
        .into_iter()
        .map(|(n, _)| n)
        .collect();
        assert_eq!(unknown, ["spel", "maiuscolo"]);
        assert!(super::unknown_filters("Nessun filtro | qui").is_empty());
    }

    #[test]
    fn spell_reads_codes_one_character_at_a_time() {
        use minijinja::Value;
        assert_eq!(super::spell(&Value::from("4815162")), "4 8 1 5 1 6 2");
        assert_eq!(super::spell(&Value::from(4_815_162)), "4 8 1 5 1 6 2");
        assert_eq!(
            super::spell(&Value::from("PG-2026-000123")),
            "P G, 2 0 2 6, 0 0 0 1 2 3"
        );
        assert_eq!(super::spell(&Value::from(" -- ")), "");
        assert_eq!(super::spell(&Value::from("è1")), "è 1");
    }
}
