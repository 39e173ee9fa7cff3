//! The shared address book: the offices and staff of the flow files, plus external contacts
//! from a CSV file, searched and written in the formats desk phones and address books read.
//!
//! ```text
//!   Graph (offices, staff "sip:201@…" as "Anna") ─┐
//!                                                 ├─► Book::build ─► Book::search(q) ─► render(Format)
//!   contacts.csv ─► parse_contacts (file:line) ───┘        (deterministic order)        text │ Yealink XML
//!                                                                                            │ Snom XML │ vCard 3.0
//! ```
//!
//! Sans-IO: the callers read the files (the CLI once, the HTTP adapter when the version or the
//! file changes). Every device and the command line read the same book, built the same way.

use std::fmt;
use std::path::{Path, PathBuf};

use centralino_compiler::graph::Graph;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::extension_of;

/// Most external contacts one file may hold (a phone book, not a customer database).
pub const MAX_CONTACTS: usize = 10_000;
/// Largest contacts file read, in bytes.
pub const MAX_CONTACTS_BYTES: u64 = 4 * 1024 * 1024;
/// Longest name or group of an external contact, in characters.
pub const MAX_TEXT: usize = 100;
/// Longest phone number of an external contact, in characters (after spaces and dots go).
pub const MAX_NUMBER: usize = 32;

/// What an entry of the book is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryKind {
    /// An office of the flow files (`office anagrafe "Servizi demografici"`).
    Office,
    /// A staff member of one or more offices.
    Staff,
    /// A contact of the external contacts file.
    External,
}

/// One line of the book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: EntryKind,
    /// What people look for: a person's name, an office's title.
    pub name: String,
    /// What a phone dials: a staff extension (`201`), an office's name (`anagrafe`), an
    /// external number (`+390755771`).
    pub number: String,
    /// Where it belongs: a staff member's offices (titles, in the order of the office names),
    /// an external contact's group; none for an office.
    pub groups: Vec<String>,
}

impl Entry {
    /// The groups as one line: `Anagrafe, Tributi`.
    pub fn groups_line(&self) -> String {
        self.groups.join(", ")
    }
}

/// A contact of the external contacts file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub name: String,
    /// Digits, with `+` in front and `*`/`#` allowed; spaces, dots, dashes, slashes and
    /// brackets of the file are left out.
    pub number: String,
    pub group: Option<String>,
    /// The file's line, for messages.
    pub line: u64,
}

/// The address book: offices, staff and external contacts in a fixed order (offices, then
/// staff, then external contacts; each by name ignoring case and accents).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Book {
    entries: Vec<Entry>,
}

