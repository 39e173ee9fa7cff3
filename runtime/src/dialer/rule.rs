//! The numbering rule: which numbers the dialer may call (toll-fraud guard). Pure.
//!
//! The dialer only ever calls numbers taken from callback requests, and each of
//! them must pass [`NumberRule::check`] first; a number that does not is marked
//! failed with the rule's reason and never dialled.
//!
//! ```text
//!   "+39 075 577-1234" ──normalise──► national "0755771234" ──Italian plan──► Dialable
//!   "00 44 20 7946 0000" ───────────► international ──allowed?──► Dialable / Refused
//!   "899 123456", "178…", "112" ─────► premium rate, short code… ─► Refused (reason)
//! ```
//!
//! The Italian numbering plan (AGCOM), as far as the dialer needs it:
//! - `0…` geographic numbers, 6 to 11 digits: allowed;
//! - `3…` mobile numbers, 9 or 10 digits: allowed;
//! - `800…`, `803…` free phone, 6 to 10 digits: allowed (free for the city too);
//! - `89…` (892, 895, 899) premium rate, `84…` shared cost, `178…` premium
//!   services: refused;
//! - `1…` short codes (emergency, directory enquiries, operator services),
//!   `4…`, `5…`, `7…` network and internet-access numbers: refused;
//! - anything else: refused as not a number the plan gives to a citizen.
//!
//! Other countries (a `+` or `00` prefix not followed by 39) are refused unless
//! the configuration allows international numbers. The configuration can also
//! refuse further prefixes (`deny`) or allow only some (`only`, national form).

/// The rule, from `[dialer]` in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NumberRule {
    /// Allow numbers of other countries (off by default: a classic toll-fraud route).
    pub international: bool,
    /// Prefixes never called, on top of the built-in ones: national form for Italy
    /// (`"06"`), `+` and country code for other countries (`"+44"`).
    pub deny: Vec<String>,
    /// When not empty, only national numbers starting with one of these are called
    /// (e.g. `["075"]`: Perugia's landlines only).
    pub only: Vec<String>,
}

/// A number that passed the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialable {
    /// What the trunk is given: the national form for Italy (`0755771234`), `+` and the
    /// country code otherwise (`+442079460000`).
    pub number: String,
}

/// Why a number is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberRefused {
    #[error("no number to call")]
    Empty,
    #[error(
        "the number has the character {character:?} (only digits, a leading +, spaces, dots, dashes and brackets)"
    )]
    Character { character: char },
    #[error("{digits} digits is not a valid length for a {kind}")]
    Length { kind: &'static str, digits: usize },
    #[error("premium-rate number ({prefix}…): never called back")]
    PremiumRate { prefix: &'static str },
    #[error("shared-cost number (84…): never called back")]
    SharedCost,
    #[error("short code or operator service (1…): never called back")]
    ShortCode,
    #[error("network or internet-access number ({first}…): never called back")]
    Network { first: char },
    #[error("not a number the Italian plan gives to a citizen ({first}…)")]
    NotInPlan { first: char },
    #[error("international number (+{country}…): the configuration does not allow them")]
    International { country: String },
    #[error("the configuration refuses numbers starting with {prefix}")]
    Denied { prefix: String },
    #[error("the configuration only allows numbers starting with {}", allowed.join(", "))]
    NotAllowed { allowed: Vec<String> },
}

impl NumberRule {
    /// The number to dial for `raw` (as the callback request has it), or why not.
    pub fn check(&self, raw: &str) -> Result<Dialable, NumberRefused> {
        let (international, digits) = normalise(raw)?;
        let national = match international {
            None => digits,
            Some(rest) => match rest.strip_prefix("39") {
                Some(national) => national.to_owned(),
                None => return self.check_international(&rest),
            },
        };
        check_italian(&national)?;
        if let Some(prefix) = self.deny.iter().find(|p| national.starts_with(p.as_str())) {
            return Err(NumberRefused::Denied {
                prefix: prefix.clone(),
            });
        }
        if !self.only.is_empty() && !self.only.iter().any(|p| national.starts_with(p.as_str())) {
            return Err(NumberRefused::NotAllowed {
                allowed: self.only.clone(),
            });
        }
        Ok(Dialable { number: national })
    }

    fn check_international(&self, digits: &str) -> Result<Dialable, NumberRefused> {
        if !self.international {
            return Err(NumberRefused::International {
                country: digits.chars().take(3).collect(),
            });
        }
        // E.164: at most 15 digits with the country code; no country code starts with 0.
        if digits.starts_with('0') || !(7..=15).contains(&digits.len()) {
            return Err(NumberRefused::Length {
                kind: "international number",
                digits: digits.len(),
            });
        }
        let number = format!("+{digits}");
        if let Some(prefix) = self.deny.iter().find(|p| number.starts_with(p.as_str())) {
            return Err(NumberRefused::Denied {
                prefix: prefix.clone(),
            });
        }
        if !self.only.is_empty() {
            return Err(NumberRefused::NotAllowed {
                allowed: self.only.clone(),
            });
        }
        Ok(Dialable { number })
    }
}

/// The digits of `raw` with separators dropped, and whether it was written in the
/// international form (`+` or `00`): `Some(digits after the prefix)`.
fn normalise(raw: &str) -> Result<(Option<String>, String), NumberRefused> {
    let trimmed = raw.trim();
    let (plus, body) = match trimmed.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let mut digits = String::with_capacity(body.len());
    for character in body.chars() {
        match character {
            '0'..='9' => digits.push(character),
            ' ' | '.' | '-' | '(' | ')' | '/' => {}
            other => return Err(NumberRefused::Character { character: other }),
        }
    }
    if digits.is_empty() {
        return Err(NumberRefused::Empty);
    }
    if plus {
        return Ok((Some(digits.clone()), digits));
    }
    match digits.strip_prefix("00") {
        Some(rest) => Ok((Some(rest.to_owned()), digits)),
        None => Ok((None, digits)),
    }
}

fn check_italian(national: &str) -> Result<(), NumberRefused> {
    let length = |kind: &'static str, range: std::ops::RangeInclusive<usize>| {
        if range.contains(&national.len()) {
            Ok(())
        } else {
            Err(NumberRefused::Length {
                kind,
                digits: national.len(),
            })
        }
    };
    let Some(first) = national.chars().next() else {
        return Err(NumberRefused::Empty);
    };
    match first {
        '0' => length("landline number", 6..=11),
        '3' => length("mobile number", 9..=10),
        '8' => {
            if national.starts_with("800") || national.starts_with("803") {
                length("free-phone number", 6..=10)
            } else if national.starts_with("89") {
                Err(NumberRefused::PremiumRate {
                    prefix: premium_prefix(national),
                })
            } else if national.starts_with("84") {
                Err(NumberRefused::SharedCost)
            } else {
                Err(NumberRefused::NotInPlan { first })
            }
        }
        '1' => {
            if national.starts_with("178") {
                Err(NumberRefused::PremiumRate { prefix: "178" })
            } else {
                Err(NumberRefused::ShortCode)
            }
        }
        '4' | '5' | '7' => Err(NumberRefused::Network { first }),
        _ => Err(NumberRefused::NotInPlan { first }),
    }
}

