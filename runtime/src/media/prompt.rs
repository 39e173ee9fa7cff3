//! The prompt cache: every prompt decoded, resampled to 8 kHz and G.711-encoded once, then
//! shared by every call that plays it as `Arc<EncodedPrompt>` of 20 ms frames.
//!
//! ```text
//!  Media::Audio{path} ──stat──► key (path, mtime, size) ─┐
//!  Media::Speech{text,lang} ──voice──► key (text, voice) ┤   Mutex<HashMap<key, Arc<OnceLock>>>
//!                                                        ▼   (the lock is held only to find the slot)
//!                       first caller: decode ─ mono ─ 8 kHz ─ PCMU + PCMA frames; others wait
//!                       on the same OnceLock and get the same Arc (or the same error)
//! ```
//!
//! Loading reads files, runs `espeak-ng` and burns CPU: call [`PromptCache::get_or_load`] off
//! the media loop (`tokio::task::spawn_blocking`). Errors are values ([`PromptError`]); a
//! failed load is not kept, so the next request tries again. The cache holds at most
//! [`PromptCacheConfig::max_bytes`] of frames and evicts the least recently used prompts beyond
//! that; calls that still play an evicted prompt keep their `Arc`.

mod decode;
mod speech;

pub use decode::{DecodedAudio, decode_file, f32_to_i16, resample, to_telephone_pcm};
pub use speech::{MAX_TEXT_CHARS, SpeechCommand, cached_path, valid_voice};

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};

use centralino_compiler::graph::{Graph, PromptBody};

use super::codec::Codec;
use super::{FRAME_SAMPLES, SAMPLE_RATE};
use crate::engine::Media;

/// One 20 ms frame of G.711 code words.
pub type Frame = [u8; FRAME_SAMPLES];

/// A prompt ready to send: the same audio in both G.711 variants, 20 ms per frame. The last
/// frame is padded with silence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPrompt {
    pub frames_pcmu: Vec<Frame>,
    pub frames_pcma: Vec<Frame>,
    /// The audio's own length (before the padding of the last frame).
    pub duration_ms: u64,
}

impl EncodedPrompt {
    /// Encodes 8 kHz mono PCM into frames of both codecs.
    pub fn from_pcm(pcm: &[i16]) -> EncodedPrompt {
        let encode = |codec: Codec| -> Vec<Frame> {
            pcm.chunks(FRAME_SAMPLES)
                .map(|chunk| {
                    let mut frame = [codec.silence(); FRAME_SAMPLES];
                    codec.encode(chunk, &mut frame);
                    frame
                })
                .collect()
        };
        EncodedPrompt {
            frames_pcmu: encode(Codec::Pcmu),
            frames_pcma: encode(Codec::Pcma),
            duration_ms: (pcm.len() as u64).saturating_mul(1000) / u64::from(SAMPLE_RATE),
        }
    }

    /// The frames of one codec.
    pub fn frames(&self, codec: Codec) -> &[Frame] {
        match codec {
            Codec::Pcmu => &self.frames_pcmu,
            Codec::Pcma => &self.frames_pcma,
        }
    }

    /// Frames per codec.
    pub fn frame_count(&self) -> usize {
        self.frames_pcmu.len()
    }

    /// Bytes of frames held (both codecs).
    pub fn byte_size(&self) -> usize {
        (self.frames_pcmu.len() + self.frames_pcma.len()) * FRAME_SAMPLES
    }
}

/// Why a prompt cannot be played. The caller logs it and goes on without the prompt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    #[error("audio file not found: {}", path.display())]
    Missing { path: PathBuf },
    #[error("cannot read {}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("cannot decode {}: {reason}", path.display())]
    Undecodable { path: PathBuf, reason: String },
    #[error("no text-to-speech voice for language `{language}`")]
    NoVoice { language: String },
    #[error("`{voice}` is not a usable voice name")]
    InvalidVoice { voice: String },
    #[error("nothing to say: the text is empty")]
    EmptyText,
    #[error("text of {chars} characters is too long to speak (at most {max})")]
    TextTooLong { chars: usize, max: usize },
    #[error("text-to-speech unavailable: {}: {reason}", program.display())]
    SpeechUnavailable { program: PathBuf, reason: String },
    #[error("text-to-speech failed: {reason}")]
    SpeechFailed { reason: String },
}

/// How prompts are found, spoken and kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptCacheConfig {
    /// Relative audio paths are opened from here; `None`: the working directory (where the
    /// compiler ran, as the graph's paths assume).
    pub base_dir: Option<PathBuf>,
    /// The text-to-speech program, its output directory and timeout.
    pub speech: SpeechCommand,
    /// Language code → espeak-ng voice (`it` → `it`, `en` → `en`).
    pub voices: BTreeMap<String, String>,
    /// The voice of languages missing from `voices`; `None` makes them an error.
    pub default_voice: Option<String>,
    /// Frames kept (both codecs together); least recently used prompts go first beyond it.
    pub max_bytes: usize,
    /// Audio past this length is cut off.
    pub max_seconds: u64,
}

