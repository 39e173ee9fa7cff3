//! The flows in the console, end to end: `serve` on a copy of examples/office, a flow editor
//! checks a broken and the saved text (diagnostics at their lines, in the page's language),
//! publishes a broken text (refused, nothing saved, the version unchanged) and a good one (a new
//! version that a new sipp call hears, in the record, kept across a restart), rolls back, and
//! is refused a file changed on disk since it was opened. Paths out of the flows folder, other
//! roles, posts without their CSRF token or without login are refused; the graph is SVG with
//! the states' names and no script.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::http::{Reply, form, request};
use support::{Server, centralino, code, command, have_sipp, path, root, stderr, stdout};

/// The value of the hidden field `name` of a page's forms.
fn field(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in {page}"))
        + marker.len();
    page[start..].split('"').next().unwrap().to_string()
}

/// `centralino users add NAME --role ROLE --data DATA`, the password on standard input.
fn add_user(data: &Path, name: &str, role: &str) {
    let mut child = command(&["users", "add", name, "--role", role, "--data"])
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(format!("{name}-password\n").as_bytes());
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

/// A logged-in console user: the port, the session cookie line and the CSRF token.
struct Staff {
    port: u16,
    cookie: String,
    csrf: String,
}

impl Staff {
    fn log_in(port: u16, name: &str) -> Staff {
        let page = request(port, "GET", "/login", &[], "");
        let login_cookie = page.cookie("centralino_login").expect("a login cookie");
        let password = format!("{name}-password");
        let reply = request(
            port,
            "POST",
            "/login",
            &[
                format!("Cookie: centralino_login={login_cookie}"),
                format!("Origin: http://127.0.0.1:{port}"),
            ],
            &form(&[
                ("name", name),
                ("password", &password),
                ("csrf", &field(&page.body, "csrf")),
            ]),
        );
        assert_eq!(reply.status, 303, "login of {name}: {}", reply.body);
        let session = reply.cookie("centralino_session").unwrap();
        let cookie = format!("Cookie: centralino_session={session}");
        let home = request(port, "GET", "/", std::slice::from_ref(&cookie), "");
        assert_eq!(home.status, 200);
        Staff {
            port,
            cookie,
            csrf: field(&home.body, "csrf"),
        }
    }

    fn get(&self, target: &str) -> Reply {
        request(
            self.port,
            "GET",
            target,
            std::slice::from_ref(&self.cookie),
            "",
        )
    }

    /// The page in English (the language cookie beside the session's).
    fn get_english(&self, target: &str) -> Reply {
        let cookies = format!("{}; centralino_lang=en", self.cookie);
        request(self.port, "GET", target, &[cookies], "")
    }

    /// A form post with the session's CSRF token, from the console's own origin.
    fn post(&self, target: &str, pairs: &[(&str, &str)]) -> Reply {
        self.post_with(target, pairs, &[])
    }

    fn post_with(&self, target: &str, pairs: &[(&str, &str)], extra: &[String]) -> Reply {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(pairs);
        let mut headers = vec![
            self.cookie.clone(),
            format!("Origin: http://127.0.0.1:{}", self.port),
        ];
        headers.extend_from_slice(extra);
        request(self.port, "POST", target, &headers, &form(&all))
    }
}

/// `serve` on a copy of examples/office's flows, with a flow editor `ed`, a supervisor `sue`
/// and an operator `otto`; the copy's folder.
fn serve_office() -> (Server, tempfile::TempDir) {
    let flows = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("examples/office/flows/office.flow"),
        flows.path().join("office.flow"),
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    add_user(data.path(), "ed", "flow-editor");
    add_user(data.path(), "sue", "supervisor");
    add_user(data.path(), "otto", "operator");
    let server = Server::start_with_data(flows.path(), data, &[]);
    server.wait_for("watching the flows", Duration::from_secs(30));
    (server, flows)
}

fn current_version(server: &Server) -> String {
    server.control(&["status"])["status"]["current"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The 1-based line of the first `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    let at = text.find(needle).unwrap();
    text[..at].matches('\n').count() + 1
}

const WELCOME: &str = "Ufficio di prova.";
const NEW_WELCOME: &str = "Ufficio di prova rinnovato.";

#[test]
fn a_flow_editor_checks_publishes_and_rolls_back_from_the_console() {
    let (mut server, flows) = serve_office();
    let file: PathBuf = flows.path().join("office.flow");
    let saved = std::fs::read_to_string(&file).unwrap();
    let v1 = current_version(&server);
    let ed = Staff::log_in(server.http_port, "ed");

    // The versions page: the version serving, the files, the graph.
    let page = ed.get("/flows");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Versioni conservate"), "{}", page.body);
    let short_v1: String = v1.trim_start_matches("sha256:").chars().take(12).collect();
    assert!(page.body.contains(&short_v1), "{}", page.body);
    assert!(
        page.body.contains("/flows/edit?file=office.flow"),
        "{}",
        page.body
    );

    // The editor opens the saved text with its hash; the saved text has no problem.
    let editor = ed.get("/flows/edit?file=office.flow");
    assert_eq!(editor.status, 200, "{}", editor.body);
    assert!(editor.body.contains("<textarea"), "{}", editor.body);
    let hash = field(&editor.body, "hash");
    assert_eq!(hash.len(), 64);
    let clean = ed.post_with(
        "/flows/check",
        &[("file", "office.flow"), ("text", &saved)],
        &["x-fragment: 1".into()],
    );
    assert_eq!(clean.status, 200, "{}", clean.body);
    assert!(clean.body.contains("Nessun problema."), "{}", clean.body);
    assert!(
        !clean.body.contains("class=\"diagnostic "),
        "{}",
        clean.body
    );

    // A broken text: an unknown state, reported at its line with its help, in Italian...
    let broken = saved.replacen("5 -> prenota", "5 -> prenotaz", 1);
    let broken_line = line_of(&broken, "5 -> prenotaz");
    let checked = ed.post_with(
        "/flows/check",
        &[("file", "office.flow"), ("text", &broken)],
        &["x-fragment: 1".into()],
    );
    assert_eq!(checked.status, 200, "{}", checked.body);
    assert!(
        checked
            .body
            .contains(&format!("data-line=\"{broken_line}\"")),
        "line {broken_line} in {}",
        checked.body
    );
    assert!(checked.body.contains("errore["), "{}", checked.body);
    assert!(
        checked.body.contains(">1 errore, 0 avvisi</p>"),
        "{}",
        checked.body
    );
    assert!(checked.body.contains("prenotaz"), "{}", checked.body);
    assert!(checked.body.contains("class=\"help\""), "{}", checked.body);
    // ... and in English for an English page; a browser's CRLF lines count the same.
    let cookies = format!("{}; centralino_lang=en", ed.cookie);
    let english = request(
        ed.port,
        "POST",
        "/flows/check",
        &[cookies, format!("Origin: http://127.0.0.1:{}", ed.port)],
        &form(&[
            ("csrf", &ed.csrf),
            ("file", "office.flow"),
            ("text", &broken.replace('\n', "\r\n")),
        ]),
    );
    assert_eq!(english.status, 200, "{}", english.body);
    assert!(english.body.contains("error["), "{}", english.body);
    assert!(
        english.body.contains(">1 error, 0 warnings</p>"),
        "{}",
        english.body
    );
    assert!(
        english.body.contains(&format!("line {broken_line}:")),
        "{}",
        english.body
    );

    // Publishing the broken text is refused with its diagnostics; nothing changes.
    let refused = ed.post(
        "/flows/publish",
        &[("file", "office.flow"), ("text", &broken), ("hash", &hash)],
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("Non pubblicata"), "{}", refused.body);
    assert!(
        refused
            .body
            .contains(&format!("data-line=\"{broken_line}\"")),
        "{}",
        refused.body
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), saved);
    assert_eq!(current_version(&server), v1);

    // The simulator in the page hears the edited text (nothing stored for real).
    let edited = saved.replacen(WELCOME, NEW_WELCOME, 1);
    let simulated = ed.post(
        "/flows/simulate",
        &[
            ("file", "office.flow"),
            ("text", &edited),
            ("hash", &hash),
            ("number", "100"),
            ("keys", "4"),
        ],
    );
    assert_eq!(simulated.status, 200, "{}", simulated.body);
    assert!(simulated.body.contains(NEW_WELCOME), "{}", simulated.body);
    assert!(
        simulated.body.contains("il chiamante preme 4"),
        "{}",
        simulated.body
    );
    assert!(
        simulated
            .body
            .contains("richiamata RC-2026-000001 per prova registrata")
            || simulated.body.contains("per prova registrata"),
        "{}",
        simulated.body
    );

    // A good change, larger than an ordinary form (a 20 KiB comment): published.
    let good = format!("{edited}\n// {}\n", "nota ".repeat(4000));
    let published = ed.post(
        "/flows/publish",
        &[("file", "office.flow"), ("text", &good), ("hash", &hash)],
    );
    assert_eq!(published.status, 200, "{}", published.body);
    assert!(published.body.contains("Pubblicata"), "{}", published.body);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), good);
    let v2 = current_version(&server);
    assert_ne!(v2, v1);
    let hash2 = field(&published.body, "hash");
    assert_ne!(hash2, hash);

    // A new call hears the change (its transcript in the call log).
    if have_sipp() {
        let call = server.sipp("hangup_mid_prompt.xml", "100");
        assert!(call.status.success(), "{}", stderr(&call));
        let data = server.data.path().to_owned();
        let start = Instant::now();
        let logged = loop {
            let out = centralino(&["calls", "list", "--json", "--data", path(&data)]);
            assert_eq!(code(&out), 0, "{}", stderr(&out));
            let calls: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
            if let Some(call) = calls.first() {
                break call.clone();
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        assert_eq!(logged["graph_version"], v2.as_str());
        let id = logged["call_id"].as_str().unwrap();
        let shown = centralino(&["calls", "show", id, "--data", path(&data)]);
        assert!(stdout(&shown).contains(NEW_WELCOME), "{}", stdout(&shown));
    }

    // The record and the versions page say who published what.
    let page = ed.get("/flows");
    let short_v2: String = v2.trim_start_matches("sha256:").chars().take(12).collect();
    assert!(page.body.contains(&short_v2), "{}", page.body);
    let record = page
        .body
        .split("id=\"record\"")
        .nth(1)
        .expect("a record table");
    assert!(record.contains("pubblicata"), "{record}");
    assert!(record.contains("<td>ed</td>"), "{record}");
    assert!(record.contains("office.flow"), "{record}");
    assert!(record.contains("rifiutata: errori"), "{record}");

    // The graph of the old version is kept; rollback puts it back.
    let old_graph = ed.get(&format!(
        "/flows/versions/{}/graph.svg",
        v1.trim_start_matches("sha256:")
    ));
    assert_eq!(old_graph.status, 200);
    assert!(old_graph.body.contains(">menu<"), "{}", old_graph.body);
    let rolled = ed.post("/flows/rollback", &[("version", &v1)]);
    assert_eq!(rolled.status, 303, "{}", rolled.body);
    assert_eq!(current_version(&server), v1);
    let page = ed.get("/flows");
    assert!(page.body.contains("ripristinata"), "{}", page.body);

    // Someone else saves the file after it was opened: publishing over it is refused.
    let theirs = good.replacen(NEW_WELCOME, "Ufficio di prova, modificato altrove.", 1);
    std::fs::write(&file, &theirs).unwrap();
    let conflict = ed.post(
        "/flows/publish",
        &[("file", "office.flow"), ("text", &edited), ("hash", &hash2)],
    );
    assert_eq!(conflict.status, 409, "{}", conflict.body);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), theirs);

    // The record is kept across a restart.
    server.stop();
    let data = std::mem::replace(&mut server.data, tempfile::tempdir().unwrap());
    let server = Server::start_with_data(flows.path(), data, &[]);
    let ed = Staff::log_in(server.http_port, "ed");
    let page = ed.get("/flows");
    let record = page
        .body
        .split("id=\"record\"")
        .nth(1)
        .expect("a record table");
    for outcome in [
        "pubblicata",
        "rifiutata: errori",
        "ripristinata",
        "il file era cambiato",
    ] {
        assert!(record.contains(outcome), "{outcome} in {record}");
    }
    let english = ed.get_english("/flows");
    assert!(english.body.contains("Kept versions"), "{}", english.body);
}

#[test]
fn the_graph_is_a_picture_of_the_states_without_script() {
    let (server, flows) = serve_office();
    // A state whose text tries to be markup.
    let file = flows.path().join("office.flow");
    let text = std::fs::read_to_string(&file).unwrap().replacen(
        "\"Arrivederci.\"",
        "\"Arrivederci. <script>alert(1)</script>\"",
        1,
    );
    let v1 = current_version(&server);
    std::fs::write(&file, &text).unwrap();
    let start = Instant::now();
    while current_version(&server) == v1 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let sue = Staff::log_in(server.http_port, "sue");
    let graph = sue.get("/flows/graph.svg");
    assert_eq!(graph.status, 200, "{}", graph.body);
    assert_eq!(
        graph.header("content-type"),
        Some("image/svg+xml; charset=utf-8")
    );
    assert!(
        graph
            .header("content-security-policy")
            .is_some_and(|csp| csp.contains("default-src 'none'")),
        "{}",
        graph.head
    );
    assert!(graph.body.contains("<svg"), "{}", graph.body);
    for state in ["menu", "passa", "coda", "prenota", "saluti"] {
        assert!(graph.body.contains(&format!(">{state}<")), "{state}");
    }
    assert!(
        !graph.body.to_lowercase().contains("<script"),
        "{}",
        graph.body
    );
    assert!(graph.body.contains("&lt;script&gt;"), "{}", graph.body);

    // The edited version's graph (editors only).
    let ed = Staff::log_in(server.http_port, "ed");
    let edited = text
        .replacen("saluti:", "congedo:", 1)
        .replace("-> saluti", "-> congedo");
    let picture = ed.post(
        "/flows/graph",
        &[("file", "office.flow"), ("text", &edited)],
    );
    assert_eq!(picture.status, 200, "{}", picture.body);
    assert!(picture.body.contains(">congedo<"), "{}", picture.body);
    assert_eq!(
        sue.post(
            "/flows/graph",
            &[("file", "office.flow"), ("text", &edited)]
        )
        .status,
        403
    );
}

#[test]
fn paths_roles_and_forms_without_their_token_are_refused() {
    let (server, flows) = serve_office();
    let port = server.http_port;
    let v1 = current_version(&server);
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.flow");
    std::fs::write(&secret, "// not a flow of this deployment\n").unwrap();

    let ed = Staff::log_in(port, "ed");
    let saved = std::fs::read_to_string(flows.path().join("office.flow")).unwrap();
    let hash = field(&ed.get("/flows/edit?file=office.flow").body, "hash");
    let secret_name = secret.to_str().unwrap().to_owned();
    for name in [
        "../office.flow",
        "..%2Foffice.flow",
        "%2Fetc%2Fpasswd",
        &secret_name,
        "sub/../../x.flow",
        ".hidden.flow",
    ] {
        let reply = ed.get(&format!("/flows/edit?file={name}"));
        assert_eq!(reply.status, 403, "open {name}: {}", reply.body);
    }
    for name in ["../office.flow", secret_name.as_str(), "/etc/passwd"] {
        let reply = ed.post(
            "/flows/publish",
            &[("file", name), ("text", &saved), ("hash", &hash)],
        );
        assert_eq!(reply.status, 403, "publish {name}: {}", reply.body);
        let reply = ed.post("/flows/check", &[("file", name), ("text", &saved)]);
        assert_eq!(reply.status, 403, "check {name}: {}", reply.body);
    }
    let missing = ed.get("/flows/edit?file=nuovo.flow");
    assert_eq!(missing.status, 404);
    assert!(
        missing.body.contains("`nuovo.flow` non esiste"),
        "{}",
        missing.body
    );
    // The simulator's refusals, in the page's language.
    let bad_keys = ed.post(
        "/flows/simulate",
        &[
            ("file", "office.flow"),
            ("text", &saved),
            ("number", "100"),
            ("keys", "1 x"),
        ],
    );
    assert_eq!(bad_keys.status, 422);
    assert!(
        bad_keys.body.contains("Tasti non validi"),
        "{}",
        bad_keys.body
    );
    let no_flow = ed.post(
        "/flows/simulate",
        &[
            ("file", "office.flow"),
            ("text", &saved),
            ("number", "999"),
            ("keys", "1"),
        ],
    );
    assert_eq!(no_flow.status, 422);
    assert!(
        no_flow
            .body
            .contains("Nessun flusso risponde al numero 999."),
        "{}",
        no_flow.body
    );
    // A symlink in the flows folder to a file outside it is not opened, listed or written.
    std::os::unix::fs::symlink(&secret, flows.path().join("link.flow")).unwrap();
    assert_eq!(ed.get("/flows/edit?file=link.flow").status, 403);
    assert!(!ed.get("/flows").body.contains("link.flow"));
    let reply = ed.post(
        "/flows/publish",
        &[
            ("file", "link.flow"),
            ("text", "flow x answers \"1\" { a: say \"x\" -> hangup }"),
            ("hash", &hash),
        ],
    );
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(
        std::fs::read_to_string(&secret).unwrap(),
        "// not a flow of this deployment\n"
    );
    std::fs::remove_file(flows.path().join("link.flow")).unwrap();
    // The watcher's reloads of the link's coming and going settle on the first version.
    let start = Instant::now();
    while current_version(&server) != v1 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Roles: supervisors look, operators do not; only flow editors change.
    let sue = Staff::log_in(port, "sue");
    let otto = Staff::log_in(port, "otto");
    assert_eq!(sue.get("/flows").status, 200);
    assert!(!sue.get("/flows").body.contains("/flows/edit"));
    assert!(!sue.get("/flows").body.contains("/flows/rollback"));
    assert_eq!(sue.get("/flows/graph.svg").status, 200);
    assert_eq!(sue.get("/flows/edit?file=office.flow").status, 403);
    assert_eq!(otto.get("/flows").status, 403);
    assert_eq!(otto.get("/flows/graph.svg").status, 403);
    assert!(!otto.get("/").body.contains("href=\"/flows\""));
    let change = saved.replacen(WELCOME, NEW_WELCOME, 1);
    for staff in [&otto, &sue] {
        for (target, pairs) in [
            (
                "/flows/publish",
                vec![
                    ("file", "office.flow"),
                    ("text", change.as_str()),
                    ("hash", hash.as_str()),
                ],
            ),
            ("/flows/rollback", vec![("version", v1.as_str())]),
            (
                "/flows/check",
                vec![("file", "office.flow"), ("text", change.as_str())],
            ),
            (
                "/flows/simulate",
                vec![
                    ("file", "office.flow"),
                    ("text", change.as_str()),
                    ("number", "100"),
                ],
            ),
        ] {
            assert_eq!(staff.post(target, &pairs).status, 403, "{target}");
        }
    }
    assert_eq!(
        std::fs::read_to_string(flows.path().join("office.flow")).unwrap(),
        saved
    );

    // Every post of the flows pages: without login 401, without the token or from another
    // site 403 (the editor's posts too, which a supervisor's crawl does not reach).
    let posts = [
        "/flows/rollback",
        "/flows/check",
        "/flows/graph",
        "/flows/simulate",
        "/flows/tests",
        "/flows/publish",
    ];
    let body = form(&[
        ("file", "office.flow"),
        ("text", &change),
        ("hash", &hash),
        ("version", &v1),
    ]);
    for target in posts {
        assert_eq!(
            request(port, "POST", target, &[], &body).status,
            401,
            "{target}"
        );
        let no_token = request(
            port,
            "POST",
            target,
            &[
                ed.cookie.clone(),
                format!("Origin: http://127.0.0.1:{port}"),
            ],
            &body,
        );
        assert_eq!(no_token.status, 403, "{target} without its token");
        let elsewhere = request(
            port,
            "POST",
            target,
            &[ed.cookie.clone(), "Origin: https://evil.example".into()],
            &format!("csrf={}&{body}", ed.csrf),
        );
        assert_eq!(elsewhere.status, 403, "{target} from another site");
    }
    for target in [
        "/flows",
        "/flows/graph.svg",
        "/flows/edit?file=office.flow",
        &format!(
            "/flows/versions/{}/graph.svg",
            v1.trim_start_matches("sha256:")
        ),
    ] {
        assert_eq!(
            request(port, "GET", target, &[], "").status,
            401,
            "{target}"
        );
    }
    assert_eq!(current_version(&server), v1);
    assert_eq!(
        std::fs::read_to_string(flows.path().join("office.flow")).unwrap(),
        saved
    );
}

#[test]
fn the_flow_tests_run_in_the_editor_against_the_edited_text() {
    let (server, flows) = serve_office();
    std::fs::create_dir(flows.path().join("tests")).unwrap();
    std::fs::write(
        flows.path().join("tests/menu.test"),
        "scenario \"il menu si presenta\" {\n  call \"100\"\n  expect say \"Ufficio di prova.\"\n  expect hangup\n}\n",
    )
    .unwrap();
    let ed = Staff::log_in(server.http_port, "ed");
    let saved = std::fs::read_to_string(flows.path().join("office.flow")).unwrap();
    let passing = ed.post("/flows/tests", &[("file", "office.flow"), ("text", &saved)]);
    assert_eq!(passing.status, 200, "{}", passing.body);
    let report = passing
        .body
        .split("id=\"tests-report\"")
        .nth(1)
        .expect("a report");
    assert!(report.contains("1 passed, 0 failed"), "{}", passing.body);
    assert!(passing.body.contains("Tutti i test sono superati."));

    // The edited welcome no longer says what the scenario expects: it fails, on the edit only.
    let edited = saved.replacen(WELCOME, "Buongiorno.", 1);
    let failing = ed.post(
        "/flows/tests",
        &[("file", "office.flow"), ("text", &edited)],
    );
    assert_eq!(failing.status, 200, "{}", failing.body);
    let report = failing
        .body
        .split("id=\"tests-report\"")
        .nth(1)
        .expect("a report");
    assert!(report.contains("0 passed, 1 failed"), "{}", failing.body);
    assert!(report.contains("il menu si presenta"), "{report}");
    assert!(!report.contains("centralino-flow-tests-"), "{report}");
    assert_eq!(
        std::fs::read_to_string(flows.path().join("office.flow")).unwrap(),
        saved
    );
    let sue = Staff::log_in(server.http_port, "sue");
    assert_eq!(
        sue.post("/flows/tests", &[("file", "office.flow"), ("text", &saved)])
            .status,
        403
    );
}
