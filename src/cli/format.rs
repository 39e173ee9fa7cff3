//! Diagnostics for machines: JSON, GitHub Actions workflow commands, SARIF 2.1.0.
//!
//! All three are built from [`Diagnostic::located`] (file, line and column
//! resolved), in the compiler's order (by file and position). The human
//! format is the compiler's own [`render::human`](centralino_compiler::render::human).

use std::collections::BTreeMap;

use anyhow::Context;
use centralino_compiler::diagnostic::{LocatedDiagnostic, summary};
use centralino_compiler::source::Location;
use centralino_compiler::{Diagnostics, Severity, Sources};
use serde::Serialize;

// ------------------------------------------------------------------ JSON

#[derive(Serialize)]
struct JsonReport<'a> {
    diagnostics: Vec<JsonDiagnostic<'a>>,
    errors: usize,
    warnings: usize,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'static str,
    severity: Severity,
    message: &'a str,
    file: String,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    label: &'a str,
    help: &'a str,
    related: Vec<JsonRelated<'a>>,
}

#[derive(Serialize)]
struct JsonRelated<'a> {
    file: String,
    line: usize,
    column: usize,
    message: &'a str,
}

/// `{"diagnostics":[...],"errors":N,"warnings":N}`, pretty-printed.
pub fn json(sources: &Sources, diagnostics: &Diagnostics) -> anyhow::Result<String> {
    let report = JsonReport {
        diagnostics: diagnostics
            .iter()
            .map(|d| {
                let d = d.located(sources);
                JsonDiagnostic {
                    code: d.code,
                    severity: d.severity,
                    message: d.message,
                    file: d.location.file,
                    line: d.location.line,
                    column: d.location.column,
                    end_line: d.location.end_line,
                    end_column: d.location.end_column,
                    label: d.label,
                    help: d.help,
                    related: d
                        .related
                        .into_iter()
                        .map(|(at, message)| JsonRelated {
                            file: at.file,
                            line: at.line,
                            column: at.column,
                            message,
                        })
                        .collect(),
                }
            })
            .collect(),
        errors: diagnostics.error_count(),
        warnings: diagnostics.warning_count(),
    };
    let mut text = serde_json::to_string_pretty(&report).context("cannot write JSON")?;
    text.push('\n');
    Ok(text)
}

// ------------------------------------------------------------------ GitHub

/// A workflow command's message: `%`, CR and LF escaped.
pub fn github_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: also `:` and `,`.
pub fn github_property(text: &str) -> String {
    github_data(text).replace(':', "%3A").replace(',', "%2C")
}

fn github_line(d: &LocatedDiagnostic<'_>) -> String {
    let command = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let at = &d.location;
    let mut message = format!("{}\nhelp: {}", d.message, d.help);
    for (related, note) in &d.related {
        message.push_str(&format!("\n{related}: {note}"));
    }
    format!(
        "::{command} file={},line={},col={},endLine={},endColumn={},title={}::{}",
        github_property(&at.file),
        at.line,
        at.column,
        at.end_line,
        at.end_column,
        github_property(d.code),
        github_data(&message)
    )
}

/// One `::error`/`::warning` workflow command per diagnostic (GitHub Actions
/// shows them as annotations on the lines), then the summary.
pub fn github(sources: &Sources, diagnostics: &Diagnostics) -> String {
    let mut out = String::new();
    for d in diagnostics.iter() {
        out.push_str(&github_line(&d.located(sources)));
        out.push('\n');
    }
    out.push_str(&summary(diagnostics));
    out.push('\n');
    out
}

// ------------------------------------------------------------------ SARIF

const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Where the `centralino` tool is described. The package's `repository` (or
/// `homepage`) when Cargo.toml sets one.
fn information_uri() -> &'static str {
    match (env!("CARGO_PKG_REPOSITORY"), env!("CARGO_PKG_HOMEPAGE")) {
        (repository, _) if !repository.is_empty() => repository,
        (_, homepage) if !homepage.is_empty() => homepage,
        _ => "https://github.com/centralino/centralino",
    }
}

/// What each check is about, in one line (the table in docs/language.md#checks).
fn rule_description(code: &str) -> &'static str {
    match code {
        "E001" => "Syntax error",
        "E002" => "Unknown name",
        "E003" => "Name defined twice",
        "E004" => "Menu key used twice",
        "E005" => "Phone number answered by two flows",
        "E006" => "Dead end: a state with no way on",
        "E007" => "Loop that never waits for the caller",
        "E008" => "Unbounded retries",
        "E009" => "Menu without a timeout or invalid branch",
        "E010" => "Audio file missing",
        "E011" => "Audio file cannot be decoded",
        "E012" => "Template syntax error",
        "E013" => "Undefined variable",
        "E014" => "Time range ends before it starts",
        "E015" => "Overlapping time ranges",
        "E016" => "Unknown time zone",
        "E017" => "Transfer or queue without an overflow path",
        "E018" => "Imported file not found",
        "E019" => "Invalid collect pattern",
        "E020" => "Invalid digits range",
        "E021" => "Branch label the action does not have",
        "E022" => "Value out of range",
        "E023" => "Invalid date or time",
        "E024" => "`return` outside a sub-flow",
        "E025" => "Flow with no states",
        "E026" => "Wrong arguments to a function",
        "E027" => "Reserved state name",
        "E028" => "Office cannot do what is asked",
        "E029" => "Sub-flows call each other in a loop",
        "E030" => "Prompt missing a language",
        "E031" => "Flow test syntax error",
        "E032" => "Flow test names something the flows do not have",
        "E033" => "Flow test value that does not read",
        "E034" => "Flow test scenario incomplete or repeated",
        "E035" => "Unknown template filter",
        "W001" => "Unreachable state",
        "W002" => "Unused definition",
        "W003" => "Calendar without a time zone",
        "W004" => "No flow answers a number",
        _ => "Centralino check",
    }
}

