//! `flagstone review --base REV --head REV --reviews FILE --author LOGIN`: whether a
//! pull request has the approvals the base revision's review policy asks for.
//!
//! Exit status: 0 approved (or nothing needs approval), 1 approvals missing or changes
//! requested, 2 error.

use std::io::Write;
use std::path::PathBuf;

use crate::compare::Revisions;
use crate::evals::{Error as EvalsError, Options, Payloads};
use crate::git::{Kind, Repository};
use crate::review::{EvalDemand, EvalEvidence, EvalOutcome, Versions, WORST_SHOWN};

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
    /// Read eval reports (`[[review.rules]] evals`) from this directory, where a CI step
    /// wrote them, instead of from the head revision. Their paths below it are the rule's.
    #[arg(long, value_name = "DIR")]
    eval_reports: Option<PathBuf>,
    /// Outputs: verdict (approved, approvals_missing, blocked, evals_failing, emergency or
    /// no_changes) and approval-required (true or false).
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
    let source = match &args.eval_reports {
        Some(dir) => Reports::Directory(dir),
        None => Reports::Revision {
            repository: &compared.repository,
            rev: &head,
            relative: &compared.relative,
        },
    };
    let evidence = crate::review::eval_demands(versions)
        .into_iter()
        .map(|demand| judge_report(&source, demand))
        .collect::<Result<_, Error>>()?;
    let report = crate::review::review(&compared.diff, versions, &reviews, &pull_request, evidence);
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

/// Where eval reports are read from.
enum Reports<'a> {
    /// The head revision's tree, below the repository's directory.
    Revision {
        repository: &'a Repository,
        rev: &'a str,
        relative: &'a std::path::Path,
    },
    /// A directory a CI step wrote them to.
    Directory(&'a std::path::Path),
}

/// Reads the report `demand` asks for and compares its cases as the rule says.
fn judge_report(source: &Reports<'_>, demand: EvalDemand) -> Result<EvalEvidence, Error> {
    let bytes = match source {
        Reports::Revision {
            repository,
            rev,
            relative,
        } => {
            let tree = repository
                .tree(rev)
                .map_err(|e| format!("cannot read revision `{rev}`: {e}"))?;
            // Only a file: a link or a directory at the path is no report.
            match tree.entry(&relative.join(&demand.report)) {
                Some(entry) if entry.kind == Kind::Blob => Some(
                    repository
                        .blob(entry.id)
                        .map_err(|e| format!("cannot read {} at `{rev}`: {e}", demand.report))?,
                ),
                _ => None,
            }
        }
        Reports::Directory(dir) => {
            let path = dir.join(&demand.report);
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_file() => Some(
                    std::fs::read(&path)
                        .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
                ),
                Ok(_) => None,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(format!("cannot read {}: {e}", path.display()).into()),
            }
        }
    };
    let outcome = match bytes {
        None => EvalOutcome::Missing,
        Some(bytes) => compare_report(&demand, &bytes),
    };
    Ok(EvalEvidence { demand, outcome })
}

fn compare_report(demand: &EvalDemand, bytes: &[u8]) -> EvalOutcome {
    let payloads = Payloads {
        baseline: &demand.baseline_payload,
        candidate: &demand.candidate_payload,
    };
    let cases = match crate::evals::parse_report(&demand.report, bytes, payloads) {
        Ok(cases) => cases,
        Err(e @ EvalsError::OtherPayload { .. }) => return EvalOutcome::Stale(e.to_string()),
        Err(e) => return EvalOutcome::Invalid(e.to_string()),
    };
    let settings = demand.settings;
    let options = Options {
        alpha: settings.alpha,
        lower_is_better: settings.lower_is_better,
        resamples: settings.resamples,
        worst: WORST_SHOWN,
        margin: settings.margin,
        min_cases: settings.min_cases,
        ..Options::default()
    };
    match crate::evals::compare(&cases, &options) {
        Ok(report) => EvalOutcome::Compared {
            cases: report.n,
            baseline_mean: report.baseline_mean,
            candidate_mean: report.candidate_mean,
            verdict: report.verdict,
            worst: report.worst,
        },
        Err(e) => EvalOutcome::Invalid(format!("{}: {e}", demand.report)),
    }
}
