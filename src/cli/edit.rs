//! The release operations that edit a flag's file in place: `kill`, `restore`, `rollout` and
//! `promote`. They share one flow, so they share this file: prepare the edit (the library
//! checks the edited repository in memory and refuses an edit that adds errors), print the
//! diff, then (unless `--dry-run`) save it: write atomically and, with `--commit`, commit
//! that file alone.

use std::io::Write;

use crate::edit::{Edit, EditError, Inapplicable, Prepared};
use crate::git::{CommitError, GitError};

use super::{Error, Exit, RepoArgs, hinted};

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
    let options = crate::check::Options {
        now_millis: common.repo.now_millis()?,
    };
    let prepared = crate::edit::prepare(
        common.repo.dir(),
        &common.flag,
        env,
        other_envs,
        edit,
        &options,
    )
    .map_err(|e| -> Error {
        match e {
            EditError::Inapplicable {
                path,
                reason: Inapplicable::WhichRule { env, rules },
            } => hinted(
                format!(
                    "{path}: {env} has the rules {}; the file is untouched",
                    rules.join(", ")
                ),
                "name the rule with --rule",
            ),
            e => e.into(),
        }
    })?;
    let ready = match prepared {
        Prepared::Unchanged { path, notes } => {
            for note in &notes {
                writeln!(out, "note: {note}")?;
            }
            writeln!(out, "no change: {path} is untouched")?;
            return Ok(Exit::Success);
        }
        Prepared::Refused {
            path,
            notes,
            edited,
            added,
        } => {
            for note in &notes {
                writeln!(out, "note: {note}")?;
            }
            super::render::human::diagnostics(out, &edited, &added)?;
            writeln!(
                out,
                "refused: the edit would make the repository invalid (above); {path} is untouched"
            )?;
            return Ok(Exit::Failure);
        }
        Prepared::Ready(ready) => ready,
    };
    let path = &ready.path;
    for note in &ready.notes {
        writeln!(out, "note: {note}")?;
    }
    let diff = similar::TextDiff::from_lines(&ready.before, &ready.after);
    write!(
        out,
        "{}",
        diff.unified_diff()
            .header(&format!("a/{path}"), &format!("b/{path}"))
    )?;
    let subject = &ready.subject;
    if common.dry_run {
        writeln!(out, "dry run: {subject}; {path} is untouched")?;
        return Ok(Exit::Success);
    }
    let committed = crate::edit::save(&ready, common.commit).map_err(commit_error)?;
    writeln!(out, "{subject}; wrote {path}")?;
    if let Some(id) = committed {
        writeln!(out, "committed {id}: {subject}")?;
    }
    Ok(Exit::Success)
}

/// The advice for `--commit`'s failures.
fn commit_error(e: EditError) -> Error {
    let message = match &e {
        EditError::NotInGit => {
            "--commit needs the flags repository to be inside a git repository".to_owned()
        }
        EditError::Commit(CommitError::Git(GitError::Bare)) => "--commit needs a work tree".into(),
        EditError::Commit(CommitError::NoHead(e)) => {
            format!("--commit needs a commit to build on: {e}")
        }
        EditError::Commit(CommitError::Uncommitted(path)) => {
            return hinted(
                format!("{} has uncommitted changes", path.display()),
                "commit them first, or edit without --commit",
            );
        }
        EditError::Commit(CommitError::Git(GitError::CannotRun(e))) => {
            format!("--commit runs git to find who commits: {e}")
        }
        EditError::Commit(CommitError::Git(GitError::NoIdentity(reason))) => {
            return hinted(
                format!("--commit needs a git identity; git says: {reason}"),
                "set user.name and user.email (git config), or GIT_AUTHOR_NAME and GIT_AUTHOR_EMAIL",
            );
        }
        _ => return e.into(),
    };
    message.into()
}
