//! Findings as a Markdown table, for `$GITHUB_STEP_SUMMARY` and `--format markdown`.

use std::io::{self, Write};
use std::path::Path;

use super::text;
use crate::cli::render::{Texts, counts, not_shown, workspace_path};
use crate::diag::{Diagnostic, escape_controls};
use crate::format::plural;
use crate::load::Repo;

/// A Markdown table of every finding, for `$GITHUB_STEP_SUMMARY` (GitHub shows only a few
/// annotations per step).
pub fn diagnostics(
    out: &mut dyn Write,
    dir: &Path,
    repo: &Repo,
    diagnostics: &[Diagnostic],
) -> io::Result<()> {
    let (errors, warnings) = counts(diagnostics);
    writeln!(
        out,
        "### flagstone check: {}, {}{}\n",
        plural(errors, "error"),
        plural(warnings, "warning"),
        not_shown(diagnostics)
    )?;
    if diagnostics.is_empty() {
        return writeln!(out, "No problems found.");
    }
    writeln!(out, "| | code | location | message |")?;
    writeln!(out, "|---|---|---|---|")?;
    let texts = Texts::of(repo, diagnostics);
    for d in diagnostics {
        let p = texts.position(d);
        let icon = if d.is_error() { "❌" } else { "⚠️" };
        let message = match &d.help {
            Some(help) => format!("{} — {}", d.message, help),
            None => d.message.clone(),
        };
        writeln!(
            out,
            "| {icon} | {} | `{}:{}:{}` | {} |",
            d.code.as_str(),
            escape_controls(&workspace_path(dir, &d.file)),
            p.start.line,
            p.start.column,
            text(&message)
        )?;
    }
    Ok(())
}
