//! `flagstone analyze --format markdown`: a report as a job summary.

use std::io::Write;

use super::{code, text};
use crate::analyze::Report;
use crate::cli::render::human::analyze::{
    cells, correction_label, headers, heading, input, left_out, not_assigning, not_counted,
    numeric_columns, places, srm_warning,
};
use crate::format::{confidence_level, count, p_is, probability};
use crate::summary::events::Summary;

/// The report as Markdown: the decision first, then the sample ratio check and one table
/// per metric.
pub fn analyze(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    writeln!(out, "### flagstone analyze: `{}`", text(&report.file))?;
    writeln!(
        out,
        "\nControl `{}`; alpha {} ({} intervals); {}.",
        text(&report.control),
        report.settings.alpha,
        confidence_level(report.settings.alpha),
        correction_label(report.correction)
    )?;
    let loud = report
        .srm
        .mismatch
        .then(|| format!("> [!CAUTION]\n> **{}**", srm_warning(report)));
    if let Some(loud) = &loud {
        writeln!(out, "\n{loud}")?;
    }
    writeln!(out, "\n**Decision:** {}\n", text(&report.decision.summary))?;
    for call in &report.decision.variants {
        writeln!(out, "- `{}`: {}", text(&call.variant), text(&call.detail))?;
    }
    writeln!(
        out,
        "\n#### Sample ratio check: {}, {}\n",
        p_is("p", report.srm.p_value),
        if report.srm.mismatch {
            "**mismatch**"
        } else {
            "no mismatch"
        }
    )?;
    writeln!(
        out,
        "| variant | users | expected | observed |\n|---|---:|---:|---:|"
    )?;
    let total: u64 = report.variants.iter().map(|v| v.users).sum();
    for v in &report.variants {
        writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            text(&v.name),
            count(v.users),
            probability(v.expected_share),
            probability(v.users as f64 / total as f64)
        )?;
    }
    for metric in &report.metrics {
        writeln!(out, "\n#### {}\n", text(&heading(metric)))?;
        if let Some(loud) = &loud {
            writeln!(out, "{loud}\n")?;
        }
        let places = places(metric);
        let mut rows = vec![headers(report, metric)];
        let mut notes = Vec::new();
        for r in &metric.variants {
            let (row, reasons) = cells(report, r, places);
            rows.push(row);
            notes.extend(
                reasons
                    .into_iter()
                    .map(|reason| (r.variant.clone(), reason)),
            );
        }
        let align: Vec<&str> = numeric_columns(&rows)
            .into_iter()
            .map(|right| if right { "---:" } else { "---" })
            .collect();
        writeln!(out, "| {} |", rows[0].join(" | "))?;
        writeln!(out, "|{}|", align.join("|"))?;
        for row in &rows[1..] {
            let row: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(i, c)| if i == 0 { code(c) } else { text(c) })
                .collect();
            writeln!(out, "| {} |", row.join(" | "))?;
        }
        if !notes.is_empty() {
            writeln!(out)?;
        }
        for (variant, reason) in notes {
            writeln!(out, "- n/a for `{}`: {}", text(&variant), text(&reason))?;
        }
    }
    Ok(())
}

/// What the summary was computed from, as a table; malformed and incomplete lines below it.
pub fn raw_data(out: &mut dyn Write, summary: &Summary) -> std::io::Result<()> {
    let (x, e) = (&summary.exposures, &summary.events);
    let assigned: u64 = summary.rows.iter().map(|r| r.users).sum();
    let units: Vec<String> = summary
        .rows
        .iter()
        .map(|r| format!("{} {}", code(&r.variation), count(r.users)))
        .collect();
    writeln!(out, "### Raw data\n")?;
    writeln!(out, "| | |\n|---|---|")?;
    let rows = [
        ("Exposures", input(&x.input)),
        (
            "Units in the experiment",
            format!("{}: {}", count(assigned), units.join(" · ")),
        ),
        ("Units left out", left_out(x)),
        ("Exposures not assigning", not_assigning(x)),
        ("Events", input(&e.input)),
        ("Events not counted", not_counted(e)),
    ];
    for (label, value) in rows {
        writeln!(out, "| {label} | {value} |")?;
    }
    let notes: Vec<String> = x
        .input
        .malformed_shown
        .iter()
        .chain(&e.input.malformed_shown)
        .map(|l| {
            format!(
                "- malformed: {}: {}",
                code(&format!("{}:{}", l.file, l.line)),
                text(&l.reason)
            )
        })
        .chain(
            x.input
                .incomplete
                .iter()
                .chain(&e.input.incomplete)
                .map(|at| {
                    format!(
                        "- {}: incomplete last line (a writer still running), skipped",
                        code(at)
                    )
                }),
        )
        .collect();
    if !notes.is_empty() {
        writeln!(out)?;
        for note in notes {
            writeln!(out, "{note}")?;
        }
    }
    writeln!(out)
}
