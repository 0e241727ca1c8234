//! A build's output directory: one content-hashed bundle per environment and the
//! `manifest.json` that names them, which publishing reads.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::bundle::{self, Bundle};
use crate::check::Checked;
use crate::fs::{WriteError, write_atomic};

/// `manifest.json`: what a build wrote. It lies beside the bundles and is not hashed.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub project: String,
    /// The commit the repository was built from: the revision's, or HEAD's for a work-tree
    /// build in a git repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The git tree id of the repository directory in that commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree: Option<String>,
    /// Whether the files read differed from that commit's (always false for a revision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dirty: Option<bool>,
    /// Environments in the project's order.
    pub environments: Vec<ManifestEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub name: String,
    pub hash: String,
    /// The bundle's file, relative to the manifest.
    pub file: String,
    pub flags: usize,
    pub segments: usize,
    pub bytes: usize,
}

/// Where a build's files came from, as `manifest.json` records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The commit's full id.
    pub commit: String,
    /// The git tree id of the repository directory in that commit; `None` when the commit
    /// has no such directory.
    pub tree: Option<String>,
    /// Whether the files read differ from the commit's.
    pub dirty: bool,
}

/// Why the output could not be written.
#[derive(Debug)]
pub enum OutputError {
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    Write(WriteError),
}

impl std::fmt::Display for OutputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputError::CreateDir { path, source } => {
                write!(f, "cannot create {}: {source}", path.display())
            }
            OutputError::Write(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for OutputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OutputError::CreateDir { source, .. } => Some(source),
            OutputError::Write(e) => Some(e),
        }
    }
}

impl From<WriteError> for OutputError {
    fn from(e: WriteError) -> OutputError {
        OutputError::Write(e)
    }
}

/// Writes every bundle into `out` (created if missing), then the manifest that names them,
/// each atomically: a reader that follows the manifest never finds a bundle missing or
/// partial. Environments are built, written and dropped one at a time, so memory holds the
/// model and one environment.
pub fn write(
    out: &Path,
    checked: Checked<'_>,
    source: Option<Source>,
) -> Result<Manifest, OutputError> {
    std::fs::create_dir_all(out).map_err(|source| OutputError::CreateDir {
        path: out.to_owned(),
        source,
    })?;
    let project = checked
        .repo()
        .project
        .as_ref()
        .and_then(|p| p.doc.as_ref())
        .expect("checked repositories have a project");
    let environments = project
        .environments
        .iter()
        .map(|env| write_bundle(out, &crate::build::environment(checked, env)))
        .collect::<Result<Vec<_>, WriteError>>()?;
    let manifest = Manifest {
        format: bundle::FORMAT,
        project: project.name.as_str().to_owned(),
        commit: source.as_ref().map(|s| s.commit.clone()),
        tree: source.as_ref().and_then(|s| s.tree.clone()),
        dirty: source.as_ref().map(|s| s.dirty),
        environments,
    };
    let mut text = serde_json::to_string_pretty(&manifest).expect("manifests serialize");
    text.push('\n');
    write_atomic(&out.join("manifest.json"), text.as_bytes())?;
    Ok(manifest)
}

fn write_bundle(out: &Path, bundle: &Bundle) -> Result<ManifestEntry, WriteError> {
    let bytes = bundle.to_canonical_json();
    let hash = bundle::content_hash(&bytes);
    let file = format!("{hash}.json");
    write_atomic(&out.join(&file), &bytes)?;
    Ok(ManifestEntry {
        name: bundle.environment.clone(),
        hash,
        file,
        flags: bundle.flags.len(),
        segments: bundle.segments.len(),
        bytes: bytes.len(),
    })
}
