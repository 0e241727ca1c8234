//! The release operations that edit a flag's file in place: `kill`, `restore`, `rollout` and
//! `promote`. They share one flow, so they share this file: edit the text (keeping comments
//! and formatting), check the edited repository in memory, print the diff, then (unless
//! `--dry-run`) write atomically and, with `--commit`, commit that file alone.
//!
//! An edit is refused, with the file untouched, when it would add an error to the repository;
//! errors it already had elsewhere do not block it, so a kill is never held up by an
//! unrelated broken file.

use std::io::Write;
use std::path::Path;

use crate::diag::Diagnostic;
use crate::edit::{Edit, Edited};

use super::{Error, Exit, RepoArgs, write_atomic};

/// Where the flag lives and what to do with the result.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// The flag's key, e.g. checkout/one-page.
    flag: String,
    /// The edited repository is checked at --now.
    #[command(flatten)]
    repo: RepoArgs,
    /// Print the change without writing it.
    #[arg(long)]
    dry_run: bool,
    /// Commit the edited file (alone) with a message that names the change.
    #[arg(long, conflicts_with = "dry_run")]
    commit: bool,
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
    percent: f64,
}

/// Copy one environment's targeting of a flag to another.
#[derive(Debug, clap::Args)]
pub struct PromoteArgs {
    #[command(flatten)]
    common: Common,
    /// The environment whose targeting is copied.
    #[arg(long, value_name = "ENV")]
    from_env: String,
    /// The environment that receives it.
    #[arg(long, value_name = "ENV")]
    to_env: String,
}

pub fn kill(args: KillArgs, out: &mut dyn Write) -> Result<Exit, Error> {
    run(&args.common, &args.env, &[], &Edit::Kill, out)
}

pub fn restore(args: RestoreArgs, out: &mut dyn Write) -> Result<Exit, Error> {
    run(&args.common, &args.env, &[], &Edit::Restore, out)
}

pub fn rollout(args: RolloutArgs, out: &mut dyn Write) -> Result<Exit, Error> {
    let edit = Edit::Rollout {
        rule: args.rule,
        percent: args.percent,
    };
    run(&args.common, &args.env, &[], &edit, out)
}

pub fn promote(args: PromoteArgs, out: &mut dyn Write) -> Result<Exit, Error> {
    let edit = Edit::Promote {
        from: args.from_env.clone(),
    };
    run(&args.common, &args.to_env, &[&args.from_env], &edit, out)
}

/// Applies `edit` to environment `env` of the flag; `other_envs` are further environments
/// the edit names, which must exist too.
fn run(
    common: &Common,
    env: &str,
    other_envs: &[&str],
    edit: &Edit,
    out: &mut dyn Write,
) -> Result<Exit, Error> {
    let dir = common.repo.dir();
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
        return Ok(Exit::Success);
    };

    let options = crate::check::Options {
        now_millis: common.repo.now_millis()?,
    };
    let before = crate::check::check(&repo, &options).diagnostics;
    let edited = crate::load::load_edited(dir, &path, &text)?;
    let after = crate::check::check(&edited, &options).diagnostics;
    let added: Vec<Diagnostic> = after
        .into_iter()
        .filter(|d| d.is_error() && !before.iter().any(|b| same_finding(b, d)))
        .collect();
    if !added.is_empty() {
        super::render::human::diagnostics(out, &edited, &added)?;
        writeln!(
            out,
            "refused: the edit would make the repository invalid (above); {path} is untouched"
        )?;
        return Ok(Exit::Failure);
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
        return Ok(Exit::Success);
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
    Ok(Exit::Success)
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
    let author = identity(&workdir, "GIT_AUTHOR_IDENT")?;
    let committer = identity(&workdir, "GIT_COMMITTER_IDENT")?;
    let blob = repository.blob(new.as_bytes())?;
    let mut update = git2::build::TreeUpdateBuilder::new();
    update.upsert(&relative, blob, git2::FileMode::Blob);
    let tree = repository.find_tree(update.create_updated(&repository, &head.tree()?)?)?;
    write_atomic(file, new.as_bytes())?;
    let id = repository.commit(Some("HEAD"), &author, &committer, subject, &tree, &[&head])?;
    // The index follows, for this file only: `git status` shows it clean.
    let mut index = repository.index()?;
    index.add_path(&relative)?;
    index.write()?;
    Ok(id.to_string())
}

/// The author or committer (`GIT_AUTHOR_IDENT`, `GIT_COMMITTER_IDENT`) as git resolves it:
/// `GIT_AUTHOR_NAME` and the other variables, then `user.name` and `user.email` in every
/// configuration file, with the date `GIT_AUTHOR_DATE` or now.
fn identity(workdir: &Path, variable: &str) -> Result<git2::Signature<'static>, Error> {
    let output = std::process::Command::new("git")
        .arg("var")
        .arg(variable)
        .current_dir(workdir)
        .output()
        .map_err(|e| format!("--commit runs git to find who commits: {e}"))?;
    let ident = String::from_utf8_lossy(&output.stdout);
    let parsed = output
        .status
        .success()
        .then(|| parse_ident(ident.trim_end()))
        .flatten();
    parsed.ok_or_else(|| {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
        format!(
            "--commit needs a git identity: set user.name and user.email (git config), or \
             GIT_AUTHOR_NAME and GIT_AUTHOR_EMAIL; git says: {}",
            reason.trim()
        )
        .into()
    })
}

/// Parses git's `NAME <EMAIL> SECONDS OFFSET`, e.g. `A U Thor <a@example.com> 1733400000 +0100`.
fn parse_ident(ident: &str) -> Option<git2::Signature<'static>> {
    let (person, when) = ident.rsplit_once('>')?;
    let (name, email) = person.split_once('<')?;
    let mut when = when.split_whitespace();
    let seconds: i64 = when.next()?.parse().ok()?;
    let offset = when.next()?;
    let sign = match offset.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = offset.get(1..)?;
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let minutes = digits[..2].parse::<i32>().ok()? * 60 + digits[2..].parse::<i32>().ok()?;
    let time = git2::Time::new(seconds, sign * minutes);
    git2::Signature::new(name.trim(), email, &time).ok()
}
