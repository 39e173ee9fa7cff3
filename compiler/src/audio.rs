//! The one audio decoder: symphonia 0.6 reads a file (wav, mp3, flac, ogg/vorbis) to the end.
//!
//! ```text
//!  file ──► probe ──► default audio track ──► decode every packet ──► DecodedAudio
//!                                                   │                (rate, channels, frames,
//!                                                   │                 codec, mono samples)
//!            check::audio (E0xx: does it play?) ◄───┴──► runtime prompt cache (resample to 8 kHz)
//! ```
//!
//! The compiler's check asks for [`Decode::verify`] (checksums, declared length) and only
//! counts frames; the runtime keeps the samples, mixed down to mono, and plays what decodes.

use std::fs::File;
use std::io::ErrorKind;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;

/// How to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decode {
    /// Decoding stops after this much audio.
    pub max_seconds: u64,
    /// Keep the samples (mixed down to mono); otherwise only count the frames.
    pub keep_samples: bool,
    /// Prove the whole file is sound: checksums must match, and a file that declares its
    /// length must not end early. Without it, what decodes up to a cut is kept.
    pub verify: bool,
}

/// What decoding an audio file gave.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedAudio {
    /// Samples per second, per channel.
    pub sample_rate: u32,
    /// Number of audio channels in the file.
    pub channels: u16,
    /// Frames decoded (at most about [`Decode::max_seconds`] worth).
    pub frames: u64,
    /// Symphonia's short codec name, e.g. `pcm_s16le`, `pcm_mulaw`, `mp3`, `flac`, `vorbis`.
    pub codec: String,
    /// Mono samples in [-1, 1] at `sample_rate`, cut at [`Decode::max_seconds`]; empty unless
    /// [`Decode::keep_samples`].
    pub samples: Vec<f32>,
}

impl DecodedAudio {
    /// Duration of the decoded frames, in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        frames_to_ms(self.frames, self.sample_rate)
    }
}

/// Why an audio file cannot be played.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioError {
    /// The file does not exist.
    #[error("audio file not found")]
    Missing,
    /// The file exists but cannot be read (permissions, a directory, an I/O error).
    #[error("cannot read audio file: {0}")]
    Unreadable(String),
    /// The file was read but is not audio that can be decoded to the end.
    #[error("cannot decode audio: {0}")]
    Undecodable(String),
}

/// Opens, probes and decodes the audio file at `path`.
///
/// The format is guessed from the file's contents, helped by its extension. Every packet of
/// the default audio track is decoded, so a corrupt file is reported as
/// [`AudioError::Undecodable`] even when its header is fine. Never panics on bad input: a
/// panic inside the decoder is caught and reported as [`AudioError::Undecodable`].
pub fn decode(path: &Path, how: Decode) -> Result<DecodedAudio, AudioError> {
    match catch_unwind(AssertUnwindSafe(|| decode_unguarded(path, how))) {
        Ok(result) => result,
        Err(_) => Err(AudioError::Undecodable(
            "the decoder crashed on this file".to_string(),
        )),
    }
}

