//! The console's people pages, end to end on a copy of examples/office: the presence board
//! follows a staff phone that registers (sipp), a person sets themselves away and back from
//! the page (the desk and `/metrics` follow), the address book lists the office's staff and an
//! external contact, and a call made by sipp is in the call log with its steps and replays
//! identical (and differs with changed flows); a caller waiting in the office's queue is on
//! the board. Forms without their CSRF token get 403; operators get 403 on the call log;
//! every route of these pages refuses a request without login.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::http::{Reply, csrf_field, form, request};
use support::{Server, code, command, have_sipp, root, stderr, stdout};

/// `centralino users ARGS --data DATA`, the password (if any) on standard input.
fn users(data: &Path, args: &[&str], password: Option<&str>) -> std::process::Output {
    let mut child = command(&["users"])
        .args(args)
        .arg("--data")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    if let Some(password) = password {
        let _ = stdin.write_all(format!("{password}\n").as_bytes());
    }
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// A logged-in person: their session cookie header and CSRF token.
struct Session {
    port: u16,
    cookie: String,
    csrf: String,
}

impl Session {
    fn log_in(port: u16, name: &str, password: &str) -> Session {
        let page = request(port, "GET", "/login", &[], "");
        let login_cookie = page.cookie("centralino_login").expect("a login cookie");
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
                ("password", password),
                ("csrf", &csrf_field(&page.body)),
            ]),
        );
        assert_eq!(reply.status, 303, "login of {name}: {}", reply.body);
        let cookie = format!(
            "Cookie: centralino_session={}",
            reply.cookie("centralino_session").unwrap()
        );
        let home = request(port, "GET", "/", std::slice::from_ref(&cookie), "");
        assert_eq!(home.status, 200, "{}", home.body);
        Session {
            port,
            csrf: csrf_field(&home.body),
            cookie,
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

    /// A form posted as the page would: with the session's token, from the same origin.
    fn post(&self, target: &str, pairs: &[(&str, &str)]) -> Reply {
        let mut pairs = pairs.to_vec();
        pairs.push(("csrf", &self.csrf));
        request(
            self.port,
            "POST",
            target,
            &[
                self.cookie.clone(),
                format!("Origin: http://127.0.0.1:{}", self.port),
            ],
            &form(&pairs),
        )
    }

    /// The page `target` once `done` holds for it (polled; generous under load).
    fn wait_page(&self, target: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let page = self.get(target);
            assert_eq!(page.status, 200, "{target}: {}", page.body);
            if done(&page.body) {
                return page.body;
            }
            assert!(
                Instant::now() < deadline,
                "{target} never showed {what}:\n{}",
                page.body
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

const CONTACTS: &str = "nome,numero,gruppo\nVigili urbani,+39 075 577 5375,Sicurezza\n";

/// `serve` on a copy of examples/office (free ports, its config plus an external contacts
/// file, its flows copied to DATA/flows), with accounts: `anna` (operator, extension 201), `bruno` (operator, no extension), `sara`
/// (supervisor); each password is `NAME-password`.
fn serve_office() -> Server {
    let data = tempfile::tempdir().unwrap();
    for (name, role, extension) in [
        ("anna", "operator", Some("201")),
        ("bruno", "operator", None),
        ("sara", "supervisor", None),
    ] {
        let mut args = vec!["add", name, "--role", role];
        if let Some(extension) = extension {
            args.extend(["--extension", extension]);
        }
        let added = users(data.path(), &args, Some(&format!("{name}-password")));
        assert_eq!(code(&added), 0, "{}", stderr(&added));
    }
    let contacts = data.path().join("contacts.csv");
    std::fs::write(&contacts, CONTACTS).unwrap();
    let example = root().join("examples/office");
    let flows = data.path().join("flows");
    std::fs::create_dir(&flows).unwrap();
    std::fs::copy(example.join("flows/office.flow"), flows.join("office.flow")).unwrap();
    let mut config = std::fs::read_to_string(example.join("centralino.toml")).unwrap();
    config.push_str(&format!(
        "\n[directory]\ncontacts = \"{}\"\n",
        contacts.display()
    ));
    let config_path = data.path().join("centralino.toml");
    std::fs::write(&config_path, config).unwrap();
    Server::start_with_data(&flows, data, &["--config", config_path.to_str().unwrap()])
}

/// The row of staff member `extension` on the presence board.
fn board_row<'p>(page: &'p str, extension: &str) -> &'p str {
    let start = page
        .find(&format!("<tr id=\"staff-{extension}\""))
        .unwrap_or_else(|| panic!("no row for {extension}:\n{page}"));
    let rest = &page[start..];
    &rest[..rest.find("</tr>").unwrap()]
}

fn status_of(page: &str, extension: &str) -> String {
    let row = board_row(page, extension);
    let start = row.find("data-status=\"").unwrap() + 13;
    row[start..].split('"').next().unwrap().to_string()
}

/// The value of metric line `series` in a scrape.
fn metric(port: u16, series: &str) -> Option<f64> {
    let scrape = request(port, "GET", "/metrics", &[], "").body;
    scrape.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.split(' ').next()?.parse().ok()
    })
}

