//! Reading a deployment from disk: the `.flow` files under the given paths and the files they import.

use std::path::{Component, Path, PathBuf};

use crate::source::Sources;

/// Why sources could not be read. Problems inside the files are diagnostics, not errors.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}: no such file or directory")]
    NotFound(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: not a text file (flow files must be UTF-8)")]
    NotUtf8(PathBuf),
    #[error("no .flow files found in {0}")]
    NoFlowFiles(String),
}

/// `a/./b/../c` -> `a/c`, without touching the file system (so symlinks are not resolved).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Every `.flow` file named by `paths`: files as given, directories searched
/// recursively (hidden entries skipped), in a stable, sorted order.
pub fn flow_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &is_flow_file, &mut files)?;
        } else if path.is_file() {
            files.push(normalize(path));
        } else {
            return Err(LoadError::NotFound(path.clone()));
        }
    }
    files.sort();
    files.dedup();
    if files.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(LoadError::NoFlowFiles(names.join(", ")));
    }
    Ok(files)
}

/// Whether a path names a flow file (`*.flow`).
pub fn is_flow_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "flow")
}

/// Files under `dir` that `wanted` accepts, recursively, sorted per directory;
/// hidden entries and `target` are skipped.
pub fn walk(
    dir: &Path,
    wanted: &dyn Fn(&Path) -> bool,
    out: &mut Vec<PathBuf>,
) -> Result<(), LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| LoadError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        paths.push(entry.path());
    }
    paths.sort();
    for path in paths {
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.') || n == "target");
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk(&path, wanted, out)?;
        } else if wanted(&path) {
            out.push(normalize(&path));
        }
    }
    Ok(())
}

/// Read one file as text.
pub fn read_source(path: &Path) -> Result<String, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => LoadError::NotFound(path.to_path_buf()),
        _ => LoadError::Io {
            path: path.to_path_buf(),
            source,
        },
    })?;
    String::from_utf8(bytes).map_err(|_| LoadError::NotUtf8(path.to_path_buf()))
}

/// Load the `.flow` files under `paths`, then every file they import (transitively).
/// An import that cannot be read is left out here; the checker reports it with its span.
pub fn load(paths: &[PathBuf]) -> Result<Sources, LoadError> {
    let mut sources = Sources::new();
    let mut queue: Vec<PathBuf> = flow_files(paths)?;
    queue.reverse();
    while let Some(path) = queue.pop() {
        if sources.find(&path).is_some() {
            continue;
        }
        let text = read_source(&path)?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut imports: Vec<PathBuf> = crate::syntax::imports(&text)
            .into_iter()
            .map(|import| normalize(&base.join(import)))
            .filter(|p| p.is_file())
            .collect();
        sources.add(path, text);
        imports.reverse();
        queue.extend(imports);
    }
    Ok(sources)
}
