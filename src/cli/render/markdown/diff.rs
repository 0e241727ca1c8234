//! `flagstone diff --format markdown`: a diff as a pull request comment.

use std::io::Write;

use super::{code, code_block, details, text};
use crate::cli::render::human::diff::{file_kind, flags_changed, status};
use crate::diff::Diff;
use crate::review::radius;

/// A diff as a pull request comment: a list, the policy's diff, a table of flag changes, and
/// the changes that span several lines in full.
pub fn diff(out: &mut dyn Write, diff: &Diff) -> std::io::Result<()> {
    // Blocks are separated by one blank line: a list, the policy's diff, the table, and the
    // changes that span several lines, in full.
    let mut bullets = Vec::new();
    for line in &diff.project {
        bullets.push(format!("- **project**: {}", text(line)));
    }
    for line in &diff.teams {
        bullets.push(format!("- **teams**: {}", text(line)));
    }
    for file in &diff.files {
        bullets.push(format!(
            "- **{}** {} {}",
            file_kind(file.kind),
            code(&file.path),
            status(file.status)
        ));
        for line in &file.changes {
            bullets.push(format!("  - {}", text(line)));
        }
    }
    for flag in &diff.flags {
        if let Some([before, after]) = &flag.owners {
            let (before, after) = (before.join(" "), after.join(" "));
            bullets.push(format!(
                "- **owners** of {}: {} → {}",
                code(&flag.flag),
                text(&before),
                text(&after)
            ));
        }
        for line in &flag.metadata {
            bullets.push(format!(
                "- **metadata** of {}: {}",
                code(&flag.flag),
                text(line)
            ));
        }
    }
    for segment in &diff.segments {
        let affected: Vec<String> = segment.affected_flags.iter().map(|f| code(f)).collect();
        bullets.push(format!(
            "- **segment** {} {}: affects {}",
            code(&segment.segment),
            status(segment.status),
            if affected.is_empty() {
                "no flag".to_owned()
            } else {
                affected.join(", ")
            }
        ));
    }
    let mut blocks = Vec::new();
    if !bullets.is_empty() {
        blocks.push(bullets.join("\n"));
    }
    if let Some(policy) = &diff.policy {
        blocks.push(format!(
            "**review policy** changed:\n\n{}",
            code_block(policy, "diff")
        ));
    }
    let mut rows = Vec::new();
    let mut full = Vec::new();
    for flag in &diff.flags {
        for env in &flag.environments {
            let mut changes: Vec<String> = env
                .changes
                .iter()
                .map(|c| text(c.lines().next().unwrap_or_default()))
                .collect();
            if let Some(off) = &env.off {
                changes.push(format!(
                    "every unit now gets {} = {}",
                    code(&off.variant),
                    code(&off.value.to_string())
                ));
            }
            rows.push(format!(
                "| {} ({}) | {} | {} | {} |",
                code(&flag.flag),
                status(flag.status),
                text(&env.environment),
                changes.join("<br>"),
                text(&radius(&env.blast_radius))
            ));
            for change in env.changes.iter().filter(|c| c.contains('\n')) {
                let first = change.lines().next().unwrap_or_default();
                let summary = format!("{} in {}: {first}", flag.flag, env.environment);
                let body: String = change.lines().skip(1).map(|l| format!("{l}\n")).collect();
                full.push(details(&summary, &code_block(&body, "diff")));
            }
        }
    }
    if !rows.is_empty() {
        let header = "| flag | environment | changes | blast radius |\n|---|---|---|---|";
        blocks.push(format!("{header}\n{}", rows.join("\n")));
    }
    blocks.extend(full);
    writeln!(
        out,
        "### flagstone diff: {}",
        flags_changed(diff.flags.len())
    )?;
    for block in blocks {
        writeln!(out, "\n{block}")?;
    }
    Ok(())
}