impl Default for PromptCacheConfig {
    fn default() -> Self {
        PromptCacheConfig {
            base_dir: None,
            speech: SpeechCommand {
                program: PathBuf::from("espeak-ng"),
                dir: std::env::temp_dir().join("centralino-speech"),
                timeout: Duration::from_secs(30),
            },
            voices: [("it", "it"), ("en", "en")]
                .into_iter()
                .map(|(lang, voice)| (lang.to_string(), voice.to_string()))
                .collect(),
            default_voice: Some("it".to_string()),
            // 256 MiB: 2 × 8 KB per second of audio, so about 4.5 hours of prompts.
            max_bytes: 256 * 1024 * 1024,
            max_seconds: 10 * 60,
        }
    }
}

/// Counters, for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Prompts held now.
    pub entries: usize,
    /// Bytes of frames held now.
    pub bytes: usize,
    /// Decodes performed (successful or not) since the start.
    pub loads: u64,
    /// Requests answered from a prompt already loaded or being loaded.
    pub hits: u64,
    /// Prompts dropped to stay under `max_bytes`.
    pub evictions: u64,
}

/// What [`PromptCache::preload`] did.
#[derive(Debug, Default)]
pub struct PreloadReport {
    /// Audio prompts (distinct files) ready.
    pub loaded: usize,
    /// (prompt name, language, error) of those that could not be loaded.
    pub failed: Vec<(String, String, PromptError)>,
}

type Slot = Arc<OnceLock<Result<Arc<EncodedPrompt>, PromptError>>>;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Audio {
        path: PathBuf,
        modified: Option<SystemTime>,
        len: u64,
    },
    Speech {
        text: String,
        voice: String,
    },
}

struct Entry {
    slot: Slot,
    last_used: u64,
    /// Bytes counted into `Inner::bytes` once loaded; `None` while loading.
    counted: Option<usize>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Key, Entry>,
    bytes: usize,
    tick: u64,
}

/// Decoded, encoded prompts shared by all calls. `Send + Sync`: share it in an `Arc`.
pub struct PromptCache {
    config: PromptCacheConfig,
    inner: Mutex<Inner>,
    loads: AtomicU64,
    hits: AtomicU64,
    evictions: AtomicU64,
    /// Whether a call already reported that text-to-speech is unavailable.
    speech_unavailable_reported: AtomicBool,
}

impl std::fmt::Debug for PromptCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptCache")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish()
    }
}

impl PromptCache {
    pub fn new(config: PromptCacheConfig) -> Self {
        PromptCache {
            config,
            inner: Mutex::new(Inner::default()),
            loads: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            speech_unavailable_reported: AtomicBool::new(false),
        }
    }

    /// Whether a prompt skipped for `error` is worth a warning: every error is, but for a
    /// missing text-to-speech program, which is the same news for every call and is warned
    /// about once per process.
    pub fn first_report(&self, error: &PromptError) -> bool {
        match error {
            PromptError::SpeechUnavailable { .. } => !self
                .speech_unavailable_reported
                .swap(true, Ordering::Relaxed),
            _ => true,
        }
    }

    pub fn config(&self) -> &PromptCacheConfig {
        &self.config
    }

