//! The reports page after real calls, end to end (issue 11, item 4): `centralino serve` on
//! examples/office (its flows and configuration), four sipp calls to 100, and a supervisor
//! reads from the page alone how many calls came (4), how many the flows served without a
//! person (1: key 4 asks for a callback and the flow says goodbye), which office did not answer
//! (`prova`, twice: key 1 asks for a transfer while nobody of it is present; later 201 is
//! registered (baresip) but lets it ring out), where the caller who hung up did so (the menu),
//! and which callbacks are late (the one just asked for, with a target of 0 hours). The CSV of
//! the offices says the same, and so does `centralino report`; an operator is refused the page
//! and the CSV.
//!
//! The numbers are read from the page's cells by their ids. Every wait is for a condition
//! (the report counting three calls), with generous limits; the server and sipp are stopped
//! by PID also when the test fails (support::Server, support::sipp).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::baresip::{Baresip, BaresipConfig, have_baresip};
use support::http::{csrf_field, request};
use support::{Server, code, command, have_sipp, root, stderr};

/// `centralino users add NAME --role ROLE --data DATA`, the password on standard input.
fn add_user(data: &Path, name: &str, role: &str, password: &str) {
    let mut child = command(&["users", "add", name, "--role", role, "--data"])
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(format!("{password}\n").as_bytes());
    drop(stdin);
    let added = child.wait_with_output().unwrap();
    assert_eq!(code(&added), 0, "{}", stderr(&added));
}

/// Log in; the `Cookie:` header line of the session.
fn log_in(port: u16, name: &str, password: &str) -> String {
    let page = request(port, "GET", "/login", &[], "");
    let login_cookie = page.cookie("centralino_login").expect("a login cookie");
    let body = format!(
        "name={name}&password={password}&csrf={}",
        csrf_field(&page.body)
    );
    let reply = request(
        port,
        "POST",
        "/login",
        &[
            format!("Cookie: centralino_login={login_cookie}"),
            format!("Origin: http://127.0.0.1:{port}"),
        ],
        &body,
    );
    assert_eq!(reply.status, 303, "login of {name}: {}", reply.body);
    let session = reply.cookie("centralino_session").expect("a session");
    format!("Cookie: centralino_session={session}")
}

