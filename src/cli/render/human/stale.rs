//! `flagstone stale`: stale flags, then experiments still splitting, grouped by reason. The
//! details here are shared with the Markdown renderer.

use std::io::Write;

use crate::format::plural;
use crate::model::Outcome;
use crate::stale::{Change, ExperimentReason, History, Reason, Report, StaleExperiment, StaleFlag};

/// Stale flags grouped by reason, aligned, then a summary line.
pub fn stale(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
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
    for reason in ExperimentReason::ALL {
        let experiments = experiments(report, reason);
        if experiments.is_empty() {
            continue;
        }
        writeln!(out, "{} ({})", heading(reason), experiments.len())?;
        let key = experiments.iter().map(|e| e.experiment.chars().count());
        let key = key.max().unwrap_or_default();
        let owners = experiments
            .iter()
            .map(|e| e.owners.join(" ").chars().count());
        let owners = owners.max().unwrap_or_default();
        for experiment in experiments {
            writeln!(
                out,
                "  {:key$}  {:owners$}  {}",
                experiment.experiment,
                experiment.owners.join(" "),
                why(experiment)
            )?;
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
pub(in crate::cli::render) fn detail(flag: &StaleFlag, reason: Reason) -> String {
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

/// The experiments reported for `reason`, by key.
pub(in crate::cli::render) fn experiments(
    report: &Report,
    reason: ExperimentReason,
) -> Vec<&StaleExperiment> {
    (report.experiments.iter())
        .filter(|e| e.reason == reason)
        .collect()
}

/// The heading of the experiments reported for `reason`.
pub(in crate::cli::render) fn heading(reason: ExperimentReason) -> &'static str {
    match reason {
        ExperimentReason::Shipped => "shipped experiments still splitting",
        ExperimentReason::Abandoned => "abandoned experiments still splitting",
        ExperimentReason::PastEnd => "experiments past their end",
    }
}

/// `ended on 2026-12-21 (5 days ago); growth/x still splits in production`, or for a
/// decision, `shipped "b" on 2026-12-21 (5 days ago); growth/x still splits in production:
/// serve "b" to everyone and remove the experiment file`.
pub(in crate::cli::render) fn why(experiment: &StaleExperiment) -> String {
    let splits = format!(
        "{} still splits in {}",
        experiment.flag,
        experiment.environments.join(", ")
    );
    match &experiment.decision {
        Some(decision) => {
            let shipped = match decision.outcome {
                Outcome::Shipped => format!(" \"{}\"", decision.variant),
                Outcome::Abandoned => String::new(),
            };
            format!(
                "{}{shipped} on {} ({} ago); {splits}: serve \"{}\" to everyone and remove the experiment file",
                decision.outcome.as_str(),
                decision.date,
                plural(decision.days_since, "day"),
                decision.variant
            )
        }
        None => format!(
            "ended on {} ({} ago); {splits}",
            experiment.end.as_deref().unwrap_or_default(),
            plural(experiment.days_past_end.unwrap_or_default(), "day"),
        ),
    }
}

/// `2026-09-01 (86 days ago, a1b2c3d)`, or `in uncommitted changes`.
fn ago(change: &Change, days: Option<i64>) -> String {
    match &change.commit {
        Some(commit) => format!(
            "{} ({} ago, {})",
            change.date,
            plural(days.unwrap_or_default(), "day"),
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

/// `3 stale flags`, or `no stale flags`.
pub(in crate::cli::render) fn count(report: &Report) -> String {
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
    let mut line = match by_reason.is_empty() {
        true => count(report),
        false => format!("{}: {}", count(report), by_reason.join(", ")),
    };
    let experiments: Vec<String> = ExperimentReason::ALL
        .into_iter()
        .filter_map(|reason| {
            let n = experiments(report, reason).len();
            (n > 0).then(|| match reason {
                ExperimentReason::Shipped => {
                    format!("{} still splitting", plural(n, "shipped experiment"))
                }
                ExperimentReason::Abandoned => {
                    format!("{} still splitting", plural(n, "abandoned experiment"))
                }
                ExperimentReason::PastEnd => format!("{} past its end", plural(n, "experiment")),
            })
        })
        .collect();
    if !experiments.is_empty() {
        line.push_str(&format!("; {}", experiments.join(", ")));
    }
    line
}

pub(in crate::cli::render) fn note(history: History) -> Option<&'static str> {
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
