//! `flagstone review --base REV --head REV --reviews FILE --author LOGIN`: whether a
//! pull request has the approvals the base revision's review policy asks for.
//!
//! Exit status: 0 approved (or nothing needs approval), 1 approvals missing or changes
//! requested, 2 error.

use std::io::Write;
use std::path::PathBuf;

use crate::compare::Revisions;
use crate::git::Repository;
use crate::review::{ChangeReview, Report, Requirement, Verdict, Versions};

use super::diff::compared;
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
        Format::Human | Format::Github => human(out, &report)?,
        Format::Markdown => markdown(out, &report)?,
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

fn headline(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Approved => "approved",
        Verdict::ApprovalsMissing => "approvals missing",
        Verdict::Blocked => "blocked: changes requested",
        Verdict::Emergency => "EMERGENCY CHANGE: only kills flags, merging without approval",
        Verdict::NoChanges => "no flag changes to review",
    }
}

const EMERGENCY: &str = "This change only turns flags off that the review policy lets a kill turn off (the emergency path), so it needs no approval. Review it after the fact, and restore the flags with a reviewed change.";

fn who(requirement: &Requirement) -> String {
    let from = requirement.from.join(", ");
    match &requirement.eligible {
        None => format!("{} from {from}", requirement.approvals),
        Some(eligible) if eligible.is_empty() => {
            format!("{} from {from} (nobody is eligible)", requirement.approvals)
        }
        Some(eligible) => format!(
            "{} from {from} ({})",
            requirement.approvals,
            eligible.join(", ")
        ),
    }
}

fn status(requirement: &Requirement) -> String {
    let mut parts = Vec::new();
    if !requirement.satisfied_by.is_empty() {
        parts.push(format!(
            "approved by {}",
            requirement.satisfied_by.join(", ")
        ));
    }
    if requirement.missing > 0 {
        parts.push(format!("{} missing", requirement.missing));
    }
    if !requirement.blocked_by.is_empty() {
        parts.push(format!(
            "changes requested by {}",
            requirement.blocked_by.join(", ")
        ));
    }
    parts.join("; ")
}

fn reviewers(report: &Report) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = |what: &str, logins: &[String]| {
        if !logins.is_empty() {
            lines.push(format!("{what}: {}", logins.join(", ")));
        }
    };
    line("approved the head commit", &report.approved_by);
    line(
        "stale approvals (given on an older commit; approve again)",
        &report.stale,
    );
    line("changes requested", &report.changes_requested);
    line(
        "wrote or committed the pull request (cannot approve it)",
        &report.committers,
    );
    line("reviews that do not count", &report.ignored);
    lines
}

fn human(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    writeln!(out, "review: {}", headline(report.verdict))?;
    if report.verdict == Verdict::Emergency {
        writeln!(out, "!!! {EMERGENCY}")?;
    }
    for change in &report.changes {
        writeln!(out, "{}", change.change)?;
        for detail in &change.details {
            for (i, line) in detail.lines().enumerate() {
                let indent = if i == 0 { "  - " } else { "    " };
                writeln!(out, "{indent}{line}")?;
            }
        }
        if let Some(why) = &change.emergency_refused {
            writeln!(out, "  not an emergency kill: {why}")?;
        }
        for requirement in &change.requirements {
            writeln!(out, "  needs {} [{}]", who(requirement), requirement.rule)?;
            let status = status(requirement);
            if !status.is_empty() {
                writeln!(out, "    {status}")?;
            }
        }
        if change.requirements.is_empty() && report.verdict != Verdict::Emergency {
            writeln!(out, "  needs no approval")?;
        }
    }
    for line in reviewers(report) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn markdown(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    use super::markdown::{code_block, details, text};
    writeln!(out, "### flagstone review: {}\n", headline(report.verdict))?;
    if report.verdict == Verdict::Emergency {
        writeln!(out, "> [!CAUTION]\n> **{EMERGENCY}**\n")?;
    }
    if report.changes.is_empty() {
        return Ok(());
    }
    writeln!(out, "| change | requirement | needs | status |")?;
    writeln!(out, "|---|---|---|---|")?;
    let mut full = Vec::new();
    for ChangeReview {
        change,
        details: lines,
        requirements,
        emergency_refused,
        ..
    } in &report.changes
    {
        let mut summary: Vec<String> = lines
            .iter()
            .map(|d| text(d.lines().next().unwrap_or_default()))
            .collect();
        if let Some(why) = emergency_refused {
            summary.push(format!("not an emergency kill: {}", text(why)));
        }
        let cell = format!("**{}**<br>{}", text(change), summary.join("<br>"));
        for detail in lines.iter().filter(|d| d.contains('\n')) {
            let first = detail.lines().next().unwrap_or_default();
            let body: String = detail.lines().skip(1).map(|l| format!("{l}\n")).collect();
            full.push(details(
                &format!("{change}: {first}"),
                &code_block(&body, "diff"),
            ));
        }
        if requirements.is_empty() {
            writeln!(out, "| {cell} | none | | |")?;
        }
        for (i, requirement) in requirements.iter().enumerate() {
            // The change is named on its first row only.
            let cell = if i == 0 { cell.as_str() } else { "" };
            let done = if requirement.missing == 0 && requirement.blocked_by.is_empty() {
                "✅ "
            } else {
                "❌ "
            };
            writeln!(
                out,
                "| {cell} | {} | {} | {done}{} |",
                text(&requirement.rule),
                text(&who(requirement)),
                text(&status(requirement))
            )?;
        }
    }
    writeln!(out)?;
    for block in full {
        writeln!(out, "{block}\n")?;
    }
    for line in reviewers(report) {
        writeln!(out, "- {}", text(&line))?;
    }
    Ok(())
}
