//! What to offer at the cursor: the kind of name the text before it asks for, and the
//! states of the flow the cursor is in (read from the text, so it works while the flow
//! does not parse, which is most of the time while typing).

use centralino_compiler::diagnostic::NameKind;

/// What the text before the cursor asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// A name of this kind.
    Name(NameKind),
    /// An action, after `state:`.
    Action,
    /// Anything: keywords and every name.
    Anything,
}

/// Decide from the cursor's line up to the cursor.
pub fn wanted(line_before: &str) -> Wanted {
    let before_word = line_before.trim_end_matches(is_ident_char).trim_end();
    if before_word.ends_with("->") {
        return Wanted::Name(NameKind::State);
    }
    if before_word.ends_with("goto") && word_before(before_word) == "goto" {
        return Wanted::Name(NameKind::State);
    }
    for (function, kind) in [
        ("open(", NameKind::Calendar),
        ("closed(", NameKind::Calendar),
        ("holiday(", NameKind::Calendar),
        ("available(", NameKind::Office),
    ] {
        if before_word.ends_with(function) {
            return Wanted::Name(kind);
        }
    }
    let trimmed = before_word.trim_start();
    if let Some(name) = trimmed.strip_suffix(':')
        && !name.is_empty()
        && name.chars().all(is_ident_char)
    {
        return Wanted::Action;
    }
    let kind = match word_before(before_word) {
        "say" | "play" | "menu" | "collect" | "record" | "music" => NameKind::Prompt,
        "transfer" | "queue" | "callback" | "appointment" | "office" => NameKind::Office,
        "hours" => NameKind::Calendar,
        "ticket" => NameKind::Category,
        "book" => NameKind::Service,
        "call" => NameKind::Flow,
        _ => return Wanted::Anything,
    };
    Wanted::Name(kind)
}

/// The last word of a text that ends in one.
fn word_before(text: &str) -> &str {
    let start = text
        .char_indices()
        .rev()
        .find(|(_, c)| !is_ident_char(*c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    text.get(start..).unwrap_or_default()
}

pub fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The states of the flow around a byte offset, read from the text: the last line
/// before it that starts with `flow NAME`, then every `name:` at the start of a line
/// up to the next line that starts a definition at the left margin.
pub fn states_around(text: &str, offset: usize) -> Vec<String> {
    let offset = offset.min(text.len());
    let head = text.get(..offset).unwrap_or_default();
    let Some(flow_start) = line_starts(head)
        .filter(|&start| start < offset)
        .filter(|&start| {
            text.get(start..)
                .is_some_and(|line| line.starts_with("flow "))
        })
        .last()
    else {
        return Vec::new();
    };
    let mut states = Vec::new();
    for line in text.get(flow_start..).unwrap_or_default().lines().skip(1) {
        let starts_definition = super::keywords::DEFINITIONS.iter().any(|word| {
            line.strip_prefix(word)
                .is_some_and(|rest| rest.starts_with(' '))
        });
        if starts_definition {
            break;
        }
        let trimmed = line.trim_start();
        let name: String = trimmed.chars().take_while(|c| is_ident_char(*c)).collect();
        let rest = trimmed.get(name.len()..).unwrap_or_default().trim_start();
        let is_state = !name.is_empty()
            && rest.starts_with(':')
            && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && !states.contains(&name);
        if is_state {
            states.push(name);
        }
    }
    states
}

fn line_starts(text: &str) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_before_the_cursor_says_what_is_wanted() {
        assert_eq!(
            wanted("  inizio: say ciao -> "),
            Wanted::Name(NameKind::State)
        );
        assert_eq!(
            wanted("  inizio: say ciao ->me"),
            Wanted::Name(NameKind::State)
        );
        assert_eq!(wanted("  x: goto me"), Wanted::Name(NameKind::State));
        assert_eq!(wanted("  inizio: say "), Wanted::Name(NameKind::Prompt));
        assert_eq!(
            wanted("  passa: transfer ur"),
            Wanted::Name(NameKind::Office)
        );
        assert_eq!(wanted("  o: if open("), Wanted::Name(NameKind::Calendar));
        assert_eq!(
            wanted("  o: if available(u"),
            Wanted::Name(NameKind::Office)
        );
        assert_eq!(wanted("  hours "), Wanted::Name(NameKind::Calendar));
        assert_eq!(wanted("  t: ticket "), Wanted::Name(NameKind::Category));
        assert_eq!(wanted("  b: book "), Wanted::Name(NameKind::Service));
        assert_eq!(wanted("  c: call "), Wanted::Name(NameKind::Flow));
        assert_eq!(wanted("  inizio: "), Wanted::Action);
        assert_eq!(wanted("  inizio: tra"), Wanted::Action);
        assert_eq!(wanted("  inizio: say \"x\" "), Wanted::Anything);
        assert_eq!(wanted(""), Wanted::Anything);
    }

    #[test]
    fn states_come_from_the_flow_around_the_cursor_even_when_it_does_not_parse() {
        let text = "flow a {\n  uno: say \"x\" -> due\n  due: hangup\n}\nflow b answers \"1\" {\n  tre: say \"Città\" -> \n  quattro: menu \"m\" {\n    1 -> tre\n  }\n}\nprompt p \"x\"\n";
        let cursor = text.find("-> \n").unwrap() + 3;
        assert_eq!(states_around(text, cursor), ["tre", "quattro"]);
        assert_eq!(states_around(text, 10), ["uno", "due"]);
        assert!(states_around(text, 0).is_empty());
    }
}
