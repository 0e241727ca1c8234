//! `flagstone refs --format markdown`: a scan as a job summary.

use std::io::Write;
use std::path::Path;

use super::text;
use crate::cli::render::human::refs::{counts, history_note, verdict};
use crate::diag::Severity;
use crate::refs::Report;

/// A scan as a job summary: what was scanned, then a table of findings.
pub fn refs(out: &mut dyn Write, report: &Report, dir: &Path) -> std::io::Result<()> {
    writeln!(out, "### flagstone refs: {}\n", verdict(report))?;
    writeln!(out, "{}.", counts(report))?;
    if let Some(note) = history_note(report, dir) {
        writeln!(out, "\n> [!NOTE]\n> {note}.")?;
    }
    if report.findings.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\n| | finding | location | message |\n|---|---|---|---|"
    )?;
    for f in &report.findings {
        let icon = match f.severity {
            Severity::Error => "❌",
            Severity::Warning => "⚠️",
        };
        writeln!(
            out,
            "| {icon} | {} | `{}:{}:{}` | {} — {} |",
            f.kind.as_str(),
            f.file,
            f.line,
            f.column,
            text(&f.message),
            text(&f.help)
        )?;
    }
    Ok(())
}
