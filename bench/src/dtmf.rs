//! RFC 4733 key presses as the load tools send them: 100 ms of event (five packets, 20 ms
//! apart, the duration growing by 160 samples), then three end packets, all with the
//! timestamp of the press's first packet; payload type 101 as both tools' SDP says.

/// The telephone-event payload type of the load tools' SDP.
pub const DTMF_PT: u8 = 101;

/// Packets with a growing duration before the end packets.
pub const KEY_STEPS: u16 = 5;

/// The RFC 4733 event code of a key (`0`-`9`, `*`, `#`, `A`-`D`).
pub fn key_event(key: char) -> Option<u8> {
    match key {
        '0'..='9' => u8::try_from(u32::from(key) - u32::from('0')).ok(),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => u8::try_from(u32::from(key) - u32::from('A') + 12).ok(),
        _ => None,
    }
}

/// One key press being sent, one step every 20 ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPress {
    pub event: u8,
    /// The RTP timestamp of the press's first packet (kept by every packet of it).
    pub timestamp: u32,
    /// 0..KEY_STEPS: the event going on; KEY_STEPS: the end.
    pub step: u16,
}

impl KeyPress {
    pub fn new(event: u8, timestamp: u32) -> KeyPress {
        KeyPress {
            event,
            timestamp,
            step: 0,
        }
    }

    /// This step's payload, and how many times to send it (three for the end packet).
    pub fn payload(&self) -> ([u8; 4], usize) {
        let end = self.is_end();
        let duration = 160 * (self.step.min(KEY_STEPS - 1) + 1);
        let [high, low] = duration.to_be_bytes();
        // Volume 10 (-10 dBm0); the E bit on the end packets.
        let flags = if end { 0x80 | 10 } else { 10 };
        ([self.event, flags, high, low], if end { 3 } else { 1 })
    }

    /// The first packet of a press carries the RTP marker bit.
    pub fn marker(&self) -> bool {
        self.step == 0
    }

    pub fn is_end(&self) -> bool {
        self.step >= KEY_STEPS
    }

    /// The next step, or `None` after the end packets.
    pub fn next(self) -> Option<KeyPress> {
        (!self.is_end()).then_some(KeyPress {
            step: self.step + 1,
            ..self
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_press_is_five_growing_packets_then_three_end_packets() {
        let mut press = Some(KeyPress::new(key_event('1').expect("a key"), 4000));
        let mut sent = Vec::new();
        while let Some(current) = press {
            let (payload, times) = current.payload();
            for _ in 0..times {
                sent.push((current.marker(), payload));
            }
            press = current.next();
        }
        assert_eq!(sent.len(), 8);
        assert_eq!(sent[0], (true, [1, 10, 0, 160]));
        assert_eq!(sent[4], (false, [1, 10, 3, 32]));
        assert!(
            sent[5..]
                .iter()
                .all(|p| *p == (false, [1, 0x80 | 10, 3, 32]))
        );
        assert_eq!(key_event('#'), Some(11));
        assert_eq!(key_event('D'), Some(15));
        assert_eq!(key_event('x'), None);
    }
}
