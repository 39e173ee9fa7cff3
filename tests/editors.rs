//! The editor files in editors/: the TextMate grammar is valid JSON whose patterns compile,
//! its keywords are exactly the flow grammar's (grammars/flow.pest), the VS Code extension
//! ships the same grammar and declares the language and the server command.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap()
}

fn grammar() -> Value {
    serde_json::from_str(&read("editors/centralino.tmLanguage.json")).expect("valid JSON")
}

/// Every `kw_NAME = @{ "word" ...` of the flow grammar.
fn pest_keywords() -> BTreeSet<String> {
    read("grammars/flow.pest")
        .lines()
        .filter(|line| line.starts_with("kw_"))
        .filter_map(|line| line.split('"').nth(1))
        .map(str::to_owned)
        .collect()
}

/// The words of `\b(?:a|b|c)\b` patterns.
fn words(pattern: &str) -> Vec<String> {
    let inner = pattern
        .strip_prefix("\\b(?:")
        .and_then(|p| p.strip_suffix(")\\b"))
        .unwrap_or_else(|| panic!("not a word list: {pattern}"));
    inner.split('|').map(str::to_owned).collect()
}

/// Every `match`, `begin` and `end` regular expression of the grammar.
fn regexes(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("match" | "begin" | "end", Value::String(regex)) => out.push(regex.clone()),
                    _ => regexes(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| regexes(item, out)),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

#[test]
fn the_keywords_are_the_flow_grammars() {
    let grammar = grammar();
    let mut ours = BTreeSet::new();
    for pattern in grammar["repository"]["keywords"]["patterns"]
        .as_array()
        .unwrap()
    {
        for word in words(pattern["match"].as_str().unwrap()) {
            assert!(ours.insert(word.clone()), "`{word}` listed twice");
        }
    }
    let pest = pest_keywords();
    assert_eq!(
        pest.len(),
        74,
        "the grammar's keyword rules were not all read"
    );
    let missing: Vec<_> = pest.difference(&ours).collect();
    let extra: Vec<_> = ours.difference(&pest).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing from the TextMate grammar: {missing:?}; not keywords of flow.pest: {extra:?}"
    );
}

#[test]
fn the_grammar_is_well_formed() {
    let grammar = grammar();
    assert_eq!(grammar["scopeName"], "source.centralino");
    assert_eq!(grammar["fileTypes"], serde_json::json!(["flow"]));
    let mut all = Vec::new();
    regexes(&grammar, &mut all);
    assert!(all.len() > 20, "{all:?}");
    for regex in &all {
        regex::Regex::new(regex).unwrap_or_else(|e| panic!("{regex}: {e}"));
    }
    // Every include names a repository entry.
    let repository = grammar["repository"].as_object().unwrap();
    let text = read("editors/centralino.tmLanguage.json");
    for include in text.split("\"include\": \"#").skip(1) {
        let name = include.split('"').next().unwrap();
        assert!(
            repository.contains_key(name),
            "#{name} is not in the repository"
        );
    }
}

#[test]
fn the_grammar_colours_what_it_should() {
    let grammar = grammar();
    let repository = &grammar["repository"];
    let find = |entry: &str, name: &str| -> regex::Regex {
        let patterns = repository[entry]["patterns"].as_array().unwrap();
        let pattern = patterns.iter().find(|p| p["name"] == name).unwrap();
        regex::Regex::new(pattern["match"].as_str().unwrap()).unwrap()
    };
    let duration = find("literals", "constant.numeric.duration.centralino");
    for yes in ["6s", "20m", "5d", "100ms", "4h"] {
        assert!(duration.is_match(yes), "{yes}");
    }
    assert!(!duration.is_match("6x"));
    assert!(!duration.is_match("menu"));
    let comment = regex::Regex::new(repository["comment"]["match"].as_str().unwrap()).unwrap();
    assert_eq!(
        comment.find("fine: hangup // the end").map(|m| m.as_str()),
        Some("// the end")
    );
    let string = &repository["string"];
    assert_eq!(string["begin"], "\"");
    let template = string["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "meta.template.expression.centralino")
        .unwrap();
    let open = regex::Regex::new(template["begin"].as_str().unwrap()).unwrap();
    assert!(open.is_match("numero {{ ticket.ref }}"));
    let control = find("keywords", "keyword.control.centralino");
    assert!(control.is_match("transfer urp"));
    assert!(!control.is_match("transferimento"));
}

#[test]
fn the_vscode_extension_declares_the_language_grammar_and_server() {
    assert_eq!(
        read("editors/vscode/syntaxes/centralino.tmLanguage.json"),
        read("editors/centralino.tmLanguage.json"),
        "the extension ships a copy of editors/centralino.tmLanguage.json: copy it again"
    );
    let package: Value = serde_json::from_str(&read("editors/vscode/package.json")).unwrap();
    let contributes = &package["contributes"];
    assert_eq!(contributes["languages"][0]["id"], "centralino");
    assert_eq!(contributes["languages"][0]["extensions"][0], ".flow");
    assert_eq!(contributes["grammars"][0]["scopeName"], "source.centralino");
    let path = contributes["grammars"][0]["path"].as_str().unwrap();
    assert!(root().join("editors/vscode").join(path).is_file(), "{path}");
    let configuration = contributes["languages"][0]["configuration"]
        .as_str()
        .unwrap();
    let configuration: Value =
        serde_json::from_str(&read(&format!("editors/vscode/{configuration}"))).unwrap();
    assert_eq!(configuration["comments"]["lineComment"], "//");
    let main = package["main"].as_str().unwrap();
    let extension = read(&format!("editors/vscode/{main}"));
    assert!(extension.contains("args: [\"lsp\"]"), "{extension}");
}
