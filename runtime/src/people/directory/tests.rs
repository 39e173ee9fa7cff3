#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;

/// Two offices sharing one person, a person without a name, an accented name and a hostile
/// one (every XML special character, a vCard separator, a control character).
const FLOW: &str = r#"
office anagrafe "Servizi demografici - Anagrafe" {
  staff "sip:201@comune.example" as "Nicolò Rossi"
  staff "sip:202@comune.example" as "Tom <\"O'Neil\"> & Co; Ltd@BEL@"
}
office tributi "Tributi, TARI & IMU" {
  staff "sip:202@comune.example" as "Thomas"
  staff "sip:203@comune.example"
}
flow main answers "100" {
  language it
  inizio: say "Buongiorno." -> hangup
}
"#;

const CONTACTS: &str = "\
# External numbers the offices call
name,number,group
Carabinieri,112,Emergenze
\"Rossi, Mario (idraulico)\",+39 075 577-1234,Fornitori
Zoë <script>,0755771,
";

fn graph(source: &str) -> Graph {
    let mut sources = centralino_compiler::Sources::new();
    sources.add("test.flow", source);
    let compiled = centralino_compiler::compile(&sources);
    assert!(
        !compiled.diagnostics.has_errors(),
        "{}",
        centralino_compiler::render::human(&sources, &compiled.diagnostics, false)
    );
    compiled.graph.unwrap()
}

fn book() -> Book {
    let contacts = parse_contacts(CONTACTS.as_bytes(), Path::new("contacts.csv")).unwrap();
    Book::build(&graph(&FLOW.replace("@BEL@", "\u{7}")), &contacts)
}

fn contacts_error(text: &str) -> String {
    parse_contacts(text.as_bytes(), Path::new("contacts.csv"))
        .unwrap_err()
        .to_string()
}

fn names(entries: &[&Entry]) -> Vec<String> {
    entries.iter().map(|e| e.name.clone()).collect()
}

