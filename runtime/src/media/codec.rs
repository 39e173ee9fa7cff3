//! G.711 μ-law (PCMU) and A-law (PCMA): 16-bit linear PCM ⇄ 8-bit code words, one per sample.
//!
//! The conversion itself is the `audio-codec` crate's (pure Rust, 64 KiB lookup tables built at
//! compile time, maintained with a SIP stack); this module names the two codecs the way SDP and
//! RTP do (payload types 0 and 8) and offers slice helpers that never panic.

use audio_codec::pcma::{PcmaDecoder, PcmaEncoder};
use audio_codec::pcmu::{PcmuDecoder, PcmuEncoder};
use audio_codec::{Decoder, Encoder};

/// The G.711 variants a call can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Codec {
    /// μ-law, RTP payload type 0.
    Pcmu,
    /// A-law, RTP payload type 8.
    Pcma,
}

impl Codec {
    /// Both codecs, in the order prompts store them.
    pub const ALL: [Codec; 2] = [Codec::Pcmu, Codec::Pcma];

    /// The static RTP payload type (RFC 3551).
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The codec of a static payload type, if it is G.711.
    pub fn from_payload_type(payload_type: u8) -> Option<Codec> {
        match payload_type {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// The encoding name of SDP's `a=rtpmap` (`PCMU`, `PCMA`).
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// The codec named by an SDP encoding name, case-insensitively.
    pub fn from_name(name: &str) -> Option<Codec> {
        Self::ALL
            .into_iter()
            .find(|codec| codec.name().eq_ignore_ascii_case(name))
    }

    /// The code word of digital silence (a linear 0).
    pub fn silence(self) -> u8 {
        match self {
            Codec::Pcmu => 0xFF,
            Codec::Pcma => 0xD5,
        }
    }

    /// Encodes `pcm` into `out`, one byte per sample; returns how many were written
    /// (the shorter of the two lengths).
    pub fn encode(self, pcm: &[i16], out: &mut [u8]) -> usize {
        let n = pcm.len().min(out.len());
        let (Some(pcm), Some(out)) = (pcm.get(..n), out.get_mut(..n)) else {
            return 0;
        };
        // The encoders only fail when `out` is shorter than the input, which `n` rules out.
        let written = match self {
            Codec::Pcmu => PcmuEncoder::new().encode_into(pcm, out),
            Codec::Pcma => PcmaEncoder::new().encode_into(pcm, out),
        };
        written.unwrap_or(0)
    }

    /// Decodes `data` into `out`, one sample per byte; returns how many were written
    /// (the shorter of the two lengths).
    pub fn decode(self, data: &[u8], out: &mut [i16]) -> usize {
        let n = data.len().min(out.len());
        let (Some(data), Some(out)) = (data.get(..n), out.get_mut(..n)) else {
            return 0;
        };
        let written = match self {
            Codec::Pcmu => PcmuDecoder::new().decode_into(data, out),
            Codec::Pcma => PcmaDecoder::new().decode_into(data, out),
        };
        written.unwrap_or(0)
    }

    /// Encodes one sample.
    pub fn encode_sample(self, sample: i16) -> u8 {
        let mut out = [self.silence()];
        self.encode(&[sample], &mut out);
        out[0]
    }

    /// Decodes one code word.
    pub fn decode_sample(self, code: u8) -> i16 {
        let mut out = [0i16];
        self.decode(&[code], &mut out);
        out[0]
    }

    /// Decodes a whole payload into a new vector.
    pub fn decode_to_vec(self, data: &[u8]) -> Vec<i16> {
        let mut out = vec![0i16; data.len()];
        let n = self.decode(data, &mut out);
        out.truncate(n);
        out
    }

    /// Encodes whole PCM into a new vector.
    pub fn encode_to_vec(self, pcm: &[i16]) -> Vec<u8> {
        let mut out = vec![self.silence(); pcm.len()];
        let n = self.encode(pcm, &mut out);
        out.truncate(n);
        out
    }
}

impl std::fmt::Display for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_types_and_names() {
        assert_eq!(Codec::Pcmu.payload_type(), 0);
        assert_eq!(Codec::Pcma.payload_type(), 8);
        assert_eq!(Codec::from_payload_type(0), Some(Codec::Pcmu));
        assert_eq!(Codec::from_payload_type(8), Some(Codec::Pcma));
        assert_eq!(Codec::from_payload_type(101), None);
        assert_eq!(Codec::from_name("pcma"), Some(Codec::Pcma));
        assert_eq!(Codec::from_name("G729"), None);
    }

    #[test]
    fn short_output_is_not_a_panic() {
        let mut out = [0u8; 2];
        assert_eq!(Codec::Pcmu.encode(&[1, 2, 3, 4], &mut out), 2);
        let mut pcm = [0i16; 1];
        assert_eq!(Codec::Pcma.decode(&[0xD5, 0xD5], &mut pcm), 1);
        assert_eq!(Codec::Pcma.decode(&[], &mut pcm), 0);
    }
}
