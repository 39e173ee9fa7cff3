//! The flow files the console may open and save: only `.flow` files inside the deployment's
//! flows folder, named by a relative path that cannot leave it.
//!
//! ```text
//!   ?file=servizi/anagrafe.flow ──► name check (relative, plain parts, no hidden part, .flow)
//!                                    └─► FLOWS/servizi/anagrafe.flow: a regular file reached
//!                                        without a symlink (real path = FLOWS' real path + name)
//!   saved text ──sha256──► the hash the editor was opened with: a publish refuses a file that
//!                          changed on disk since (someone else saved it)
//!   publish ──► temp file beside it ──rename──► the file (a reader sees old or new, never half)
//! ```
//!
//! A check compiles the whole deployment as it is on disk with the edited text in place of the
//! saved one ([`sources_with`]); files the edited text newly imports are not read.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use centralino_compiler::Sources;
use centralino_compiler::load::{self, LoadError};
use centralino_compiler::source::sha256_hex;

/// The largest flow file the console opens or saves (Perugia's largest is 24 KiB).
pub const MAX_FLOW_BYTES: usize = 512 * 1024;

/// Why a flow file cannot be opened or saved from the console.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The name is not a relative path to a `.flow` file of plain parts.
    #[error("`{0}` is not the name of a flow file in the flows folder")]
    BadName(String),
    /// The name leads outside the flows folder (through a symlink), or to a symlink.
    #[error("`{0}` is outside the flows folder")]
    Outside(String),
    #[error("`{0}`: no such flow file")]
    NotFound(String),
    #[error("`{0}` is larger than the console edits ({MAX_FLOW_BYTES} bytes)")]
    TooLarge(String),
    #[error("`{0}` is not UTF-8 text")]
    NotText(String),
    #[error("{name}: {source}")]
    Io {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// The hash the editor keeps of the text it opened (lowercase hex SHA-256).
pub fn text_hash(text: &str) -> String {
    sha256_hex(text.as_bytes())
}

/// Whether `name` is a relative path of plain parts (no `..`, no root, no hidden part, no
/// backslash or control character) ending in `.flow`.
pub fn is_plain_name(name: &str) -> bool {
    let path = Path::new(name);
    !name.is_empty()
        && name.len() <= 1024
        && !name.contains('\\')
        && !name.chars().any(char::is_control)
        && load::is_flow_file(path)
        && path.components().all(|part| match part {
            Component::Normal(part) => part.to_str().is_some_and(|p| !p.starts_with('.')),
            _ => false,
        })
}

/// The path of flow file `name` inside `flows`, as the deployment's loader names it; refused
/// unless it is a regular file reached without any symlink, so its real path is inside the
/// folder's.
pub fn resolve(flows: &Path, name: &str) -> Result<PathBuf, FileError> {
    if !is_plain_name(name) {
        return Err(FileError::BadName(name.to_owned()));
    }
    let path = load::normalize(&flows.join(name));
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(FileError::NotFound(name.to_owned()));
        }
        Err(source) => {
            return Err(FileError::Io {
                name: name.to_owned(),
                source,
            });
        }
    };
    if meta.file_type().is_symlink() || !meta.is_file() {
        return Err(FileError::Outside(name.to_owned()));
    }
    let io = |source| FileError::Io {
        name: name.to_owned(),
        source,
    };
    // The real path must be the folder's real path joined with the name: no symlink on the way
    // (not even one that leads back inside), so the name is the file's only name here.
    let root = flows.canonicalize().map_err(io)?;
    let real = path.canonicalize().map_err(io)?;
    if real == root.join(name) {
        Ok(path)
    } else {
        Err(FileError::Outside(name.to_owned()))
    }
}

/// The flow files of the deployment the console may open, by name (`/`-separated, relative to
/// `flows`), sorted.
pub fn list(flows: &Path) -> Result<Vec<String>, FileError> {
    let files = load::flow_files(&[flows.to_path_buf()])?;
    let root = load::normalize(flows);
    Ok(files
        .iter()
        .filter_map(|file| file.strip_prefix(&root).ok())
        .filter_map(|name| name.to_str().map(|n| n.replace('\\', "/")))
        .filter(|name| resolve(flows, name).is_ok())
        .collect())
}

/// The saved text of flow file `name`.
pub fn read(flows: &Path, name: &str) -> Result<String, FileError> {
    let path = resolve(flows, name)?;
    let bytes = std::fs::read(&path).map_err(|source| FileError::Io {
        name: name.to_owned(),
        source,
    })?;
    if bytes.len() > MAX_FLOW_BYTES {
        return Err(FileError::TooLarge(name.to_owned()));
    }
    String::from_utf8(bytes).map_err(|_| FileError::NotText(name.to_owned()))
}

