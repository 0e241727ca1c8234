//! `flagstone review`: the verdict, then each change and its requirements. The words here are
//! shared with the Markdown renderer.

use std::io::Write;

use crate::review::{EvalGate, EvalStatus, Report, Requirement, Verdict};

pub(in crate::cli::render) fn headline(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Approved => "approved",
        Verdict::ApprovalsMissing => "approvals missing",
        Verdict::Blocked => "blocked: changes requested",
        Verdict::EvalsFailing => "blocked: a changed AI payload lacks passing evals",
        Verdict::Emergency => "EMERGENCY CHANGE: only kills flags, merging without approval",
        Verdict::NoChanges => "no flag changes to review",
    }
}

pub(in crate::cli::render) const EMERGENCY: &str = "This change only turns flags off that the review policy lets a kill turn off (the emergency path), so it needs no approval. Review it after the fact, and restore the flags with a reviewed change.";

pub(in crate::cli::render) fn who(requirement: &Requirement) -> String {
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

pub(in crate::cli::render) fn status(requirement: &Requirement) -> String {
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

/// Whether an eval gate is open, in words.
pub(in crate::cli::render) fn eval_status(gate: &EvalGate) -> String {
    let status = serde_json::to_value(gate.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    match (gate.satisfied, gate.status) {
        (true, EvalStatus::Pass) => "pass".to_owned(),
        (true, _) => format!("{status}, accepted by the approvals above"),
        (false, _) => format!("{status}: the gate stays closed"),
    }
}

pub(in crate::cli::render) fn reviewers(report: &Report) -> Vec<String> {
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

/// A review: the verdict, each change with what it needs, and who reviewed.
pub fn review(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
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
        if let Some(gate) = &change.eval {
            writeln!(out, "  evals [{}]: {}", gate.rule, eval_status(gate))?;
        } else if change.requirements.is_empty() && report.verdict != Verdict::Emergency {
            writeln!(out, "  needs no approval")?;
        }
    }
    for line in reviewers(report) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}
