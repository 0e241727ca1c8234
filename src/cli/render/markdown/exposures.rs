//! `flagstone exposures --format markdown`: the summary as a job summary, one table per flag
//! and environment. Everything from the files (flag, variant, rule names) is escaped.

use std::io::Write;

use super::{code, text};
use crate::cli::render::human::exposures::{
    bundle_state, malformed_heading, multi_variant, short, split_line, totals, unexplained,
    variant_rows,
};
use crate::exposures::{Report, SrmOutcome};
use crate::format::count;

/// The summary as Markdown.
pub fn exposures(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    writeln!(out, "### flagstone exposures: {}", text(&totals(report)))?;
    for flag in &report.flags {
        writeln!(
            out,
            "\n#### {} in {}\n",
            code(&flag.flag),
            code(&flag.environment)
        )?;
        let rows = variant_rows(flag);
        writeln!(out, "| {} |", rows[0].join(" | "))?;
        writeln!(out, "|---|---:|---:|---:|---|---|")?;
        for row in &rows[1..] {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(i, c)| if i == 0 { code(c) } else { text(c) })
                .collect();
            writeln!(out, "| {} |", cells.join(" | "))?;
        }
        let mut notes: Vec<String> = multi_variant(flag)
            .into_iter()
            .chain(unexplained(flag))
            .map(|line| text(&line))
            .collect();
        for split in &flag.splits {
            let line = text(&split_line(split));
            let mismatch = matches!(split.outcome, SrmOutcome::Tested { mismatch: true, .. });
            notes.push(if mismatch {
                format!("**{line}**")
            } else {
                line
            });
        }
        if !notes.is_empty() {
            writeln!(out)?;
            for note in notes {
                writeln!(out, "- {note}")?;
            }
        }
    }
    if !report.bundles.is_empty() {
        let (state, rule) = if report.live_known {
            (" state |", "---|")
        } else {
            ("", "")
        };
        writeln!(
            out,
            "\n#### Bundles\n\n| bundle | exposures | first seen | last seen |{state}\n|---|---:|---|---|{rule}"
        )?;
        for b in &report.bundles {
            let state = if report.live_known {
                format!(" {} |", bundle_state(b.known, b.live))
            } else {
                String::new()
            };
            writeln!(
                out,
                "| {} | {} | {} | {} |{state}",
                code(short(&b.hash)),
                count(b.exposures),
                text(&b.first_seen),
                text(&b.last_seen),
            )?;
        }
        if report.live_known {
            writeln!(
                out,
                "\nExposures from bundles not live: {}",
                count(report.from_dead_bundles())
            )?;
        }
    }
    if report.malformed > 0 {
        writeln!(out, "\n#### {}\n", text(&malformed_heading(report)))?;
        for m in &report.malformed_shown {
            writeln!(
                out,
                "- {}: {}",
                code(&format!("{}:{}", m.file, m.line)),
                text(&m.reason)
            )?;
        }
    }
    if !report.incomplete.is_empty() {
        writeln!(out)?;
        for line in &report.incomplete {
            writeln!(
                out,
                "- {}: incomplete last line, still being written (skipped)",
                code(line)
            )?;
        }
    }
    Ok(())
}