impl Book {
    /// The book of a compiled graph and the external contacts. A staff member named in
    /// several offices is one entry listing them all; their name is the first given.
    pub fn build(graph: &Graph, contacts: &[Contact]) -> Book {
        let mut entries = Vec::new();
        // (number) -> index in `entries`, for staff seen in an earlier office.
        let mut staff_at = std::collections::BTreeMap::<String, usize>::new();
        for (key, office) in &graph.offices {
            entries.push(Entry {
                kind: EntryKind::Office,
                name: office.title.clone(),
                number: key.clone(),
                groups: Vec::new(),
            });
            for member in &office.staff {
                let number = extension_of(&member.contact)
                    .unwrap_or(&member.contact)
                    .to_owned();
                let name = member.name.clone().filter(|n| !n.trim().is_empty());
                match staff_at.get(&number).and_then(|&at| entries.get_mut(at)) {
                    Some(entry) => {
                        if !entry.groups.contains(&office.title) {
                            entry.groups.push(office.title.clone());
                        }
                        if entry.name == entry.number
                            && let Some(name) = name
                        {
                            entry.name = name;
                        }
                    }
                    None => {
                        staff_at.insert(number.clone(), entries.len());
                        entries.push(Entry {
                            kind: EntryKind::Staff,
                            name: name.unwrap_or_else(|| number.clone()),
                            number,
                            groups: vec![office.title.clone()],
                        });
                    }
                }
            }
        }
        entries.extend(contacts.iter().map(|contact| Entry {
            kind: EntryKind::External,
            name: contact.name.clone(),
            number: contact.number.clone(),
            groups: contact.group.iter().cloned().collect(),
        }));
        entries.sort_by_cached_key(|e| {
            (
                e.kind,
                fold(&e.name),
                e.name.clone(),
                e.number.clone(),
                e.groups.clone(),
            )
        });
        Book { entries }
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entries whose name, group or number contain every word of `query`, ignoring case
    /// and accents (`nicolo` finds `Nicolò`, `075 57` finds `+3907557…`). An empty query
    /// matches everything. The order stays the book's.
    pub fn search(&self, query: &str) -> Vec<&Entry> {
        let words: Vec<String> = query.split_whitespace().map(fold).collect();
        if words.is_empty() {
            return self.entries.iter().collect();
        }
        self.entries
            .iter()
            .filter(|entry| {
                let haystack = format!(
                    "{}\u{0}{}\u{0}{}",
                    fold(&entry.name),
                    fold(&entry.groups_line()),
                    fold(&entry.number)
                );
                words.iter().all(|word| haystack.contains(word.as_str()))
                    || digits_match(&entry.number, query)
            })
            .collect()
    }
}

/// A query written as a number with spaces (`075 577 1`) matches the number it spells.
fn digits_match(number: &str, query: &str) -> bool {
    let wanted: String = query.chars().filter(|c| !c.is_whitespace()).collect();
    !wanted.is_empty()
        && wanted
            .chars()
            .all(|c| c.is_ascii_digit() || c == '+' || c == '*' || c == '#')
        && number.contains(&wanted)
}

/// Lower case without accents: what the search compares.
pub fn fold(text: &str) -> String {
    text.nfd()
        .filter(|&c| !is_combining_mark(c))
        .flat_map(char::to_lowercase)
        .collect()
}

// ------------------------------------------------------------------ formats

/// The formats the book is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for a terminal: name, number, office or group.
    Text,
    /// Yealink's remote phone book (`YealinkIPPhoneDirectory`).
    Yealink,
    /// Snom's XML directory (`SnomIPPhoneDirectory`).
    Snom,
    /// vCard 3.0 (RFC 2426), one card per entry.
    Vcard,
}

impl Format {
    /// The HTTP `Content-Type` of the format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; charset=utf-8",
            Format::Yealink | Format::Snom => "text/xml; charset=utf-8",
            Format::Vcard => "text/vcard; charset=utf-8",
        }
    }
}

/// The entries written in `format`.
pub fn render(format: Format, entries: &[&Entry]) -> String {
    match format {
        Format::Text => text(entries),
        Format::Yealink => phone_xml("YealinkIPPhoneDirectory", entries),
        Format::Snom => phone_xml("SnomIPPhoneDirectory", entries),
        Format::Vcard => vcards(entries),
    }
}

/// Columns aligned by characters, a header line first; nothing for no entries.
fn text(entries: &[&Entry]) -> String {
    if entries.is_empty() {
        return String::new();
    }
    let clean: Vec<[String; 3]> = entries
        .iter()
        .map(|e| {
            [
                printable(&e.name),
                printable(&e.number),
                printable(&e.groups_line()),
            ]
        })
        .collect();
    let header = [
        String::from("NAME"),
        String::from("NUMBER"),
        String::from("OFFICE / GROUP"),
    ];
    let width = |column: usize| {
        std::iter::once(&header)
            .chain(&clean)
            .map(|row| row.get(column).map_or(0, |cell| cell.chars().count()))
            .max()
            .unwrap_or(0)
    };
    let (name_width, number_width) = (width(0), width(1));
    let mut out = String::new();
    for [name, number, group] in std::iter::once(&header).chain(&clean) {
        let line = format!("{name:<name_width$}  {number:<number_width$}  {group}");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Text for a terminal: control characters (an escape sequence in a name) become spaces.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The XML both Yealink and Snom phones read: a root element of `DirectoryEntry`s, each
/// with `Name` and `Telephone`.
fn phone_xml(root: &str, entries: &[&Entry]) -> String {
    let mut out = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root}>\n");
    for entry in entries {
        out.push_str("  <DirectoryEntry>\n");
        out.push_str(&format!("    <Name>{}</Name>\n", xml_text(&entry.name)));
        out.push_str(&format!(
            "    <Telephone>{}</Telephone>\n",
            xml_text(&entry.number)
        ));
        out.push_str("  </DirectoryEntry>\n");
    }
    out.push_str(&format!("</{root}>\n"));
    out
}

/// Text escaped for XML 1.0 content: the five special characters as entities, characters
/// XML 1.0 does not allow at all (most control characters) left out.
pub fn xml_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' => out.push(c),
            '\r' => out.push_str("&#13;"),
            c if allowed_in_xml(c) => out.push(c),
            _ => {}
        }
    }
    out
}

