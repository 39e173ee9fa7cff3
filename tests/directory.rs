//! The shared address book end to end: `serve` gives it over HTTP in the formats desk phones
//! read (Yealink and Snom XML, vCard), read back here with a plain HTTP/1.1 client; it follows
//! a reload of the flows and an edit of the contacts file; hostile requests get 4xx; and
//! `centralino directory` prints the same book and filters it.
//!
//! The flows are `tests/directory/flows`, copied to a temporary directory when edited.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use support::{BIN, Server, centralino, code, free_port, root, stderr, stdout};

fn flows() -> std::path::PathBuf {
    root().join("tests/directory/flows")
}

const CONTACTS: &str = "\
# Numeri esterni
nome;numero;gruppo
Carabinieri;112;Emergenze
Idraulico \"Da Zoë\";+39 075 123 456;Fornitori
";

use support::http::{Reply, exchange as request};

fn get(port: u16, target: &str) -> Reply {
    request(
        port,
        format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// The (name, telephone) pairs of a Yealink or Snom phone book, after checking its root.
fn phone_book(xml: &str, root: &str) -> Vec<(String, String)> {
    let document = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    assert_eq!(document.root_element().tag_name().name(), root, "{xml}");
    document
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
        .collect()
}

/// The (FN, TEL) pairs of vCards, unfolded and unescaped enough for these names.
fn vcards(text: &str) -> Vec<(String, String)> {
    let unfolded = text.replace("\r\n ", "");
    let mut cards = Vec::new();
    let (mut name, mut tel) = (String::new(), String::new());
    for line in unfolded.split("\r\n") {
        if let Some(value) = line.strip_prefix("FN:") {
            name = value.replace("\\,", ",").replace("\\;", ";");
        } else if let Some((_, value)) = line.split_once(':').filter(|_| line.starts_with("TEL")) {
            tel = value.to_owned();
        } else if line == "END:VCARD" {
            cards.push((std::mem::take(&mut name), std::mem::take(&mut tel)));
        }
    }
    assert_eq!(cards.len(), text.matches("BEGIN:VCARD").count(), "{text}");
    cards
}

fn pair(name: &str, number: &str) -> (String, String) {
    (name.to_owned(), number.to_owned())
}

fn copy_flows(to: &Path) {
    for entry in std::fs::read_dir(flows()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn phones_read_the_book_in_each_format_and_it_follows_reloads_and_contact_edits() {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows");
    std::fs::create_dir(&flows).unwrap();
    copy_flows(&flows);
    let contacts = dir.path().join("rubrica.csv");
    std::fs::write(&contacts, CONTACTS).unwrap();
    let config = dir.path().join("centralino.toml");
    std::fs::write(
        &config,
        format!("[directory]\ncontacts = \"{}\"\n", contacts.display()),
    )
    .unwrap();

    let mut server = Server::start(&flows, &["--config", config.to_str().unwrap()]);
    server.wait_for("HTTP listening", Duration::from_secs(10));
    server.wait_for("watching the flows", Duration::from_secs(30));
    let port = server.http_port;

    let everyone = [
        pair("Tributi", "tributi"),
        pair("Ufficio di prova", "prova"),
        pair("Anna Rossi", "201"),
        pair("Nicolò Bianchi", "203"),
        pair("Tom <\"O'Neil\"> & Co", "202"),
        pair("Carabinieri", "112"),
        pair("Idraulico \"Da Zoë\"", "+39075123456"),
    ];

    // Each format, with its content type, read back to the same entries.
    let yealink = get(port, "/directory/yealink.xml");
    assert_eq!(yealink.status, 200, "{}", yealink.body);
    assert!(
        yealink
            .head
            .contains("content-type: text/xml; charset=utf-8"),
        "{}",
        yealink.head
    );
    assert_eq!(
        phone_book(&yealink.body, "YealinkIPPhoneDirectory"),
        everyone
    );
    let snom = get(port, "/directory/snom.xml");
    assert_eq!(snom.status, 200);
    assert!(snom.head.contains("content-type: text/xml; charset=utf-8"));
    assert_eq!(phone_book(&snom.body, "SnomIPPhoneDirectory"), everyone);
    let vcf = get(port, "/directory.vcf");
    assert_eq!(vcf.status, 200);
    assert!(
        vcf.head.contains("content-type: text/vcard; charset=utf-8"),
        "{}",
        vcf.head
    );
    assert_eq!(vcards(&vcf.body), everyone);

    // Searching: case and accents ignored, by office, by number.
    let found = |target: &str| phone_book(&get(port, target).body, "YealinkIPPhoneDirectory");
    assert_eq!(
        found("/directory/yealink.xml?q=NICOLO"),
        [pair("Nicolò Bianchi", "203")]
    );
    assert_eq!(
        found("/directory/yealink.xml?q=tributi"),
        [pair("Tributi", "tributi"), pair("Nicolò Bianchi", "203")]
    );
    assert_eq!(
        found("/directory/yealink.xml?q=%3C%22o%27neil"),
        [pair("Tom <\"O'Neil\"> & Co", "202")]
    );
    assert_eq!(
        found("/directory/yealink.xml?q=075+123"),
        [pair("Idraulico \"Da Zoë\"", "+39075123456")]
    );
    assert!(found("/directory/yealink.xml?q=nessuno").is_empty());
    assert_eq!(
        vcards(&get(port, "/directory.vcf?q=anna").body),
        [pair("Anna Rossi", "201")]
    );
    assert_eq!(
        phone_book(
            &get(port, "/directory/snom.xml?q=carabinieri").body,
            "SnomIPPhoneDirectory"
        ),
        [pair("Carabinieri", "112")]
    );

    // Hostile requests: 4xx, and the server goes on.
    let long = format!("/directory/yealink.xml?q={}", "a".repeat(20_000));
    for (target, status) in [
        ("/directory/yealink.xml?q=%FF%FE", 400),
        ("/directory/snom.xml?q=%E0%A4", 400),
        ("/directory.vcf?q=%ZZ", 400),
        ("/directory/yealink.xml?q=%1B%5B2J", 400),
        (long.as_str(), 414),
        ("/directory/../etc/passwd", 404),
        ("/directory/nothing.xml", 404),
    ] {
        let reply = get(port, target);
        assert_eq!(
            reply.status,
            status,
            "{}: {}",
            &target[..target.len().min(60)],
            reply.body
        );
    }
    let not_utf8 = request(
        port,
        b"GET /directory/yealink.xml?q=\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!((400..500).contains(&not_utf8.status), "{}", not_utf8.head);
    let huge_header = format!(
        "GET /directory.vcf HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "b".repeat(1_000_000)
    );
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let _ = stream.write_all(huge_header.as_bytes());
    drop(stream);
    let post = request(
        port,
        b"POST /directory.vcf HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
    );
    assert_eq!(post.status, 405);
    assert_eq!(get(port, "/directory.vcf?q=anna").status, 200);

    // A reload publishes edited flows: the book changes with it.
    let flow = flows.join("main.flow");
    let text = std::fs::read_to_string(&flow).unwrap();
    std::fs::write(
        &flow,
        text.replace("\"Anna Rossi\"", "\"Anna Verdi\"").replace(
            "  staff \"sip:203@comune.example\" as \"Nicolò Bianchi\"\n}\n\nflow",
            "  staff \"sip:203@comune.example\" as \"Nicolò Bianchi\"\n  staff \"sip:204@comune.example\" as \"Piero Neri\"\n}\n\nflow",
        ),
    )
    .unwrap();
    server.wait_for("published", Duration::from_secs(10));
    let after = phone_book(
        &get(port, "/directory/yealink.xml").body,
        "YealinkIPPhoneDirectory",
    );
    assert!(after.contains(&pair("Anna Verdi", "201")), "{after:?}");
    assert!(after.contains(&pair("Piero Neri", "204")), "{after:?}");
    assert!(!after.contains(&pair("Anna Rossi", "201")), "{after:?}");

    // The contacts file is edited: the next request sees it; a broken edit keeps the last good.
    std::fs::write(
        &contacts,
        format!("{CONTACTS}Vigili del fuoco;115;Emergenze\n"),
    )
    .unwrap();
    let emergencies = || found("/directory/yealink.xml?q=emergenze");
    assert_eq!(
        emergencies(),
        [pair("Carabinieri", "112"), pair("Vigili del fuoco", "115")]
    );
    std::fs::write(&contacts, "nome;numero\n;115\n").unwrap();
    assert_eq!(
        emergencies(),
        [pair("Carabinieri", "112"), pair("Vigili del fuoco", "115")]
    );
    server.wait_for("the contacts file has problems", Duration::from_secs(5));

    assert!(server.stop().success(), "clean shutdown:\n{}", server.log());
    let log = server.log();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn the_cli_prints_the_book_and_filters_it() {
    let dir = tempfile::tempdir().unwrap();
    let contacts = dir.path().join("rubrica.csv");
    std::fs::write(&contacts, CONTACTS).unwrap();
    let flows = flows();
    let base = [
        "directory",
        "--flows",
        flows.to_str().unwrap(),
        "--contacts",
        contacts.to_str().unwrap(),
    ];

    let all = centralino(&base);
    assert_eq!(code(&all), 0, "{}", stderr(&all));
    assert_eq!(
        stdout(&all),
        "\
NAME                 NUMBER        OFFICE / GROUP
Tributi              tributi
Ufficio di prova     prova
Anna Rossi           201           Ufficio di prova
Nicolò Bianchi       203           Ufficio di prova, Tributi
Tom <\"O'Neil\"> & Co  202           Ufficio di prova
Carabinieri          112           Emergenze
Idraulico \"Da Zoë\"   +39075123456  Fornitori
"
    );

    let search = centralino(&[&base[..], &["nicolo"]].concat());
    assert_eq!(code(&search), 0);
    assert_eq!(
        stdout(&search),
        "\
NAME            NUMBER  OFFICE / GROUP
Nicolò Bianchi  203     Ufficio di prova, Tributi
"
    );
    let two_words = centralino(&[&base[..], &["ufficio", "rossi"]].concat());
    assert_eq!(
        stdout(&two_words).lines().count(),
        2,
        "{}",
        stdout(&two_words)
    );

    let none = centralino(&[&base[..], &["nessuno"]].concat());
    assert_eq!(code(&none), 0);
    assert_eq!(stdout(&none), "");
    assert!(stderr(&none).contains("no entry matches `nessuno`"));

    // The formats the server gives, from the command line too.
    let xml = centralino(&[&base[..], &["--format", "snom", "tom"]].concat());
    assert_eq!(
        phone_book(&stdout(&xml), "SnomIPPhoneDirectory"),
        [pair("Tom <\"O'Neil\"> & Co", "202")]
    );
    let vcf = centralino(&[&base[..], &["--format", "vcard", "anna"]].concat());
    assert_eq!(vcards(&stdout(&vcf)), [pair("Anna Rossi", "201")]);

    // The configuration file of serve gives the flows and contacts.
    let config = dir.path().join("centralino.toml");
    std::fs::write(
        &config,
        format!(
            "[flows]\ndir = \"{}\"\n[directory]\ncontacts = \"{}\"\n",
            flows.display(),
            contacts.display()
        ),
    )
    .unwrap();
    let from_config = centralino(&[
        "directory",
        "--config",
        config.to_str().unwrap(),
        "carabinieri",
    ]);
    assert!(
        stdout(&from_config).contains("Carabinieri  112     Emergenze"),
        "{}{}",
        stdout(&from_config),
        stderr(&from_config)
    );
}

/// A contacts file with problems: `directory` and `serve` stop with exit 2 and name each
/// problem with its file and line, before `serve` listens.
#[test]
fn a_bad_contacts_file_is_refused_with_its_lines() {
    let dir = tempfile::tempdir().unwrap();
    let contacts = dir.path().join("rubrica.csv");
    std::fs::write(
        &contacts,
        "name,number,group\nCarabinieri,112,Emergenze\n,113,\nPompieri,chiama il 115,\n",
    )
    .unwrap();
    let shown = contacts.display().to_string();

    let listed = centralino(&[
        "directory",
        "--flows",
        flows().to_str().unwrap(),
        "--contacts",
        &shown,
    ]);
    assert_eq!(code(&listed), 2);
    let err = stderr(&listed);
    assert!(
        err.contains(&format!("{shown}:3: the name is empty")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{shown}:4: `chiama il 115` is not a phone number")),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    let config = dir.path().join("centralino.toml");
    std::fs::write(&config, format!("[directory]\ncontacts = \"{shown}\"\n")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let served = std::process::Command::new(BIN)
        .args(["serve", "--config", config.to_str().unwrap(), "--flows"])
        .arg(flows())
        .arg("--data")
        .arg(data.path())
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--http-listen", &format!("127.0.0.1:{}", free_port())])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(served.status.code(), Some(2), "{}", stderr(&served));
    let err = stderr(&served);
    assert!(
        err.contains(&format!("{shown}:3: the name is empty")),
        "{err}"
    );
    assert!(!err.contains("SIP listening"), "{err}");
}

/// The HTTP port taken by another program stops `serve` (exit 2) with the address named.
#[test]
fn an_http_port_in_use_stops_serve() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    let rtp = free_port();
    let served = std::process::Command::new(BIN)
        .args(["serve", "--flows"])
        .arg(flows())
        .arg("--data")
        .arg(data.path())
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--rtp-ports", &format!("{rtp}-{}", rtp + 100)])
        .args(["--http-listen", &address])
        .args(["--log-level", "warn"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = stderr(&served);
    assert_eq!(served.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "cannot listen for HTTP on {address} (http.listen)"
        )),
        "{err}"
    );
}
