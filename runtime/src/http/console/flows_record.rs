//! The record of flow changes made from the console: every publish (who, when, which file,
//! the version it made or why it was refused) and every rollback, kept across restarts in
//! `DATA/flow-publishes.jsonl` (one JSON object a line, appended and flushed to disk).
//!
//! A line that cannot be read (a torn last write) is skipped, not fatal. The file only grows by
//! one short line a publish; it is not pruned.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The record's file name in the data folder.
pub const RECORD_FILE: &str = "flow-publishes.jsonl";
/// The longest diagnostics text kept in a record (the first errors are the useful ones).
const MAX_DIAGNOSTICS: usize = 4000;

/// What came of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Saved and published: a new version serves new calls.
    Published,
    /// Saved; the flows compiled to the version already serving.
    Unchanged,
    /// Not saved: the edited text has errors.
    Refused,
    /// Not saved: the file changed on disk since the editor opened it.
    Conflict,
    /// Saved, but the reload failed (something else on disk is wrong): the old version serves.
    Failed,
    /// A kept version put back.
    RolledBack,
}

impl Outcome {
    /// The key of its word in the console's words.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Published => "flows.outcome.published",
            Outcome::Unchanged => "flows.outcome.unchanged",
            Outcome::Refused => "flows.outcome.refused",
            Outcome::Conflict => "flows.outcome.conflict",
            Outcome::Failed => "flows.outcome.failed",
            Outcome::RolledBack => "flows.outcome.rolled_back",
        }
    }
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub at: Timestamp,
    /// The account that made it.
    pub who: String,
    /// The flow file (empty for a rollback).
    #[serde(default)]
    pub file: String,
    pub outcome: Outcome,
    /// The version serving after it.
    #[serde(default)]
    pub version: Option<String>,
    /// Why it was refused or failed (shortened).
    #[serde(default)]
    pub diagnostics: Option<String>,
}

impl Change {
    pub fn new(who: &str, file: &str, outcome: Outcome, version: Option<String>) -> Change {
        Change {
            at: Timestamp::now(),
            who: who.to_owned(),
            file: file.to_owned(),
            outcome,
            version,
            diagnostics: None,
        }
    }

    pub fn with_diagnostics(mut self, text: &str) -> Change {
        let mut text = text.to_owned();
        if text.len() > MAX_DIAGNOSTICS {
            let mut end = MAX_DIAGNOSTICS;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push('…');
        }
        self.diagnostics = Some(text);
        self
    }
}

/// The record's path in data folder `data`.
pub fn path_in(data: &Path) -> PathBuf {
    data.join(RECORD_FILE)
}

/// Add `change` to the record in `data`.
pub fn append(data: &Path, change: &Change) -> std::io::Result<()> {
    let mut line = serde_json::to_string(change).map_err(std::io::Error::other)?;
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path_in(data))?;
    // After a torn write the last line has no end: start a line of our own.
    let length = file.metadata()?.len();
    if length > 0 {
        let mut last = [0u8; 1];
        file.seek(std::io::SeekFrom::Start(length - 1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            line.insert(0, '\n');
        }
    }
    file.write_all(line.as_bytes())?;
    file.sync_data()
}

/// The last `limit` changes in `data`, newest first (none when there is no record yet).
pub fn recent(data: &Path, limit: usize) -> Vec<Change> {
    let text = std::fs::read_to_string(path_in(data)).unwrap_or_default();
    let mut changes: Vec<Change> = text
        .lines()
        .rev()
        .filter_map(|line| serde_json::from_str(line).ok())
        .take(limit)
        .collect();
    changes.shrink_to_fit();
    changes
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn changes_are_kept_newest_first_and_a_torn_line_is_skipped() {
        let data = tempfile::tempdir().unwrap();
        assert!(recent(data.path(), 10).is_empty());
        let first = Change::new(
            "ed",
            "main.flow",
            Outcome::Published,
            Some("sha256:1".into()),
        );
        let second =
            Change::new("ed", "main.flow", Outcome::Refused, None).with_diagnostics("E001");
        append(data.path(), &first).unwrap();
        append(data.path(), &second).unwrap();
        // A write cut short by a crash.
        std::fs::OpenOptions::new()
            .append(true)
            .open(path_in(data.path()))
            .unwrap()
            .write_all(b"{\"at\":")
            .unwrap();
        let third = Change::new("sup", "", Outcome::RolledBack, Some("sha256:0".into()));
        append(data.path(), &third).unwrap();
        let kept = recent(data.path(), 10);
        assert_eq!(kept, vec![third, second, first.clone()]);
        assert_eq!(recent(data.path(), 1).len(), 1);
    }

    #[test]
    fn long_diagnostics_are_shortened_on_a_character_boundary() {
        let long = "è".repeat(MAX_DIAGNOSTICS);
        let change = Change::new("ed", "a.flow", Outcome::Refused, None).with_diagnostics(&long);
        let kept = change.diagnostics.unwrap();
        assert!(kept.len() <= MAX_DIAGNOSTICS + '…'.len_utf8());
        assert!(kept.ends_with('…'));
    }
}
