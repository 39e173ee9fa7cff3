//! A scan of a definition's text for unbalanced delimiters (`{ }` and `"`),
//! respecting comments and texts, run when the definition does not parse.
//!
//! The parser gives up lines after a `{` that was never closed or a text that
//! was never ended, on a correct line. This scan finds where the person erred
//! instead: the `{` left open (told apart from the one closed by the
//! indentation of the `}` that follows), the `"` whose text runs over the end
//! of its line, or a `}` too many.

use crate::diagnostic::BraceOwner as Opener;

/// What is unbalanced, as offsets into the scanned text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unbalanced {
    /// The `{` at `open` is never closed; `closer` is the `}` that was taken for it, if any.
    UnclosedBrace {
        open: usize,
        opener: Opener,
        closer: Option<usize>,
    },
    /// The text opened at `open` runs past the end of its line to `end`.
    UnclosedText { open: usize, end: usize },
    /// The `}` at `extra` closes nothing: the `{` opened at `open` was already closed at `closed`.
    ExtraBrace {
        extra: usize,
        open: Option<(usize, Opener)>,
        closed: Option<usize>,
    },
}

struct Open {
    at: usize,
    indent: usize,
    opener: Opener,
}

/// The indentation of the line holding `at`, and whether only spaces precede `at` on it.
fn line_indent(text: &str, at: usize) -> (usize, bool) {
    let start = text
        .get(..at)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |i| i + 1);
    let before = text.get(start..at).unwrap_or("");
    let indent = before.len() - before.trim_start().len();
    (indent, before.trim().is_empty())
}

/// What the `{` at `at` opens, from the words before it on its line.
fn opener(text: &str, at: usize) -> Opener {
    let start = text
        .get(..at)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |i| i + 1);
    let line = text.get(start..at).unwrap_or("");
    let words: Vec<&str> = line
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .filter(|w| !w.is_empty())
        .collect();
    let (Some(first), second) = (words.first(), words.get(1)) else {
        return Opener::Other;
    };
    let state = first.strip_suffix(':').map(str::to_owned);
    if let Some(state) = state {
        let action = second.map(|w| w.trim_end_matches(':')).unwrap_or("");
        if words.last().is_some_and(|w| *w == "with" || *w == "send") {
            return Opener::Fields { state: Some(state) };
        }
        return Opener::State {
            state,
            action: action.to_owned(),
        };
    }
    if words.last().is_some_and(|w| *w == "with" || *w == "send") {
        return Opener::Fields { state: None };
    }
    const DEFINITIONS: [&str; 5] = ["calendar", "office", "category", "service", "flow"];
    match (DEFINITIONS.contains(first), second) {
        (true, Some(name)) => Opener::Definition {
            keyword: (*first).to_owned(),
            name: (*name).to_owned(),
        },
        _ if *first == "prompt" => Opener::Definition {
            keyword: String::from("prompt"),
            name: second.map_or_else(String::new, |n| (*n).to_owned()),
        },
        _ => Opener::Other,
    }
}

/// The first unbalanced delimiter of `text`, if any.
pub(crate) fn scan(text: &str) -> Option<Unbalanced> {
    let mut stack: Vec<Open> = Vec::new();
    let mut last_closed: Option<(usize, Opener, usize)> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '/' if chars.peek().is_some_and(|(_, n)| *n == '/') => {
                for (_, n) in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
            }
            '"' => {
                let mut crossed_line = false;
                let mut end = None;
                while let Some((j, n)) = chars.next() {
                    match n {
                        '\\' => {
                            chars.next();
                        }
                        '\n' => crossed_line = true,
                        '"' => {
                            end = Some(j);
                            break;
                        }
                        _ => {}
                    }
                }
                if crossed_line || end.is_none() {
                    return Some(Unbalanced::UnclosedText {
                        open: i,
                        end: end.unwrap_or(text.len()),
                    });
                }
            }
            '{' => {
                let (indent, _) = line_indent(text, i);
                stack.push(Open {
                    at: i,
                    indent,
                    opener: opener(text, i),
                });
            }
            '}' => {
                let (indent, first_on_line) = line_indent(text, i);
                if first_on_line && stack.len() > 1 {
                    // A `}` alone on its line closes the `{` of its own indentation:
                    // one more deeply indented was left open.
                    if let Some(top) = stack.last()
                        && top.indent > indent
                        && stack.iter().any(|o| o.indent <= indent)
                    {
                        return Some(Unbalanced::UnclosedBrace {
                            open: top.at,
                            opener: top.opener.clone(),
                            closer: Some(i),
                        });
                    }
                }
                match stack.pop() {
                    Some(open) => {
                        if stack.is_empty() {
                            last_closed = Some((open.at, open.opener, i));
                        }
                    }
                    None => {
                        return Some(Unbalanced::ExtraBrace {
                            extra: i,
                            closed: last_closed.as_ref().map(|(_, _, c)| *c),
                            open: last_closed.map(|(o, opener, _)| (o, opener)),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    // Innermost open `{` first: that is the one the person left open.
    stack.pop().map(|open| Unbalanced::UnclosedBrace {
        open: open.at,
        opener: open.opener,
        closer: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_text_has_nothing_to_say() {
        let text = "flow main {\n  a: menu \"x { y\" { 1 -> b } // {\n  b: hangup\n}\n";
        assert_eq!(scan(text), None);
    }

    #[test]
    fn an_unclosed_menu_is_found_by_the_indentation_of_the_closing_brace() {
        let text = "flow main {\n  scegli: menu \"x\" {\n    1 -> b\n  b: hangup\n}\n";
        let Some(Unbalanced::UnclosedBrace { open, opener, .. }) = scan(text) else {
            panic!("expected an unclosed brace");
        };
        assert_eq!(open, text.find("\" {").map_or(0, |i| i + 2));
        assert_eq!(
            opener,
            Opener::State {
                state: String::from("scegli"),
                action: String::from("menu")
            }
        );
    }

    #[test]
    fn a_text_running_over_its_line_is_unclosed() {
        let text = "flow main {\n  a: say \"Ciao -> b\n  b: say \"x\" -> hangup\n}\n";
        let quote = text.find('"');
        assert!(
            matches!(scan(text), Some(Unbalanced::UnclosedText { open, .. }) if Some(open) == quote)
        );
    }

    #[test]
    fn a_brace_too_many_is_found() {
        let text = "calendar c {\n  mon 08:00-09:00\n}\n}\n";
        assert!(matches!(
            scan(text),
            Some(Unbalanced::ExtraBrace {
                open: Some((11, _)),
                ..
            })
        ));
    }
}
