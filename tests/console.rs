//! The staff console's door, end to end: accounts made with `centralino users`, login with a
//! session cookie, CSRF on every form, throttled guessing, no enumeration of accounts, and a
//! crawl of every page and form reached when logged in, replayed without login (refused).
//! A live call held by sipp appears on the live calls page and leaves it when it ends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{Server, code, command, have_sipp, stderr, stdout, test_flows};

struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    /// The value of the first `Set-Cookie: name=value` for `name`.
    fn cookie(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let value = line.strip_prefix("set-cookie: ")?;
            let pair = value.split(';').next()?;
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| value.to_string())
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name}: ")))
    }
}

/// One HTTP/1.1 request on a fresh connection; `headers` are extra header lines.
fn request(port: u16, method: &str, target: &str, headers: &[String], body: &str) -> Reply {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut raw =
        format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for header in headers {
        raw.push_str(header);
        raw.push_str("\r\n");
    }
    if !body.is_empty() || method == "POST" {
        raw.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    raw.push_str("\r\n");
    raw.push_str(body);
    stream.write_all(raw.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"));
    Reply {
        status,
        head: head.to_lowercase(),
        body: body.to_owned(),
    }
}

/// `name=value` pairs as a form body, percent-encoded.
fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let encoded: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={encoded}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The value of the hidden `csrf` field of a page's forms.
fn csrf_field(page: &str) -> String {
    let start = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page[start..].split('"').next().unwrap().to_string()
}

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
        stdin.write_all(format!("{password}\n").as_bytes()).unwrap();
    }
    drop(stdin);
    child.wait_with_output().unwrap()
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
    let data = tempfile::tempdir().unwrap();
    let added = users(
        data.path(),
        &["add", "anna", "--role", "supervisor"],
        Some("anna-password"),
    );
    assert_eq!(code(&added), 0, "{}", stderr(&added));
    let server = Server::start_with_data(&test_flows(), data, &[]);
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
    let links = regex::Regex::new(r#"(href|action)="(/[^"]*)""#).unwrap();
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
            let path = found[2].to_string();
            if &found[1] == "action" {
                forms.insert(path);
            } else if pages.insert(path.clone()) {
                queue.push(path);
            }
        }
    }
    assert!(forms.contains("/logout"), "{forms:?}");
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
    let data = tempfile::tempdir().unwrap();
    let added = users(
        data.path(),
        &["add", "anna", "--role", "operator"],
        Some("anna-password"),
    );
    assert_eq!(code(&added), 0, "{}", stderr(&added));
    let server = Server::start_with_data(&test_flows(), data, &[]);
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
    let data = tempfile::tempdir().unwrap();
    let added = users(
        data.path(),
        &["add", "anna", "--role", "operator"],
        Some("anna-password"),
    );
    assert_eq!(code(&added), 0, "{}", stderr(&added));
    let server = Server::start_with_data(&test_flows(), data, &[]);
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
