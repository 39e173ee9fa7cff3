//! Test tones at 8 kHz: making them (`sine`, a WAV file) and finding them in what a phone heard
//! (Goertzel's single-bin DFT, as a share of the signal's energy, over sliding windows).
//!
//! Two parties of a call each send their own tone; each side's recording must hold the other's
//! tone and not its own. `has_tone` asks for a *sustained* tone (about 300 ms or more), so a
//! click or a burst of noise at the right frequency does not count.

use std::path::Path;

/// The sample rate of every tone and recording here (G.711's).
pub const RATE: u32 = 8_000;
/// The window `has_tone` measures in: 100 ms.
const WINDOW: usize = (RATE / 10) as usize;
/// Windows start every 50 ms.
const HOP: usize = WINDOW / 2;
/// A window holds the tone when at least this share of its energy is at the frequency.
const SHARE: f64 = 0.3;
/// Below this RMS (about −60 dBFS) a window is silence, whatever its spectrum.
const SILENCE_RMS: f64 = 32.0;
/// The amplitude of `sine`: about −12 dBFS, loud and far from clipping after G.711.
const AMPLITUDE: f64 = 8_000.0;

/// The share of `pcm`'s energy at `freq` Hz (8 kHz samples): about 1.0 for a pure sine at that
/// frequency, about 0.0 for silence, noise or a tone elsewhere.
pub fn tone_power(pcm: &[i16], freq: f32) -> f64 {
    let n = pcm.len();
    let energy: f64 = pcm.iter().map(|&s| f64::from(s).powi(2)).sum();
    if n == 0 || energy == 0.0 {
        return 0.0;
    }
    // Goertzel at any (not only an integer-bin) frequency.
    let omega = 2.0 * std::f64::consts::PI * f64::from(freq) / f64::from(RATE);
    let coeff = 2.0 * omega.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &sample in pcm {
        let s0 = f64::from(sample) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    // A sine of amplitude A over N samples: |X|² ≈ (A·N/2)², energy ≈ A²·N/2.
    (2.0 * power / (n as f64 * energy)).min(1.0)
}

/// Whether `pcm` (8 kHz) holds a sustained tone at `freq` Hz: in 100 ms windows every 50 ms,
/// at least 30 % of a non-silent window's energy at `freq`, for about 300 ms in a row (see
/// [`longest_tone_ms`]).
pub fn has_tone(pcm: &[i16], freq: f32) -> bool {
    longest_tone_ms(pcm, freq) >= 300
}

/// The longest run of `pcm` (8 kHz) that holds the tone at `freq` Hz, in ms (0 if none).
///
/// A run of k windows in a row measures (k − 1) × 50 ms: a window that only overlaps the tone's
/// edge still holds the tone (silence adds no energy), so counting whole windows would make a
/// 200 ms beep last 300 ms; the distance between the first and last window's starts is close
/// to the tone's true length.
pub fn longest_tone_ms(pcm: &[i16], freq: f32) -> u32 {
    let mut run = 0usize;
    let mut best = 0usize;
    let mut start = 0;
    while start + WINDOW <= pcm.len() {
        let window = &pcm[start..start + WINDOW];
        let energy: f64 = window.iter().map(|&s| f64::from(s).powi(2)).sum();
        let rms = (energy / WINDOW as f64).sqrt();
        if rms >= SILENCE_RMS && tone_power(window, freq) >= SHARE {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
        start += HOP;
    }
    let samples = best.saturating_sub(1) * HOP;
    u32::try_from(samples as u64 * 1000 / u64::from(RATE)).unwrap_or(u32::MAX)
}

/// Whether the tone is sustained, with the figures a failing assertion shows.
pub fn describe(pcm: &[i16], freq: f32) -> String {
    format!(
        "{freq} Hz: longest run {} ms, share over all {:.3}, in {} ms of audio",
        longest_tone_ms(pcm, freq),
        tone_power(pcm, freq),
        pcm.len() as u64 * 1000 / u64::from(RATE)
    )
}

/// `ms` milliseconds of a sine at `freq` Hz, 8 kHz, about −12 dBFS.
pub fn sine(freq: f32, ms: u32) -> Vec<i16> {
    let samples = u64::from(ms) * u64::from(RATE) / 1000;
    sine_from(freq, 0, samples as usize)
}

/// `count` samples of the sine at `freq` Hz from sample `start` on (phase-continuous when a
/// stream is cut into frames).
pub fn sine_from(freq: f32, start: u64, count: usize) -> Vec<i16> {
    let step = 2.0 * std::f64::consts::PI * f64::from(freq) / f64::from(RATE);
    (0..count as u64)
        .map(|i| ((start + i) as f64 * step).sin() * AMPLITUDE)
        .map(|s| s.round() as i16)
        .collect()
}

/// Write `pcm` as an 8 kHz 16-bit mono WAV.
pub fn write_wav(path: &Path, pcm: &[i16]) -> std::io::Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).map_err(std::io::Error::other)?;
    for &sample in pcm {
        writer.write_sample(sample).map_err(std::io::Error::other)?;
    }
    writer.finalize().map_err(std::io::Error::other)
}

