//! `flagstone stale`: flags past their expiry date or their kind's lifetime, and flags
//! that serve one variant to everyone in every environment, with since when, from git history.
//!
//! Exit status: 0 (stale flags are information), or 1 with `--fail-on-stale` when there are
//! some; 1 when the repository has errors; 2 on usage or I/O errors.

use std::io::Write;

use crate::stale::{Change, History, Reason, Report, StaleFlag};

use super::{Error, Exit, Format, RepoArgs, checked, formats};

/// List stale flags: expired, over their kind's lifetime, fully launched or dead.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    repo: RepoArgs,
    /// Output format.
    #[arg(long, default_value = "human", value_parser = formats(&[Format::Human, Format::Json, Format::Markdown]))]
    format: Format,
    /// Exit with status 1 when some flag is stale.
    #[arg(long)]
    fail_on_stale: bool,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    let now = args.repo.now_millis()?;
    let dir = args.repo.dir();
    let repo = crate::load::load(dir)?;
    let mut report = crate::check::check(&repo, &crate::check::Options { now_millis: now });
    // Expired flags are what this command reports: once is enough.
    report
        .diagnostics
        .retain(|d| d.code != crate::diag::Code::Expired);
    let Some(checked) = checked(&report, dir, args.format, out)? else {
        return Ok(Exit::Failure);
    };
    // Reading history reads many objects: trust the object store, as git does.
    crate::git::trust_object_store();
    let stale = crate::stale::stale(checked, dir, now)?;
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &stale)?;
            writeln!(out)?;
        }
        Format::Human | Format::Github => human(out, &stale)?,
        Format::Markdown => markdown(out, &stale)?,
    }
    std::mem::forget(repo);
    Ok(if args.fail_on_stale && !stale.flags.is_empty() {
        Exit::Failure
    } else {
        Exit::Success
    })
}

fn human(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    for reason in Reason::ALL {
        let flags: Vec<&StaleFlag> = report
            .flags
            .iter()
            .filter(|f| f.reasons.contains(&reason))
            .collect();
        if flags.is_empty() {
            continue;
        }
        writeln!(out, "{} ({})", reason.label(), flags.len())?;
        let width = |column: &dyn Fn(&StaleFlag) -> String| {
            flags.iter().map(|f| column(f).chars().count()).max()
        };
        let key = width(&|f| f.flag.clone()).unwrap_or_default();
        let kind = width(&|f| f.kind.as_str().to_owned()).unwrap_or_default();
        let owners = width(&|f| f.owners.join(" ")).unwrap_or_default();
        for flag in flags {
            writeln!(
                out,
                "  {:key$}  {:kind$}  {:owners$}  {}",
                flag.flag,
                flag.kind.as_str(),
                flag.owners.join(" "),
                detail(flag, reason)
            )?;
            if matches!(reason, Reason::Launched | Reason::Dead) {
                let env = flag
                    .environments
                    .iter()
                    .map(|e| e.environment.len())
                    .max()
                    .unwrap_or_default();
                for state in &flag.environments {
                    let since = state.since.as_ref().map(since).unwrap_or_default();
                    let line =
                        format!("    {:env$}  {}  {since}", state.environment, state.variant);
                    writeln!(out, "{}", line.trim_end())?;
                }
            }
        }
        writeln!(out)?;
    }
    writeln!(out, "{}", summary(report))?;
    if let Some(note) = note(report.history) {
        writeln!(out, "{note}")?;
    }
    Ok(())
}

/// What a flag's entry says for one reason.
fn detail(flag: &StaleFlag, reason: Reason) -> String {
    let expires = flag.expires.as_deref().unwrap_or_default();
    match reason {
        Reason::Expired => format!("expired on {expires}"),
        Reason::OverLifetime => format!(
            "added {}; {} lifetime {} days",
            flag.added
                .as_ref()
                .map(|a| ago(a, flag.age_days))
                .unwrap_or_default(),
            flag.kind.as_str(),
            flag.lifetime_days.unwrap_or_default()
        ),
        Reason::Launched | Reason::Dead => {
            let serves = flag.serves.as_deref().unwrap_or_default();
            match &flag.since {
                Some(change) => format!(
                    "serves \"{serves}\" everywhere {}",
                    since_ago(change, flag.days_since)
                ),
                None => format!("serves \"{serves}\" everywhere"),
            }
        }
    }
}

/// `2026-09-01 (86 days ago, a1b2c3d)`, or `in uncommitted changes`.
fn ago(change: &Change, days: Option<i64>) -> String {
    match &change.commit {
        Some(commit) => format!(
            "{} ({} ago, {})",
            change.date,
            days_text(days.unwrap_or_default()),
            short(commit)
        ),
        None => "in uncommitted changes".to_owned(),
    }
}

fn since_ago(change: &Change, days: Option<i64>) -> String {
    match &change.commit {
        Some(_) => format!("since {}", ago(change, days)),
        None => "since uncommitted changes".to_owned(),
    }
}

/// `since 2026-09-01 (a1b2c3d)`, or `since uncommitted changes`.
fn since(change: &Change) -> String {
    match &change.commit {
        Some(commit) => format!("since {} ({})", change.date, short(commit)),
        None => "since uncommitted changes".to_owned(),
    }
}

fn short(commit: &str) -> &str {
    &commit[..7.min(commit.len())]
}

fn days_text(days: i64) -> String {
    format!("{days} day{}", if days == 1 { "" } else { "s" })
}

/// `3 stale flags`, or `no stale flags`.
fn count(report: &Report) -> String {
    match report.flags.len() {
        0 => "no stale flags".to_owned(),
        1 => "1 stale flag".to_owned(),
        n => format!("{n} stale flags"),
    }
}

/// `3 stale flags: 1 expired, 2 fully launched`.
fn summary(report: &Report) -> String {
    let by_reason: Vec<String> = Reason::ALL
        .iter()
        .filter_map(|reason| {
            let n = report
                .flags
                .iter()
                .filter(|f| f.reasons.contains(reason))
                .count();
            (n > 0).then(|| format!("{n} {}", reason.label()))
        })
        .collect();
    if by_reason.is_empty() {
        return count(report);
    }
    format!("{}: {}", count(report), by_reason.join(", "))
}

fn note(history: History) -> Option<&'static str> {
    match history {
        History::Git => None,
        History::Shallow => {
            Some("a shallow clone: ages and dates stop at its oldest commit; fetch more history")
        }
        History::None => {
            Some("not in a git repository: no ages or dates, and lifetimes are not applied")
        }
    }
}

fn markdown(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    writeln!(out, "### flagstone stale: {}", count(report))?;
    if !report.flags.is_empty() {
        writeln!(
            out,
            "\n| flag | kind | owners | stale because |\n|---|---|---|---|"
        )?;
        for flag in &report.flags {
            let reasons: Vec<String> = flag
                .reasons
                .iter()
                .map(|reason| match reason {
                    Reason::Expired => detail(flag, *reason),
                    _ => format!("{}: {}", reason.label(), detail(flag, *reason)),
                })
                .collect();
            writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                flag.flag,
                flag.kind.as_str(),
                flag.owners.join(" "),
                reasons.join("<br>").replace('|', "\\|")
            )?;
        }
    }
    if let Some(note) = note(report.history) {
        writeln!(out, "\n_{}._", note)?;
    }
    Ok(())
}
