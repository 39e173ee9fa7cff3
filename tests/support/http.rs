//! One HTTP/1.1 exchange with the server's HTTP side on a fresh connection, read to its end:
//! the raw bytes of the request go out as written, so tests can send what a browser, a desk
//! phone or an attacker would.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A reply: its status, its head (lower-cased) and its body.
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    /// The value of header `name` (lower-case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name}: ")))
    }

    /// The value of the first `Set-Cookie: name=value` for `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let value = line.strip_prefix("set-cookie: ")?;
            let pair = value.split(';').next()?;
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| value.to_string())
        })
    }
}

/// Send `raw` to 127.0.0.1:`port` and read the reply until the server closes (send
/// `Connection: close`). The reply must be UTF-8.
pub fn exchange(port: u16, raw: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(raw).unwrap();
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    parse(bytes)
}

/// [`exchange`] over TLS, trusting only `certificate` (DER) for `127.0.0.1`.
pub fn exchange_tls(port: u16, certificate: &[u8], raw: &[u8]) -> Reply {
    use std::sync::Arc;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(
            certificate.to_vec(),
        ))
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(connection, stream);
    tls.write_all(raw).unwrap();
    let mut bytes = Vec::new();
    let _ = tls.read_to_end(&mut bytes);
    parse(bytes)
}

fn parse(bytes: Vec<u8>) -> Reply {
    let text = String::from_utf8(bytes).expect("the reply is UTF-8");
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

// The console's forms, as a browser sends them.

/// One HTTP/1.1 request on a fresh connection; `headers` are extra header lines.
pub fn request(port: u16, method: &str, target: &str, headers: &[String], body: &str) -> Reply {
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
    exchange(port, raw.as_bytes())
}

/// `name=value` pairs as a form body, percent-encoded.
pub fn form(pairs: &[(&str, &str)]) -> String {
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
pub fn csrf_field(page: &str) -> String {
    let start = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page[start..].split('"').next().unwrap().to_string()
}
