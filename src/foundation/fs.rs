//! Writing files so that a reader never sees half of one.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why [`write_atomic`] failed; the target is unchanged either way.
#[derive(Debug)]
pub enum WriteError {
    /// The path names no file (it ends in `..` or is a root).
    NotAFile(PathBuf),
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::NotAFile(path) => write!(f, "{} is not a file path", path.display()),
            WriteError::Io { path, source } => {
                write!(f, "cannot write {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WriteError::NotAFile(_) => None,
            WriteError::Io { source, .. } => Some(source),
        }
    }
}

/// Writes a file so that readers see the old content or the new, never a part: the bytes go
/// to a temporary file in the same directory, synced, which then replaces the target. A
/// caller that needs the rename itself durable syncs the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| WriteError::NotAFile(path.to_owned()))?;
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = std::fs::File::create(&temp)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .and_then(|()| std::fs::rename(&temp, path));
    if let Err(source) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(WriteError::Io {
            path: path.to_owned(),
            source,
        });
    }
    Ok(())
}