/// XML 1.0's `Char` production, less the line-ending characters handled by the caller.
fn allowed_in_xml(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// vCard 3.0: one card per entry (FN, N, ORG: the office or first group, CATEGORIES: every
/// group, TEL), CRLF line ends, long lines folded.
fn vcards(entries: &[&Entry]) -> String {
    let mut out = String::new();
    for entry in entries {
        let org = match entry.kind {
            EntryKind::Office => Some(entry.name.as_str()),
            EntryKind::Staff | EntryKind::External => entry.groups.first().map(String::as_str),
        };
        let mut lines = vec![
            String::from("BEGIN:VCARD"),
            String::from("VERSION:3.0"),
            format!("FN:{}", vcard_text(&entry.name)),
            format!("N:{};;;;", vcard_text(&entry.name)),
        ];
        if let Some(org) = org {
            lines.push(format!("ORG:{}", vcard_text(org)));
        }
        if !entry.groups.is_empty() {
            let categories: Vec<String> = entry.groups.iter().map(|g| vcard_text(g)).collect();
            lines.push(format!("CATEGORIES:{}", categories.join(",")));
        }
        lines.push(format!("TEL;TYPE=WORK,VOICE:{}", vcard_text(&entry.number)));
        lines.push(String::from("END:VCARD"));
        for line in lines {
            fold_vcard_line(&line, &mut out);
        }
    }
    out
}

/// A vCard text value (RFC 2426 §4): backslash, comma, semicolon and line breaks escaped;
/// other control characters left out.
pub fn vcard_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            ';' => out.push_str("\\;"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A content line folded to lines of at most 75 octets (RFC 2426 §2.6), never inside a
/// character; each continuation starts with a space.
fn fold_vcard_line(line: &str, out: &mut String) {
    const LIMIT: usize = 75;
    let mut used = 0;
    for c in line.chars() {
        if used + c.len_utf8() > LIMIT {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += c.len_utf8();
    }
    out.push_str("\r\n");
}

// ------------------------------------------------------------------ the contacts file

/// What is wrong with a line of the contacts file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactProblem {
    /// The file cannot be read (reported on line 0: the whole file).
    Unreadable(String),
    /// The file is larger than [`MAX_CONTACTS_BYTES`].
    TooLarge,
    /// The file is not UTF-8 (a spreadsheet saved it in another encoding).
    NotUtf8,
    /// The file has no header line.
    NoHeader,
    /// The header lacks a column.
    MissingColumn(&'static str),
    /// The header has a column the book does not know.
    UnknownColumn(String),
    /// The header names a column twice.
    DuplicateColumn(String),
    /// The line has more or fewer fields than the header.
    FieldCount {
        expected: usize,
        found: usize,
    },
    /// The CSV itself cannot be read (an unclosed quote).
    Csv(String),
    EmptyName,
    EmptyNumber,
    /// Not digits (with `+`, `*`, `#`, and spaces, dots, dashes, slashes, brackets).
    BadNumber(String),
    /// A name or group too long, or with control characters.
    BadText {
        column: &'static str,
    },
    TooMany,
}

impl fmt::Display for ContactProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContactProblem::Unreadable(reason) => write!(f, "cannot read the contacts: {reason}"),
            ContactProblem::TooLarge => write!(
                f,
                "the contacts file is larger than {} MiB",
                MAX_CONTACTS_BYTES / (1024 * 1024)
            ),
            ContactProblem::NotUtf8 => write!(
                f,
                "the file is not UTF-8: save it as \"CSV UTF-8\" from the spreadsheet"
            ),
            ContactProblem::NoHeader => write!(
                f,
                "the file needs a header line first: `name,number,group` (or `nome,numero,gruppo`)"
            ),
            ContactProblem::MissingColumn(column) => write!(
                f,
                "the header has no `{column}` column (write `name,number,group`)"
            ),
            ContactProblem::UnknownColumn(column) => write!(
                f,
                "unknown column `{column}`: the columns are name, number and group (nome, numero, gruppo)"
            ),
            ContactProblem::DuplicateColumn(column) => {
                write!(f, "the column `{column}` is named twice")
            }
            ContactProblem::FieldCount { expected, found } => write!(
                f,
                "{found} fields where the header has {expected} (a name with a comma needs quotes: \"Rossi, Mario\")"
            ),
            ContactProblem::Csv(reason) => write!(f, "{reason}"),
            ContactProblem::EmptyName => write!(f, "the name is empty"),
            ContactProblem::EmptyNumber => write!(f, "the number is empty"),
            ContactProblem::BadNumber(number) => write!(
                f,
                "`{number}` is not a phone number (digits, a leading +, * and #; at most {MAX_NUMBER})"
            ),
            ContactProblem::BadText { column } => write!(
                f,
                "the {column} is longer than {MAX_TEXT} characters or has control characters"
            ),
            ContactProblem::TooMany => write!(f, "more than {MAX_CONTACTS} contacts"),
        }
    }
}

