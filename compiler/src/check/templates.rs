//! Text prompt templates: parses minijinja prompt text and lists the variables it reads.
//!
//! Text prompts such as `"La sua segnalazione è la numero {{ ticket.ref }}."` are minijinja
//! templates. The compiler parses each one to report syntax errors with their position and to
//! compare the variables the template reads with those the flow defines.

use std::collections::BTreeSet;
use std::ops::Range;

use minijinja::Environment;

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
}
