//! Recordings: 8 kHz 16-bit mono WAV files written with `hound`, from PCM or straight from the
//! caller's G.711 payloads.
//!
//! The file is written under a temporary name beside the target and renamed by
//! [`Recorder::finish`], so a reader never sees a half-written recording; [`Recorder::flush`]
//! brings the header up to date while recording.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use hound::{SampleFormat, WavSpec, WavWriter};

use super::SAMPLE_RATE;
use super::codec::Codec;

/// Why a recording could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    #[error("cannot write recording {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: hound::Error,
    },
    #[error("cannot store recording {}: {source}", path.display())]
    Store {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    pub path: PathBuf,
    pub samples: u64,
    pub duration_ms: u64,
}

/// The WAV format of recordings.
pub fn spec() -> WavSpec {
    WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: SampleFormat::Int,
    }
}

/// A recording being written.
pub struct Recorder {
    writer: WavWriter<BufWriter<File>>,
    path: PathBuf,
    temp: PathBuf,
    samples: u64,
    max_samples: Option<u64>,
    scratch: Vec<i16>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("path", &self.path)
            .field("samples", &self.samples)
            .finish()
    }
}

impl Recorder {
    /// Starts a recording that [`finish`](Recorder::finish) will store at `path`.
    pub fn create(path: &Path) -> Result<Recorder, WavError> {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".part");
        let temp = path.with_file_name(name);
        let writer = WavWriter::create(&temp, spec()).map_err(|source| WavError::Write {
            path: temp.clone(),
            source,
        })?;
        Ok(Recorder {
            writer,
            path: path.to_path_buf(),
            temp,
            samples: 0,
            max_samples: None,
            scratch: Vec::with_capacity(super::FRAME_SAMPLES),
        })
    }

    /// Stops taking samples after this many milliseconds (the rest is dropped).
    pub fn with_max_ms(mut self, ms: u64) -> Self {
        self.max_samples = Some(ms.saturating_mul(u64::from(SAMPLE_RATE)) / 1000);
        self
    }

    /// Samples written so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// True once the length limit is reached.
    pub fn is_full(&self) -> bool {
        self.max_samples.is_some_and(|max| self.samples >= max)
    }

    /// Appends 8 kHz PCM.
    pub fn write_pcm(&mut self, pcm: &[i16]) -> Result<(), WavError> {
        let room = self
            .max_samples
            .map_or(u64::MAX, |max| max.saturating_sub(self.samples));
        let take = usize::try_from(room).unwrap_or(usize::MAX).min(pcm.len());
        for &sample in pcm.iter().take(take) {
            self.writer
                .write_sample(sample)
                .map_err(|source| WavError::Write {
                    path: self.temp.clone(),
                    source,
                })?;
        }
        self.samples += take as u64;
        Ok(())
    }

    /// Decodes a G.711 payload and appends it.
    pub fn write_g711(&mut self, codec: Codec, payload: &[u8]) -> Result<(), WavError> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.resize(payload.len(), 0);
        let n = codec.decode(payload, &mut scratch);
        let result = self.write_pcm(scratch.get(..n).unwrap_or_default());
        self.scratch = scratch;
        result
    }

    /// Updates the header, so the file so far is a valid WAV.
    pub fn flush(&mut self) -> Result<(), WavError> {
        self.writer.flush().map_err(|source| WavError::Write {
            path: self.temp.clone(),
            source,
        })
    }

    /// Completes the header and moves the file to its final name.
    pub fn finish(self) -> Result<Recording, WavError> {
        let Recorder {
            writer,
            path,
            temp,
            samples,
            ..
        } = self;
        writer.finalize().map_err(|source| WavError::Write {
            path: temp.clone(),
            source,
        })?;
        std::fs::rename(&temp, &path).map_err(|source| WavError::Store {
            path: path.clone(),
            source,
        })?;
        Ok(Recording {
            path,
            samples,
            duration_ms: samples.saturating_mul(1000) / u64::from(SAMPLE_RATE),
        })
    }
}

/// Writes a whole recording at once.
pub fn write_wav(path: &Path, pcm: &[i16]) -> Result<Recording, WavError> {
    let mut recorder = Recorder::create(path)?;
    recorder.write_pcm(pcm)?;
    recorder.finish()
}
