//! `flagstone build [DIR] --out OUT`: check the repository, then write one content-hashed
//! bundle per environment and a manifest. With any error, nothing is written.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bundle::{self, Bundle};

use super::{Error, Format, Outcome, RepoArgs, checked, write_atomic};

/// Check the repository and compile each environment into a content-hashed bundle.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    repo: RepoArgs,
    /// The directory to write bundles and manifest.json to (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Output format: of findings when the check fails, of the manifest otherwise.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

/// `manifest.json`: what a build wrote. It lies beside the bundles and is not hashed.
#[derive(Debug, Serialize)]
pub struct Manifest {
    pub format: u32,
    pub project: String,
    /// The commit the repository was at, when it is in a git repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Whether the repository's files differed from that commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dirty: Option<bool>,
    /// Environments in the project's order.
    pub environments: Vec<ManifestEntry>,
}

#[derive(Debug, Serialize)]
pub struct ManifestEntry {
    pub name: String,
    pub hash: String,
    /// The bundle's file, relative to the manifest.
    pub file: String,
    pub flags: usize,
    pub segments: usize,
    pub bytes: usize,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Outcome, Error> {
    let repo = crate::load::load(&args.repo.dir)?;
    let report = crate::check::check(&repo, &args.repo.options()?);
    let Some(checked) = checked(&report, &args.repo.dir, args.format, out)? else {
        return Ok(Outcome::Failure);
    };
    let bundles = bundle::build(checked);
    let (commit, dirty) = provenance(&args.repo.dir);
    let manifest = write(&args.out, &bundles, commit, dirty)?;
    // The process ends next: freeing the bundles value by value would only delay it.
    std::mem::forget(bundles);
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &manifest)?;
            writeln!(out)?;
        }
        Format::Human | Format::Github => {
            for env in &manifest.environments {
                writeln!(
                    out,
                    "{:<14} {}  {} flags, {} bytes",
                    env.name, env.hash, env.flags, env.bytes
                )?;
            }
            writeln!(out, "wrote {}", args.out.join("manifest.json").display())?;
        }
    }
    Ok(Outcome::Success)
}

/// Writes every bundle, then the manifest that names them, each atomically: a reader that
/// follows the manifest never finds a bundle missing or partial.
fn write(
    out: &Path,
    bundles: &[Bundle],
    commit: Option<String>,
    dirty: Option<bool>,
) -> Result<Manifest, Error> {
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    // Serializing, hashing and writing each bundle is independent work: one thread each.
    let written: Vec<Result<ManifestEntry, String>> = std::thread::scope(|scope| {
        let writers: Vec<_> = bundles
            .iter()
            .map(|bundle| scope.spawn(move || write_bundle(out, bundle)))
            .collect();
        writers
            .into_iter()
            .map(|w| w.join().expect("writing a bundle does not panic"))
            .collect()
    });
    let environments = written.into_iter().collect::<Result<Vec<_>, String>>()?;
    let manifest = Manifest {
        format: bundle::FORMAT,
        project: bundles
            .first()
            .map(|b| b.project.clone())
            .unwrap_or_default(),
        commit,
        dirty,
        environments,
    };
    let mut text = serde_json::to_string_pretty(&manifest)?;
    text.push('\n');
    write_atomic(&out.join("manifest.json"), text.as_bytes())?;
    Ok(manifest)
}

fn write_bundle(out: &Path, bundle: &Bundle) -> Result<ManifestEntry, String> {
    let bytes = bundle.to_canonical_json();
    let hash = bundle::content_hash(&bytes);
    let file = format!("{hash}.json");
    write_atomic(&out.join(&file), &bytes).map_err(|e| e.to_string())?;
    Ok(ManifestEntry {
        name: bundle.environment.clone(),
        hash,
        file,
        flags: bundle.flags.len(),
        segments: bundle.segments.len(),
        bytes: bytes.len(),
    })
}

/// The commit HEAD points at in the git repository holding `dir`, and whether any file
/// below `dir` differs from it. `None` outside a git repository.
fn provenance(dir: &Path) -> (Option<String>, Option<bool>) {
    let Ok(repository) = git2::Repository::discover(dir) else {
        return (None, None);
    };
    let Ok(commit) = repository.head().and_then(|h| h.peel_to_commit()) else {
        return (None, None);
    };
    let dirty = dirty(&repository, dir);
    (Some(commit.id().to_string()), dirty)
}

fn dirty(repository: &git2::Repository, dir: &Path) -> Option<bool> {
    let workdir = repository.workdir()?.canonicalize().ok()?;
    let dir = dir.canonicalize().ok()?;
    let relative = dir.strip_prefix(&workdir).ok()?;
    let mut options = git2::StatusOptions::new();
    options.include_untracked(true).recurse_untracked_dirs(true);
    let spec = relative.to_string_lossy().replace('\\', "/");
    if !spec.is_empty() {
        options.pathspec(format!("{spec}/"));
    }
    let statuses = repository.statuses(Some(&mut options)).ok()?;
    Some(statuses.iter().any(|s| !s.status().is_ignored()))
}
