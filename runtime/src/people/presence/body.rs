//! The NOTIFY bodies: PIDF for the `presence` event package (RFC 3863, with RPID activities
//! from RFC 4480) and dialog-info for the `dialog` package (RFC 4235), which desk phones' BLF
//! keys read (Yealink and Snom blink for `early`, show busy for `confirmed`).
//!
//! Output is deterministic (fixed attribute order, calls in a fixed order) and every text
//! taken from elsewhere is escaped; characters XML 1.0 cannot carry are left out.

use std::fmt::Write as _;

use super::{CallState, Dialog, Direction, Status};

pub const PIDF_CONTENT_TYPE: &str = "application/pidf+xml";
pub const DIALOG_INFO_CONTENT_TYPE: &str = "application/dialog-info+xml";

/// A PIDF document for `entity` (`sip:201@comune.example`).
///
/// `basic` is `closed` only when offline: away and busy people are reachable, just not now,
/// and RPID says why (`away`, `on-the-phone`); a note says it in words.
pub fn pidf(entity: &str, extension: &str, status: Status) -> String {
    let (basic, activity, note) = match status {
        Status::Available => ("open", None, "Available"),
        Status::Ringing => ("open", None, "Ringing"),
        Status::OnCall => ("open", Some("on-the-phone"), "On the phone"),
        Status::Away => ("open", Some("away"), "Do not disturb"),
        Status::Offline => ("closed", None, "Offline"),
    };
    let entity = escape(entity);
    let id = escape(extension);
    let mut xml = String::new();
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" \
         xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" \
         xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\" entity=\"{entity}\">"
    );
    let _ = writeln!(xml, "  <tuple id=\"t{id}\">");
    let _ = writeln!(xml, "    <status><basic>{basic}</basic></status>");
    let _ = writeln!(xml, "    <contact>{entity}</contact>");
    let _ = writeln!(xml, "    <note>{note}</note>");
    xml.push_str("  </tuple>\n");
    let _ = writeln!(xml, "  <dm:person id=\"p{id}\">");
    if let Some(activity) = activity {
        let _ = writeln!(
            xml,
            "    <rpid:activities><rpid:{activity}/></rpid:activities>"
        );
    }
    let _ = writeln!(xml, "    <dm:note>{note}</dm:note>");
    xml.push_str("  </dm:person>\n");
    xml.push_str("</presence>\n");
    xml
}

/// A full-state dialog-info document for `entity`, version `version`: the calls in progress
/// (answered, then ringing, then trying; by Call-ID within each), then the calls that just
/// ended (as `terminated`). No `<dialog>` at all means idle.
pub fn dialog_info(entity: &str, version: u32, dialogs: &[Dialog], ended: &[Dialog]) -> String {
    let entity = escape(entity);
    let mut xml = String::new();
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"{version}\" \
         state=\"full\" entity=\"{entity}\">"
    );
    // Lenient readers (some phones, rsipstack's parser) look at the first dialog only, so the
    // one that says most comes first: answered, ringing, trying, then the ended ones.
    let rank = |state: CallState| match state {
        CallState::Confirmed => 0,
        CallState::Early => 1,
        CallState::Trying => 2,
        CallState::Terminated => 3,
    };
    let mut all: Vec<&Dialog> = dialogs.iter().chain(ended).collect();
    all.sort_by(|a, b| (rank(a.state), &a.call_id).cmp(&(rank(b.state), &b.call_id)));
    for dialog in all {
        let call_id = escape(&dialog.call_id);
        let direction = match dialog.direction {
            Direction::Outgoing => "initiator",
            Direction::Incoming => "recipient",
        };
        let state = dialog.state.as_str();
        let _ = writeln!(
            xml,
            "  <dialog id=\"{call_id}\" call-id=\"{call_id}\" direction=\"{direction}\">"
        );
        let _ = writeln!(xml, "    <state>{state}</state>");
        xml.push_str("  </dialog>\n");
    }
    xml.push_str("</dialog-info>\n");
    xml
}

/// `text` fit for XML character data and attribute values.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\t' | '\n' | '\r' => escaped.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => escaped.push(c),
        }
    }
    escaped
}
