//! Printing diagnostics for people: source snippets with labels, via codespan-reporting.
//!
//! Machine formats (JSON, GitHub annotations, SARIF) live in the binary's CLI,
//! built on [`Diagnostic::located`](crate::diagnostic::Diagnostic::located).

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor};

use crate::diagnostic::{Diagnostic, Diagnostics, Severity, help_line, severity_word};
use crate::lang::Lang;
use crate::source::Sources;

fn files(sources: &Sources) -> SimpleFiles<String, &str> {
    let mut files = SimpleFiles::new();
    for (_, file) in sources.iter() {
        files.add(file.name(), file.text.as_str());
    }
    files
}

fn to_codespan(diagnostic: &Diagnostic, lang: Lang) -> cs::Diagnostic<usize> {
    let severity = match diagnostic.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
    };
    let mut labels = vec![
        cs::Label::primary(diagnostic.span.source.0 as usize, diagnostic.span.range())
            .with_message(&diagnostic.label),
    ];
    for secondary in &diagnostic.secondary {
        labels.push(
            cs::Label::secondary(secondary.span.source.0 as usize, secondary.span.range())
                .with_message(&secondary.message),
        );
    }
    cs::Diagnostic::new(severity)
        .with_code(diagnostic.code)
        .with_message(&diagnostic.message)
        .with_labels(labels)
        .with_notes(vec![help_line(lang, &diagnostic.help)])
}

/// `rendered` with the severity word of its first line (codespan's `error[`/`warning[`) in `lang`.
fn header_in(lang: Lang, severity: Severity, rendered: &str) -> String {
    let english = match severity {
        Severity::Error => "error[",
        Severity::Warning => "warning[",
    };
    let (first, rest) = rendered.split_at(rendered.find('\n').unwrap_or(rendered.len()));
    match first.find(english) {
        Some(at) => format!(
            "{}{}[{}{rest}",
            &first[..at],
            severity_word(lang, severity),
            &first[at + english.len()..]
        ),
        None => rendered.to_string(),
    }
}

/// Every diagnostic with its source snippet, then a summary line, in the diagnostics' language
/// (codespan writes the headers' `error[E001]` in English: the word is put in the language of
/// the diagnostics, the code stays). `color` adds ANSI colours for terminals; tests and files
/// use `false`.
pub fn human(sources: &Sources, diagnostics: &Diagnostics, color: bool) -> String {
    let files = files(sources);
    let config = term::Config::default();
    let lang = diagnostics.lang();
    let mut out = String::new();
    for diagnostic in diagnostics.iter() {
        let mut buffer = if color {
            termcolor::Buffer::ansi()
        } else {
            termcolor::Buffer::no_color()
        };
        let rendered =
            term::emit_to_write_style(&mut buffer, &config, &files, &to_codespan(diagnostic, lang));
        if rendered.is_err() {
            // A span outside its file would be a compiler bug; still say what is wrong.
            let location = sources.location(diagnostic.span);
            out.push_str(&format!(
                "{}[{}]: {}\n  --> {}\n",
                severity_word(lang, diagnostic.severity),
                diagnostic.code,
                diagnostic.message,
                location
            ));
            continue;
        }
        let text = String::from_utf8_lossy(buffer.as_slice());
        out.push_str(&header_in(lang, diagnostic.severity, &text));
    }
    out.push_str(&crate::diagnostic::summary(diagnostics));
    out.push('\n');
    out
}
