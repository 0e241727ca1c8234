//! `flagstone review --base REV --head REV --reviews FILE --author LOGIN`: whether a
//! pull request has the approvals the base revision's review policy asks for.
//!
//! Exit status: 0 approved (or nothing needs approval), 1 approvals missing or changes
//! requested, 2 error.

use std::io::Write;
use std::path::PathBuf;

use crate::compare::Revisions;
use crate::git::Repository;
use crate::review::Versions;

use super::diff::compared;
use super::render::{human, markdown};
use super::{Error, Exit, Format, GithubOutput, RepoArgs, formats};

/// Judge a pull request's flag changes by the base revision's review policy.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    repo: RepoArgs,
    /// The base revision the head is compared with.
    #[arg(long)]
    base: String,
    /// The revision whose policy, teams and owners judge the change. Default: --base. Give the
    /// base branch's tip when --base is the merge base, so that policy changes merged into
    /// the base branch since the head branched off apply.
    #[arg(long)]
    policy: Option<String>,
    /// The head revision. Default: --head-sha, or HEAD.
    #[arg(long)]
    head: Option<String>,
    /// The pull request's reviews: GitHub's REST response for
    /// `GET /repos/{owner}/{repo}/pulls/{number}/reviews` (pages may follow one another).
    #[arg(long)]
    reviews: PathBuf,
    /// The pull request's author, whose own approval does not count.
    #[arg(long)]
    author: String,
    /// The pull request's commits: GitHub's REST response for
    /// `GET /repos/{owner}/{repo}/pulls/{number}/commits`. Whoever authored or committed one
    /// cannot approve. Without it, only the GitHub no-reply addresses of the commits between
    /// the base and the head name them.
    #[arg(long)]
    commits: Option<PathBuf>,
    /// The commit approvals must be given on. Default: the head revision's commit.
    #[arg(long)]
    head_sha: Option<String>,
    /// Output format.
    #[arg(long, default_value = "human", value_parser = formats(&[Format::Human, Format::Json, Format::Markdown]))]
    format: Format,
    /// Outputs: verdict (approved, approvals_missing, blocked, emergency or no_changes) and
    /// approval-required (true or false).
    #[command(flatten)]
    github_output: GithubOutput,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    let now = args.repo.now_millis()?;
    // Read the reviews first: a bad file fails fast, before any repository work.
    let text = std::fs::read_to_string(&args.reviews)
        .map_err(|e| format!("cannot read reviews file {}: {e}", args.reviews.display()))?;
    let reviews = crate::review::parse_reviews(&text)
        .map_err(|e| format!("reviews file {}: {e}", args.reviews.display()))?;
    let head = args
        .head
        .clone()
        .or_else(|| args.head_sha.clone())
        .unwrap_or_else(|| "HEAD".to_owned());
    let revisions = Revisions {
        dir: args.repo.dir(),
        base: &args.base,
        head: Some(&head),
    };
    let Some(compared) = compared(&revisions, now, args.format, out)? else {
        return Err(format!("the head revision `{head}` has errors (above)").into());
    };
    let head_commit = commit_id(&compared.repository, &head)?;
    let head_sha = match &args.head_sha {
        Some(sha) if commit_id(&compared.repository, sha)? != head_commit => {
            return Err(format!(
                "--head-sha {sha} is not the commit --head `{head}` names ({head_commit})"
            )
            .into());
        }
        _ => head_commit,
    };
    let judge = match &args.policy {
        Some(rev) => Some(crate::review::policy_version(&compared, rev)?),
        None => None,
    };
    let versions = Versions {
        judge: judge.as_ref().unwrap_or(&compared.base.repo),
        base: &compared.base.repo,
        head: &compared.head.repo,
    };
    let mut committers = match &args.commits {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read commits file {}: {e}", file.display()))?;
            crate::review::parse_commits(&text)
                .map_err(|e| format!("commits file {}: {e}", file.display()))?
        }
        None => Vec::new(),
    };
    committers.extend(crate::review::noreply_committers(
        &compared.repository,
        &args.base,
        &head,
    )?);
    committers.sort();
    committers.dedup();
    let pull_request = crate::review::PullRequest {
        author: &args.author,
        head_sha: &head_sha,
        committers: &committers,
    };
    let report = crate::review::review(&compared.diff, versions, &reviews, &pull_request);
    let verdict = serde_json::to_value(report.verdict)?;
    args.github_output.write(&[
        ("verdict", verdict.as_str().unwrap_or_default().to_owned()),
        ("approval-required", report.approval_required.to_string()),
    ])?;
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)?;
        }
        Format::Human | Format::Github => human::review(out, &report)?,
        Format::Markdown => markdown::review(out, &report)?,
    }
    std::mem::forget(compared);
    Ok(if report.verdict.passes() {
        Exit::Success
    } else {
        Exit::Failure
    })
}

/// The full id of the commit `rev` names.
fn commit_id(repository: &Repository, rev: &str) -> Result<String, Error> {
    let commit = repository
        .commit(rev)
        .map_err(|e| format!("cannot read revision `{rev}`: {e}"))?;
    Ok(commit.id().to_string())
}