#[test]
fn the_book_lists_offices_then_staff_then_contacts_each_by_name() {
    let book = book();
    let lines: Vec<String> = book
        .entries()
        .iter()
        .map(|e| {
            format!(
                "{:?} | {} | {} | {}",
                e.kind,
                e.name,
                e.number,
                e.groups.join(" + ")
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            "Office | Servizi demografici - Anagrafe | anagrafe | ",
            "Office | Tributi, TARI & IMU | tributi | ",
            "Staff | 203 | 203 | Tributi, TARI & IMU",
            "Staff | Nicolò Rossi | 201 | Servizi demografici - Anagrafe",
            "Staff | Tom <\"O'Neil\"> & Co; Ltd\u{7} | 202 | Servizi demografici - Anagrafe + Tributi, TARI & IMU",
            "External | Carabinieri | 112 | Emergenze",
            "External | Rossi, Mario (idraulico) | +390755771234 | Fornitori",
            "External | Zoë <script> | 0755771 | ",
        ]
    );
}

#[test]
fn building_twice_gives_the_same_book() {
    assert_eq!(book(), book());
}

#[test]
fn search_ignores_case_and_accents_and_needs_every_word() {
    let book = book();
    assert_eq!(names(&book.search("NICOLO")), ["Nicolò Rossi"]);
    assert_eq!(names(&book.search("nicolò")), ["Nicolò Rossi"]);
    assert_eq!(
        names(&book.search("rossi")),
        ["Nicolò Rossi", "Rossi, Mario (idraulico)"]
    );
    assert_eq!(
        names(&book.search("rossi fornitori")),
        ["Rossi, Mario (idraulico)"]
    );
    assert_eq!(names(&book.search("zoe")), ["Zoë <script>"]);
    // By office: the office itself and its staff.
    assert_eq!(
        names(&book.search("tari")),
        [
            "Tributi, TARI & IMU",
            "203",
            "Tom <\"O'Neil\"> & Co; Ltd\u{7}"
        ]
    );
    // By office name (what a phone dials).
    assert_eq!(names(&book.search("anagrafe")).len(), 3);
    // By number, also written with spaces.
    assert_eq!(names(&book.search("201")), ["Nicolò Rossi"]);
    assert_eq!(
        names(&book.search("075 577")),
        ["Rossi, Mario (idraulico)", "Zoë <script>"]
    );
    assert_eq!(names(&book.search("577 12")), ["Rossi, Mario (idraulico)"]);
    assert_eq!(book.search("").len(), book.entries().len());
    assert_eq!(book.search("   ").len(), book.entries().len());
    assert!(book.search("nessuno").is_empty());
}

#[test]
fn fold_drops_accents_and_case() {
    assert_eq!(fold("Nicolò ÀÉÌÒÙ ç"), "nicolo aeiou c");
    assert_eq!(fold("İ"), "i");
}

// ------------------------------------------------------------------ formats

fn rendered(format: Format) -> String {
    let book = book();
    render(format, &book.search(""))
}

#[test]
fn text_columns_are_aligned() {
    insta::assert_snapshot!(rendered(Format::Text));
}

#[test]
fn yealink_xml() {
    insta::assert_snapshot!(rendered(Format::Yealink));
}

#[test]
fn snom_xml() {
    insta::assert_snapshot!(rendered(Format::Snom));
}

#[test]
fn vcard() {
    insta::assert_snapshot!(rendered(Format::Vcard).replace("\r\n", "⏎\n"));
}

/// The XML parses, and gives back every name and number as it was (less the control
/// character XML cannot carry).
#[test]
fn the_phone_xml_reads_back_to_the_book() {
    let book = book();
    for (format, root) in [
        (Format::Yealink, "YealinkIPPhoneDirectory"),
        (Format::Snom, "SnomIPPhoneDirectory"),
    ] {
        let xml = render(format, &book.search(""));
        let document = roxmltree::Document::parse(&xml).unwrap();
        assert_eq!(document.root_element().tag_name().name(), root);
        let read: Vec<(String, String)> = document
            .root_element()
            .children()
            .filter(|n| n.has_tag_name("DirectoryEntry"))
            .map(|entry| {
                let field = |tag: &str| {
                    entry
                        .children()
                        .find(|n| n.has_tag_name(tag))
                        .and_then(|n| n.text())
                        .unwrap_or_default()
                        .to_owned()
                };
                (field("Name"), field("Telephone"))
            })
            .collect();
        let expected: Vec<(String, String)> = book
            .entries()
            .iter()
            .map(|e| (e.name.replace('\u{7}', ""), e.number.clone()))
            .collect();
        assert_eq!(read, expected, "{xml}");
    }
}

#[test]
fn hostile_text_round_trips_through_xml() {
    for hostile in [
        "<&\"'>",
        "]]><!--",
        "&amp;",
        "<Name>x</Name>",
        "a\rb\nc\td",
        "\u{0}\u{1b}[31m\u{fffe}",
    ] {
        let xml = format!("<a>{}</a>", xml_text(hostile));
        let document = roxmltree::Document::parse(&xml).unwrap();
        let expected: String = hostile
            .chars()
            .filter(|&c| matches!(c, '\t' | '\n' | '\r') || allowed_in_xml(c))
            .collect();
        assert_eq!(
            document.root_element().text().unwrap_or_default(),
            expected,
            "{xml}"
        );
    }
}

#[test]
fn vcard_values_are_escaped_and_lines_folded() {
    assert_eq!(vcard_text("a,b;c\\d\ne\u{7}"), "a\\,b\\;c\\\\d\\ne");
    let long = Entry {
        kind: EntryKind::External,
        name: "è".repeat(60),
        number: String::from("112"),
        groups: Vec::new(),
    };
    let card = render(Format::Vcard, &[&long]);
    for line in card.split("\r\n") {
        assert!(line.len() <= 75, "{line:?} is {} octets", line.len());
    }
    let unfolded = card.replace("\r\n ", "");
    assert!(
        unfolded.contains(&format!("FN:{}\r\n", "è".repeat(60))),
        "{card}"
    );
    assert_eq!(card.matches("BEGIN:VCARD").count(), 1);
}

#[test]
fn content_types() {
    assert_eq!(Format::Yealink.content_type(), "text/xml; charset=utf-8");
    assert_eq!(Format::Snom.content_type(), "text/xml; charset=utf-8");
    assert_eq!(Format::Vcard.content_type(), "text/vcard; charset=utf-8");
}

#[test]
fn an_empty_search_result_is_an_empty_directory() {
    let book = book();
    let xml = render(Format::Yealink, &book.search("nessuno"));
    let document = roxmltree::Document::parse(&xml).unwrap();
    assert_eq!(
        document
            .root_element()
            .children()
            .filter(|n| n.is_element())
            .count(),
        0
    );
    assert_eq!(render(Format::Text, &[]), "");
    assert_eq!(render(Format::Vcard, &[]), "");
}

// ------------------------------------------------------------------ the contacts file

#[test]
fn contacts_take_columns_in_any_order_in_english_or_italian_with_semicolons() {
    let contacts = parse_contacts(
        "\u{feff}Gruppo;Numero;Nome\nEmergenze;112;Carabinieri\n;0755771;Ufficio postale\n"
            .as_bytes(),
        Path::new("rubrica.csv"),
    )
    .unwrap();
    assert_eq!(
        contacts,
        [
            Contact {
                name: "Carabinieri".into(),
                number: "112".into(),
                group: Some("Emergenze".into()),
                line: 2,
            },
            Contact {
                name: "Ufficio postale".into(),
                number: "0755771".into(),
                group: None,
                line: 3,
            },
        ]
    );
    let without_group = parse_contacts(b"number,name\n112,Carabinieri\n", Path::new("c.csv"));
    assert_eq!(without_group.unwrap().len(), 1);
}

#[test]
fn every_bad_line_is_named_with_its_line() {
    let error = contacts_error(
        "name,number,group\n\
         Carabinieri,112,Emergenze\n\
         ,113,\n\
         Pompieri,chiama-115,\n\
         Rossi, Mario,0755,Fornitori\n\
         \n\
         Vigili,,\n",
    );
    assert_eq!(
        error,
        "contacts.csv:3: the name is empty\n\
         contacts.csv:4: `chiama-115` is not a phone number (digits, a leading +, * and #; at most 32)\n\
         contacts.csv:5: 4 fields where the header has 3 (a name with a comma needs quotes: \"Rossi, Mario\")\n\
         contacts.csv:7: the number is empty"
    );
}

#[test]
fn a_bad_header_is_explained() {
    assert!(contacts_error("nome,telefono,reparto\n").contains(
        "contacts.csv:1: unknown column `reparto`: the columns are name, number and group"
    ));
    assert!(
        contacts_error("# solo commenti\n\n")
            .contains("contacts.csv:1: the file needs a header line")
    );
    assert!(
        contacts_error("group,name\nx,y\n")
            .contains("contacts.csv:1: the header has no `number` column")
    );
    assert!(contacts_error("name,nome,number\n").contains("the column `nome` is named twice"));
}

#[test]
fn a_file_that_is_not_utf8_or_not_csv_is_refused_with_its_line() {
    let error = parse_contacts(b"name,number\nCaf\xe9,112\n", Path::new("c.csv")).unwrap_err();
    assert_eq!(error.problems[0].line, 2);
    assert!(error.to_string().contains("not UTF-8"), "{error}");
    let error = contacts_error("name,number\n\"Carabinieri,112\n");
    assert!(error.starts_with("contacts.csv:2:"), "{error}");
}

#[test]
fn names_with_control_characters_or_too_long_are_refused() {
    let error = contacts_error("name,number\n\"a\u{1b}[31m\",112\n");
    assert!(
        error.contains(
            "contacts.csv:2: the name is longer than 100 characters or has control characters"
        ),
        "{error}"
    );
    let error = contacts_error(&format!("name,number\n{},112\n", "x".repeat(101)));
    assert!(error.contains("contacts.csv:2: the name"), "{error}");
}

#[test]
fn numbers_keep_digits_plus_star_and_hash() {
    assert_eq!(
        dialable("+39 (075) 577.12/34-5").as_deref(),
        Some("+3907557712345")
    );
    assert_eq!(dialable("*21#").as_deref(), Some("*21#"));
    for bad in [
        "",
        "+",
        "*#",
        "++39",
        "075a",
        "1".repeat(33).as_str(),
        "sip:1@x",
    ] {
        assert_eq!(dialable(bad), None, "{bad}");
    }
}

#[test]
fn too_many_contacts_are_refused() {
    let mut text = String::from("name,number\n");
    for i in 0..=MAX_CONTACTS {
        text.push_str(&format!("Contatto {i},{i}\n"));
    }
    let error = contacts_error(&text);
    assert!(
        error.contains(&format!(":{}: more than", MAX_CONTACTS + 2)),
        "{error}"
    );
}

#[test]
fn a_person_unnamed_in_one_office_takes_the_name_given_in_another() {
    let book = Book::build(
        &graph(
            r#"
office a "Primo" { staff "sip:301@x.example" }
office b "Secondo" { staff "sip:301@x.example" as "Lucia Neri"  staff "sip:300@x.example" as "Portineria" }
flow main answers "100" {
  language it
  inizio: say "Buongiorno." -> hangup
}
"#,
        ),
        &[],
    );
    let staff: Vec<(&str, &str, Vec<String>)> = book
        .entries()
        .iter()
        .filter(|e| e.kind == EntryKind::Staff)
        .map(|e| (e.name.as_str(), e.number.as_str(), e.groups.clone()))
        .collect();
    assert_eq!(
        staff,
        [
            (
                "Lucia Neri",
                "301",
                vec!["Primo".to_owned(), "Secondo".to_owned()]
            ),
            // (A staff address without a user part, once dialled as written, is E039 now.)
            ("Portineria", "300", vec!["Secondo".to_owned()]),
        ]
    );
}
