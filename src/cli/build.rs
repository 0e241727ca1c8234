//! `flagstone build --out OUT [--rev REV]`: check the repository, then write one
//! content-hashed bundle per environment and a manifest. With any error, nothing is written.
//! With `--rev`, the repository is read from that commit's git objects, as `review` reads
//! it, instead of from the work tree.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bundle::{self, Bundle};
use crate::check::Checked;
use crate::provenance::Source;

use super::{
    DenyArgs, Error, Exit, Format, GithubOutput, RepoArgs, checked, formats, write_atomic,
};

/// Check the repository and compile each environment into a content-hashed bundle.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    repo: RepoArgs,
    #[command(flatten)]
    deny: DenyArgs,
    /// The directory to write bundles and manifest.json to (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Output format: of findings when the check fails, of the manifest otherwise.
    #[arg(long, default_value = "human", value_parser = formats(&[Format::Human, Format::Json, Format::Github]))]
    format: Format,
    /// Build the repository as it is at this git revision, read from git objects (as `diff`
    /// and `review` read it), not from the work tree.
    #[arg(long, value_name = "REV")]
    rev: Option<String>,
    /// Outputs: bundle-hashes (a JSON object, environment → hash), bundle-dir (--out) and
    /// bundle-commit (the manifest's commit, or empty).
    #[command(flatten)]
    github_output: GithubOutput,
}

/// `manifest.json`: what a build wrote. It lies beside the bundles and is not hashed.
#[derive(Debug, Serialize)]
pub struct Manifest {
    pub format: u32,
    pub project: String,
    /// The commit the repository was built from: `--rev`'s, or HEAD's for a work-tree build
    /// in a git repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The git tree id of the repository directory in that commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree: Option<String>,
    /// Whether the files read differed from that commit's (always false with `--rev`).
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

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    let dir = args.repo.dir();
    // Either way, a checkout that git would not reproduce (attributes that rewrite files,
    // submodules, symbolic links) is a finding, and nothing is built.
    let (repo, source) = match &args.rev {
        Some(rev) => {
            if !dir.is_dir() {
                return Err(crate::load::LoadError::NotADirectory(dir.to_path_buf()).into());
            }
            let repository = git2::Repository::discover(dir)
                .map_err(|_| format!("{} is not inside a git repository", dir.display()))?;
            let relative = super::diff::relative_dir(&repository, dir)?;
            let (repo, source) =
                crate::provenance::load_revision(&repository, rev, dir, &relative)?;
            (repo, Some(source))
        }
        None => {
            // Texts are read again only for files with findings, to render them.
            let mut repo = crate::load::load_lean(dir)?;
            repo.diagnostics.extend(crate::provenance::worktree(dir));
            (repo, None)
        }
    };
    let report = args.deny.check(&repo, &args.repo.options()?);
    let Some(checked) = checked(&report, dir, args.format, out)? else {
        return Ok(Exit::Failure);
    };
    let source = source.or_else(|| crate::provenance::worktree_source(dir, &repo));
    let manifest = write(&args.out, checked, source)?;
    // The process ends next: freeing a large repository's model one value at a time would
    // only delay the exit.
    std::mem::forget(repo);
    let hashes: serde_json::Map<String, serde_json::Value> = manifest
        .environments
        .iter()
        .map(|e| (e.name.clone(), e.hash.clone().into()))
        .collect();
    args.github_output.write(&[
        (
            "bundle-hashes",
            serde_json::Value::Object(hashes).to_string(),
        ),
        ("bundle-dir", args.out.display().to_string()),
        ("bundle-commit", manifest.commit.clone().unwrap_or_default()),
    ])?;
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &manifest)?;
            writeln!(out)?;
        }
        Format::Human | Format::Markdown | Format::Github => {
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
    Ok(Exit::Success)
}

/// Writes every bundle, then the manifest that names them, each atomically: a reader that
/// follows the manifest never finds a bundle missing or partial. Environments are built,
/// written and dropped one at a time, so memory holds the model and one environment.
fn write(out: &Path, checked: Checked<'_>, source: Option<Source>) -> Result<Manifest, Error> {
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
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
        .collect::<Result<Vec<_>, String>>()?;
    let manifest = Manifest {
        format: bundle::FORMAT,
        project: project.name.as_str().to_owned(),
        commit: source.as_ref().map(|s| s.commit.clone()),
        tree: source.as_ref().and_then(|s| s.tree.clone()),
        dirty: source.as_ref().map(|s| s.dirty),
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
