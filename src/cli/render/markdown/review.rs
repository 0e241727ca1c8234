//! `flagstone review --format markdown`: a review as a pull request comment.

use std::io::Write;

use super::{code, code_block, details, text};
use crate::cli::render::human::review::{EMERGENCY, eval_status, headline, reviewers, status, who};
use crate::review::{ChangeReview, Report, Verdict};

/// A review as a pull request comment: the verdict, then a table of changes and requirements.
pub fn review(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
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
        eval,
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
        if let Some(gate) = eval {
            let done = if gate.satisfied { "✅ " } else { "❌ " };
            writeln!(
                out,
                "| {cell} | {} | eval report {} | {done}{} |",
                text(&gate.rule),
                code(&gate.report),
                text(&eval_status(gate))
            )?;
        } else if requirements.is_empty() {
            writeln!(out, "| {cell} | none | | |")?;
        }
        for (i, requirement) in requirements.iter().enumerate() {
            // The change is named on its first row only.
            let cell = if i == 0 && eval.is_none() {
                cell.as_str()
            } else {
                ""
            };
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
