//! Audio prompt checks: proves that an audio file exists and really plays by decoding all of it.
//!
//! A header can look fine while the data behind it is cut short or corrupt, so
//! [`probe_audio`] decodes every packet of the default audio track (up to
//! [`MAX_DECODED_SECONDS`] of audio) with the crate's [decoder](crate::audio), verifying
//! checksums and declared lengths, and counts the frames.

use std::path::Path;

pub use crate::audio::AudioError;
use crate::audio::{Decode, decode};

/// Decoding stops after this much audio; the duration reported is then the duration decoded so far.
pub const MAX_DECODED_SECONDS: u64 = 10 * 60;

/// What decoding an audio file found out.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AudioInfo {
    /// Samples per second, per channel.
    pub sample_rate: u32,
    /// Number of audio channels.
    pub channels: u16,
    /// Duration of the decoded audio, in milliseconds (at most [`MAX_DECODED_SECONDS`] worth).
    pub duration_ms: u64,
    /// Symphonia's short codec name, e.g. `pcm_s16le`, `pcm_mulaw`, `mp3`, `flac`, `vorbis`.
    pub codec: String,
}

/// Opens, probes and fully decodes the audio file at `path`.
///
/// The format is guessed from the file's contents, helped by its extension. Every packet of
/// the default audio track is decoded, so a truncated or corrupt file is reported as
/// [`AudioError::Undecodable`] even when its header is fine. Decoding stops after
/// [`MAX_DECODED_SECONDS`] of audio. Never panics on bad input: a panic inside the decoder is
/// caught and reported as [`AudioError::Undecodable`].
pub fn probe_audio(path: &Path) -> Result<AudioInfo, AudioError> {
    let decoded = decode(
        path,
        Decode {
            max_seconds: MAX_DECODED_SECONDS,
            keep_samples: false,
            verify: true,
        },
    )?;
    Ok(AudioInfo {
        sample_rate: decoded.sample_rate,
        channels: decoded.channels,
        duration_ms: decoded.duration_ms(),
        codec: decoded.codec,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a failed test.
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A per-test scratch directory under the system temp dir, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            static COUNTER: AtomicU32 = AtomicU32::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!(
                "centralino-audio-test-{}-{}-{}",
                std::process::id(),
                tag,
                n
            ));
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A RIFF/WAVE file with a `fmt ` chunk and a `data` chunk. PCM (format tag 1) gets the
    /// plain 16-byte `fmt `; other tags get the 18-byte WAVEFORMATEX (with `cbSize` = 0) that
    /// symphonia requires for them.
    fn wav(format_tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
        let block_align = channels * bits.div_ceil(8);
        let byte_rate = rate * u32::from(block_align);
        let fmt_len: u32 = if format_tag == 1 { 16 } else { 18 };
        let mut out = Vec::new();
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(4 + 8 + fmt_len + 8 + data.len() as u32).to_le_bytes());
        out.extend_from_slice(b"WAVE");
        out.extend_from_slice(b"fmt ");
        out.extend_from_slice(&fmt_len.to_le_bytes());
        out.extend_from_slice(&format_tag.to_le_bytes());
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&rate.to_le_bytes());
        out.extend_from_slice(&byte_rate.to_le_bytes());
        out.extend_from_slice(&block_align.to_le_bytes());
        out.extend_from_slice(&bits.to_le_bytes());
        if fmt_len == 18 {
            out.extend_from_slice(&0u16.to_le_bytes());
        }
        out.extend_from_slice(b"data");
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        out
    }

    /// `frames` frames of a 16-bit PCM tone (interleaved, little-endian).
    fn pcm16(frames: usize, channels: u16) -> Vec<u8> {
        let mut data = Vec::new();
        for i in 0..frames {
            let v = ((i as f64 * 0.05).sin() * 12000.0) as i16;
            for _ in 0..channels {
                data.extend_from_slice(&v.to_le_bytes());
            }
        }
        data
    }

    #[test]
    fn decodes_mono_pcm16_wav() {
        let dir = Scratch::new("mono");
        let path = dir.write("mono.wav", &wav(1, 1, 8000, 16, &pcm16(8000, 1)));
        let info = probe_audio(&path).unwrap();
        assert_eq!(
            info,
            AudioInfo {
                sample_rate: 8000,
                channels: 1,
                duration_ms: 1000,
                codec: "pcm_s16le".to_string(),
            }
        );
    }

    #[test]
    fn decodes_stereo_pcm16_wav() {
        let dir = Scratch::new("stereo");
        let path = dir.write("stereo.WAV", &wav(1, 2, 44100, 16, &pcm16(22050, 2)));
        let info = probe_audio(&path).unwrap();
        assert_eq!(info.sample_rate, 44100);
        assert_eq!(info.channels, 2);
        assert_eq!(info.duration_ms, 500);
    }

    #[test]
    fn decodes_mulaw_wav() {
        let dir = Scratch::new("mulaw");
        let data: Vec<u8> = (0..4000u32).map(|i| (i % 256) as u8).collect();
        let path = dir.write("mulaw.wav", &wav(7, 1, 8000, 8, &data));
        let info = probe_audio(&path).unwrap();
        assert_eq!(info.sample_rate, 8000);
        assert_eq!(info.channels, 1);
        assert_eq!(info.duration_ms, 500);
        assert_eq!(info.codec, "pcm_mulaw");
    }

    #[test]
    fn decodes_alaw_wav() {
        let dir = Scratch::new("alaw");
        let data = vec![0xd5u8; 800];
        let path = dir.write("alaw.wav", &wav(6, 1, 8000, 8, &data));
        let info = probe_audio(&path).unwrap();
        assert_eq!(info.duration_ms, 100);
        assert_eq!(info.codec, "pcm_alaw");
    }

    #[test]
    fn truncated_wav_is_undecodable() {
        let dir = Scratch::new("truncated");
        let full = wav(1, 1, 8000, 16, &pcm16(8000, 1));
        let path = dir.write("cut.wav", &full[..full.len() / 2]);
        match probe_audio(&path) {
            Err(AudioError::Undecodable(msg)) => assert!(msg.contains("truncated"), "{msg}"),
            other => panic!("expected truncated, got {other:?}"),
        }
    }

    #[test]
    fn header_only_wav_is_no_audio() {
        let dir = Scratch::new("empty-data");
        let path = dir.write("silence.wav", &wav(1, 1, 8000, 16, &[]));
        assert_eq!(
            probe_audio(&path),
            Err(AudioError::Undecodable("no audio".to_string()))
        );
    }

    #[test]
    fn streaming_wav_of_unknown_length_decodes() {
        let dir = Scratch::new("streaming");
        let mut bytes = wav(1, 1, 8000, 16, &pcm16(8001, 1));
        // RIFF and data chunk lengths u32::MAX: "length unknown", as recorders write while
        // streaming. 8001 frames do not fill whole packets, so the stream ends mid-packet.
        let at = bytes.len() - 8001 * 2 - 4;
        bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        let path = dir.write("stream.wav", &bytes);
        let info = probe_audio(&path).unwrap();
        assert!(info.duration_ms >= 900, "{info:?}");
    }

    #[test]
    fn long_audio_is_capped() {
        let dir = Scratch::new("long");
        // 11 minutes of 1 kHz mono 8-bit mu-law: 660,000 bytes.
        let data = vec![0xffu8; 1000 * 660];
        let path = dir.write("long.wav", &wav(7, 1, 1000, 8, &data));
        let info = probe_audio(&path).unwrap();
        assert!(info.duration_ms >= MAX_DECODED_SECONDS * 1000, "{info:?}");
        assert!(info.duration_ms < 660 * 1000, "{info:?}");
    }

    #[test]
    fn missing_file() {
        let dir = Scratch::new("missing");
        assert_eq!(
            probe_audio(&dir.0.join("nope.wav")),
            Err(AudioError::Missing)
        );
    }

    #[test]
    fn directory_is_unreadable() {
        let dir = Scratch::new("dir");
        assert!(matches!(
            probe_audio(&dir.0),
            Err(AudioError::Unreadable(_))
        ));
    }

    #[test]
    fn empty_file_is_undecodable() {
        let dir = Scratch::new("emptyfile");
        let path = dir.write("empty.wav", b"");
        assert!(matches!(
            probe_audio(&path),
            Err(AudioError::Undecodable(_))
        ));
    }

    #[test]
    fn text_file_named_wav_is_undecodable() {
        let dir = Scratch::new("text");
        let path = dir.write(
            "benvenuto.wav",
            "Benvenuti al centralino del Comune.\n"
                .repeat(50)
                .as_bytes(),
        );
        assert!(matches!(
            probe_audio(&path),
            Err(AudioError::Undecodable(_))
        ));
    }

    #[test]
    fn garbage_never_panics() {
        let dir = Scratch::new("garbage");
        // A small xorshift generator: deterministic "random" bytes without a dev-dependency.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for (round, ext) in ["wav", "mp3", "flac", "ogg", "bin"].iter().enumerate() {
            for len in [1usize, 3, 12, 44, 100, 4096, 65536] {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        (state >> 24) as u8
                    })
                    .collect();
                let path = dir.write(&format!("g{round}-{len}.{ext}"), &bytes);
                let _ = probe_audio(&path);
            }
        }
        // A valid RIFF header followed by garbage in the fmt and data chunks.
        let mut bytes = wav(1, 1, 8000, 16, &pcm16(100, 1));
        for b in bytes.iter_mut().skip(20).take(16) {
            *b = b.wrapping_mul(31).wrapping_add(7);
        }
        let path = dir.write("badfmt.wav", &bytes);
        assert!(probe_audio(&path).is_err());
    }

    #[test]
    fn error_messages_are_short() {
        assert_eq!(AudioError::Missing.to_string(), "audio file not found");
        assert_eq!(
            AudioError::Undecodable("no audio".to_string()).to_string(),
            "cannot decode audio: no audio"
        );
    }
}