/// The samples of a 16-bit PCM WAV, as mono at 8 kHz, leniently: a file still being written
/// (its header's sizes not yet filled in, as libsndfile leaves them until it closes the file)
/// gives every whole sample after the `data` chunk's header. Other rates are resampled by
/// picking the nearest sample (enough for tone detection); channels are averaged.
pub fn read_wav_lenient(path: &Path) -> std::io::Result<Vec<i16>> {
    let bytes = std::fs::read(path)?;
    let bad = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_owned());
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad("not a RIFF/WAVE file"));
    }
    let (mut rate, mut channels, mut bits) = (None, 1u16, 16u16);
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]])
            as usize;
        let body = at + 8;
        if id == b"fmt " && body + 16 <= bytes.len() {
            channels = u16::from_le_bytes([bytes[body + 2], bytes[body + 3]]).max(1);
            rate = Some(u32::from_le_bytes([
                bytes[body + 4],
                bytes[body + 5],
                bytes[body + 6],
                bytes[body + 7],
            ]));
            bits = u16::from_le_bytes([bytes[body + 14], bytes[body + 15]]);
        } else if id == b"data" {
            let rate = rate.ok_or_else(|| bad("no fmt chunk before the data"))?;
            if bits != 16 {
                return Err(bad("only 16-bit PCM is read"));
            }
            // A size of 0 (or past the end) while the file is open: take what is there.
            let end = if len == 0 || body + len > bytes.len() {
                bytes.len()
            } else {
                body + len
            };
            let frame = 2 * usize::from(channels);
            let mono: Vec<i16> = bytes[body..end]
                .chunks_exact(frame)
                .map(|f| {
                    let sum: i32 = f
                        .chunks_exact(2)
                        .map(|s| i32::from(i16::from_le_bytes([s[0], s[1]])))
                        .sum();
                    (sum / i32::from(channels)) as i16
                })
                .collect();
            if rate == RATE {
                return Ok(mono);
            }
            let out = mono.len() as u64 * u64::from(RATE) / u64::from(rate.max(1));
            return Ok((0..out)
                .map(|i| mono[(i * u64::from(rate) / u64::from(RATE)) as usize])
                .collect());
        }
        at = body + len + (len & 1);
    }
    Err(bad("no data chunk"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic white noise (an LCG), uniform in ±`amplitude`.
    fn noise(samples: usize, amplitude: f64) -> Vec<i16> {
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        (0..samples)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
                ((unit * 2.0 - 1.0) * amplitude) as i16
            })
            .collect()
    }

    #[test]
    fn a_1khz_sine_is_found_at_1khz_and_not_at_600hz() {
        let pcm = sine(1000.0, 1000);
        assert_eq!(pcm.len(), 8000);
        assert!(
            tone_power(&pcm, 1000.0) > 0.95,
            "{}",
            describe(&pcm, 1000.0)
        );
        assert!(tone_power(&pcm, 600.0) < 0.01, "{}", describe(&pcm, 600.0));
        assert!(has_tone(&pcm, 1000.0));
        assert!(!has_tone(&pcm, 600.0));
        assert!(!has_tone(&pcm, 950.0), "{}", describe(&pcm, 950.0));
    }

    #[test]
    fn silence_has_no_tone() {
        let pcm = vec![0i16; 8000];
        assert_eq!(tone_power(&pcm, 1000.0), 0.0);
        assert!(!has_tone(&pcm, 1000.0));
        assert!(!has_tone(&[], 1000.0));
        // A whisper of the tone is below the silence floor.
        let faint: Vec<i16> = sine(1000.0, 1000).iter().map(|s| s / 1000).collect();
        assert!(!has_tone(&faint, 1000.0));
    }

    #[test]
    fn a_600hz_tone_in_noise_is_found() {
        let tone = sine(600.0, 1000);
        let hiss = noise(tone.len(), 8000.0);
        let mixed: Vec<i16> = tone
            .iter()
            .zip(&hiss)
            .map(|(&t, &n)| t.saturating_add(n))
            .collect();
        assert!(has_tone(&mixed, 600.0), "{}", describe(&mixed, 600.0));
        assert!(!has_tone(&mixed, 1000.0), "{}", describe(&mixed, 1000.0));
        assert!(!has_tone(&hiss, 600.0), "{}", describe(&hiss, 600.0));
    }

    #[test]
    fn a_tone_must_last_about_300_ms() {
        let mut short = vec![0i16; 4000];
        short.extend(sine(1000.0, 200));
        short.extend(vec![0i16; 4000]);
        assert!(!has_tone(&short, 1000.0), "{}", describe(&short, 1000.0));
        let mut long = vec![0i16; 4000];
        long.extend(sine(1000.0, 350));
        long.extend(vec![0i16; 4000]);
        assert!(has_tone(&long, 1000.0), "{}", describe(&long, 1000.0));
    }

    #[test]
    fn a_wav_written_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tone.wav");
        let pcm = sine(600.0, 500);
        write_wav(&path, &pcm).unwrap();
        assert_eq!(read_wav_lenient(&path).unwrap(), pcm);
        // As libsndfile leaves a file it is still writing: sizes zero.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[4..8].copy_from_slice(&[0; 4]);
        bytes[40..44].copy_from_slice(&[0; 4]);
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(read_wav_lenient(&path).unwrap(), pcm);
    }
}
