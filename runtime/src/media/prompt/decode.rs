//! Audio file → 8 kHz mono i16: symphonia 0.6 decodes (wav, mp3, flac, ogg/vorbis), channels
//! are averaged, rubato's FFT resampler converts the rate.
//!
//! The decoding loop follows the compiler's `check::audio` (same symphonia 0.6 calls, same
//! tolerance of streams of unknown length), but keeps the samples instead of counting them.

use std::fs::File;
use std::io::ErrorKind;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;

use super::PromptError;
use crate::media::SAMPLE_RATE;

/// Decoded audio: mono samples in [-1, 1] at the file's own rate.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedAudio {
    pub sample_rate: u32,
    pub samples: Vec<f32>,
}

impl DecodedAudio {
    pub fn duration_ms(&self) -> u64 {
        if self.sample_rate == 0 {
            return 0;
        }
        (self.samples.len() as u64).saturating_mul(1000) / u64::from(self.sample_rate)
    }
}

/// Decodes the whole file at `path` (at most `max_seconds` of it) to mono f32. A decoder
/// panic on hostile input is caught and reported as [`PromptError::Undecodable`].
pub fn decode_file(path: &Path, max_seconds: u64) -> Result<DecodedAudio, PromptError> {
    match catch_unwind(AssertUnwindSafe(|| decode_unguarded(path, max_seconds))) {
        Ok(result) => result,
        Err(_) => Err(undecodable(path, "the decoder crashed on this file")),
    }
}

fn undecodable(path: &Path, reason: impl Into<String>) -> PromptError {
    PromptError::Undecodable {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn decode_unguarded(path: &Path, max_seconds: u64) -> Result<DecodedAudio, PromptError> {
    let file = File::open(path).map_err(|err| match err.kind() {
        ErrorKind::NotFound => PromptError::Missing {
            path: path.to_path_buf(),
        },
        _ => PromptError::Unreadable {
            path: path.to_path_buf(),
            reason: err.to_string(),
        },
    })?;
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|ext| ext.to_str()) {
        hint.with_extension(&ext.to_ascii_lowercase());
    }
    let mss = MediaSourceStream::new(Box::new(file), MediaSourceStreamOptions::default());
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|err| undecodable(path, describe(err)))?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| undecodable(path, "no audio track"))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|params| params.audio())
        .ok_or_else(|| undecodable(path, "the audio track has no codec"))?;
    let mut sample_rate = params.sample_rate.unwrap_or(0);
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|err| undecodable(path, describe(err)))?;

    let mut mono: Vec<f32> = Vec::new();
    let mut interleaved: Vec<f32> = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) | Err(SymphoniaError::ResetRequired) => break,
            // A WAV of unknown length (written while recording) ends mid-packet.
            Err(SymphoniaError::IoError(err))
                if err.kind() == ErrorKind::UnexpectedEof && !mono.is_empty() =>
            {
                break;
            }
            Err(err) => return Err(undecodable(path, describe(err))),
        };
        if packet.track_id != track_id {
            continue;
        }
        let decoded = decoder
            .decode(&packet)
            .map_err(|err| undecodable(path, describe(err)))?;
        let spec = decoded.spec();
        if spec.rate() > 0 {
            sample_rate = spec.rate();
        }
        let channels = spec.channels().count().max(1);
        decoded.copy_to_vec_interleaved(&mut interleaved);
        mono.extend(
            interleaved
                .chunks_exact(channels)
                .map(|frame| frame.iter().sum::<f32>() / channels as f32),
        );
        let cap = u64::from(sample_rate).saturating_mul(max_seconds);
        if sample_rate > 0 && mono.len() as u64 >= cap {
            mono.truncate(usize::try_from(cap).unwrap_or(usize::MAX));
            break;
        }
    }
    if mono.is_empty() {
        return Err(undecodable(path, "no audio"));
    }
    if sample_rate == 0 {
        return Err(undecodable(path, "unknown sample rate"));
    }
    Ok(DecodedAudio {
        sample_rate,
        samples: mono,
    })
}

fn describe(err: SymphoniaError) -> String {
    match err {
        SymphoniaError::IoError(io) if io.kind() == ErrorKind::UnexpectedEof => {
            "truncated: the file ends in the middle of the audio data".to_string()
        }
        SymphoniaError::Unsupported(what) => format!("unsupported audio ({what})"),
        SymphoniaError::DecodeError(what) => format!("malformed audio data ({what})"),
        other => other.to_string(),
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
