//! Text to speech with `espeak-ng` (a subprocess), rendered once into a WAV file per
//! (voice, text) and kept in a directory, so a restart does not speak everything again.
//!
//! The text goes in on standard input (`--stdin`), never as an argument, so a text starting with
//! `-` cannot be taken for an option; the voice name is checked against a small alphabet. The
//! WAV is written to a temporary name and renamed, so a half-written file is never reused.

use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::PromptError;

/// Texts longer than this (in characters) are refused.
pub const MAX_TEXT_CHARS: usize = 4000;

/// How to run the synthesizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeechCommand {
    /// The program, `espeak-ng` by default (looked up in `PATH`).
    pub program: PathBuf,
    /// Where rendered WAVs are kept.
    pub dir: PathBuf,
    /// A synthesizer that runs longer is killed.
    pub timeout: Duration,
}

/// True when `voice` is a plausible espeak-ng voice name (`it`, `en-gb`, `it+f3`).
pub fn valid_voice(voice: &str) -> bool {
    !voice.is_empty()
        && voice.len() <= 64
        && !voice.starts_with('-')
        && voice
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+'))
}

/// The file a (voice, text) pair is rendered to: a SHA-256 of both names it.
pub fn cached_path(dir: &Path, voice: &str, text: &str) -> PathBuf {
    let mut hasher = Sha256::new();
    hasher.update(voice.as_bytes());
    hasher.update([0u8]);
    hasher.update(text.as_bytes());
    let digest = hasher.finalize();
    let hex: String = digest
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    dir.join(format!("tts-{voice}-{hex}.wav"))
}

/// Renders `text` with `voice` unless the WAV is already there; returns the WAV's path.
pub fn render(command: &SpeechCommand, voice: &str, text: &str) -> Result<PathBuf, PromptError> {
    if text.trim().is_empty() {
        return Err(PromptError::EmptyText);
    }
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(PromptError::TextTooLong {
            chars,
            max: MAX_TEXT_CHARS,
        });
    }
    if !valid_voice(voice) {
        return Err(PromptError::InvalidVoice {
            voice: voice.to_string(),
        });
    }
    let target = cached_path(&command.dir, voice, text);
    if std::fs::metadata(&target).is_ok_and(|meta| meta.is_file() && meta.len() > 44) {
        return Ok(target);
    }
    std::fs::create_dir_all(&command.dir).map_err(|err| PromptError::SpeechFailed {
        reason: format!("cannot create {}: {err}", command.dir.display()),
    })?;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let temp = command.dir.join(format!(
        ".tts-{}-{}.tmp.wav",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = run(command, voice, text, &temp).and_then(|()| {
        std::fs::rename(&temp, &target).map_err(|err| PromptError::SpeechFailed {
            reason: format!("cannot store {}: {err}", target.display()),
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.map(|()| target)
}

fn run(command: &SpeechCommand, voice: &str, text: &str, out: &Path) -> Result<(), PromptError> {
    let mut child = Command::new(&command.program)
        .arg("-v")
        .arg(voice)
        .arg("-w")
        .arg(out)
        .arg("--stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| PromptError::SpeechUnavailable {
            program: command.program.clone(),
            reason: if err.kind() == ErrorKind::NotFound {
                "not installed (not found in PATH)".to_string()
            } else {
                err.to_string()
            },
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A synthesizer that exits early closes the pipe; its exit status tells why.
        let _ = stdin.write_all(text.as_bytes());
        let _ = stdin.write_all(b"\n");
    }
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= command.timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(PromptError::SpeechFailed {
                    reason: format!("no result after {} ms", command.timeout.as_millis()),
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(err) => {
                let _ = child.kill();
                return Err(PromptError::SpeechFailed {
                    reason: err.to_string(),
                });
            }
        }
    };
    if !status.success() {
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        let stderr: String = stderr.trim().chars().take(200).collect();
        return Err(PromptError::SpeechFailed {
            reason: format!("{status}: {stderr}"),
        });
    }
    Ok(())
}
