//! Syntax errors that a habit explains: curly quotes from a word processor,
//! texts in single quotes, accented names, a state without its `:`, a
//! duration without its unit, days written in Italian. Read from the text at
//! the position where the parser failed, so the message says what to write.

use crate::diagnostic::Habit;

/// The actions a state can start with, to tell a state that lacks its `:`.
const ACTIONS: [&str; 20] = [
    "say",
    "menu",
    "if",
    "call",
    "set",
    "collect",
    "ticket",
    "transfer",
    "callback",
    "hangup",
    "return",
    "record",
    "appointment",
    "book",
    "cancel",
    "queue",
    "goto",
    "play",
    "webhook",
    "conference",
];

/// Italian day names and abbreviations, with the English abbreviation the language uses.
const ITALIAN_DAYS: [(&str, &str); 21] = [
    ("lun", "mon"),
    ("lunedì", "mon"),
    ("lunedi", "mon"),
    ("mar", "tue"),
    ("martedì", "tue"),
    ("martedi", "tue"),
    ("mer", "wed"),
    ("mercoledì", "wed"),
    ("mercoledi", "wed"),
    ("gio", "thu"),
    ("giovedì", "thu"),
    ("giovedi", "thu"),
    ("ven", "fri"),
    ("venerdì", "fri"),
    ("venerdi", "fri"),
    ("sab", "sat"),
    ("sabato", "sat"),
    ("dom", "sun"),
    ("domenica", "sun"),
    ("ven.", "fri"),
    ("lun.", "mon"),
];

/// Whether `word` is the keyword of an action (`say`, `menu`...).
pub(crate) fn is_action(word: &str) -> bool {
    ACTIONS.contains(&word)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The word around offset `at` of `text`: its start and end.
fn word_around(text: &str, at: usize) -> (usize, usize) {
    let start = text
        .get(..at)
        .and_then(|before| {
            before
                .char_indices()
                .rev()
                .take_while(|(_, c)| is_word_char(*c))
                .last()
                .map(|(i, _)| i)
        })
        .unwrap_or(at);
    let end = text
        .get(at..)
        .map(|after| {
            after
                .char_indices()
                .find(|(_, c)| !is_word_char(*c))
                .map_or(text.len(), |(i, _)| at + i)
        })
        .unwrap_or(at);
    (start, end)
}

/// `festività` -> `festivita`.
fn without_accents(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c {
            'à' | 'á' | 'â' | 'ä' => Some('a'),
            'è' | 'é' | 'ê' | 'ë' => Some('e'),
            'ì' | 'í' | 'î' | 'ï' => Some('i'),
            'ò' | 'ó' | 'ô' | 'ö' => Some('o'),
            'ù' | 'ú' | 'û' | 'ü' => Some('u'),
            'À' | 'Á' => Some('A'),
            'È' | 'É' => Some('E'),
            'Ì' | 'Í' => Some('I'),
            'Ò' | 'Ó' => Some('O'),
            'Ù' | 'Ú' => Some('U'),
            'ç' => Some('c'),
            'ñ' => Some('n'),
            c if c.is_ascii() => Some(c),
            _ => None,
        })
        .collect()
}

