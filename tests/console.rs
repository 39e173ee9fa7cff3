//! The staff console's door, end to end: accounts made with `centralino users`, login with a
//! session cookie, CSRF on every form, throttled guessing, no enumeration of accounts, and a
//! crawl of every page and form reached when logged in, replayed without login (refused).
//! A live call held by sipp appears on the live calls page and leaves it when it ends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::http::{Reply, csrf_field, form, request};
use support::{Server, code, command, have_sipp, stderr, stdout, test_flows};

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
        // A command that refuses its arguments may exit before reading: a closed pipe is fine.
        let _ = stdin.write_all(format!("{password}\n").as_bytes());
    }
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// `serve` on the test flows, with one console account: `anna`, password `anna-password`.
fn serve_with_anna(role: &str) -> Server {
    let data = tempfile::tempdir().unwrap();
    let added = users(
        data.path(),
        &["add", "anna", "--role", role],
        Some("anna-password"),
    );
    assert_eq!(code(&added), 0, "{}", stderr(&added));
    Server::start_with_data(&test_flows(), data, &[])
}

/// Log in as `name`; the session cookie and the session's CSRF token (from the home page).
fn log_in(port: u16, name: &str, password: &str) -> (String, String) {
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
    assert_eq!(reply.header("location"), Some("/"));
    let session = reply
        .cookie("centralino_session")
        .expect("a session cookie");
    let cookie_line = reply
        .head
        .lines()
        .find(|l| l.starts_with("set-cookie: centralino_session="))
        .unwrap();
    assert!(cookie_line.contains("httponly"), "{cookie_line}");
    assert!(cookie_line.contains("samesite=strict"), "{cookie_line}");
    let home = request(
        port,
        "GET",
        "/",
        &[format!("Cookie: centralino_session={session}")],
        "",
    );
    assert_eq!(home.status, 200, "{}", home.body);
    (session, csrf_field(&home.body))
}

