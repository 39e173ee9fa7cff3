//! Recovery inside a definition that does not parse, so that one run reports
//! every syntax error of a flow or calendar, not one per run.
//!
//! The definition's text is cut into units: in a flow, each state (with the
//! lines of its branches) and each setting; in other definitions, each line.
//! The first broken unit is the first one that fails to parse with every unit
//! after it blanked out (spaces, so offsets stay put): pest's own position can
//! lie before the mistake. Its error is reported, it is blanked out in turn,
//! and the search goes on with the next unit.
//! The definition stays broken: its good parts are not lowered, so nothing is
//! checked against a half-read definition.

/// Offsets into a definition's text where its units start (a state, a setting, a line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Units {
    /// Where each unit starts, in order.
    starts: Vec<usize>,
    /// Where the body ends: the start of the line of the definition's closing `}`.
    body_end: usize,
}

/// A line that starts a state in a flow's body: `name:` or `name say ...` (a missing `:`),
/// or a flow setting (`language`, `max`).
fn starts_state(line: &str) -> bool {
    let trimmed = line.trim_start();
    let word_len = trimmed
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map_or(trimmed.len(), |(i, _)| i);
    let (word, after) = trimmed.split_at(word_len);
    if word.is_empty() || word.starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    if matches!(word, "language" | "max") {
        return true;
    }
    if matches!(word, "else" | "timeout" | "invalid" | "retries") {
        return false;
    }
    let after = after.trim_start();
    after.starts_with(':') && !after.starts_with("::")
        || after
            .split_whitespace()
            .next()
            .is_some_and(super::habit::is_action)
}

impl Units {
    /// The units of `chunk`, one top-level definition.
    pub(crate) fn of(chunk: &str) -> Units {
        let is_flow = chunk.trim_start().starts_with("flow");
        let mut starts = Vec::new();
        let mut body_end = chunk.len();
        let mut depth = 0usize;
        let mut in_text = false;
        let mut offset = 0;
        for line in chunk.split_inclusive('\n') {
            let trimmed = line.trim();
            let code = !(trimmed.is_empty() || trimmed.starts_with("//"));
            if !in_text && code && offset > 0 {
                if depth == 1 && trimmed.starts_with('}') && body_end == chunk.len() {
                    body_end = offset;
                } else if depth >= 1 && (!is_flow || depth == 1 && starts_state(line)) {
                    starts.push(offset);
                }
            }
            // Follow braces and texts to know the depth at the next line's start.
            let mut escaped = false;
            let mut previous = ' ';
            for c in line.chars() {
                let was = previous;
                previous = c;
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
                    '/' if was == '/' => break,
                    '"' => in_text = true,
                    '{' => depth += 1,
                    '}' => depth = depth.saturating_sub(1),
                    _ => {}
                }
            }
            offset += line.len();
        }
        Units { starts, body_end }
    }

    /// Each unit as its start and end, in order; the last ends where the body ends.
    pub(crate) fn ranges(&self) -> Vec<(usize, usize)> {
        self.starts
            .iter()
            .enumerate()
            .map(|(i, &start)| {
                let end = self.starts.get(i + 1).copied().unwrap_or(self.body_end);
                (start, end.max(start))
            })
            .filter(|(start, _)| *start < self.body_end)
            .collect()
    }

    /// Where the body ends (the line of the closing `}`).
    pub(crate) fn body_end(&self) -> usize {
        self.body_end
    }
}

/// `text` with `from..to` replaced by spaces (line breaks kept), so offsets stay put.
pub(crate) fn blank(text: &str, from: usize, to: usize) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        if i >= from && i < to && c != '\n' {
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOW: &str = "flow main {\n  language it\n  a: menu \"x\" {\n    1 -> b\n  }\n  b hangup\n  c: say \"{\" -> a\n}\n";

    #[test]
    fn a_flow_is_cut_into_states_and_settings() {
        let units = Units::of(FLOW);
        let starts: Vec<&str> = units
            .starts
            .iter()
            .filter_map(|&s| FLOW.get(s..).and_then(|t| t.lines().next()))
            .map(str::trim)
            .collect();
        assert_eq!(
            starts,
            [
                "language it",
                "a: menu \"x\" {",
                "b hangup",
                "c: say \"{\" -> a"
            ]
        );
        let ranges = units.ranges();
        let (from, to) = ranges.get(1).copied().unwrap_or((0, 0));
        assert_eq!(
            FLOW.get(from..to),
            Some("  a: menu \"x\" {\n    1 -> b\n  }\n")
        );
        assert_eq!(ranges.len(), 4);
    }

    #[test]
    fn other_definitions_are_cut_into_lines() {
        let text = "calendar c {\n  mon 08:00-09:00\n  lun 09:00-10:00\n}\n";
        let units = Units::of(text);
        let (from, to) = units.ranges().get(1).copied().unwrap_or((0, 0));
        assert_eq!(text.get(from..to), Some("  lun 09:00-10:00\n"));
    }

    #[test]
    fn blanking_keeps_offsets() {
        let text = "a\nfestività\nb";
        let blanked = blank(text, 2, 13);
        assert_eq!(blanked.len(), text.len());
        assert_eq!(blanked, format!("a\n{}\nb", " ".repeat(10)));
    }
}