    pub fn stats(&self) -> CacheStats {
        let inner = self.lock();
        CacheStats {
            entries: inner.entries.len(),
            bytes: inner.bytes,
            loads: self.loads.load(Ordering::Relaxed),
            hits: self.hits.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }

    /// The path an audio prompt is opened from.
    pub fn resolve(&self, path: &str) -> PathBuf {
        let path = Path::new(path);
        match &self.config.base_dir {
            Some(base) if path.is_relative() => base.join(path),
            _ => path.to_path_buf(),
        }
    }

    /// The espeak-ng voice for a language (`it-IT` falls back to `it`, then the default).
    pub fn voice_for(&self, language: &str) -> Result<String, PromptError> {
        let primary = language.split(['-', '_']).next().unwrap_or(language);
        self.config
            .voices
            .get(language)
            .or_else(|| self.config.voices.get(primary))
            .or(self.config.default_voice.as_ref())
            .cloned()
            .ok_or_else(|| PromptError::NoVoice {
                language: language.to_string(),
            })
    }

    /// The prompt, from the cache or loaded now. Blocking: see the module docs.
    pub fn get_or_load(&self, media: &Media) -> Result<Arc<EncodedPrompt>, PromptError> {
        let key = self.key(media)?;
        let slot = self.slot(&key);
        let mut loaded_here = false;
        let result = slot
            .get_or_init(|| {
                loaded_here = true;
                self.loads.fetch_add(1, Ordering::Relaxed);
                self.load(&key)
            })
            .clone();
        if !loaded_here {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        self.settle(&key, &slot, &result);
        result
    }

    /// Loads every audio prompt of `graph` (each file once), so the first call does not wait.
    pub fn preload(&self, graph: &Graph) -> PreloadReport {
        let mut report = PreloadReport::default();
        let mut seen = std::collections::HashSet::new();
        for (name, prompt) in &graph.prompts {
            for (language, body) in &prompt.variants {
                let PromptBody::Audio { path, .. } = body else {
                    continue;
                };
                if !seen.insert(path.clone()) {
                    continue;
                }
                match self.get_or_load(&Media::Audio { path: path.clone() }) {
                    Ok(_) => report.loaded += 1,
                    Err(err) => report.failed.push((name.clone(), language.clone(), err)),
                }
            }
        }
        report
    }

    /// Drops every prompt (calls keep those they play).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.bytes = 0;
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The lock guards plain bookkeeping that is never left half-updated by a panic.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn key(&self, media: &Media) -> Result<Key, PromptError> {
        match media {
            Media::Audio { path } => {
                let path = self.resolve(path);
                let meta = std::fs::metadata(&path).map_err(|err| match err.kind() {
                    std::io::ErrorKind::NotFound => PromptError::Missing { path: path.clone() },
                    _ => PromptError::Unreadable {
                        path: path.clone(),
                        reason: err.to_string(),
                    },
                })?;
                if !meta.is_file() {
                    return Err(PromptError::Unreadable {
                        path,
                        reason: "not a regular file".to_string(),
                    });
                }
                Ok(Key::Audio {
                    modified: meta.modified().ok(),
                    len: meta.len(),
                    path,
                })
            }
            Media::Speech { text, language } => {
                if text.trim().is_empty() {
                    return Err(PromptError::EmptyText);
                }
                Ok(Key::Speech {
                    text: text.clone(),
                    voice: self.voice_for(language)?,
                })
            }
        }
    }

    /// Finds or creates the slot of `key` and marks it used.
    fn slot(&self, key: &Key) -> Slot {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        if let Some(entry) = inner.entries.get_mut(key) {
            entry.last_used = tick;
            return entry.slot.clone();
        }
        // A changed file: drop the versions of the same path.
        if let Key::Audio { path, .. } = key {
            let stale: Vec<Key> = inner
                .entries
                .keys()
                .filter(|k| matches!(k, Key::Audio { path: p, .. } if p == path))
                .cloned()
                .collect();
            for old in stale {
                remove(&mut inner, &old);
            }
        }
        let slot = Slot::default();
        inner.entries.insert(
            key.clone(),
            Entry {
                slot: slot.clone(),
                last_used: tick,
                counted: None,
            },
        );
        slot
    }

    /// After a load: count its bytes and evict beyond the cap, or forget a failure.
    fn settle(&self, key: &Key, slot: &Slot, result: &Result<Arc<EncodedPrompt>, PromptError>) {
        let mut inner = self.lock();
        let Some(entry) = inner.entries.get_mut(key) else {
            return;
        };
        if !Arc::ptr_eq(&entry.slot, slot) {
            return;
        }
        match result {
            Err(_) => remove(&mut inner, key),
            Ok(prompt) => {
                if entry.counted.is_some() {
                    return;
                }
                let bytes = prompt.byte_size();
                entry.counted = Some(bytes);
                inner.bytes = inner.bytes.saturating_add(bytes);
                while inner.bytes > self.config.max_bytes {
                    let victim = inner
                        .entries
                        .iter()
                        .filter(|(k, e)| *k != key && e.counted.is_some())
                        .min_by_key(|(_, e)| e.last_used)
                        .map(|(k, _)| k.clone());
                    let Some(victim) = victim else { break };
                    remove(&mut inner, &victim);
                    self.evictions.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Runs the pipeline; a panic anywhere in it (decoder, resampler) becomes an error, so a
    /// bad file can never take a call down.
    fn load(&self, key: &Key) -> Result<Arc<EncodedPrompt>, PromptError> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.load_unguarded(key)))
            .unwrap_or_else(|_| {
                Err(PromptError::Undecodable {
                    path: match key {
                        Key::Audio { path, .. } => path.clone(),
                        Key::Speech { voice, .. } => PathBuf::from(format!("<speech:{voice}>")),
                    },
                    reason: "the decoder crashed on this audio".to_string(),
                })
            })
    }

    fn load_unguarded(&self, key: &Key) -> Result<Arc<EncodedPrompt>, PromptError> {
        let path = match key {
            Key::Audio { path, .. } => path.clone(),
            Key::Speech { text, voice } => speech::render(&self.config.speech, voice, text)?,
        };
        let audio = decode_file(&path, self.config.max_seconds)?;
        let pcm = to_telephone_pcm(&audio, &path)?;
        Ok(Arc::new(EncodedPrompt::from_pcm(&pcm)))
    }
}

fn remove(inner: &mut Inner, key: &Key) {
    if let Some(entry) = inner.entries.remove(key) {
        inner.bytes = inner.bytes.saturating_sub(entry.counted.unwrap_or(0));
    }
}

/// Loads one audio file into 8 kHz PCM (decode, mix to mono, resample): the cache's pipeline
/// without the cache, for tools, tests and benchmarks.
pub fn load_pcm(path: &Path, max_seconds: u64) -> Result<Vec<i16>, PromptError> {
    let audio = decode_file(path, max_seconds)?;
    to_telephone_pcm(&audio, path)
}
