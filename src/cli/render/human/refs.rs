//! `flagstone refs`: one line per finding, then what was scanned and found. The summaries here
//! are shared with the Markdown renderer.

use std::io::Write;
use std::path::Path;

use crate::diag::Severity;
use crate::format::plural;
use crate::refs::Report;

pub(in crate::cli::render) fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// "12 files scanned (1 binary skipped); 7 references to 4 of 6 flags"
pub(in crate::cli::render) fn counts(report: &Report) -> String {
    let files = &report.files;
    let mut skipped = Vec::new();
    if files.binary > 0 {
        skipped.push(format!("{} binary", files.binary));
    }
    if files.too_large > 0 {
        let mib = crate::refs::MAX_FILE_BYTES / (1024 * 1024);
        skipped.push(format!("{} over {mib} MiB", files.too_large));
    }
    if !files.unreadable.is_empty() {
        skipped.push(format!("{} unreadable", files.unreadable.len()));
    }
    let skipped = if skipped.is_empty() {
        String::new()
    } else {
        format!(" ({} skipped)", skipped.join(", "))
    };
    format!(
        "{} scanned{skipped}; {} to {} of {}",
        plural(files.scanned, "file"),
        plural(report.references.len(), "reference"),
        report.referenced_flags,
        plural(report.flags, "flag")
    )
}

pub(in crate::cli::render) fn verdict(report: &Report) -> String {
    let errors = report.errors();
    let warnings = report.findings.len() - errors;
    format!(
        "{}, {}",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}

/// What limits the search for removed flags, if anything does.
pub(in crate::cli::render) fn history_note(report: &Report, dir: &Path) -> Option<String> {
    match &report.history {
        None => Some(format!(
            "removed flags are not detected: {} is not in a git repository",
            dir.display()
        )),
        Some(history) if history.truncated => Some(format!(
            "removed flags: only the last {} searched",
            plural(history.commits, "commit")
        )),
        Some(_) => None,
    }
}

/// A scan as one line per finding, then a summary line.
pub fn refs(out: &mut dyn Write, report: &Report, dir: &Path) -> std::io::Result<()> {
    for f in &report.findings {
        writeln!(
            out,
            "{}:{}:{}: {}: {}; {}",
            f.file,
            f.line,
            f.column,
            severity(f.severity),
            f.message,
            f.help
        )?;
    }
    for unreadable in &report.files.unreadable {
        writeln!(out, "warning: cannot read {unreadable}")?;
    }
    if let Some(note) = history_note(report, dir) {
        writeln!(out, "note: {note}")?;
    }
    let icon = if report.errors() > 0 {
        "✗"
    } else if report.findings.is_empty() {
        "✓"
    } else {
        "!"
    };
    writeln!(out, "{icon} {}: {}", counts(report), verdict(report))
}