fn decode_unguarded(path: &Path, how: Decode) -> Result<DecodedAudio, AudioError> {
    let file = open(path)?;
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
        .map_err(|err| match err {
            SymphoniaError::Unsupported(_) => AudioError::Undecodable(
                "not a recognised audio format (expected wav, mp3, flac or ogg/vorbis)".to_string(),
            ),
            other => map_error(other),
        })?;

    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| AudioError::Undecodable("no audio track".to_string()))?;
    let track_id = track.id;
    let declared_frames = track.num_frames;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|params| params.audio())
        .ok_or_else(|| AudioError::Undecodable("the audio track has no codec".to_string()))?;
    let mut sample_rate = params.sample_rate.unwrap_or(0);
    let mut channels = params.channels.as_ref().map_or(0, |ch| ch.count());

    // AudioDecoderOptions is #[non_exhaustive]: set fields on a default value.
    let mut options = AudioDecoderOptions::default();
    options.verify = how.verify;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &options)
        .map_err(|err| match err {
            SymphoniaError::Unsupported(what) => {
                AudioError::Undecodable(format!("unsupported audio codec ({what})"))
            }
            other => map_error(other),
        })?;
    let codec = decoder.codec_info().short_name.to_string();

    let mut frames: u64 = 0;
    let mut capped = false;
    let mut mono: Vec<f32> = Vec::new();
    let mut interleaved: Vec<f32> = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            // A chained stream (e.g. a new Ogg logical stream) starts: keep what came before.
            Err(SymphoniaError::ResetRequired) => break,
            // Streams of unknown length (e.g. a WAV written while recording) end mid-packet.
            Err(SymphoniaError::IoError(err))
                if err.kind() == ErrorKind::UnexpectedEof
                    && (declared_frames.is_none() || !how.verify)
                    && frames > 0 =>
            {
                break;
            }
            Err(err) => return Err(map_error(err)),
        };
        if packet.track_id != track_id {
            continue;
        }
        let decoded = decoder.decode(&packet).map_err(map_error)?;
        let spec = decoded.spec();
        if spec.rate() > 0 {
            sample_rate = spec.rate();
        }
        if spec.channels().count() > 0 {
            channels = spec.channels().count();
        }
        frames = frames.saturating_add(u64::try_from(decoded.frames()).unwrap_or(u64::MAX));
        if how.keep_samples {
            let per_frame = spec.channels().count().max(1);
            decoded.copy_to_vec_interleaved(&mut interleaved);
            mono.extend(
                interleaved
                    .chunks_exact(per_frame)
                    .map(|frame| frame.iter().sum::<f32>() / per_frame as f32),
            );
        }
        let cap = u64::from(sample_rate).saturating_mul(how.max_seconds);
        if sample_rate > 0 && frames >= cap {
            mono.truncate(usize::try_from(cap).unwrap_or(usize::MAX));
            capped = true;
            break;
        }
    }

    if frames == 0 {
        return Err(AudioError::Undecodable("no audio".to_string()));
    }
    if sample_rate == 0 {
        return Err(AudioError::Undecodable("unknown sample rate".to_string()));
    }
    let channels = u16::try_from(channels)
        .ok()
        .filter(|&ch| ch > 0)
        .ok_or_else(|| AudioError::Undecodable(format!("unusable channel count {channels}")))?;
    if how.verify && !capped {
        if decoder.finalize().verify_ok == Some(false) {
            return Err(AudioError::Undecodable(
                "the decoded audio does not match the file's checksum".to_string(),
            ));
        }
        // Formats that end quietly at a cut (e.g. Ogg) still declare how long they should be.
        if let Some(declared) = declared_frames {
            let tolerance = u64::from(sample_rate) / 10;
            if declared.saturating_sub(frames) > tolerance {
                return Err(AudioError::Undecodable(format!(
                    "truncated: the file declares {} ms of audio but only {} ms decode",
                    frames_to_ms(declared, sample_rate),
                    frames_to_ms(frames, sample_rate),
                )));
            }
        }
    }

    Ok(DecodedAudio {
        sample_rate,
        channels,
        frames,
        codec,
        samples: mono,
    })
}

/// Opens a regular, non-empty file.
fn open(path: &Path) -> Result<File, AudioError> {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(err) if err.kind() == ErrorKind::NotFound => return Err(AudioError::Missing),
        Err(err) => return Err(AudioError::Unreadable(err.to_string())),
    };
    if metadata.is_dir() {
        return Err(AudioError::Unreadable("it is a directory".to_string()));
    }
    if !metadata.is_file() {
        return Err(AudioError::Unreadable("not a regular file".to_string()));
    }
    if metadata.len() == 0 {
        return Err(AudioError::Undecodable("the file is empty".to_string()));
    }
    match File::open(path) {
        Ok(file) => Ok(file),
        Err(err) if err.kind() == ErrorKind::NotFound => Err(AudioError::Missing),
        Err(err) => Err(AudioError::Unreadable(err.to_string())),
    }
}

fn frames_to_ms(frames: u64, sample_rate: u32) -> u64 {
    if sample_rate == 0 {
        return 0;
    }
    let ms = u128::from(frames) * 1000 / u128::from(sample_rate);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

fn map_error(err: SymphoniaError) -> AudioError {
    match err {
        SymphoniaError::IoError(io) => match io.kind() {
            ErrorKind::UnexpectedEof => AudioError::Undecodable(
                "truncated: the file ends in the middle of the audio data".to_string(),
            ),
            ErrorKind::InvalidData | ErrorKind::InvalidInput | ErrorKind::Other => {
                AudioError::Undecodable(io.to_string())
            }
            _ => AudioError::Unreadable(io.to_string()),
        },
        SymphoniaError::DecodeError(what) => {
            AudioError::Undecodable(format!("malformed audio data ({what})"))
        }
        SymphoniaError::Unsupported(what) => {
            AudioError::Undecodable(format!("unsupported audio feature ({what})"))
        }
        SymphoniaError::LimitError(what) => {
            AudioError::Undecodable(format!("over a decoder limit ({what})"))
        }
        other => AudioError::Undecodable(other.to_string()),
    }
}
