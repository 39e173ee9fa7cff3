//! DTMF from the three places a caller's keys arrive: RFC 4733 telephone-events in RTP
//! ([`Rfc4733Receiver`]), SIP INFO bodies ([`parse_info_body`]) and tones in the audio itself
//! ([`InbandDetector`]). Each reports a key press once, as a `char` among `0-9 * # A-D`.

mod inband;
mod info;
mod rfc4733;

pub use inband::{InbandConfig, InbandDetector, detect_all};
pub use info::{InfoDigit, InfoError, parse_info_body};
pub use rfc4733::{Rfc4733Receiver, TelephoneEvent, parse_event};

/// The key of an RFC 4733 event code (0-9, 10 `*`, 11 `#`, 12-15 `A`-`D`); other events
/// (flash, modem tones) are not keys.
pub fn event_to_digit(code: u8) -> Option<char> {
    match code {
        0..=15 => Some(audio_codec::telephone_event::event_to_digit(code)),
        _ => None,
    }
}

/// The RFC 4733 event code of a key (case-insensitive for `A`-`D`).
pub fn digit_to_event(digit: char) -> Option<u8> {
    audio_codec::telephone_event::digit_to_event(digit)
}

/// True for `0-9 * # A-D` (upper case).
pub fn is_digit(c: char) -> bool {
    matches!(c, '0'..='9' | '*' | '#' | 'A'..='D')
}