/// The deployment in `flows` as it is on disk, with `text` in place of the file at `path`.
pub fn sources_with(flows: &Path, path: &Path, text: &str) -> Result<Sources, FileError> {
    let saved = load::load(&[flows.to_path_buf()])?;
    let mut sources = Sources::new();
    let mut found = false;
    for (_, file) in saved.iter() {
        if file.path == path {
            found = true;
            sources.add(file.path.clone(), text);
        } else {
            sources.add(file.path.clone(), file.text.clone());
        }
    }
    if !found {
        sources.add(path.to_path_buf(), text);
    }
    Ok(sources)
}

/// Replace the file at `path` with `text`: written to a temporary file beside it, flushed to
/// disk, given the old file's permissions, then renamed over it.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut temporary = tempfile::Builder::new()
        .prefix(".centralino-edit-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temporary.write_all(text.as_bytes())?;
    temporary.as_file().sync_all()?;
    if let Ok(meta) = std::fs::metadata(path) {
        temporary.as_file().set_permissions(meta.permissions())?;
    }
    temporary.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn only_plain_relative_flow_names_are_accepted() {
        for good in [
            "main.flow",
            "servizi/anagrafe.flow",
            "a b.flow",
            "città.flow",
        ] {
            assert!(is_plain_name(good), "{good}");
        }
        for bad in [
            "",
            "../main.flow",
            "servizi/../../x.flow",
            "/etc/passwd",
            "/tmp/x.flow",
            "./main.flow",
            ".hidden.flow",
            "servizi/.git/x.flow",
            "main.txt",
            "main",
            "a\\..\\b.flow",
            "a\nb.flow",
            "a\0.flow",
        ] {
            assert!(!is_plain_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn files_outside_or_behind_symlinks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let flows = dir.path().join("flows");
        std::fs::create_dir_all(flows.join("servizi")).unwrap();
        std::fs::write(flows.join("main.flow"), "x").unwrap();
        std::fs::write(flows.join("servizi/uffici.flow"), "y").unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        let outside = elsewhere.join("secret.flow");
        std::fs::write(&outside, "secret").unwrap();
        std::os::unix::fs::symlink(&outside, flows.join("link.flow")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, flows.join("up")).unwrap();
        // A symlink that leads back inside is refused too: a file has one name in the editor.
        std::os::unix::fs::symlink(flows.join("servizi"), flows.join("again")).unwrap();

        assert_eq!(
            resolve(&flows, "main.flow").unwrap(),
            load::normalize(&flows.join("main.flow"))
        );
        assert!(resolve(&flows, "servizi/uffici.flow").is_ok());
        assert!(matches!(
            resolve(&flows, "link.flow"),
            Err(FileError::Outside(_))
        ));
        assert!(matches!(
            resolve(&flows, "up/secret.flow"),
            Err(FileError::Outside(_))
        ));
        assert!(matches!(
            resolve(&flows, "again/uffici.flow"),
            Err(FileError::Outside(_))
        ));
        assert!(matches!(
            resolve(&flows, "../elsewhere/secret.flow"),
            Err(FileError::BadName(_))
        ));
        assert!(matches!(
            resolve(&flows, "nuovo.flow"),
            Err(FileError::NotFound(_))
        ));
        let listed = list(&flows).unwrap();
        assert_eq!(listed, vec!["main.flow", "servizi/uffici.flow"]);
        assert_eq!(read(&flows, "main.flow").unwrap(), "x");
    }

    #[test]
    fn the_edited_text_takes_the_saved_ones_place() {
        let dir = tempfile::tempdir().unwrap();
        let flows = dir.path().to_path_buf();
        std::fs::write(flows.join("a.flow"), "saved a").unwrap();
        std::fs::write(flows.join("b.flow"), "saved b").unwrap();
        let path = resolve(&flows, "b.flow").unwrap();
        let sources = sources_with(&flows, &path, "edited b").unwrap();
        let texts: Vec<&str> = sources.iter().map(|(_, f)| f.text.as_str()).collect();
        assert_eq!(texts, vec!["saved a", "edited b"]);
    }

    #[test]
    fn saving_replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("main.flow");
        std::fs::write(&path, "old text, longer than the new").unwrap();
        write_atomic(&path, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1);
        assert_ne!(text_hash("new"), text_hash("old"));
        assert_eq!(text_hash("new").len(), 64);
    }
}
