//! The people behind the number: staff phones that register, who is available, the shared
//! address book, messages between staff, and the queues of citizens waiting for an office.
//!
//! ```text
//!   staff phones ──REGISTER──► registrar (digest auth, bindings) ──► Location: where is 201?
//!                ──SUBSCRIBE─► presence (registered, ringing, on a call, away) ──► NOTIFY
//!                ──MESSAGE───► messages (kept until the recipient registers)
//!   flows: transfer / queue ──► Location + presence ──► the server rings staff (UAC INVITE)
//!   desk phones, CLI ──HTTP──► directory (offices, staff, extensions, external contacts)
//! ```
//!
//! The logic of each part is sans-IO here (time is passed in); the SIP and HTTP adapters use it.
//! Staff are the people the flow files name (`staff "sip:201@comune.example" as "Anna"`); their
//! extension is the user part of that address, and it is what their phones register as.

pub mod digest;
pub mod directory;
pub mod messages;
pub mod presence;
pub mod queue;
pub mod registrar;

use std::net::SocketAddr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The extension of a staff address: the user part of `sip:201@host` (`201`).
/// `None` when the address has no user part.
pub fn extension_of(contact: &str) -> Option<&str> {
    let rest = contact
        .strip_prefix("sips:")
        .or_else(|| contact.strip_prefix("sip:"))
        .unwrap_or(contact);
    let (user, _host) = rest.split_once('@')?;
    (!user.is_empty()).then_some(user)
}

/// How a device's requests reach the server, and so how to reach it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignalTransport {
    Udp,
    Tcp,
}

/// One registered device of a staff member (a desk phone, a softphone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub extension: String,
    /// The device's Contact URI, e.g. `sip:201@192.0.2.7:5062;transport=udp`.
    pub contact: String,
    /// Where its REGISTER came from: requests to the device go there (it may be behind NAT).
    pub source: SocketAddr,
    pub transport: SignalTransport,
    /// When the binding lapses unless the device registers again.
    pub expires_at: Timestamp,
    /// The device's User-Agent, for the console and logs.
    pub user_agent: Option<String>,
}

/// Where staff can be reached: the registrar's bindings, as transfers, queues, presence and
/// messages ask for them.
pub trait Location: Send + Sync {
    /// The devices registered for `extension` and not expired at `now` (none: offline).
    fn bindings(&self, extension: &str, now: Timestamp) -> Vec<Binding>;
}

/// Nobody is registered: the location before a registrar is connected (and in simulations).
#[derive(Debug, Default, Clone, Copy)]
pub struct NobodyRegistered;

impl Location for NobodyRegistered {
    fn bindings(&self, _extension: &str, _now: Timestamp) -> Vec<Binding> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_is_the_user_part_of_a_staff_address() {
        assert_eq!(extension_of("sip:201@comune.example"), Some("201"));
        assert_eq!(
            extension_of("sips:2101@comune.example;transport=tls"),
            Some("2101")
        );
        assert_eq!(extension_of("sip:comune.example"), None);
        assert_eq!(extension_of("sip:@comune.example"), None);
    }
}