/// One problem, on its line (1-based; 0 for the whole file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactLineError {
    pub line: u64,
    pub problem: ContactProblem,
}

/// Why the contacts file was refused: every problem found, in line order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ContactsError {
    pub path: PathBuf,
    pub problems: Vec<ContactLineError>,
}

impl ContactsError {
    /// One problem with the whole file (it cannot be read, it is too large).
    pub fn whole_file(path: &Path, problem: ContactProblem) -> ContactsError {
        ContactsError {
            path: path.to_path_buf(),
            problems: vec![ContactLineError { line: 0, problem }],
        }
    }
}

impl fmt::Display for ContactsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match problem.line {
                0 => write!(f, "{}: {}", self.path.display(), problem.problem)?,
                line => write!(f, "{}:{line}: {}", self.path.display(), problem.problem)?,
            }
        }
        Ok(())
    }
}

/// The columns of the file, in English or Italian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Name,
    Number,
    Group,
}

impl Column {
    fn from_header(text: &str) -> Option<Column> {
        match fold(text.trim()).as_str() {
            "name" | "nome" => Some(Column::Name),
            "number" | "numero" | "telefono" | "phone" => Some(Column::Number),
            "group" | "gruppo" => Some(Column::Group),
            _ => None,
        }
    }
}

/// Reads the external contacts file: CSV with a header line naming the columns `name`,
/// `number` and (optional) `group` in any order (`nome`, `numero`, `gruppo` too), separated by
/// commas or semicolons (what a spreadsheet in Italian writes); lines starting with `#` are
/// comments. `path` only names the file in errors. Every problem is reported with its line.
pub fn parse_contacts(bytes: &[u8], path: &Path) -> Result<Vec<Contact>, ContactsError> {
    let refuse = |problems: Vec<ContactLineError>| ContactsError {
        path: path.to_path_buf(),
        problems,
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let before = bytes.get(..e.valid_up_to()).unwrap_or_default();
            let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
            return Err(refuse(vec![ContactLineError {
                line,
                problem: ContactProblem::NotUtf8,
            }]));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // The separator is the header's: the first line that is not a comment nor blank.
    let header_line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or_default();
    let delimiter = if header_line.contains(';') && !header_line.contains(',') {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .comment(Some(b'#'))
        .flexible(true)
        .has_headers(false)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());

    let mut problems = Vec::new();
    let mut contacts = Vec::new();
    let mut columns: Option<Vec<Column>> = None;
    let mut record = csv::StringRecord::new();
    let mut lines = LineCounter::new(text);
    loop {
        let line = lines.line_of(reader.position().byte());
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line, |p| lines.line_of(p.byte()));
                problems.push(ContactLineError {
                    line,
                    problem: ContactProblem::Csv(csv_reason(&e)),
                });
                break;
            }
        }
        let line = record.position().map_or(line, |p| lines.line_of(p.byte()));
        if record.iter().all(str::is_empty) {
            continue;
        }
        let Some(columns) = &columns else {
            match header(&record) {
                Ok(found) => columns = Some(found),
                Err(problem) => {
                    problems.push(ContactLineError { line, problem });
                    break;
                }
            }
            continue;
        };
        if contacts.len() == MAX_CONTACTS {
            problems.push(ContactLineError {
                line,
                problem: ContactProblem::TooMany,
            });
            break;
        }
        match contact(columns, &record, line) {
            Ok(contact) => contacts.push(contact),
            Err(found) => problems.extend(
                found
                    .into_iter()
                    .map(|problem| ContactLineError { line, problem }),
            ),
        }
    }
    if columns.is_none() && problems.is_empty() {
        problems.push(ContactLineError {
            line: 1,
            problem: ContactProblem::NoHeader,
        });
    }
    if problems.is_empty() {
        Ok(contacts)
    } else {
        Err(refuse(problems))
    }
}

