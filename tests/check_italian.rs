//! `centralino check --lang it` on a deliberately broken copy of the Perugia flows
//! (`tests/fixtures/perugia_broken/`: `flows/` with two to four mistakes per file, each file's
//! first line says which): every mistake is reported in one run, at the line where the person
//! would look, in Italian, and nothing else is (no knock-on errors).

#![allow(clippy::unwrap_used)]

mod support;

use support::{centralino, code, command, stdout};

const BROKEN: &str = "tests/fixtures/perugia_broken";

/// Every mistake made in the copy: the file, the line where it is, and the code that names it.
const MISTAKES: [(&str, u32, &str); 20] = [
    ("calendars.flow", 22, "E016"),         // timezone "Europe/Roma"
    ("calendars.flow", 35, "E036"),         // lun-ven
    ("directory.flow", 23, "E039"),         // "pis:1001@..."
    ("directory.flow", 33, "E039"),         // "sip:2102comune.perugia.it"
    ("directory.flow", 41, "E002"),         // hours ufici
    ("directory.flow", 52, "E036"),         // ring 30
    ("info.flow", 30, "E002"),              // -> sceglie
    ("info.flow", 48, "E036"),              // già_chiuso
    ("info.flow", 67, "E037"),              // the menu's `{` never closed
    ("main.flow", 40, "E036"),              // benvenuto say ...
    ("main.flow", 69, "E002"),              // -> operatori
    ("main.flow", 81, "E036"),              // “en”
    ("prompts.flow", 19, "E036"),           // “Welcome ...”
    ("prompts.flow", 187, "E012"),          // {{ ticket.ref }
    ("protezione_civile.flow", 16, "E002"), // -> conferenze
    ("protezione_civile.flow", 17, "E039"), // pin "7OOO"
    ("servizi.flow", 40, "E037"),           // "verde -> luogo
    ("servizi.flow", 51, "E036"),           // end '#'
    ("servizi.flow", 63, "E001"),           // categoria = "buche"
    ("servizi.flow", 192, "E002"),          // transfer anagrafee
];

/// `(file, line, code)` of every diagnostic in a human report.
fn found(report: &str) -> Vec<(String, u32, String)> {
    let mut found = Vec::new();
    let mut code = None;
    for line in report.lines() {
        if let Some(rest) = ["error[", "warning[", "errore[", "avviso["]
            .iter()
            .find_map(|header| line.strip_prefix(header))
        {
            code = rest.split(']').next().map(str::to_owned);
        } else if let Some(at) = line.split("┌─ ").nth(1)
            && let Some(code) = code.take()
        {
            let mut parts = at.rsplitn(3, ':');
            let (_col, line, path) = (parts.next(), parts.next(), parts.next().unwrap());
            let file = path.rsplit('/').next().unwrap().to_owned();
            found.push((file, line.unwrap().parse().unwrap(), code));
        }
    }
    found.sort();
    found
}

fn expected() -> Vec<(String, u32, String)> {
    let mut expected: Vec<_> = MISTAKES
        .iter()
        .map(|(f, l, c)| ((*f).to_owned(), *l, (*c).to_owned()))
        .collect();
    expected.sort();
    expected
}

#[test]
fn every_mistake_of_the_broken_perugia_flows_in_italian() {
    let out = centralino(&["check", "--lang", "it", BROKEN]);
    assert_eq!(code(&out), 1);
    let report = stdout(&out);
    assert_eq!(found(&report), expected(), "{report}");
    assert!(report.ends_with("20 errori\n"), "{report}");
    assert!(report.contains("suggerimento: "), "{report}");
    assert!(
        !report.contains("error["),
        "the headers are in Italian too: {report}"
    );
    insta::assert_snapshot!("check_perugia_broken_it", report);
}

#[test]
fn the_locale_chooses_italian_and_english_says_the_same() {
    let flag = stdout(&centralino(&["check", "--lang", "it", BROKEN]));
    let locale = command(&["check", BROKEN])
        .env("LANG", "it_IT.UTF-8")
        .output()
        .unwrap();
    assert_eq!(stdout(&locale), flag, "LANG=it_IT.UTF-8 is Italian");
    let english = stdout(&centralino(&["check", BROKEN]));
    assert!(english.ends_with("20 errors\n"), "{english}");
    assert_eq!(found(&english), expected(), "{english}");
    // Machine formats keep the stable codes whatever the language.
    let json = stdout(&centralino(&[
        "check", "--lang", "it", "--format", "json", BROKEN,
    ]));
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let text = value.to_string();
    for (_, _, code) in MISTAKES {
        assert!(text.contains(&format!("\"{code}\"")), "{code} in {json}");
    }
}