/// The habit that explains a syntax error at offset `pos` of `chunk` (a definition's
/// text), with the span to point at; `rules` are the grammar rules that were expected.
pub(crate) fn explain(chunk: &str, pos: usize, rules: &[String]) -> Option<(Habit, usize, usize)> {
    let rest = chunk.get(pos..)?;
    let at = pos + (rest.len() - rest.trim_start().len());
    let here = chunk.get(at..)?;
    let line_end = here.find('\n').map_or(chunk.len(), |i| at + i);
    let c = here.chars().next();

    if let Some(quote @ ('“' | '”' | '‘' | '’' | '«')) = c {
        let closing = match quote {
            '‘' | '’' => ['’', '‘'],
            '«' => ['»', '»'],
            _ => ['”', '“'],
        };
        let after = at + quote.len_utf8();
        let end = chunk
            .get(after..line_end)
            .and_then(|t| t.char_indices().find(|(_, c)| closing.contains(c)))
            .map_or(after, |(i, c)| after + i + c.len_utf8());
        return Some((Habit::CurlyQuote, at, end));
    }
    if c == Some('\'') {
        let end = chunk
            .get(at + 1..line_end)
            .and_then(|t| t.find('\''))
            .map_or(at + 1, |i| at + 1 + i + 1);
        return Some((Habit::SingleQuote, at, end));
    }

    let (start, end) = word_around(chunk, at);
    let word = chunk.get(start..end).unwrap_or("");
    let in_calendar = chunk.trim_start().starts_with("calendar");
    if in_calendar && !word.is_empty() {
        let lower = word.to_lowercase();
        if let Some((_, english)) = ITALIAN_DAYS.iter().find(|(it, _)| *it == lower) {
            return Some((
                Habit::ItalianDay {
                    day: word.to_owned(),
                    english,
                },
                start,
                end,
            ));
        }
    }
    if !word.is_ascii() {
        return Some((
            Habit::AccentedName {
                name: word.to_owned(),
                plain: without_accents(word),
            },
            start,
            end,
        ));
    }
    if rules.iter().any(|r| r == "duration")
        && !word.is_empty()
        && word.chars().all(|c| c.is_ascii_digit())
    {
        return Some((
            Habit::DurationWithoutUnit {
                number: word.to_owned(),
            },
            start,
            end,
        ));
    }
    missing_colon(chunk, at).or_else(|| beyond(chunk, at))
}

/// When the parser stopped before the mistake (at the start of a state or a
/// definition), the first curly quote or accented name after `at`, outside
/// texts and comments, or a state without its `:` on a later line.
fn beyond(chunk: &str, at: usize) -> Option<(Habit, usize, usize)> {
    let from = chunk.get(..at)?.rfind('\n').map_or(0, |i| i + 1);
    let mut in_text = false;
    let mut in_comment = false;
    let mut escaped = false;
    let mut previous = ' ';
    for (i, c) in chunk.char_indices() {
        let was = previous;
        previous = c;
        if in_comment {
            in_comment = c != '\n';
            continue;
        }
        if in_text {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_text = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_text = true,
            '/' if was == '/' => in_comment = true,
            '\n' if i >= from => {
                if let Some(found) = missing_colon(chunk, i + 1) {
                    return Some(found);
                }
            }
            _ if i < from => {}
            '“' | '”' | '‘' | '’' | '«' => return explain(chunk, i, &[]),
            c if !c.is_ascii() && c.is_alphabetic() => return explain(chunk, i, &[]),
            _ => {}
        }
    }
    None
}

/// `  benvenuto say "..."` in a flow: a state name followed by an action, without `:`.
fn missing_colon(chunk: &str, at: usize) -> Option<(Habit, usize, usize)> {
    if !chunk.trim_start().starts_with("flow") {
        return None;
    }
    let line_start = chunk.get(..at)?.rfind('\n').map_or(0, |i| i + 1);
    let line = chunk.get(line_start..)?;
    let line = line.split('\n').next().unwrap_or(line);
    let indent = line.len() - line.trim_start().len();
    let mut words = line.split_whitespace();
    let state = words.next()?;
    let action = words.next()?;
    let is_name = state.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && state
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let keyword =
        ACTIONS.contains(&state) || ["else", "timeout", "retries", "max"].contains(&state);
    if !is_name || !ACTIONS.contains(&action) || keyword {
        return None;
    }
    let from = line_start + indent;
    Some((
        Habit::MissingColon {
            state: state.to_owned(),
        },
        from,
        from + state.len(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accents_are_taken_off() {
        assert_eq!(without_accents("festività"), "festivita");
        assert_eq!(without_accents("perché"), "perche");
    }

    #[test]
    fn the_word_around_a_position() {
        let text = "calendar festività {";
        let at = text.find('à').unwrap_or(0);
        assert_eq!(text.get(9..19), Some("festività"));
        assert_eq!(word_around(text, at), (9, 19));
    }
}
