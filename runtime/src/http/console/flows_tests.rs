//! The flow tests (`.test` scenarios) run from the editor against the edited text, by the
//! server's own `centralino test`.
//!
//! ```text
//!   FLOWS/  a.flow  sub/b.flow(edited)  tests/x.test  prompts/...
//!   TEMP/   a.flow ─► FLOWS/a.flow      (symlinks: nothing is copied)
//!           sub/    b.flow = the edited text, its siblings ─► FLOWS/sub/...
//!           tests ─► FLOWS/tests,  prompts ─► FLOWS/prompts
//!   centralino --lang L test TEMP ──► its report, TEMP's path shown as the flows folder's
//! ```
//!
//! The runner of scenarios belongs to the binary (src/cli/test.rs), so the console runs the
//! executable it is part of, with fixed arguments and no shell, one run at a time, killed after
//! [`TEST_TIMEOUT`]. Only an executable named `centralino` is run (never a test harness that
//! links the runtime). Imports that leave the flows folder (`../`) do not resolve in the copy.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::words::Lang;

/// How long one run of the flow tests may take.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(120);
/// The longest report kept for the page.
const MAX_REPORT_BYTES: usize = 256 * 1024;

/// What a run of the flow tests said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRun {
    /// Every scenario passed.
    pub passed: bool,
    /// `centralino test`'s report (ends with `N passed, N failed`).
    pub report: String,
}

/// Why the flow tests could not run.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error("the flow tests are run by the centralino program, and this is not it")]
    NotTheProgram,
    #[error("the flow tests took longer than {} s and were stopped", TEST_TIMEOUT.as_secs())]
    TimedOut,
    #[error("the flow tests could not run: {0}")]
    Io(#[from] std::io::Error),
}

/// Mirror `flows` into `into` with symlinks, except the file `name` (relative, `/`-separated),
/// which gets `text`; the folders on its way are real folders.
pub fn mirror_with(flows: &Path, name: &str, text: &str, into: &Path) -> std::io::Result<()> {
    let flows = flows.canonicalize()?;
    let parts: Vec<&str> = name.split('/').collect();
    let mut source = flows;
    let mut target = into.to_path_buf();
    for (index, part) in parts.iter().enumerate() {
        for entry in std::fs::read_dir(&source)? {
            let entry = entry?;
            if entry.file_name().to_str() == Some(part) {
                continue;
            }
            std::os::unix::fs::symlink(entry.path(), target.join(entry.file_name()))?;
        }
        if index + 1 == parts.len() {
            std::fs::write(target.join(part), text)?;
        } else {
            std::fs::create_dir(target.join(part))?;
            source = source.join(part);
            target = target.join(part);
        }
    }
    Ok(())
}

/// The `centralino` executable this server runs as.
fn program() -> Result<PathBuf, TestError> {
    let exe = std::env::current_exe()?;
    match exe.file_name().and_then(|n| n.to_str()) {
        Some("centralino") => Ok(exe),
        _ => Err(TestError::NotTheProgram),
    }
}

/// Run the flow tests of `flows` with `text` in place of file `name`, the report in `lang`.
/// Blocking: run it on the blocking pool.
pub fn run(flows: &Path, name: &str, text: &str, lang: Lang) -> Result<TestRun, TestError> {
    let program = program()?;
    let temporary = tempfile::Builder::new()
        .prefix("centralino-flow-tests-")
        .tempdir()?;
    let copy = temporary.path().join("flows");
    std::fs::create_dir(&copy)?;
    mirror_with(flows, name, text, &copy)?;
    let mut child = Command::new(program)
        .arg("--lang")
        .arg(lang.as_str())
        .arg("test")
        .arg(&copy)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Read both pipes on their own threads so a long report cannot fill one and stall.
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let read = |pipe: Option<std::process::ChildStdout>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = std::io::Read::read_to_end(&mut pipe, &mut text);
            }
            text
        })
    };
    let out = read(stdout);
    let err = std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(mut pipe) = stderr {
            let _ = std::io::Read::read_to_end(&mut pipe, &mut text);
        }
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() > TEST_TIMEOUT {
            // Our own child, by its handle (its PID).
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut report = out.join().unwrap_or_default();
    report.extend(err.join().unwrap_or_default());
    let Some(status) = status else {
        return Err(TestError::TimedOut);
    };
    report.truncate(MAX_REPORT_BYTES);
    let shown = flows.to_string_lossy().into_owned();
    let report = String::from_utf8_lossy(&report).replace(&*copy.to_string_lossy(), &shown);
    Ok(TestRun {
        passed: status.success(),
        report,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_mirror_has_the_edited_text_and_links_to_everything_else() {
        let dir = tempfile::tempdir().unwrap();
        let flows = dir.path().join("flows");
        std::fs::create_dir_all(flows.join("sub")).unwrap();
        std::fs::create_dir_all(flows.join("tests")).unwrap();
        std::fs::write(flows.join("a.flow"), "a").unwrap();
        std::fs::write(flows.join("sub/b.flow"), "saved b").unwrap();
        std::fs::write(flows.join("sub/c.flow"), "c").unwrap();
        std::fs::write(flows.join("tests/x.test"), "x").unwrap();
        let copy = dir.path().join("copy");
        std::fs::create_dir(&copy).unwrap();
        mirror_with(&flows, "sub/b.flow", "edited b", &copy).unwrap();
        let read = |p: &str| std::fs::read_to_string(copy.join(p)).unwrap();
        assert_eq!(read("a.flow"), "a");
        assert_eq!(read("sub/b.flow"), "edited b");
        assert_eq!(read("sub/c.flow"), "c");
        assert_eq!(read("tests/x.test"), "x");
        assert!(
            !std::fs::symlink_metadata(copy.join("sub"))
                .unwrap()
                .is_symlink()
        );
        assert!(
            std::fs::symlink_metadata(copy.join("tests"))
                .unwrap()
                .is_symlink()
        );
        // The saved file is untouched.
        assert_eq!(
            std::fs::read_to_string(flows.join("sub/b.flow")).unwrap(),
            "saved b"
        );
    }

    #[test]
    fn only_the_centralino_program_runs_the_tests() {
        // A test harness links the runtime too: it must not be run as `centralino test`.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.flow"), "a").unwrap();
        assert!(matches!(
            run(dir.path(), "a.flow", "a", Lang::It),
            Err(TestError::NotTheProgram)
        ));
    }
}
