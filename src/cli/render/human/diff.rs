//! `flagstone diff`: each change on its own line, flags by environment with their blast
//! radius. The words here are shared with the Markdown renderer.

use std::io::Write;

use crate::diff::{Diff, FileKind, Status};
use crate::format::plural;
use crate::review::radius;

pub(in crate::cli::render) fn status(status: Status) -> &'static str {
    match status {
        Status::Added => "added",
        Status::Removed => "removed",
        Status::Changed => "changed",
    }
}

pub(in crate::cli::render) fn file_kind(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Test => "test file",
        FileKind::Experiment => "experiment settings",
        FileKind::Other => "file",
        FileKind::Protected => "protected file",
    }
}

/// A diff: what changed in the project, files and segments, then each flag by environment.
pub fn diff(out: &mut dyn Write, diff: &Diff) -> std::io::Result<()> {
    for line in &diff.project {
        writeln!(out, "project: {line}")?;
    }
    for line in &diff.teams {
        writeln!(out, "teams: {line}")?;
    }
    if let Some(policy) = &diff.policy {
        writeln!(out, "review policy changed:")?;
        for line in policy.lines() {
            writeln!(out, "  {line}")?;
        }
    }
    for file in &diff.files {
        writeln!(
            out,
            "{} {} ({})",
            file_kind(file.kind),
            file.path,
            status(file.status)
        )?;
        for line in &file.changes {
            writeln!(out, "  - {line}")?;
        }
    }
    for segment in &diff.segments {
        writeln!(
            out,
            "segment {} ({}): affects {}",
            segment.segment,
            status(segment.status),
            if segment.affected_flags.is_empty() {
                "no flag".to_owned()
            } else {
                segment.affected_flags.join(", ")
            }
        )?;
    }
    for flag in &diff.flags {
        writeln!(out, "{} ({})", flag.flag, status(flag.status))?;
        if let Some([before, after]) = &flag.owners {
            writeln!(out, "  owners: {} → {}", before.join(" "), after.join(" "))?;
        }
        for line in &flag.metadata {
            writeln!(out, "  {line}")?;
        }
        for env in &flag.environments {
            writeln!(out, "  {}:", env.environment)?;
            for change in &env.changes {
                for (i, line) in change.lines().enumerate() {
                    let indent = if i == 0 { "    - " } else { "      " };
                    writeln!(out, "{indent}{line}")?;
                }
            }
            if let Some(off) = &env.off {
                writeln!(
                    out,
                    "    every unit now gets `{}` = {}",
                    off.variant, off.value
                )?;
            }
            writeln!(out, "    blast radius: {}", radius(&env.blast_radius))?;
        }
    }
    writeln!(out, "{}", flags_changed(diff.flags.len()))
}

pub(in crate::cli::render) fn flags_changed(count: usize) -> String {
    format!("{} changed", plural(count, "flag"))
}