fn premium_prefix(national: &str) -> &'static str {
    ["892", "893", "894", "895", "899"]
        .into_iter()
        .find(|p| national.starts_with(p))
        .unwrap_or("89")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn dial(rule: &NumberRule, raw: &str) -> Result<String, NumberRefused> {
        rule.check(raw).map(|d| d.number)
    }

    #[test]
    fn italian_landlines_and_mobiles_pass_in_every_written_form() {
        let rule = NumberRule::default();
        for (raw, want) in [
            ("0755771234", "0755771234"),
            ("+39 075 577 1234", "0755771234"),
            ("0039 075-577.1234", "0755771234"),
            ("(075) 5771234", "0755771234"),
            ("+393331234567", "3331234567"),
            ("333 1234567", "3331234567"),
            ("800123456", "800123456"),
            ("06 12345678", "0612345678"),
        ] {
            assert_eq!(dial(&rule, raw), Ok(want.to_owned()), "{raw}");
        }
    }

    #[test]
    fn premium_rate_short_codes_and_odd_numbers_are_refused() {
        let rule = NumberRule::default();
        for (raw, refused) in [
            ("899123456", NumberRefused::PremiumRate { prefix: "899" }),
            ("+39 892 892", NumberRefused::PremiumRate { prefix: "892" }),
            (
                "00 39 895 1234567",
                NumberRefused::PremiumRate { prefix: "895" },
            ),
            ("1781234567", NumberRefused::PremiumRate { prefix: "178" }),
            ("848800800", NumberRefused::SharedCost),
            ("112", NumberRefused::ShortCode),
            ("12540", NumberRefused::ShortCode),
            ("4191234", NumberRefused::Network { first: '4' }),
            ("7021234567", NumberRefused::Network { first: '7' }),
            ("9123456", NumberRefused::NotInPlan { first: '9' }),
            (
                "33312",
                NumberRefused::Length {
                    kind: "mobile number",
                    digits: 5,
                },
            ),
            (
                "075123456789",
                NumberRefused::Length {
                    kind: "landline number",
                    digits: 12,
                },
            ),
            ("", NumberRefused::Empty),
            ("+", NumberRefused::Empty),
            ("anonymous", NumberRefused::Character { character: 'a' }),
            ("075*1234", NumberRefused::Character { character: '*' }),
            ("sip:201@host", NumberRefused::Character { character: 's' }),
        ] {
            assert_eq!(dial(&rule, raw), Err(refused), "{raw}");
        }
    }

    #[test]
    fn international_numbers_only_when_allowed() {
        let closed = NumberRule::default();
        assert_eq!(
            dial(&closed, "+44 20 7946 0000"),
            Err(NumberRefused::International {
                country: "442".into()
            })
        );
        assert_eq!(
            dial(&closed, "00442079460000"),
            Err(NumberRefused::International {
                country: "442".into()
            })
        );
        let open = NumberRule {
            international: true,
            ..NumberRule::default()
        };
        assert_eq!(
            dial(&open, "00 44 20 7946 0000"),
            Ok("+442079460000".into())
        );
        // Still Italian rules for +39, even with international allowed.
        assert_eq!(
            dial(&open, "+39899123456"),
            Err(NumberRefused::PremiumRate { prefix: "899" })
        );
        assert_eq!(
            dial(&open, "+1234"),
            Err(NumberRefused::Length {
                kind: "international number",
                digits: 4
            })
        );
    }

    #[test]
    fn the_configuration_narrows_the_rule() {
        let rule = NumberRule {
            international: false,
            deny: vec!["06".into()],
            only: vec!["075".into(), "3".into()],
        };
        assert_eq!(dial(&rule, "0755771234"), Ok("0755771234".into()));
        assert_eq!(dial(&rule, "3331234567"), Ok("3331234567".into()));
        assert_eq!(
            dial(&rule, "0612345678"),
            Err(NumberRefused::Denied {
                prefix: "06".into()
            })
        );
        assert_eq!(
            dial(&rule, "0287654321"),
            Err(NumberRefused::NotAllowed {
                allowed: vec!["075".into(), "3".into()]
            })
        );
    }
}