#[test]
fn an_account_answers_on_an_extension_set_with_users() {
    let data = tempfile::tempdir().unwrap();
    let added = users(
        data.path(),
        &["add", "anna", "--role", "operator", "--extension", "201"],
        Some("anna-password"),
    );
    assert_eq!(code(&added), 0, "{}", stderr(&added));
    assert!(
        stdout(&added).contains("extension 201"),
        "{}",
        stdout(&added)
    );
    let added = users(
        data.path(),
        &["add", "bruno", "--role", "operator"],
        Some("bruno-password"),
    );
    assert_eq!(code(&added), 0, "{}", stderr(&added));
    let listed = users(data.path(), &["list"], None);
    assert_eq!(stdout(&listed), "anna\toperator\t201\nbruno\toperator\n");

    let set = users(data.path(), &["extension", "bruno", "202"], None);
    assert_eq!(code(&set), 0, "{}", stderr(&set));
    let bad = users(data.path(), &["extension", "bruno", "2 02"], None);
    assert_ne!(code(&bad), 0);
    assert!(
        stderr(&bad).contains("not a staff extension"),
        "{}",
        stderr(&bad)
    );
    let cleared = users(data.path(), &["extension", "anna"], None);
    assert_eq!(code(&cleared), 0, "{}", stderr(&cleared));
    let listed = users(data.path(), &["list"], None);
    assert_eq!(stdout(&listed), "anna\toperator\nbruno\toperator\t202\n");
    let missing = users(data.path(), &["extension", "carla", "203"], None);
    assert!(
        stderr(&missing).contains("no account `carla`"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn the_board_follows_a_phone_and_a_person_sets_away_and_back_from_the_page() {
    if !have_sipp() {
        return;
    }
    let server = serve_office();
    let port = server.http_port;
    let anna = Session::log_in(port, "anna", "anna-password");

    let page = anna.get("/presence");
    assert_eq!(page.status, 200, "{}", page.body);
    for extension in ["201", "202", "203"] {
        assert_eq!(status_of(&page.body, extension), "offline", "{extension}");
    }
    assert!(board_row(&page.body, "201").contains("Anna (201)"));
    assert!(
        page.body
            .contains("<tr id=\"queue-prova\" data-waiting=\"0\">")
    );
    assert!(page.body.contains("Mi assento"), "{}", page.body);
    // The board refreshes itself (the page fetches itself every few seconds).
    assert!(page.body.contains("getElementById(\"presence-live\")"));

    // 201's phone registers: the board shows it available, with the phone.
    let registered = support::sipp(
        server.port,
        "register_auth.xml",
        &[
            "-s", "201", "-au", "201", "-ap", "pw201", "-m", "1", "-l", "1",
        ],
        30,
    );
    assert!(registered.status.success(), "{}", server.log());
    let page = anna.wait_page("/presence", "201 available", |page| {
        status_of(page, "201") == "available"
    });
    assert!(
        board_row(&page, "201").contains("class=\"device\""),
        "{page}"
    );
    assert_eq!(status_of(&page, "202"), "offline");

    // Without the session's token the form is refused and nothing changes.
    let forged = request(
        port,
        "POST",
        "/presence",
        &[
            anna.cookie.clone(),
            format!("Origin: http://127.0.0.1:{port}"),
        ],
        &form(&[("away", "1")]),
    );
    assert_eq!(forged.status, 403);

    // Away from the page: the board, the desk (metrics) follow; then back.
    let away = anna.post("/presence", &[("away", "1")]);
    assert_eq!(away.status, 303, "{}", away.body);
    assert_eq!(away.header("location"), Some("/presence?done=away"));
    let page = anna.wait_page("/presence?done=away", "201 away", |page| {
        status_of(page, "201") == "away"
    });
    assert!(page.contains("Ora risulta assente"), "{page}");
    assert!(page.contains("Sono rientrato"), "{page}");
    server.wait_for("presence set from the console", Duration::from_secs(10));
    assert_eq!(metric(port, "centralino_staff{status=\"away\"}"), Some(1.0));
    assert_eq!(
        metric(port, "centralino_staff{status=\"available\"}"),
        Some(0.0)
    );
    let book = anna.wait_page("/addressbook?q=anna", "away in the book", |page| {
        page.contains("data-status=\"away\"")
    });
    assert!(book.contains("Assente"), "{book}");

    let back = anna.post("/presence", &[("away", "0")]);
    assert_eq!(back.status, 303, "{}", back.body);
    anna.wait_page("/presence", "201 available again", |page| {
        status_of(page, "201") == "available"
    });
    assert_eq!(
        metric(port, "centralino_staff{status=\"available\"}"),
        Some(1.0)
    );

    // Someone whose account has no extension is told how to get one; a bad value is refused.
    let bruno = Session::log_in(port, "bruno", "bruno-password");
    let refused = bruno.post("/presence", &[("away", "1")]);
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused.body.contains("centralino users extension"),
        "{}",
        refused.body
    );
    assert_eq!(anna.post("/presence", &[("away", "maybe")]).status, 400);
    assert_eq!(status_of(&anna.get("/presence").body, "201"), "available");
}

#[test]
fn a_caller_waiting_in_a_queue_is_on_the_board() {
    if !have_sipp() {
        return;
    }
    let server = serve_office();
    let bruno = Session::log_in(server.http_port, "bruno", "bruno-password");
    std::thread::scope(|scope| {
        // Key 2 of the office's menu: the queue of `prova`, where nobody is present.
        let waiting = scope.spawn(|| server.sipp("queue_wait.xml", "100"));
        let page = bruno.wait_page("/presence", "a caller in the queue", |page| {
            page.contains("<tr id=\"queue-prova\" data-waiting=\"1\">")
        });
        let start = page.find("<tr id=\"queue-prova\"").unwrap();
        let row = &page[start..start + page[start..].find("</tr>").unwrap()];
        assert!(row.contains("Posizione 1: In attesa da"), "{row}");
        assert!(row.contains("201: Non connesso"), "{row}");
        assert!(
            !row.contains("<td>—</td>"),
            "a longest wait is shown: {row}"
        );
        let waited = waiting.join().unwrap();
        assert!(waited.status.success(), "{}", server.log());
    });
    bruno.wait_page("/presence", "the queue empty again", |page| {
        page.contains("<tr id=\"queue-prova\" data-waiting=\"0\">")
    });
}

#[test]
fn the_address_book_lists_the_office_staff_and_contacts_and_searches() {
    let server = serve_office();
    let bruno = Session::log_in(server.http_port, "bruno", "bruno-password");
    let page = bruno.get("/addressbook");
    assert_eq!(page.status, 200, "{}", page.body);
    for name in [
        "Ufficio di prova",
        "Anna (201)",
        "Bruno (202)",
        "Carla (203)",
        "Vigili urbani",
    ] {
        assert!(page.body.contains(name), "{name}: {}", page.body);
    }
    assert!(page.body.contains("+390755775375"), "{}", page.body);
    assert!(page.body.contains("Contatto esterno"), "{}", page.body);
    // Staff show their presence (no phone registered: offline).
    assert_eq!(page.body.matches("data-status=\"offline\"").count(), 3);

    let found = bruno.get("/addressbook?q=vigili");
    assert!(found.body.contains("Vigili urbani"), "{}", found.body);
    assert!(!found.body.contains("Anna (201)"), "{}", found.body);
    let by_number = bruno.get("/addressbook?q=202");
    assert!(by_number.body.contains("Bruno (202)"), "{}", by_number.body);
    assert!(!by_number.body.contains("Carla"), "{}", by_number.body);
    let none = bruno.get("/addressbook?q=nessuno+cosi");
    assert!(none.body.contains("id=\"no-entries\""), "{}", none.body);
    let hostile = bruno.get("/addressbook?q=%ZZ");
    assert_eq!(hostile.status, 400);
    assert!(
        hostile.body.contains("La ricerca non è valida"),
        "{}",
        hostile.body
    );
    // In English when asked.
    let english = request(
        server.http_port,
        "GET",
        "/addressbook",
        &[format!("{}; centralino_lang=en", bruno.cookie)],
        "",
    );
    assert!(
        english.body.contains("External contact"),
        "{}",
        english.body
    );
}

#[test]
fn a_call_is_in_the_log_with_its_steps_and_replays_identical() {
    if !have_sipp() {
        return;
    }
    let server = serve_office();
    let port = server.http_port;
    let sara = Session::log_in(port, "sara", "sara-password");
    let empty = sara.get("/calls");
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert!(empty.body.contains("id=\"no-calls\""), "{}", empty.body);

    // A citizen calls 100, hears the menu for 5 s and hangs up.
    let held = server.sipp("hold_call.xml", "100");
    assert!(held.status.success(), "{}", server.log());
    let list = sara.wait_page("/calls", "the call", |page| {
        page.contains("<table id=\"calls\">")
    });
    assert!(list.contains("3331234567"), "{list}");
    assert!(list.contains("<td>ufficio</td>"), "{list}");
    let start = list.find("<a href=\"/calls/").unwrap() + 9;
    let link = list[start..].split('"').next().unwrap().to_string();

    // Filters: today's calls include it; another caller or day does not.
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::get("Europe/Rome").unwrap())
        .date()
        .to_string();
    let filtered = sara.get(&format!("/calls?from={today}&to={today}&caller=3331"));
    assert!(filtered.body.contains(&link), "{}", filtered.body);
    let other = sara.get("/calls?caller=0000");
    assert!(other.body.contains("id=\"no-calls\""), "{}", other.body);
    let old = sara.get("/calls?to=2020-01-01");
    assert!(old.body.contains("id=\"no-calls\""), "{}", old.body);
    assert_eq!(sara.get("/calls?from=ieri").status, 400);

    let call = sara.get(&link);
    assert_eq!(call.status, 200, "{}", call.body);
    assert!(call.body.contains("<table id=\"steps\">"), "{}", call.body);
    assert!(call.body.contains("ufficio.menu"), "{}", call.body);
    assert!(
        call.body.contains("<table id=\"transcript\">"),
        "{}",
        call.body
    );
    assert!(
        call.body.contains("Ufficio di prova. Per parlare"),
        "{}",
        call.body
    );

    let replay = sara.post(&format!("{link}/replay"), &[]);
    assert_eq!(replay.status, 200, "{}", replay.body);
    assert!(
        replay
            .body
            .contains("id=\"verdict-exact\" data-verdict=\"identical\""),
        "{}",
        replay.body
    );
    assert!(
        replay
            .body
            .contains("id=\"verdict-current\" data-verdict=\"identical\""),
        "{}",
        replay.body
    );
    assert!(replay.body.contains("identica"), "{}", replay.body);

    // The flows change (a greeting before the menu): the call replays identical on its own
    // version, and with the flows now it would go differently from its first step.
    let published = server.count("published");
    let flow = server.data.path().join("flows/office.flow");
    let text = std::fs::read_to_string(&flow).unwrap().replace(
        "  menu: menu \"Ufficio di prova.",
        "  benvenuto: say \"Benvenuti.\" -> menu\n  menu: menu \"Ufficio di prova.",
    );
    std::fs::write(&flow, text).unwrap();
    server.wait_for_times("published", published + 1, Duration::from_secs(30));
    let replay = sara.post(&format!("{link}/replay"), &[]);
    assert!(
        replay
            .body
            .contains("id=\"verdict-exact\" data-verdict=\"identical\""),
        "{}",
        replay.body
    );
    assert!(
        replay
            .body
            .contains("id=\"verdict-current\" data-verdict=\"differs\""),
        "{}",
        replay.body
    );
    assert!(replay.body.contains("dal passo 1"), "{}", replay.body);
    assert!(replay.body.contains("ufficio.benvenuto"), "{}", replay.body);
    assert!(replay.body.contains("«Benvenuti.»"), "{}", replay.body);

    // The replay is a form: without its token, 403.
    let forged = request(
        port,
        "POST",
        &format!("{link}/replay"),
        &[
            sara.cookie.clone(),
            format!("Origin: http://127.0.0.1:{port}"),
        ],
        "",
    );
    assert_eq!(forged.status, 403);
    assert_eq!(sara.get("/calls/no-such-call").status, 404);

    // Operators do not see the call log.
    let bruno = Session::log_in(port, "bruno", "bruno-password");
    assert!(!bruno.get("/").body.contains("href=\"/calls\""));
    assert_eq!(bruno.get("/calls").status, 403);
    assert_eq!(bruno.get(&link).status, 403);
    assert_eq!(bruno.post(&format!("{link}/replay"), &[]).status, 403);
}

#[test]
fn every_route_of_the_people_pages_refuses_strangers() {
    let server = serve_office();
    let port = server.http_port;
    for target in ["/presence", "/addressbook", "/calls", "/calls/x"] {
        assert_eq!(
            request(port, "GET", target, &[], "").status,
            401,
            "GET {target}"
        );
        let page = request(port, "GET", target, &["Accept: text/html".into()], "");
        assert_eq!(page.status, 303, "GET {target} from a browser");
    }
    for target in ["/presence", "/calls/x/replay"] {
        assert_eq!(
            request(port, "POST", target, &[], &form(&[("away", "1")])).status,
            401,
            "POST {target}"
        );
    }
    // Logged in, the live pages refresh themselves and the navigation leads to the new pages.
    let sara = Session::log_in(port, "sara", "sara-password");
    let home = sara.get("/");
    assert!(home.body.contains("getElementById(\"live-region\")"));
    for path in ["/presence", "/addressbook", "/calls"] {
        assert!(home.body.contains(&format!("href=\"{path}\"")), "{path}");
    }
}
