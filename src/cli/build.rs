//! `flagstone build --out OUT [--rev REV]`: check the repository, then write one
//! content-hashed bundle per environment and a manifest. With any error, nothing is written.
//! With `--rev`, the repository is read from that commit's git objects, as `review` reads
//! it, instead of from the work tree.

use std::io::Write;
use std::path::PathBuf;

use super::{DenyArgs, Error, Exit, Format, GithubOutput, RepoArgs, checked, formats};

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

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    let dir = args.repo.dir();
    // Either way, a checkout that git would not reproduce (attributes that rewrite files,
    // submodules, symbolic links) is a finding, and nothing is built.
    let (repo, source) = match &args.rev {
        Some(rev) => {
            let (repo, source) = crate::provenance::load_revision(dir, rev)?;
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
    let manifest = crate::output::write(&args.out, checked, source)?;
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