/// Line numbers of byte offsets, counted forward from the last one asked (records come in
/// order, so a whole file is counted once).
struct LineCounter<'t> {
    text: &'t str,
    at: usize,
    line: u64,
}

impl<'t> LineCounter<'t> {
    fn new(text: &'t str) -> Self {
        LineCounter {
            text,
            at: 0,
            line: 1,
        }
    }

    /// The line of the record the reader found from `byte`. A record's position is where the
    /// reader started looking for it, before the blank and comment lines it skipped (and the
    /// reader's own line count leaves blank lines out): the line is the first one from there
    /// with something on it.
    fn line_of(&mut self, byte: u64) -> u64 {
        let mut at = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        while let Some(rest) = self.text.get(at..) {
            let this = rest.split_inclusive('\n').next().unwrap_or_default();
            let content = this.trim();
            if this.is_empty() || !(content.is_empty() || content.starts_with('#')) {
                break;
            }
            at += this.len();
        }
        if at < self.at {
            (self.at, self.line) = (0, 1);
        }
        let between = self.text.as_bytes().get(self.at..at).unwrap_or_default();
        self.line += between.iter().filter(|&&b| b == b'\n').count() as u64;
        self.at = at;
        self.line
    }
}

/// The csv crate's reason without its own position (we print ours).
fn csv_reason(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Utf8 { .. } => ContactProblem::NotUtf8.to_string(),
        _ => String::from("the line cannot be read as CSV (a quote left open?)"),
    }
}

fn header(record: &csv::StringRecord) -> Result<Vec<Column>, ContactProblem> {
    let mut columns = Vec::new();
    for field in record {
        let column = Column::from_header(field)
            .ok_or_else(|| ContactProblem::UnknownColumn(field.into()))?;
        if columns.contains(&column) {
            return Err(ContactProblem::DuplicateColumn(field.into()));
        }
        columns.push(column);
    }
    if !columns.contains(&Column::Name) {
        return Err(ContactProblem::MissingColumn("name"));
    }
    if !columns.contains(&Column::Number) {
        return Err(ContactProblem::MissingColumn("number"));
    }
    Ok(columns)
}

fn contact(
    columns: &[Column],
    record: &csv::StringRecord,
    line: u64,
) -> Result<Contact, Vec<ContactProblem>> {
    if record.len() != columns.len() {
        return Err(vec![ContactProblem::FieldCount {
            expected: columns.len(),
            found: record.len(),
        }]);
    }
    let (mut name, mut number, mut group) = ("", "", "");
    for (column, field) in columns.iter().zip(record) {
        match column {
            Column::Name => name = field,
            Column::Number => number = field,
            Column::Group => group = field,
        }
    }
    let mut problems = Vec::new();
    if name.is_empty() {
        problems.push(ContactProblem::EmptyName);
    } else if !plain_text(name) {
        problems.push(ContactProblem::BadText { column: "name" });
    }
    if !plain_text(group) {
        problems.push(ContactProblem::BadText { column: "group" });
    }
    let dialled = dialable(number);
    if number.is_empty() {
        problems.push(ContactProblem::EmptyNumber);
    } else if dialled.is_none() {
        problems.push(ContactProblem::BadNumber(number.to_owned()));
    }
    match dialled {
        Some(number) if problems.is_empty() => Ok(Contact {
            name: name.to_owned(),
            number,
            group: (!group.is_empty()).then(|| group.to_owned()),
            line,
        }),
        _ => Err(problems),
    }
}

fn plain_text(text: &str) -> bool {
    text.chars().count() <= MAX_TEXT && !text.chars().any(char::is_control)
}

/// A number as written by people (`+39 075 577-1`) as a phone dials it (`+390755771`).
fn dialable(written: &str) -> Option<String> {
    let number: String = written
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '/' | '(' | ')'))
        .collect();
    let digits = number.strip_prefix('+').unwrap_or(&number);
    let valid = !digits.is_empty()
        && number.len() <= MAX_NUMBER
        && digits
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
        && digits.chars().any(|c| c.is_ascii_digit());
    valid.then_some(number)
}

#[cfg(test)]
mod tests;
