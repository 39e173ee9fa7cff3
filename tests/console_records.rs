//! The console's record pages end to end: `serve` on a copy of examples/office, records put in
//! its store before it starts, staff logged in over HTTP. Tickets are filtered, assigned,
//! commented, closed (a second close is refused in the page) and their recorded description is
//! played; a callback is rescheduled, called now and closed; bookings are moved in the week
//! calendar (to a free slot; a full or never-offered slot is refused) and cancelled. Each change
//! is read back from the store (`centralino ... show --json`, through the running server) and
//! in the page. Every new form refuses a post without its CSRF token; roles that may not use a
//! page get 403.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use centralino_runtime::store::{
    NewBooking, NewCallback, NewTicket, Recording, Resource, SledStore, Slot, Store, StoreConfig,
};
use jiff::{SignedDuration, Timestamp};
use support::http::{Reply, csrf_field, form};
use support::{Server, code, command, root, stderr, stdout};

/// [`support::http::request`], the page's HTML escapes undone.
fn request(port: u16, method: &str, target: &str, headers: &[String], body: &str) -> Reply {
    let mut reply = support::http::request(port, method, target, headers, body);
    reply.body = unescaped(&reply.body);
    reply
}

/// A page's text with minijinja's HTML escapes undone, to compare with what a person reads.
fn unescaped(html: &str) -> String {
    html.replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A logged-in member of staff.
struct Staff {
    port: u16,
    cookie: String,
    csrf: String,
}

impl Staff {
    fn log_in(port: u16, name: &str) -> Staff {
        let page = request(port, "GET", "/login", &[], "");
        let login = page.cookie("centralino_login").expect("a login cookie");
        let reply = request(
            port,
            "POST",
            "/login",
            &[
                format!("Cookie: centralino_login={login}"),
                format!("Origin: http://127.0.0.1:{port}"),
            ],
            &form(&[
                ("name", name),
                ("password", &format!("{name}-password")),
                ("csrf", &csrf_field(&page.body)),
            ]),
        );
        assert_eq!(reply.status, 303, "login of {name}: {}", reply.body);
        let cookie = format!(
            "centralino_session={}",
            reply.cookie("centralino_session").unwrap()
        );
        let home = request(port, "GET", "/", &[format!("Cookie: {cookie}")], "");
        assert_eq!(home.status, 200, "{}", home.body);
        Staff {
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
            &[format!("Cookie: {}", self.cookie)],
            "",
        )
    }

    /// A page that must be there (200), its body.
    fn page(&self, target: &str) -> String {
        let reply = self.get(target);
        assert_eq!(reply.status, 200, "GET {target}: {}", reply.body);
        reply.body
    }

    /// A form posted as the browser posts it (same origin, with the session's token).
    fn post(&self, target: &str, fields: &[(&str, &str)]) -> Reply {
        let mut pairs = vec![("csrf", self.csrf.as_str())];
        pairs.extend_from_slice(fields);
        request(
            self.port,
            "POST",
            target,
            &[
                format!("Cookie: {}", self.cookie),
                format!("Origin: http://127.0.0.1:{}", self.port),
            ],
            &form(&pairs),
        )
    }

    /// The same form without its CSRF token: must be refused.
    fn post_without_token(&self, target: &str, fields: &[(&str, &str)]) -> Reply {
        request(
            self.port,
            "POST",
            target,
            &[
                format!("Cookie: {}", self.cookie),
                format!("Origin: http://127.0.0.1:{}", self.port),
            ],
            &form(fields),
        )
    }
}

/// `centralino users add NAME --role ROLE` with password `NAME-password`.
fn add_account(data: &Path, name: &str, role: &str) {
    let mut child = command(&["users", "add", name, "--role", role, "--data"])
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{name}-password\n").as_bytes())
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

/// A copy of examples/office's flows.
fn office_flows() -> tempfile::TempDir {
    let flows = tempfile::tempdir().unwrap();
    let source = root().join("examples/office/flows/office.flow");
    std::fs::copy(&source, flows.path().join("office.flow")).unwrap();
    flows
}

/// `centralino KIND show REF --json` on the server's store (through the running server).
fn show(server: &Server, kind: &str, reference: &str) -> serde_json::Value {
    let out = command(&[kind, "show", reference, "--json", "--data"])
        .arg(server.data.path())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn new_ticket(category: &str, office: Option<&str>, created: &str, call_id: &str) -> NewTicket {
    NewTicket {
        category: category.into(),
        title: String::new(),
        office: office.map(Into::into),
        priority: "normale".into(),
        fields: BTreeMap::from([("via".into(), "Via dei Priori 12".into())]),
        caller: "+390755771234".into(),
        call_id: call_id.into(),
        created_at: at(created),
        due_at: Some(at(created) + SignedDuration::from_hours(48)),
    }
}

/// The recorded description's bytes (ASCII, so the test's HTTP reader takes them as text).
const WAV: &[u8] = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00@\x1f\x00\x00";

#[test]
fn tickets_and_callbacks_are_worked_from_the_console() {
    let data = tempfile::tempdir().unwrap();
    let now = Timestamp::now();
    let (pothole, litter, callback) = {
        let store = SledStore::open(data.path(), StoreConfig::default()).unwrap();
        let pothole = store
            .create_ticket(new_ticket(
                "buche",
                Some("prova"),
                "2026-12-01T10:00:00Z",
                "call-buca",
            ))
            .unwrap();
        let litter = store
            .create_ticket(new_ticket(
                "rifiuti",
                None,
                "2026-12-03T10:00:00Z",
                "call-rifiuti",
            ))
            .unwrap();
        std::fs::create_dir(data.path().join("recordings")).unwrap();
        std::fs::write(
            data.path().join("recordings/call-buca-descrizione.wav"),
            WAV,
        )
        .unwrap();
        store
            .save_recording(Recording {
                schema: 1,
                call_id: "call-buca".into(),
                variable: "descrizione".into(),
                path: "recordings/call-buca-descrizione.wav".into(),
                duration_ms: 4200,
                created_at: at("2026-12-01T10:00:00Z"),
            })
            .unwrap();
        // Asked for three days ago and never reached: late.
        let callback = store
            .create_callback(NewCallback {
                office: "prova".into(),
                number: "0755771234".into(),
                note: Some("certificato".into()),
                call_id: "call-richiamata".into(),
                created_at: now - SignedDuration::from_hours(72),
                window: None,
                ticket: None,
                category: None,
                citizen_first: false,
                language: None,
            })
            .unwrap();
        store.flush().unwrap();
        (pothole.reference, litter.reference, callback.reference)
    };
    add_account(data.path(), "marco", "operator");
    add_account(data.path(), "fede", "flow-editor");
    let flows = office_flows();
    let server = Server::start_with_data(flows.path(), data, &[]);
    let marco = Staff::log_in(server.http_port, "marco");

    // The list, its filters, newest first.
    let all = marco.page("/tickets");
    assert!(all.contains("Segnalazioni"), "{all}");
    let (first, second) = (all.find(&litter).unwrap(), all.find(&pothole).unwrap());
    assert!(first < second, "newest first");
    let potholes = marco.page("/tickets?category=buche&office=prova&status=open");
    assert!(potholes.contains(&pothole) && !potholes.contains(&litter));
    let later = marco.page("/tickets?from=2026-12-02&to=2026-12-31");
    assert!(later.contains(&litter) && !later.contains(&pothole));
    assert!(!marco.page("/tickets?status=closed").contains(&pothole));
    let bad = marco.page("/tickets?from=ieri");
    assert!(bad.contains("Una data del filtro non è valida"), "{bad}");
    assert!(bad.contains(&pothole), "a bad filter is ignored");

    // The ticket's page: fields, call, recorded description.
    let href = format!("/tickets/{pothole}");
    let page = marco.page(&href);
    assert!(page.contains("+390755771234"), "{page}");
    // The call's id, not a link: an operator may not read the call log (and it has no such
    // call).
    assert!(page.contains("<td id=\"call\">call-buca</td>"), "{page}");
    assert!(!page.contains("href=\"/calls/"), "{page}");
    assert!(page.contains("Via dei Priori 12"), "{page}");
    let src = format!("{href}/recordings/0");
    assert!(page.contains(&format!("<audio controls preload=\"none\" src=\"{src}\"")));
    let audio = marco.get(&src);
    assert_eq!(audio.status, 200);
    assert_eq!(audio.header("content-type"), Some("audio/wav"));
    assert_eq!(audio.body.as_bytes(), WAV);
    assert_eq!(marco.get(&format!("{href}/recordings/1")).status, 404);
    assert_eq!(
        marco.get(&format!("/tickets/{litter}/recordings/0")).status,
        404
    );
    assert_eq!(
        marco.get("/tickets/..%2Faccounts.toml/recordings/0").status,
        404
    );
    assert_eq!(marco.get("/tickets/PG-1999-000001").status, 404);

    // Worked: assigned, commented, closed; a second close is refused in the page.
    for (action, fields) in [
        ("assign", vec![("to", "201")]),
        ("comment", vec![("text", "Sopralluogo fissato per lunedì")]),
        ("close", vec![("note", "Buca chiusa")]),
    ] {
        let target = format!("{href}/{action}");
        assert_eq!(
            marco.post_without_token(&target, &fields).status,
            403,
            "{action} without its token"
        );
        let reply = marco.post(&target, &fields);
        assert_eq!(reply.status, 303, "{action}: {}", reply.body);
        // The test's reader gives the head in lower case.
        assert_eq!(reply.header("location"), Some(href.to_lowercase().as_str()));
    }
    let again = marco.post(&format!("{href}/close"), &[("note", "di nuovo")]);
    assert_eq!(again.status, 409);
    assert!(
        again.body.contains("La segnalazione è già chiusa."),
        "{}",
        again.body
    );
    let stored = show(&server, "tickets", &pothole);
    assert_eq!(stored["status"], "closed");
    assert_eq!(stored["work"]["assignee"], "201");
    let history = stored["work"]["history"].as_array().unwrap();
    let actions: Vec<&str> = history
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["assign", "comment", "close"]);
    assert!(history.iter().all(|e| e["by"] == "marco"));
    assert_eq!(history[2]["note"], "Buca chiusa");
    let page = marco.page(&href);
    assert!(page.contains("Sopralluogo fissato per lunedì") && page.contains("chiusa"));
    assert!(
        page.contains(&format!("action=\"{href}/reopen\"")),
        "{page}"
    );
    assert_eq!(
        marco
            .post_without_token(&format!("{href}/reopen"), &[])
            .status,
        403
    );
    assert_eq!(marco.post(&format!("{href}/reopen"), &[]).status, 303);
    assert_eq!(show(&server, "tickets", &pothole)["status"], "open");
    assert!(
        marco
            .page("/tickets?status=closed")
            .contains("Nessuna segnalazione")
    );

    // The callback: late in the list; rescheduled, called now, closed.
    let list = marco.page("/callbacks");
    assert!(
        list.contains(&callback) && list.contains("in ritardo"),
        "{list}"
    );
    let href = format!("/callbacks/{callback}");
    let page = marco.page(&href);
    assert!(page.contains("0755771234") && page.contains("Nessun tentativo."));
    for (action, fields) in [
        ("reschedule", vec![("at", "2030-01-15T10:30")]),
        ("call", vec![]),
        ("close", vec![("note", "richiamato")]),
    ] {
        assert_eq!(
            marco
                .post_without_token(&format!("{href}/{action}"), &fields)
                .status,
            403,
            "{action} without its token"
        );
    }
    let bad = marco.post(&format!("{href}/reschedule"), &[("at", "domani")]);
    assert_eq!(bad.status, 409);
    assert!(
        bad.body.contains("La data e l'ora non sono valide"),
        "{}",
        bad.body
    );
    let moved = marco.post(&format!("{href}/reschedule"), &[("at", "2030-01-15T10:30")]);
    assert_eq!(moved.status, 303, "{}", moved.body);
    let stored = show(&server, "callbacks", &callback);
    assert_eq!(stored["dialing"]["state"], "pending");
    assert_eq!(
        at(stored["dialing"]["next_attempt_at"].as_str().unwrap()),
        at("2030-01-15T09:30:00Z"),
        "10:30 in Rome"
    );
    assert!(marco.page(&href).contains("2030-01-15 10:30"));
    let before = Timestamp::now();
    assert_eq!(marco.post(&format!("{href}/call"), &[]).status, 303);
    let next = at(
        show(&server, "callbacks", &callback)["dialing"]["next_attempt_at"]
            .as_str()
            .unwrap(),
    );
    assert!(
        next >= before && next <= Timestamp::now(),
        "call now: {next}"
    );
    let closed = marco.post(
        &format!("{href}/close"),
        &[("note", "richiamato, tutto a posto")],
    );
    assert_eq!(closed.status, 303, "{}", closed.body);
    let stored = show(&server, "callbacks", &callback);
    assert_eq!(stored["status"], "closed");
    assert_eq!(stored["dialing"]["state"], "closed");
    assert_eq!(stored["dialing"]["by"], "marco");
    assert_eq!(stored["dialing"]["note"], "richiamato, tutto a posto");
    let again = marco.post(&format!("{href}/call"), &[]);
    assert_eq!(again.status, 409);
    assert!(
        again.body.contains("La richiamata è già chiusa."),
        "{}",
        again.body
    );
    assert!(!marco.page("/callbacks").contains("<strong class=\"late\">"));

    // Roles: an operator has no bookings; a flow editor works no tickets or callbacks.
    assert_eq!(marco.get("/bookings").status, 403);
    assert_eq!(marco.post("/bookings/10000001/cancel", &[]).status, 403);
    let fede = Staff::log_in(server.http_port, "fede");
    assert_eq!(fede.get("/tickets").status, 403);
    assert_eq!(
        fede.post(&format!("/tickets/{litter}/close"), &[]).status,
        403
    );
    assert_eq!(fede.get("/callbacks").status, 403);
    assert_eq!(show(&server, "tickets", &litter)["status"], "open");
    let home = fede.page("/");
    assert!(!home.contains("href=\"/tickets\""), "{home}");

    // In English.
    let english = request(
        server.http_port,
        "GET",
        "/tickets",
        &[format!("Cookie: {}; centralino_lang=en", marco.cookie)],
        "",
    );
    assert!(
        english.body.contains("<h2>Tickets</h2>"),
        "{}",
        english.body
    );
}

/// The Monday of `date`'s week.
fn monday_of(date: jiff::civil::Date) -> jiff::civil::Date {
    let back = i64::from(date.weekday().to_monday_zero_offset());
    date.checked_sub(SignedDuration::from_hours(24 * back))
        .unwrap()
}

/// The first bookable slots of the service `prova` for a call now, as the server offers them.
fn bookable(now: Timestamp) -> Vec<Slot> {
    let mut sources = centralino_compiler::Sources::new();
    let path = root().join("examples/office/flows/office.flow");
    sources.add("office.flow", std::fs::read_to_string(&path).unwrap());
    let graph = centralino_compiler::compile(&sources).graph.unwrap();
    let service = graph.services.get("prova").unwrap();
    let calendar = graph
        .calendars
        .get(service.hours.as_deref().unwrap())
        .unwrap();
    let from = now.checked_add(SignedDuration::from_hours(24)).unwrap();
    centralino_runtime::calendar::slots(calendar, service.slots, from, 28)
}

#[test]
fn bookings_are_moved_and_cancelled_in_the_week_calendar() {
    let data = tempfile::tempdir().unwrap();
    let slots = bookable(Timestamp::now());
    assert!(slots.len() > 3);
    let book = |store: &SledStore, slot: Slot, caller: &str| {
        store
            .book(NewBooking {
                resource: Resource::Service("prova".into()),
                candidates: vec![slot],
                capacity: 1,
                caller: caller.into(),
                call_id: format!("call-{caller}"),
                created_at: Timestamp::now(),
            })
            .unwrap()
            .unwrap()
            .reference
    };
    let (first, second) = {
        let store = SledStore::open(data.path(), StoreConfig::default()).unwrap();
        let first = book(&store, slots[0], "0755770001");
        let second = book(&store, slots[1], "0755770002");
        store.flush().unwrap();
        (first, second)
    };
    add_account(data.path(), "olga", "office-staff");
    let flows = office_flows();
    let server = Server::start_with_data(flows.path(), data, &[]);
    let olga = Staff::log_in(server.http_port, "olga");

    let rome = jiff::tz::TimeZone::get("Europe/Rome").unwrap();
    let day = slots[0].start.to_zoned_datetime(rome.clone()).date();
    let week = format!("/bookings?resource=service%2Fprova&week={day}");
    let page = olga.page(&week);
    assert!(page.contains("Appuntamento di prova"), "{page}");
    assert!(
        page.contains(&format!("<span class=\"booked-ref\">{first}</span>")),
        "{page}"
    );
    assert!(page.contains("id=\"calendar\""));
    assert!(
        page.contains(&format!("<th>lun {}</th>", monday_of(day))),
        "{page}"
    );
    let label = |slot: &Slot| {
        slot.start
            .to_zoned_datetime(rome.clone())
            .strftime("%Y-%m-%d %H:%M")
            .to_string()
    };
    // The free slots to move to are offered as the phone offers them: not the booked ones.
    let third = slots[2];
    assert!(page.contains(&format!(
        "<option value=\"{}\">{}</option>",
        third.start,
        label(&third)
    )));
    assert!(
        !page.contains(&format!("<option value=\"{}\">", slots[1].start)),
        "{page}"
    );

    let move_first = format!("/bookings/{first}/move");
    let cancel_second = format!("/bookings/{second}/cancel");
    let third_start = third.start.to_string();
    assert_eq!(
        olga.post_without_token(&move_first, &[("slot", &third_start)])
            .status,
        403
    );
    assert_eq!(olga.post_without_token(&cancel_second, &[]).status, 403);

    let moved = olga.post(&move_first, &[("slot", &third_start)]);
    assert_eq!(moved.status, 303, "{}", moved.body);
    let stored = show(&server, "appointments", &first);
    assert_eq!(at(stored["slot"]["start"].as_str().unwrap()), third.start);
    assert_eq!(stored["status"], "open");

    // The third slot is now full (capacity 1); 03:00 is never offered.
    let full = olga.post(
        &format!("/bookings/{second}/move"),
        &[("slot", &third_start)],
    );
    assert_eq!(full.status, 409);
    assert!(
        full.body.contains("L'orario scelto è pieno"),
        "{}",
        full.body
    );
    let night = slots[1].start.to_zoned_datetime(rome.clone()).date();
    let night = night
        .at(3, 0, 0, 0)
        .to_zoned_datetime(rome.clone())
        .unwrap()
        .timestamp()
        .to_string();
    let never = olga.post(&format!("/bookings/{second}/move"), &[("slot", &night)]);
    assert_eq!(never.status, 409);
    assert!(
        never.body.contains("non è tra quelli prenotabili"),
        "{}",
        never.body
    );
    assert_eq!(
        at(show(&server, "appointments", &second)["slot"]["start"]
            .as_str()
            .unwrap()),
        slots[1].start
    );

    let cancelled = olga.post(&cancel_second, &[]);
    assert_eq!(cancelled.status, 303, "{}", cancelled.body);
    assert_eq!(
        show(&server, "appointments", &second)["status"],
        "cancelled"
    );
    let again = olga.post(&cancel_second, &[]);
    assert_eq!(again.status, 409);
    assert!(
        again
            .body
            .contains("Nessun appuntamento aperto ha questo codice.")
    );

    // The week now shows the first booking at the third slot, the second one gone.
    let day = third.start.to_zoned_datetime(rome.clone()).date();
    let page = olga.page(&format!("/bookings?resource=service%2Fprova&week={day}"));
    assert!(page.contains(&format!("<span class=\"booked-ref\">{first}</span>")));
    assert!(!page.contains(&second), "{page}");
    assert!(page.contains(&label(&third)));
}

/// `centralino ARGS --data DATA` as Unix user `tester`.
fn as_tester(data: &Path, args: &[&str]) -> std::process::Output {
    command(args)
        .arg("--data")
        .arg(data)
        .env("USER", "tester")
        .output()
        .unwrap()
}

#[test]
fn tickets_are_worked_from_the_command_line_with_its_history() {
    let data = tempfile::tempdir().unwrap();
    let reference = {
        let store = SledStore::open(data.path(), StoreConfig::default()).unwrap();
        let ticket = store
            .create_ticket(new_ticket(
                "buche",
                Some("prova"),
                "2026-12-01T10:00:00Z",
                "call-buca",
            ))
            .unwrap();
        store.flush().unwrap();
        ticket.reference
    };
    // With no server: the store itself.
    let assigned = as_tester(data.path(), &["tickets", "assign", &reference, "201"]);
    assert_eq!(code(&assigned), 0, "{}", stderr(&assigned));
    assert!(
        stdout(&assigned).contains("assigned to  201"),
        "{}",
        stdout(&assigned)
    );
    let commented = as_tester(
        data.path(),
        &["tickets", "comment", &reference, "chiamato il cittadino"],
    );
    assert_eq!(code(&commented), 0, "{}", stderr(&commented));
    let empty = as_tester(data.path(), &["tickets", "comment", &reference, "  "]);
    assert_ne!(code(&empty), 0);
    let wrong_kind = as_tester(
        data.path(),
        &["callbacks", "comment", "RC-2026-000001", "x"],
    );
    assert_ne!(code(&wrong_kind), 0);
    assert!(
        stderr(&wrong_kind).contains("tickets comment REF"),
        "{}",
        stderr(&wrong_kind)
    );

    // With the server holding the store: through its control socket.
    add_account(data.path(), "anna", "supervisor");
    let flows = office_flows();
    let server = Server::start_with_data(flows.path(), data, &[]);
    let data = server.data.path();
    let closed = as_tester(
        data,
        &["tickets", "close", &reference, "--note", "buca chiusa"],
    );
    assert_eq!(code(&closed), 0, "{}", stderr(&closed));
    let again = as_tester(data, &["tickets", "close", &reference]);
    assert_eq!(code(&again), 1);
    assert!(
        stderr(&again).contains("the ticket is already closed"),
        "{}",
        stderr(&again)
    );
    let missing = as_tester(data, &["tickets", "close", "PG-1999-000001"]);
    assert_eq!(code(&missing), 1);
    assert!(stderr(&missing).contains("no ticket has this reference"));

    let shown = as_tester(data, &["tickets", "show", &reference]);
    assert_eq!(code(&shown), 0, "{}", stderr(&shown));
    let text = stdout(&shown);
    for expected in [
        "status       closed",
        "assigned to  201",
        "by cli:tester: assigned to 201",
        "by cli:tester: comment chiamato il cittadino",
        "by cli:tester: closed buca chiusa",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    let stored = show(&server, "tickets", &reference);
    assert_eq!(stored["work"]["history"].as_array().unwrap().len(), 3);

    // The console shows the same history.
    let anna = Staff::log_in(server.http_port, "anna");
    let page = anna.page(&format!("/tickets/{reference}"));
    assert!(
        page.contains("cli:tester") && page.contains("chiamato il cittadino"),
        "{page}"
    );
}
