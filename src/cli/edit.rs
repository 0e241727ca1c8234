//! The release operations that edit a flag's file in place: `kill`, `restore`, `rollout` and
//! `promote`. They share one flow, so they share this file: edit the text (keeping comments
//! and formatting), check the edited repository in memory, print the diff, then (unless
//! `--dry-run`) write atomically and, with `--commit`, commit that file alone.
//!
//! An edit is refused, with the file untouched, when it would add an error to the repository;
//! errors it already had elsewhere do not block it, so a kill is never held up by an
//! unrelated broken file.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;
use crate::edit::{Edit, Edited};

use super::{Error, Outcome, write_atomic};

/// Where the flag lives and what to do with the result.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// The flag's key, e.g. checkout/one-page.
    flag: String,
    /// The flags repository (the directory holding flagstone.toml).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Print the change without writing it.
    #[arg(long)]
    dry_run: bool,
    /// Commit the edited file (alone) with a message that names the change.
    #[arg(long, conflicts_with = "dry_run")]
    commit: bool,
    /// The time the edited repository is checked at (expiry, schedules). Default: the clock.
    #[arg(long, value_parser = super::parse_now)]
    now: Option<i64>,
}

/// Kill a flag in one environment: every unit gets the off variant (the review policy's
/// emergency path).
#[derive(Debug, clap::Args)]
pub struct KillArgs {
    #[command(flatten)]
    common: Common,
    /// The environment.
    #[arg(long)]
    env: String,
}

/// Undo a kill in one environment.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    common: Common,
    /// The environment.
    #[arg(long)]
    env: String,
}

/// Set a rule's rollout percentage in one environment.
#[derive(Debug, clap::Args)]
pub struct RolloutArgs {
    #[command(flatten)]
    common: Common,
    /// The environment.
    #[arg(long)]
    env: String,
    /// The rule; may be left out when only one rule has a rollout.
    #[arg(long)]
    rule: Option<String>,
    /// The new percentage, 0 to 100.
    #[arg(long, allow_negative_numbers = true)]
    to: f64,
}

/// Copy one environment's targeting of a flag to another.
#[derive(Debug, clap::Args)]
pub struct PromoteArgs {
    #[command(flatten)]
    common: Common,
    /// The environment whose targeting is copied.
    #[arg(long)]
    from: String,
    /// The environment that receives it.
    #[arg(long)]
    to: String,
}

pub fn kill(args: KillArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    run(&args.common, &args.env, &[], &Edit::Kill, out)
}

pub fn restore(args: RestoreArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    run(&args.common, &args.env, &[], &Edit::Restore, out)
}

pub fn rollout(args: RolloutArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    let edit = Edit::Rollout {
        rule: args.rule,
        percent: args.to,
    };
    run(&args.common, &args.env, &[], &edit, out)
}

pub fn promote(args: PromoteArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    let edit = Edit::Promote {
        from: args.from.clone(),
    };
    run(&args.common, &args.to, &[&args.from], &edit, out)
}