#[derive(Serialize)]
struct SarifLog {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<SarifRun>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRun {
    tool: SarifTool,
    /// Our columns count characters (Unicode code points), not UTF-16 units.
    column_kind: &'static str,
    results: Vec<SarifResult>,
}

#[derive(Serialize)]
struct SarifTool {
    driver: SarifDriver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifDriver {
    name: &'static str,
    version: &'static str,
    information_uri: &'static str,
    rules: Vec<SarifRule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRule {
    id: &'static str,
    short_description: SarifText,
    default_configuration: SarifConfiguration,
}

#[derive(Serialize)]
struct SarifConfiguration {
    level: &'static str,
}

#[derive(Serialize)]
struct SarifText {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: &'static str,
    rule_index: usize,
    level: &'static str,
    message: SarifText,
    locations: Vec<SarifLocation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<SarifLocation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifLocation {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<usize>,
    physical_location: SarifPhysical,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<SarifText>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifPhysical {
    artifact_location: SarifArtifact,
    region: SarifRegion,
}

#[derive(Serialize)]
struct SarifArtifact {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRegion {
    start_line: usize,
    start_column: usize,
    end_line: usize,
    end_column: usize,
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// A file name as a URI reference: relative paths stay relative (resolved
/// against the repository by code scanning), absolute ones become `file://`.
fn uri(file: &str) -> String {
    let mut out = String::new();
    if file.starts_with('/') {
        out.push_str("file://");
    }
    for byte in file.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(char::from(byte));
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

fn sarif_location(at: &Location, id: Option<usize>, message: Option<String>) -> SarifLocation {
    SarifLocation {
        id,
        physical_location: SarifPhysical {
            artifact_location: SarifArtifact { uri: uri(&at.file) },
            region: SarifRegion {
                start_line: at.line,
                start_column: at.column,
                end_line: at.end_line,
                end_column: at.end_column,
            },
        },
        message: message.map(|text| SarifText { text }),
    }
}

/// A SARIF 2.1.0 log with one run: a rule per code that occurs, a result per diagnostic.
pub fn sarif(sources: &Sources, diagnostics: &Diagnostics) -> anyhow::Result<String> {
    // Rules in code order, each with its index for the results.
    let mut codes: BTreeMap<&'static str, Severity> = BTreeMap::new();
    for d in diagnostics.iter() {
        codes.entry(d.code).or_insert(d.severity);
    }
    let index: BTreeMap<&'static str, usize> =
        codes.keys().enumerate().map(|(i, c)| (*c, i)).collect();
    let rules = codes
        .iter()
        .map(|(code, severity)| SarifRule {
            id: code,
            short_description: SarifText {
                text: String::from(rule_description(code)),
            },
            default_configuration: SarifConfiguration {
                level: level(*severity),
            },
        })
        .collect();
    let results = diagnostics
        .iter()
        .map(|d| {
            let d = d.located(sources);
            SarifResult {
                rule_id: d.code,
                rule_index: index.get(d.code).copied().unwrap_or_default(),
                level: level(d.severity),
                message: SarifText {
                    text: format!("{}\nhelp: {}", d.message, d.help),
                },
                locations: vec![sarif_location(
                    &d.location,
                    None,
                    Some(String::from(d.label)),
                )],
                related_locations: d
                    .related
                    .iter()
                    .enumerate()
                    .map(|(i, (at, note))| sarif_location(at, Some(i), Some(String::from(*note))))
                    .collect(),
            }
        })
        .collect();
    let log = SarifLog {
        schema: SARIF_SCHEMA,
        version: "2.1.0",
        runs: vec![SarifRun {
            tool: SarifTool {
                driver: SarifDriver {
                    name: "centralino",
                    version: env!("CARGO_PKG_VERSION"),
                    information_uri: information_uri(),
                    rules,
                },
            },
            column_kind: "unicodeCodePoints",
            results,
        }],
    };
    let mut text = serde_json::to_string_pretty(&log).context("cannot write SARIF")?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_escapes_data_and_properties() {
        assert_eq!(github_data("50% a\r\nb"), "50%25 a%0D%0Ab");
        assert_eq!(github_property("a,b:c%"), "a%2Cb%3Ac%25");
    }

    #[test]
    fn uris_are_relative_or_file_urls() {
        assert_eq!(uri("flows/main.flow"), "flows/main.flow");
        assert_eq!(uri("my flows/è.flow"), "my%20flows/%C3%A8.flow");
        assert_eq!(uri("/srv/flows/main.flow"), "file:///srv/flows/main.flow");
    }

    #[test]
    fn every_documented_code_has_a_description() {
        for n in 1..=34 {
            assert_ne!(rule_description(&format!("E{n:03}")), "Centralino check");
        }
        for n in 1..=4 {
            assert_ne!(rule_description(&format!("W{n:03}")), "Centralino check");
        }
    }
}
