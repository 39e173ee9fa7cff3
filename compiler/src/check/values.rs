//! Values the runtime will use as they are written: a staff member's SIP address, the numbers a
//! flow answers, a conference PIN, a webhook's address. Each is checked for the shape the
//! runtime needs (E039), so a mistake is found by `check`, not by a call that never rings.

use crate::diagnostic::{ValueFault, ValueKind};

/// What is wrong with a staff address (`sip:201@comune.perugia.it`), if anything.
pub fn staff_address(text: &str) -> Option<ValueFault> {
    if text.chars().any(char::is_whitespace) {
        return Some(ValueFault::Space);
    }
    let lower = text.to_ascii_lowercase();
    let rest = match lower
        .strip_prefix("sip:")
        .or_else(|| lower.strip_prefix("sips:"))
    {
        Some(_) => text.split_once(':').map_or("", |(_, rest)| rest),
        None => {
            let backwards = ["pis:", "psi:", "spi:", "ips:", "isp:"]
                .iter()
                .find(|b| lower.starts_with(*b));
            if let Some(written) = backwards {
                return Some(ValueFault::SchemeBackwards {
                    written: text.get(..written.len()).unwrap_or(written).to_owned(),
                });
            }
            if lower.ends_with(":sip") || lower.ends_with(":pis") {
                return Some(ValueFault::SchemeBackwards {
                    written: text
                        .get(text.len().saturating_sub(4)..)
                        .unwrap_or(":sip")
                        .to_owned(),
                });
            }
            return Some(ValueFault::NoScheme);
        }
    };
    let Some((user, host)) = rest.split_once('@') else {
        return Some(ValueFault::NoAt);
    };
    if user.is_empty() {
        return Some(ValueFault::NoUser);
    }
    if host.is_empty() || host.contains('@') || host.starts_with(['.', ':', ';']) {
        return Some(ValueFault::NoHost);
    }
    None
}

/// What is wrong with a number a flow answers (`"075 075 075"`, `"+39 075 5771"`), if anything.
pub fn answered_number(text: &str) -> Option<ValueFault> {
    let allowed = |c: char| c.is_ascii_digit() || " +-./()".contains(c);
    if !text.chars().all(allowed) {
        return Some(ValueFault::NotDigits);
    }
    if !text.chars().any(|c| c.is_ascii_digit()) {
        return Some(ValueFault::NoDigits);
    }
    if text.chars().skip(1).any(|c| c == '+') {
        return Some(ValueFault::PlusInside);
    }
    None
}

/// What is wrong with a conference PIN (digits a caller types), if anything.
pub fn pin(text: &str) -> Option<ValueFault> {
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit()) {
        return Some(ValueFault::NotDigits);
    }
    None
}

/// What is wrong with a webhook's address (`https://...`), if anything.
pub fn webhook_address(text: &str) -> Option<ValueFault> {
    if text.chars().any(char::is_whitespace) {
        return Some(ValueFault::Space);
    }
    let lower = text.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    else {
        return Some(ValueFault::NoScheme);
    };
    if rest.is_empty() || rest.starts_with(['/', ':', '?', '#']) {
        return Some(ValueFault::NoHost);
    }
    None
}

/// Every check of this module, by the kind of value.
pub fn fault(kind: ValueKind, text: &str) -> Option<ValueFault> {
    match kind {
        ValueKind::StaffAddress => staff_address(text),
        ValueKind::Number => answered_number(text),
        ValueKind::Pin => pin(text),
        ValueKind::WebhookAddress => webhook_address(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_addresses() {
        assert_eq!(staff_address("sip:201@comune.perugia.it"), None);
        assert_eq!(staff_address("sips:201@10.0.0.1:5061"), None);
        assert_eq!(staff_address("SIP:201@x"), None);
        assert_eq!(
            staff_address("pis:201@comune.perugia.it"),
            Some(ValueFault::SchemeBackwards {
                written: String::from("pis:")
            })
        );
        assert_eq!(
            staff_address("201@comune.perugia.it:sip"),
            Some(ValueFault::SchemeBackwards {
                written: String::from(":sip")
            })
        );
        assert_eq!(
            staff_address("201@comune.perugia.it"),
            Some(ValueFault::NoScheme)
        );
        assert_eq!(
            staff_address("sip:201comune.perugia.it"),
            Some(ValueFault::NoAt)
        );
        assert_eq!(staff_address("sip:@comune.it"), Some(ValueFault::NoUser));
        assert_eq!(staff_address("sip:201@"), Some(ValueFault::NoHost));
        assert_eq!(staff_address("sip:201@a@b"), Some(ValueFault::NoHost));
        assert_eq!(staff_address("sip: 201@x"), Some(ValueFault::Space));
        assert_eq!(staff_address(""), Some(ValueFault::NoScheme));
    }

    #[test]
    fn numbers_pins_and_webhooks() {
        assert_eq!(answered_number("075 075 075"), None);
        assert_eq!(answered_number("+39 (075) 577-1"), None);
        assert_eq!(answered_number("075O75"), Some(ValueFault::NotDigits));
        assert_eq!(answered_number(""), Some(ValueFault::NoDigits));
        assert_eq!(answered_number("39+075"), Some(ValueFault::PlusInside));
        assert_eq!(pin("1234"), None);
        assert_eq!(pin("12a4"), Some(ValueFault::NotDigits));
        assert_eq!(pin(""), Some(ValueFault::NotDigits));
        assert_eq!(webhook_address("https://comune.perugia.it/x"), None);
        assert_eq!(
            webhook_address("comune.perugia.it/x"),
            Some(ValueFault::NoScheme)
        );
        assert_eq!(webhook_address("https:///x"), Some(ValueFault::NoHost));
    }
}