#[test]
fn users_are_kept_as_argon2id_hashes_in_a_private_file() {
    let data = tempfile::tempdir().unwrap();
    let added = users(
        data.path(),
        &["add", "anna", "--role", "supervisor"],
        Some("una password lunga"),
    );
    assert_eq!(code(&added), 0, "{}", stderr(&added));
    let file = std::fs::read_to_string(data.path().join("accounts.toml")).unwrap();
    assert!(file.contains("$argon2id$"), "{file}");
    assert!(!file.contains("una password lunga"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.path().join("accounts.toml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let listed = users(data.path(), &["list"], None);
    assert_eq!(stdout(&listed), "anna\tsupervisor\n");

    // Mistakes are explained and change nothing.
    let again = users(
        data.path(),
        &["add", "anna", "--role", "operator"],
        Some("altra password"),
    );
    assert_ne!(code(&again), 0);
    assert!(
        stderr(&again).contains("already an account `anna`"),
        "{}",
        stderr(&again)
    );
    let short = users(
        data.path(),
        &["add", "bruno", "--role", "operator"],
        Some("corta"),
    );
    assert!(stderr(&short).contains("too short"), "{}", stderr(&short));
    let role = users(
        data.path(),
        &["add", "bruno", "--role", "king"],
        Some("abbastanza lunga"),
    );
    assert!(stderr(&role).contains("not a role"), "{}", stderr(&role));
    let none = users(data.path(), &["add", "bruno", "--role", "operator"], None);
    assert!(
        stderr(&none).contains("no password on standard input"),
        "{}",
        stderr(&none)
    );
    assert_eq!(
        std::fs::read_to_string(data.path().join("accounts.toml")).unwrap(),
        file
    );

    std::fs::write(data.path().join("accounts.toml"), "[accounts.anna\n").unwrap();
    let damaged = users(data.path(), &["list"], None);
    assert_ne!(code(&damaged), 0);
    assert!(stderr(&damaged).contains("damaged"), "{}", stderr(&damaged));
}

#[test]
fn staff_log_in_and_every_page_and_form_refuses_strangers() {
    let server = serve_with_anna("supervisor");
    let port = server.http_port;

    // Without a session: a browser is sent to the login page, anything else gets 401.
    let page = request(port, "GET", "/", &["Accept: text/html".into()], "");
    assert_eq!(page.status, 303);
    assert_eq!(page.header("location"), Some("/login"));
    assert_eq!(request(port, "GET", "/", &[], "").status, 401);

    // A wrong password and an unknown name get the same answer.
    let login_page = request(port, "GET", "/login", &[], "");
    assert_eq!(login_page.status, 200);
    let token = csrf_field(&login_page.body);
    let cookie = format!(
        "Cookie: centralino_login={}",
        login_page.cookie("centralino_login").unwrap()
    );
    let origin = format!("Origin: http://127.0.0.1:{port}");
    let attempt = |name: &str, password: &str, headers: &[String], csrf: &str| {
        request(
            port,
            "POST",
            "/login",
            headers,
            &form(&[("name", name), ("password", password), ("csrf", csrf)]),
        )
    };
    let wrong = attempt(
        "anna",
        "not-her-password",
        &[cookie.clone(), origin.clone()],
        &token,
    );
    let unknown = attempt(
        "nobody",
        "not-her-password",
        &[cookie.clone(), origin.clone()],
        &token,
    );
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert!(wrong.body.contains("Nome o password non corretti."));
    let without_typed = |reply: &Reply, name: &str| {
        let token = csrf_field(&reply.body);
        reply
            .body
            .replace(&format!("value=\"{name}\""), "")
            .replace(&token, "")
    };
    assert_eq!(
        without_typed(&wrong, "anna"),
        without_typed(&unknown, "nobody"),
        "the pages differ only by the name typed and the new form token"
    );
    // A login form without its token, or posted from another site, is refused.
    assert_eq!(
        attempt(
            "anna",
            "anna-password",
            &[cookie.clone(), origin.clone()],
            "forged"
        )
        .status,
        403
    );
    assert_eq!(
        attempt(
            "anna",
            "anna-password",
            std::slice::from_ref(&origin),
            &token
        )
        .status,
        403
    );
    assert_eq!(
        attempt(
            "anna",
            "anna-password",
            &[cookie.clone(), "Origin: https://evil.example".into()],
            &token
        )
        .status,
        403
    );

    let (session, csrf) = log_in(port, "anna", "anna-password");
    let with_session = format!("Cookie: centralino_session={session}");
    let home = request(port, "GET", "/", std::slice::from_ref(&with_session), "");
    assert!(home.body.contains("Chiamate in corso"), "{}", home.body);
    assert!(home.body.contains("anna (supervisor)"), "{}", home.body);

    // Crawl every link and form of the console while logged in.
    let mut pages: BTreeSet<String> = BTreeSet::from(["/".to_string()]);
    let mut forms: BTreeSet<String> = BTreeSet::new();
    let mut queue = vec!["/".to_string()];
    // Paths written by templates may be escaped (`&#x2f;` for `/`, `&amp;` for `&`).
    let links = regex::Regex::new(r#"(href|action)="((?:/|&#x2f;)[^"]*)""#).unwrap();
    while let Some(target) = queue.pop() {
        let page = request(
            port,
            "GET",
            &target,
            std::slice::from_ref(&with_session),
            "",
        );
        assert_eq!(page.status, 200, "{target}");
        for found in links.captures_iter(&page.body) {
            let path = found[2].replace("&#x2f;", "/").replace("&amp;", "&");
            if &found[1] == "action" {
                forms.insert(path);
            } else if pages.insert(path.clone()) {
                queue.push(path);
            }
        }
    }
    assert!(forms.contains("/logout"), "{forms:?}");
    assert!(
        pages.contains("/reports") && pages.iter().any(|p| p.starts_with("/reports/offices.csv")),
        "{pages:?}"
    );
    let public = ["/login"];
    for target in pages.iter().filter(|p| !public.contains(&p.as_str())) {
        let reply = request(port, "GET", target, &[], "");
        assert_eq!(reply.status, 401, "GET {target} without login");
    }
    for target in forms.iter().filter(|p| !public.contains(&p.as_str())) {
        let body = form(&[("csrf", &csrf)]);
        assert_eq!(
            request(port, "POST", target, &[], &body).status,
            401,
            "POST {target} without login"
        );
        // Logged in, but without the session's token, or from another site.
        assert_eq!(
            request(
                port,
                "POST",
                target,
                std::slice::from_ref(&with_session),
                ""
            )
            .status,
            403,
            "POST {target} without its CSRF token"
        );
        assert_eq!(
            request(
                port,
                "POST",
                target,
                std::slice::from_ref(&with_session),
                &form(&[("csrf", "0".repeat(64).as_str())])
            )
            .status,
            403,
            "POST {target} with another token"
        );
        assert_eq!(
            request(
                port,
                "POST",
                target,
                &[with_session.clone(), "Origin: https://evil.example".into()],
                &body
            )
            .status,
            403,
            "POST {target} from another site"
        );
    }

    // Logging out ends the session.
    let out = request(
        port,
        "POST",
        "/logout",
        &[with_session.clone(), origin.clone()],
        &form(&[("csrf", &csrf)]),
    );
    assert_eq!(out.status, 303);
    assert_eq!(
        request(port, "GET", "/", std::slice::from_ref(&with_session), "").status,
        401
    );

    // An account removed while serving loses its sessions at once.
    let (session, _) = log_in(port, "anna", "anna-password");
    let removed = users(server.data.path(), &["remove", "anna"], None);
    assert_eq!(code(&removed), 0, "{}", stderr(&removed));
    assert_eq!(
        request(
            port,
            "GET",
            "/",
            &[format!("Cookie: centralino_session={session}")],
            ""
        )
        .status,
        401
    );
}

#[test]
fn guessing_passwords_is_slowed_down_even_for_the_right_one() {
    let server = serve_with_anna("operator");
    let port = server.http_port;
    let try_password = |password: &str| {
        let page = request(port, "GET", "/login", &[], "");
        request(
            port,
            "POST",
            "/login",
            &[
                format!(
                    "Cookie: centralino_login={}",
                    page.cookie("centralino_login").unwrap()
                ),
                format!("Origin: http://127.0.0.1:{port}"),
            ],
            &form(&[
                ("name", "anna"),
                ("password", password),
                ("csrf", &csrf_field(&page.body)),
            ]),
        )
    };
    for n in 0..5 {
        assert_eq!(try_password(&format!("guess-{n}")).status, 401, "guess {n}");
    }
    let throttled = try_password("anna-password");
    assert_eq!(throttled.status, 429, "{}", throttled.body);
    let wait: u64 = throttled.header("retry-after").unwrap().parse().unwrap();
    assert!(wait > 60, "{wait}");
    assert!(
        throttled.body.contains("Troppi tentativi"),
        "{}",
        throttled.body
    );
    server.wait_for("console login throttled", Duration::from_secs(10));
}

#[test]
fn a_live_call_is_on_the_live_calls_page_while_it_lasts() {
    if !have_sipp() {
        return;
    }
    let server = serve_with_anna("operator");
    let port = server.http_port;
    let (session, _) = log_in(port, "anna", "anna-password");
    let home = || {
        request(
            port,
            "GET",
            "/",
            &[format!("Cookie: centralino_session={session}")],
            "",
        )
        .body
    };
    assert!(home().contains("Nessuna chiamata in corso."));
    std::thread::scope(|scope| {
        let held = scope.spawn(|| server.sipp("hold_call.xml", "100"));
        server.wait_for("call accepted", Duration::from_secs(10));
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut page = home();
        while !page.contains("<table id=\"calls\">") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            page = home();
        }
        assert!(page.contains("<table id=\"calls\">"), "{page}");
        assert!(page.contains("<td>100</td>"), "{page}");
        let held = held.join().unwrap();
        assert!(held.status.success(), "the held call:\n{}", server.log());
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut page = home();
    while !page.contains("Nessuna chiamata in corso.") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        page = home();
    }
    assert!(page.contains("Nessuna chiamata in corso."), "{page}");
    assert!(page.contains("<strong id=\"ended\">1</strong>"), "{page}");
}

/// The value of metric line `series` (name and labels, as printed) in a scrape.
fn metric(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.split(' ').next()?.parse().ok()
    })
}

/// Each `(series, value)` is in the scrape with that value.
fn expect_metrics(scrape: &str, expected: &[(&str, f64)]) {
    for (series, value) in expected {
        assert_eq!(metric(scrape, series), Some(*value), "{series}: {scrape}");
    }
}

/// `/metrics` follows calls, refusals, registrations and the flows' version; with
/// `[http] metrics_token` it asks for the token.
#[test]
fn metrics_follow_calls_registrations_and_the_flows() {
    if !have_sipp() {
        return;
    }
    let config = support::root().join("tests/registrar/md5_first.toml");
    let flows = support::root().join("tests/registrar/flows");
    let server = Server::start(&flows, &["--config", config.to_str().unwrap()]);
    let port = server.http_port;
    let scrape = || {
        let reply = request(port, "GET", "/metrics", &[], "");
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(
            reply
                .header("content-type")
                .unwrap()
                .starts_with("application/openmetrics-text")
        );
        reply.body
    };
    let before = scrape();
    expect_metrics(
        &before,
        &[
            ("centralino_calls_active", 0.0),
            ("centralino_calls_accepted_total", 0.0),
            ("centralino_staff_phones_registered", 0.0),
            ("centralino_call_setup_seconds_count", 0.0),
            ("centralino_flows_last_reload_failed", 0.0),
        ],
    );
    assert!(
        before.contains("centralino_flows_version{version=\""),
        "{before}"
    );
    assert!(
        metric(&before, "centralino_store_bytes").unwrap() > 0.0,
        "{before}"
    );
    assert!(before.trim_end().ends_with("# EOF"), "{before}");

    // A call to a number nobody answers is refused; then a phone registers (after: calls from
    // its address would be challenged as the phone's).
    assert!(
        server.sipp("unknown_number.xml", "999").status.success(),
        "{}",
        server.log()
    );
    let registered = support::sipp(
        server.port,
        "register_auth.xml",
        &[
            "-s", "201", "-au", "201", "-ap", "pw201", "-m", "1", "-l", "1",
        ],
        30,
    );
    assert!(registered.status.success(), "{}", server.log());
    let after = scrape();
    expect_metrics(
        &after,
        &[
            ("centralino_staff_phones_registered", 1.0),
            ("centralino_staff{status=\"available\"}", 1.0),
            (
                "centralino_calls_refused_total{reason=\"unknown_number\"}",
                1.0,
            ),
        ],
    );
}

#[test]
fn metrics_ask_for_the_token_when_one_is_configured() {
    let folder = tempfile::tempdir().unwrap();
    let config = folder.path().join("centralino.toml");
    std::fs::write(&config, "[http]\nmetrics_token = \"a-long-random-token\"\n").unwrap();
    let server = Server::start(&test_flows(), &["--config", config.to_str().unwrap()]);
    let port = server.http_port;
    let without = request(port, "GET", "/metrics", &[], "");
    assert_eq!(without.status, 401);
    assert_eq!(without.header("www-authenticate"), Some("bearer"));
    let wrong = request(
        port,
        "GET",
        "/metrics",
        &["Authorization: Bearer a-long-random-tokeN".into()],
        "",
    );
    assert_eq!(wrong.status, 401);
    let scrape = || {
        let right = request(
            port,
            "GET",
            "/metrics",
            &["Authorization: Bearer a-long-random-token".into()],
            "",
        );
        assert_eq!(right.status, 200);
        right.body
    };
    let before = scrape();
    assert_eq!(metric(&before, "centralino_calls_active"), Some(0.0));
    assert_eq!(
        metric(&before, "centralino_rtp_frames_sent_total"),
        Some(0.0)
    );
    if !have_sipp() {
        return;
    }
    // An answered call is counted and its setup time observed once.
    assert!(
        server.sipp("dtmf_ticket.xml", "100").status.success(),
        "{}",
        server.log()
    );
    // sipp is done once its BYE is answered; the call's task ends a moment later.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut after = scrape();
    while metric(&after, "centralino_calls_active") != Some(0.0) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        after = scrape();
    }
    expect_metrics(
        &after,
        &[
            ("centralino_calls_accepted_total", 1.0),
            ("centralino_calls_answered_total", 1.0),
            ("centralino_call_setup_seconds_count", 1.0),
            ("centralino_calls_active", 0.0),
        ],
    );
    // The call's prompts left as RTP frames, 50 a second; the late and skipped ones are
    // counted beside them (how many depends on the machine's load: only their presence and
    // bounds are certain).
    let sent = metric(&after, "centralino_rtp_frames_sent_total").unwrap();
    assert!(sent >= 50.0, "{after}");
    let late = metric(&after, "centralino_rtp_frames_late_total").unwrap();
    let skipped = metric(&after, "centralino_rtp_frames_skipped_total").unwrap();
    assert!(late <= sent && skipped >= 0.0, "{after}");
}

/// Off loopback the console would carry passwords in the clear: `serve` refuses to start
/// without a certificate. With one, the console answers over HTTPS only, and its cookies are
/// `Secure` (the session's with the `__Host-` prefix).
#[test]
fn off_loopback_the_console_needs_tls_and_over_tls_its_cookies_are_secure() {
    let data = tempfile::tempdir().unwrap();
    let mut refused = command(&["serve", "--flows"])
        .arg(test_flows())
        .arg("--data")
        .arg(data.path())
        .args(["--listen", &format!("127.0.0.1:{}", support::free_port())])
        .args([
            "--http-listen",
            &format!("0.0.0.0:{}", support::free_port()),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while refused.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = refused.kill();
            let _ = refused.wait();
            panic!("serve started on 0.0.0.0 without TLS");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = refused.wait_with_output().unwrap();
    assert_ne!(code(&output), 0);
    assert!(
        stderr(&output).contains("tls_certificate"),
        "{}",
        stderr(&output)
    );

    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let files = tempfile::tempdir().unwrap();
    let (certificate, key) = (files.path().join("cert.pem"), files.path().join("key.pem"));
    std::fs::write(&certificate, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let config = files.path().join("centralino.toml");
    std::fs::write(
        &config,
        format!(
            "[http]\ntls_certificate = {:?}\ntls_key = {:?}\n",
            certificate.to_str().unwrap(),
            key.to_str().unwrap()
        ),
    )
    .unwrap();
    let added = users(
        data.path(),
        &["add", "anna", "--role", "operator"],
        Some("anna-password"),
    );
    assert_eq!(code(&added), 0, "{}", stderr(&added));
    let server =
        Server::start_with_data(&test_flows(), data, &["--config", config.to_str().unwrap()]);
    let port = server.http_port;
    let der = certified.cert.der().to_vec();
    let tls = |raw: String| support::http::exchange_tls(port, &der, raw.as_bytes());
    let page = tls(format!(
        "GET /login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    ));
    assert_eq!(page.status, 200, "{}", server.log());
    let login_cookie = page.cookie("centralino_login").expect("a login cookie");
    let body = form(&[
        ("name", "anna"),
        ("password", "anna-password"),
        ("csrf", &csrf_field(&page.body)),
    ]);
    let reply = tls(format!(
        "POST /login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Cookie: centralino_login={login_cookie}\r\nOrigin: https://127.0.0.1:{port}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    assert_eq!(reply.status, 303, "{}", reply.body);
    let session_line = reply
        .head
        .lines()
        .find(|l| l.starts_with("set-cookie: __host-centralino_session="))
        .unwrap_or_else(|| panic!("{}", reply.head));
    assert!(session_line.contains("; secure"), "{session_line}");
    assert!(session_line.contains("path=/"), "{session_line}");
    // Plain HTTP on the HTTPS port gets no page.
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    plain
        .write_all(b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = std::io::Read::read_to_end(&mut plain, &mut answer);
    assert!(
        !String::from_utf8_lossy(&answer).contains("200 OK"),
        "plain HTTP was served"
    );
}