/// Applies `edit` to environment `env` of the flag; `other_envs` are further environments
/// the edit names, which must exist too.
fn run(
    common: &Common,
    env: &str,
    other_envs: &[&str],
    edit: &Edit,
    out: &mut dyn Write,
) -> Result<Outcome, Error> {
    let dir = &common.dir;
    let repo = crate::load::load(dir)?;
    let project = repo
        .project
        .as_ref()
        .and_then(|p| p.doc.as_ref())
        .ok_or("flagstone.toml is missing or unreadable; fix it first")?;
    let environments: Vec<&str> = project.environments.iter().map(|e| e.as_str()).collect();
    for env in std::iter::once(env).chain(other_envs.iter().copied()) {
        if !environments.contains(&env) {
            let help = crate::diag::suggest(env, environments.iter().copied(), "environments");
            return Err(format!("there is no environment `{env}`; {help}").into());
        }
    }
    let key = common.flag.as_str();
    let Some(loaded) = repo.flags.get(key) else {
        let help = crate::diag::suggest(key, repo.flags.keys().map(String::as_str), "flags");
        return Err(format!("there is no flag `{key}`; {help}").into());
    };
    let source = &repo.files[loaded.file];
    let path = source.path.clone();
    let Edited {
        text,
        notes,
        summary,
    } = crate::edit::apply(&source.text, env, edit)
        .map_err(|e| format!("{path}: {e}; the file is untouched"))?;
    for note in &notes {
        writeln!(out, "note: {note}")?;
    }
    let Some(summary) = summary else {
        writeln!(out, "no change: {path} is untouched")?;
        return Ok(Outcome::Success);
    };

    let options = crate::check::Options {
        now_millis: super::now_or_clock(common.now)?,
    };
    let before = crate::check::check(&repo, &options).diagnostics;
    let edited = crate::load::load_edited(dir, &path, &text)?;
    let after = crate::check::check(&edited, &options).diagnostics;
    let added: Vec<Diagnostic> = after
        .into_iter()
        .filter(|d| d.is_error() && !before.iter().any(|b| same_finding(b, d)))
        .collect();
    if !added.is_empty() {
        super::render::human(out, &edited, &added)?;
        writeln!(
            out,
            "refused: the edit would make the repository invalid (above); {path} is untouched"
        )?;
        return Ok(Outcome::Failure);
    }

    let diff = similar::TextDiff::from_lines(&source.text, &text);
    write!(
        out,
        "{}",
        diff.unified_diff()
            .header(&format!("a/{path}"), &format!("b/{path}"))
    )?;
    let subject = format!("{key}: {summary}");
    if common.dry_run {
        writeln!(out, "dry run: {subject}; {path} is untouched")?;
        return Ok(Outcome::Success);
    }
    let file = dir.join(&path);
    let committed = if common.commit {
        Some(commit(&file, &source.text, &text, &subject)?)
    } else {
        write_atomic(&file, text.as_bytes())?;
        None
    };
    writeln!(out, "{subject}; wrote {path}")?;
    if let Some(id) = committed {
        writeln!(out, "committed {id}: {subject}")?;
    }
    Ok(Outcome::Success)
}

/// The same finding, at any position (the edit may move text).
fn same_finding(a: &Diagnostic, b: &Diagnostic) -> bool {
    a.code == b.code && a.file == b.file && a.message == b.message
}

/// Writes `file` and commits it alone on HEAD (other staged changes stay staged, not
/// committed). Refuses when the file differs from HEAD already: the commit would carry
/// changes nobody asked for.
fn commit(file: &Path, old: &str, new: &str, subject: &str) -> Result<String, Error> {
    let repository = git2::Repository::discover(file.parent().unwrap_or(Path::new(".")))
        .map_err(|_| "--commit needs the flags repository to be inside a git repository")?;
    let workdir = repository
        .workdir()
        .ok_or("--commit needs a work tree")?
        .canonicalize()?;
    let relative = file.canonicalize()?.strip_prefix(&workdir)?.to_owned();
    let head = repository
        .head()
        .and_then(|h| h.peel_to_commit())
        .map_err(|e| format!("--commit needs a commit to build on: {}", e.message()))?;
    let committed = head
        .tree()?
        .get_path(&relative)
        .ok()
        .and_then(|entry| repository.find_blob(entry.id()).ok())
        .map(|blob| blob.content().to_vec());
    if committed.as_deref() != Some(old.as_bytes()) {
        return Err(format!(
            "{} has uncommitted changes: commit them first, or edit without --commit",
            relative.display()
        )
        .into());
    }
    let signature = repository
        .signature()
        .map_err(|_| "--commit needs a git identity: set user.name and user.email (git config)")?;
    let blob = repository.blob(new.as_bytes())?;
    let mut update = git2::build::TreeUpdateBuilder::new();
    update.upsert(&relative, blob, git2::FileMode::Blob);
    let tree = repository.find_tree(update.create_updated(&repository, &head.tree()?)?)?;
    write_atomic(file, new.as_bytes())?;
    let id = repository.commit(
        Some("HEAD"),
        &signature,
        &signature,
        subject,
        &tree,
        &[&head],
    )?;
    // The index follows, for this file only: `git status` shows it clean.
    let mut index = repository.index()?;
    index.add_path(&relative)?;
    index.write()?;
    Ok(id.to_string())
}
