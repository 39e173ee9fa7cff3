//! Audio file → 8 kHz mono i16: the compiler's [decoder](centralino_compiler::audio) reads the
//! file (wav, mp3, flac, ogg/vorbis) and mixes its channels down to mono, rubato's FFT
//! resampler converts the rate.

use std::path::Path;

pub use centralino_compiler::audio::DecodedAudio;
use centralino_compiler::audio::{AudioError, Decode, decode};
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use super::PromptError;
use crate::media::SAMPLE_RATE;

/// Decodes the whole file at `path` (at most `max_seconds` of it) to mono f32, keeping what
/// decodes up to a cut. A decoder panic on hostile input is reported as
/// [`PromptError::Undecodable`].
pub fn decode_file(path: &Path, max_seconds: u64) -> Result<DecodedAudio, PromptError> {
    let how = Decode {
        max_seconds,
        keep_samples: true,
        verify: false,
    };
    decode(path, how).map_err(|err| match err {
        AudioError::Missing => PromptError::Missing {
            path: path.to_path_buf(),
        },
        AudioError::Unreadable(reason) => PromptError::Unreadable {
            path: path.to_path_buf(),
            reason,
        },
        AudioError::Undecodable(reason) => undecodable(path, reason),
    })
}

fn undecodable(path: &Path, reason: impl Into<String>) -> PromptError {
    PromptError::Undecodable {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Resamples mono audio to 8 kHz and converts it to 16-bit PCM (clamped, rounded).
pub fn to_telephone_pcm(audio: &DecodedAudio, path: &Path) -> Result<Vec<i16>, PromptError> {
    let resampled;
    let samples: &[f32] = if audio.sample_rate == SAMPLE_RATE {
        &audio.samples
    } else {
        resampled = resample(&audio.samples, audio.sample_rate, SAMPLE_RATE)
            .map_err(|reason| undecodable(path, format!("cannot resample: {reason}")))?;
        &resampled
    };
    Ok(samples.iter().map(|&s| f32_to_i16(s)).collect())
}

/// One f32 sample in [-1, 1] to i16, the inverse of symphonia's `s / 32768` conversion.
pub fn f32_to_i16(sample: f32) -> i16 {
    let scaled = (sample * 32768.0).round();
    if scaled.is_nan() {
        0
    } else {
        // In range after the clamp, so the cast is exact.
        scaled.clamp(-32768.0, 32767.0) as i16
    }
}

/// Band-limited resampling of a whole mono clip with rubato's synchronous FFT resampler
/// (`process_all` trims its delay, so the output lines up with the input).
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, String> {
    if from == to {
        return Ok(samples.to_vec());
    }
    let (Ok(from), Ok(to)) = (usize::try_from(from), usize::try_from(to)) else {
        return Err("sample rate out of range".to_string());
    };
    let mut resampler =
        Fft::<f32>::new(from, to, 1024, 1, FixedSync::Both).map_err(|err| err.to_string())?;
    let input = InterleavedSlice::new(samples, 1, samples.len()).map_err(|err| err.to_string())?;
    let output = resampler
        .process_all(&input, samples.len(), None)
        .map_err(|err| err.to_string())?;
    Ok(output.take_data())
}
