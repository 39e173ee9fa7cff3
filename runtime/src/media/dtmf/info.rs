//! Keys sent in SIP INFO requests: `application/dtmf-relay` (`Signal=5\r\nDuration=160`) and
//! `application/dtmf` (`5`). Both are tiny ad-hoc formats with no crate worth a dependency, so
//! they are parsed here. Some phones send the RFC 4733 event number (`Signal=11` for `#`);
//! that is accepted too.

/// A key from an INFO body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfoDigit {
    pub digit: char,
    /// `Duration=` of dtmf-relay, in milliseconds, when given.
    pub duration_ms: Option<u32>,
}

/// Why an INFO body carries no key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InfoError {
    #[error("INFO content type `{0}` carries no DTMF")]
    UnsupportedContentType(String),
    #[error("the INFO body is not text")]
    NotText,
    #[error("the dtmf-relay body has no Signal line")]
    NoSignal,
    #[error("`{0}` is not a DTMF key")]
    InvalidSignal(String),
}

/// Reads the key of an INFO request from its `Content-Type` (parameters ignored) and body.
pub fn parse_info_body(content_type: &str, body: &[u8]) -> Result<InfoDigit, InfoError> {
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let text = std::str::from_utf8(body).map_err(|_| InfoError::NotText)?;
    match media_type.as_str() {
        "application/dtmf-relay" => parse_relay(text),
        "application/dtmf" => Ok(InfoDigit {
            digit: signal(text.trim())?,
            duration_ms: None,
        }),
        _ => Err(InfoError::UnsupportedContentType(content_type.to_string())),
    }
}

fn parse_relay(text: &str) -> Result<InfoDigit, InfoError> {
    let mut digit = None;
    let mut duration_ms = None;
    for line in text.lines() {
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let name = name.trim();
        let value = value.trim();
        if name.eq_ignore_ascii_case("signal") {
            digit = Some(signal(value)?);
        } else if name.eq_ignore_ascii_case("duration") {
            duration_ms = value.parse::<u32>().ok();
        }
    }
    let digit = digit.ok_or(InfoError::NoSignal)?;
    Ok(InfoDigit { digit, duration_ms })
}

fn signal(value: &str) -> Result<char, InfoError> {
    let invalid = || InfoError::InvalidSignal(value.chars().take(16).collect());
    let mut chars = value.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => {
            let c = c.to_ascii_uppercase();
            if super::is_digit(c) {
                Ok(c)
            } else {
                Err(invalid())
            }
        }
        // Two-digit RFC 4733 event numbers: 10 `*`, 11 `#`, 12-15 `A`-`D`.
        (Some(_), Some(_)) => value
            .parse::<u8>()
            .ok()
            .filter(|code| (10..=15).contains(code))
            .and_then(super::event_to_digit)
            .ok_or_else(invalid),
        _ => Err(invalid()),
    }
}
