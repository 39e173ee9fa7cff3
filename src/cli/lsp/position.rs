//! Byte offsets (the compiler's spans) to and from LSP positions: zero-based lines and
//! columns counted in UTF-16 code units, as the protocol asks by default.
//!
//! ```text
//!  "  Città: say"      byte 9 is after "Città" (à is 2 bytes in UTF-8)
//!       └ line 0, character 7 (à is 1 unit in UTF-16)
//! ```

use lsp_types::{Position, Range};

/// Line starts of one text, for converting in both directions.
pub struct LineIndex<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> LineIndex<'t> {
    pub fn new(text: &'t str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { text, starts }
    }

    /// The position of a byte offset; an offset past the end, or inside a character,
    /// is taken to the end or the start of that character.
    pub fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.starts.get(line).copied().unwrap_or(0);
        let character: usize = self
            .text
            .get(start..)
            .unwrap_or_default()
            .char_indices()
            .take_while(|(i, _)| start + i < offset)
            .map(|(_, c)| c.len_utf16())
            .sum();
        Position::new(to_u32(line), to_u32(character))
    }

    pub fn range(&self, start: usize, end: usize) -> Range {
        Range::new(self.position(start), self.position(end))
    }

    /// The byte offset of a position; a column past the end of its line is the line's
    /// end, a line past the end of the text is the text's end.
    pub fn offset(&self, position: Position) -> usize {
        let Some(&start) = self.starts.get(position.line as usize) else {
            return self.text.len();
        };
        let line = self.text.get(start..).unwrap_or_default();
        let line = line.split_inclusive('\n').next().unwrap_or_default();
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let mut units = 0usize;
        for (i, c) in line.char_indices() {
            if units >= position.character as usize {
                return start + i;
            }
            units += c.len_utf16();
        }
        start + line.len()
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accented_text_before_a_span_counts_in_utf16_units() {
        let text = "// Città di Perugia\n  Città: say \"è\" -> fine\n";
        let index = LineIndex::new(text);
        let fine = text.find("fine").unwrap();
        // Line 1: "  Città: say \"è\" -> " is 20 characters, 22 bytes.
        assert_eq!(fine - text.find("  Città:").unwrap(), 22);
        assert_eq!(index.position(fine), Position::new(1, 20));
        assert_eq!(index.offset(Position::new(1, 20)), fine);
        let range = index.range(fine, fine + 4);
        assert_eq!(range.end, Position::new(1, 24));
    }

    #[test]
    fn characters_outside_the_basic_plane_are_two_units() {
        let text = "say \"📞\" -> x";
        let index = LineIndex::new(text);
        let x = text.find('x').unwrap();
        assert_eq!(index.position(x), Position::new(0, 12));
        assert_eq!(index.offset(Position::new(0, 12)), x);
    }

    #[test]
    fn out_of_range_positions_are_clamped() {
        let text = "ab\r\ncd";
        let index = LineIndex::new(text);
        assert_eq!(index.offset(Position::new(0, 99)), 2);
        assert_eq!(index.offset(Position::new(7, 0)), text.len());
        assert_eq!(index.position(999), Position::new(1, 2));
        assert_eq!(index.offset(Position::new(1, 1)), 5);
    }
}
