//! The outbound trunk's address: a SIP URI template with `{number}` where the
//! number to call goes (`sip:{number}@gateway.example.net`). Pure.

use rsipstack::sip::Uri;

/// What stands for the number in a template.
pub const NUMBER: &str = "{number}";

/// A checked template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkUri {
    template: String,
}

/// Why a template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadTrunkUri {
    #[error("must be a SIP URI starting with `sip:` or `sips:`")]
    Scheme,
    #[error("must hold `{{number}}` once, where the number to call goes")]
    Placeholder,
    #[error("has the character {0:?}, which a SIP URI cannot hold")]
    Character(char),
    #[error("is not a SIP URI: {0}")]
    NotAUri(String),
}

impl TrunkUri {
    pub fn parse(template: &str) -> Result<TrunkUri, BadTrunkUri> {
        if !(template.starts_with("sip:") || template.starts_with("sips:")) {
            return Err(BadTrunkUri::Scheme);
        }
        if template.matches(NUMBER).count() != 1 {
            return Err(BadTrunkUri::Placeholder);
        }
        if let Some(c) = template.replace(NUMBER, "").chars().find(|c| {
            c.is_control()
                || c.is_whitespace()
                || !c.is_ascii()
                || matches!(c, '{' | '}' | '<' | '>' | '"')
        }) {
            return Err(BadTrunkUri::Character(c));
        }
        let trunk = TrunkUri {
            template: template.to_owned(),
        };
        Uri::try_from(trunk.uri_for("0755771234").as_str())
            .map_err(|error| BadTrunkUri::NotAUri(error.to_string()))?;
        Ok(trunk)
    }

    /// The URI to call `number` at; `number` is one the numbering rule wrote
    /// (digits, a leading `+`), so it needs no escaping.
    pub fn uri_for(&self, number: &str) -> String {
        self.template.replace(NUMBER, number)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn templates_are_checked_and_filled() {
        let trunk = TrunkUri::parse("sip:{number}@127.0.0.1:5064").unwrap();
        assert_eq!(trunk.uri_for("0755771234"), "sip:0755771234@127.0.0.1:5064");
        assert_eq!(
            TrunkUri::parse("sip:{number}@gw.example.net;transport=tcp")
                .unwrap()
                .uri_for("+442079460000"),
            "sip:+442079460000@gw.example.net;transport=tcp"
        );
        assert_eq!(
            TrunkUri::parse("http://{number}@gw"),
            Err(BadTrunkUri::Scheme)
        );
        assert_eq!(
            TrunkUri::parse("sip:gw.example.net"),
            Err(BadTrunkUri::Placeholder)
        );
        assert_eq!(
            TrunkUri::parse("sip:{number}@{number}"),
            Err(BadTrunkUri::Placeholder)
        );
        assert_eq!(
            TrunkUri::parse("sip:{number}@gw example"),
            Err(BadTrunkUri::Character(' '))
        );
        assert_eq!(
            TrunkUri::parse("sip:{number}@gw>x"),
            Err(BadTrunkUri::Character('>'))
        );
    }
}
