//! The chunked parse both grammars share (flows and scenarios).
//!
//! A file that parses whole is one piece. A file with a syntax error is cut
//! into its top-level definitions (a grammar says which lines start one) and
//! each is parsed on its own, so one mistake does not hide the rest of the
//! file: every broken definition gets its own error and the good ones are
//! still lowered.

use pest::error::{Error, InputLocation};
use pest::iterators::Pair;
use pest::{Parser, RuleType};

use super::Origin;
use crate::source::SourceId;

/// One piece of a file, as the grammar read it.
pub(crate) enum Piece<'t, R: RuleType> {
    /// The piece parsed: the pair of the grammar's file rule, and where the piece sits.
    Parsed { file: Pair<'t, R>, at: Origin },
    /// The piece did not parse.
    Broken {
        /// The piece's text.
        text: &'t str,
        /// The offset of the piece in its file.
        base: usize,
        error: Error<R>,
    },
}

/// Parse `text` with grammar `G` from its rule `file`, handing every piece to `each` in order.
///
/// When the whole text parses, that is the only piece. Otherwise the text is cut
/// before every line but the first for which `starts_definition` holds.
pub(crate) fn parse_in_chunks<'t, G: Parser<R>, R: RuleType>(
    source: SourceId,
    text: &'t str,
    file: R,
    starts_definition: impl Fn(&str) -> bool,
    mut each: impl FnMut(Piece<'t, R>),
) {
    if let Ok(mut pairs) = G::parse(file, text) {
        if let Some(pair) = pairs.next() {
            each(Piece::Parsed {
                file: pair,
                at: Origin { source, base: 0 },
            });
        }
        return;
    }
    let mut starts = vec![0];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if offset > 0 && starts_definition(line) {
            starts.push(offset);
        }
        offset += line.len();
    }
    starts.push(text.len());

    for window in starts.windows(2) {
        let (Some(&from), Some(&to)) = (window.first(), window.get(1)) else {
            continue;
        };
        let Some(chunk) = text.get(from..to) else {
            continue;
        };
        match G::parse(file, chunk) {
            Ok(mut pairs) => {
                if let Some(pair) = pairs.next() {
                    each(Piece::Parsed {
                        file: pair,
                        at: Origin { source, base: from },
                    });
                }
            }
            Err(error) => each(Piece::Broken {
                text: chunk,
                base: from,
                error,
            }),
        }
    }
}

/// Where in its piece a parse stopped.
pub(crate) fn error_offset<R: RuleType>(error: &Error<R>) -> usize {
    match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    }
}