/// The text of the element with id `id` (`<td id="ID">TEXT</td>`), if the page has it.
fn cell(page: &str, id: &str) -> Option<String> {
    let pattern = regex::Regex::new(&format!(r#"id="{}">([^<]*)<"#, regex::escape(id))).unwrap();
    pattern
        .captures(page)
        .map(|found| found[1].trim().to_string())
}

fn number(page: &str, id: &str) -> u64 {
    cell(page, id)
        .unwrap_or_else(|| panic!("no cell {id} in:\n{page}"))
        .parse()
        .unwrap_or_else(|_| panic!("cell {id} is not a number"))
}

#[test]
fn a_supervisor_reads_what_the_calls_did_from_the_reports_page() {
    if !have_sipp() || !have_baresip() {
        eprintln!("skipped: needs sipp and baresip");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    add_user(data.path(), "sara", "supervisor", "sara-password");
    add_user(data.path(), "otto", "operator", "otto-password");
    let example = root().join("examples/office");
    // The example without its trunk: the dialer would otherwise ring 201 for the callback of
    // the second call while the fourth call rings it (and find it busy), which this test is not
    // about (tests/dialer.rs is).
    let settings = std::fs::read_to_string(example.join("centralino.toml")).unwrap();
    let without_trunk = settings.replace("[trunk]", "[no_trunk_here]");
    let without_trunk: String = without_trunk
        .lines()
        .filter(|line| !line.starts_with("uri = \"sip:{number}"))
        .map(|line| format!("{line}\n"))
        .collect::<String>()
        .replace("[no_trunk_here]\n", "");
    assert!(!without_trunk.contains("{number}"), "{without_trunk}");
    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("centralino.toml");
    std::fs::write(&config, without_trunk).unwrap();
    let mut server = Server::start_with_data(
        &example.join("flows"),
        data,
        &["--config", config.to_str().unwrap()],
    );
    let port = server.http_port;

    // 1 asks for the office `prova`: nobody of it is present, the flow says so and hangs up.
    let transfer = server.sipp("dtmf_ticket.xml", "100");
    assert!(transfer.status.success(), "key 1:\n{}", server.log());
    // 4 asks for a callback: the flow takes it and hangs up.
    let callback = server.sipp("key4_wait_bye.xml", "100");
    assert!(callback.status.success(), "key 4:\n{}", server.log());
    // The third caller hangs up at the menu.
    let hung_up = server.sipp("hold_call.xml", "100");
    assert!(hung_up.status.success(), "hang-up:\n{}", server.log());
    // 201 registers and does not answer: key 1 rings it for the office's 8 s, then the flow
    // says nobody can answer and hangs up.
    let anna = Baresip::start(BaresipConfig::staff("201", "pw201", server.addr()).manual_answer());
    anna.wait_registered(Duration::from_secs(20));
    let rang_out = server.sipp("dtmf_ticket.xml", "100");
    assert!(rang_out.status.success(), "rang out:\n{}", server.log());
    drop(anna);

    let supervisor = log_in(port, "sara", "sara-password");
    let query = "/reports?preset=7d&target_h=0";
    let report = || {
        let reply = request(port, "GET", query, std::slice::from_ref(&supervisor), "");
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    };
    // The call log is written as each call ends: wait until the report has the four.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut page = report();
    while cell(&page, "glance-calls").as_deref() != Some("4") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        page = report();
    }

    // At a glance: calls, served by the flows, the office that did not answer, late callbacks.
    assert_eq!(number(&page, "glance-calls"), 4, "{page}");
    assert_eq!(number(&page, "glance-contained"), 1, "{page}");
    assert_eq!(
        cell(&page, "glance-contained-percent").as_deref(),
        Some("25")
    );
    assert_eq!(number(&page, "glance-put-through"), 0);
    assert_eq!(
        number(&page, "glance-person-not-reached"),
        2,
        "both key 1 calls"
    );
    assert_eq!(number(&page, "glance-abandoned"), 1);
    let unanswered = page
        .split("id=\"unanswered-offices\"")
        .nth(1)
        .and_then(|rest| rest.split("</ul>").next())
        .expect("the list of offices that did not answer");
    assert!(
        unanswered.contains(
            "<strong>Ufficio di prova</strong> (prova): 2 trasferimenti senza risposta su 2"
        ),
        "{page}"
    );
    let late = page
        .split("id=\"late-callbacks-list\"")
        .nth(1)
        .and_then(|rest| rest.split("</ul>").next())
        .expect("the list of late callbacks");
    assert!(late.contains("<strong>RC-2026-"), "{late}");
    assert_eq!(late.matches("<li>").count(), 1, "{late}");

    // The tables, cell by cell.
    assert_eq!(number(&page, "overview-calls-value"), 4);
    assert_eq!(number(&page, "overview-contained-value"), 1);
    assert_eq!(number(&page, "overview-abandoned-value"), 1);
    assert_eq!(number(&page, "overview-transfers_unanswered-value"), 2);
    assert_eq!(number(&page, "overview-callbacks_late-value"), 1);
    assert_eq!(number(&page, "offices-prova-asked"), 2);
    assert_eq!(number(&page, "offices-prova-answered"), 0);
    assert_eq!(number(&page, "offices-prova-unanswered"), 2);
    assert_eq!(number(&page, "offices-prova-nobody_present"), 1);
    assert_eq!(number(&page, "offices-prova-no_answer"), 1, "201 rang out");
    assert_eq!(number(&page, "callbacks-requested-value"), 1);
    assert_eq!(number(&page, "callbacks-pending-value"), 1);
    assert_eq!(number(&page, "hangups-ufficio.menu-calls"), 1, "{page}");
    assert_eq!(
        number(&page, "endings-the_flow_hung_up-calls"),
        3,
        "both key 1 calls and the key 4 call end in the flow"
    );
    assert_eq!(number(&page, "endings-caller_hung_up-calls"), 1);
    let days: u64 = regex::Regex::new(r#"id="days-[0-9-]+-calls">([0-9]+)<"#)
        .unwrap()
        .captures_iter(&page)
        .map(|found| found[1].parse::<u64>().unwrap())
        .sum();
    assert_eq!(days, 4, "the calls per day add up to the calls");
    let paths = page.matches("id=\"paths-").count();
    assert!(paths >= 3 * 3, "three paths of three cells: {paths}");
    assert!(
        page.contains("<svg class=\"chart\""),
        "bars drawn on the server"
    );
    // The charts need no script: the only one is the layout's, which reloads a page the
    // browser restores from its back/forward cache.
    assert_eq!(
        page.matches("<script").count(),
        1,
        "no script but the layout's"
    );
    assert!(page.contains("pageshow"));

    // The CSV of the offices says the same, quoted as a spreadsheet reads it.
    let csv = request(
        port,
        "GET",
        "/reports/offices.csv?preset=7d&target_h=0",
        std::slice::from_ref(&supervisor),
        "",
    );
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(
        csv.header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment; filename=\"centralino-offices-")),
        "{}",
        csv.head
    );
    assert_eq!(
        csv.body,
        "office,asked,answered,unanswered,answer_percent,no_answer,busy,nobody_present,closed,failed,hung_up\n\
         prova,2,0,2,0,1,0,1,0,0,0\n"
    );
    let overview = request(
        port,
        "GET",
        "/reports/overview.csv?preset=7d&target_h=0",
        std::slice::from_ref(&supervisor),
        "",
    );
    assert!(overview.body.contains("\ncalls,4\n"), "{}", overview.body);
    assert!(
        overview.body.contains("\ncontained,1\n"),
        "{}",
        overview.body
    );
    // An unknown report, or a period that cannot be read, is refused.
    for (target, status) in [
        ("/reports/nothing.csv", 404),
        ("/reports/offices.txt", 404),
        ("/reports/offices.csv?from=2026-13-01&to=2026-12-01", 400),
        ("/reports/offices.csv?from=2026-12-02&to=2026-12-01", 400),
    ] {
        let reply = request(port, "GET", target, std::slice::from_ref(&supervisor), "");
        assert_eq!(reply.status, status, "{target}: {}", reply.body);
    }
    // On the page, a bad period is said and the last 7 days shown.
    let bad = request(
        port,
        "GET",
        "/reports?from=yesterday",
        std::slice::from_ref(&supervisor),
        "",
    );
    assert_eq!(bad.status, 200);
    assert!(bad.body.contains("id=\"problem\""), "{}", bad.body);
    assert_eq!(number(&bad.body, "glance-calls"), 4);

    // In English too.
    let english = request(
        port,
        "GET",
        query,
        &[format!("{supervisor}; centralino_lang=en")],
        "",
    );
    assert!(english.body.contains("Offices that did not answer"));
    assert_eq!(number(&english.body, "glance-calls"), 4);

    // An operator sees neither the page nor its entry in the navigation.
    let operator = log_in(port, "otto", "otto-password");
    for target in [query, "/reports/offices.csv?preset=7d"] {
        let reply = request(port, "GET", target, std::slice::from_ref(&operator), "");
        assert_eq!(reply.status, 403, "{target}");
    }
    // (The navigation's paths are written escaped: `&#x2f;` for `/`.)
    let nav = |session: &String| {
        request(port, "GET", "/", std::slice::from_ref(session), "")
            .body
            .replace("&#x2f;", "/")
    };
    assert!(!nav(&operator).contains("href=\"/reports\""));
    assert!(nav(&supervisor).contains("href=\"/reports\""));
    // Without a session, nothing.
    assert_eq!(request(port, "GET", query, &[], "").status, 401);
    assert_eq!(
        request(port, "GET", "/reports/offices.csv", &[], "").status,
        401
    );

    // `centralino report` gives the same numbers once the server has let the store go (while
    // it holds it, the command says where to read them).
    let data = server.data.path().to_path_buf();
    let report_cli = |args: &[&str]| {
        command(&["report", "--data"])
            .arg(&data)
            .args(args)
            .output()
            .unwrap()
    };
    let held = report_cli(&[]);
    assert_eq!(code(&held), 2);
    assert!(stderr(&held).contains("/reports"), "{}", stderr(&held));
    server.stop();
    let offices = report_cli(&["--target-h", "0", "--csv", "offices"]);
    assert_eq!(code(&offices), 0, "{}", stderr(&offices));
    assert_eq!(support::stdout(&offices), csv.body);
    let text = report_cli(&["--target-h", "0"]);
    assert_eq!(code(&text), 0, "{}", stderr(&text));
    let text = support::stdout(&text);
    for line in [
        "calls                 4",
        "contained             1",
        "callbacks_late        1",
    ] {
        assert!(text.contains(line), "{line:?} in:\n{text}");
    }
    assert!(text.contains("\nprova   2      0         2"), "{text}");
    let unknown = report_cli(&["--csv", "nothing"]);
    assert_eq!(code(&unknown), 2);
}
