//! `flagstone analyze`: a report as aligned tables, loud about a sample ratio mismatch. The
//! words and cells here are shared with the Markdown renderer.

use std::io::Write;

use crate::analyze::{self, Guardrail, MetricResult, Report, Role, VariantResult};
use crate::format::{
    confidence_level, count, decimals, fixed, p_is, p_value, probability, signed_percent,
    signed_percent_interval,
};
use crate::stats::Correction;
use crate::summary::events::{EventCounts, ExposureCounts, Input, Summary};

pub(in crate::cli::render) fn correction_label(c: Correction) -> &'static str {
    match c {
        Correction::None => "no correction",
        Correction::Holm => "Holm correction",
        Correction::BenjaminiHochberg => "Benjamini-Hochberg correction",
    }
}

pub(in crate::cli::render) fn srm_warning(report: &Report) -> String {
    format!(
        "SAMPLE RATIO MISMATCH ({} < {}): the variants did not get their intended shares of units. Do not trust these results.",
        p_is("p", report.srm.p_value),
        analyze::SRM_THRESHOLD
    )
}

/// A metric's heading: `revenue (mean, secondary, lower is better)`.
pub(in crate::cli::render) fn heading(metric: &MetricResult) -> String {
    let spec = &metric.spec;
    let mut parts = vec![spec.kind.label(), spec.role.label().to_owned()];
    if let Role::Guardrail { max_regression } = spec.role {
        parts.push(format!(
            "tolerates {}",
            signed_percent(if spec.inverse {
                max_regression
            } else {
                -max_regression
            })
        ));
    }
    if spec.inverse {
        parts.push("lower is better".to_owned());
    }
    if let Some(covariate) = &spec.covariate {
        parts.push(format!("CUPED on {covariate}"));
    }
    format!("{} ({})", spec.name, parts.join(", "))
}

/// The cells of one row of a metric's table, and the reasons for its `n/a` cells.
pub(in crate::cli::render) fn cells(
    report: &Report,
    r: &VariantResult,
    places: usize,
) -> (Vec<String>, Vec<String>) {
    let mut reasons: Vec<String> = Vec::new();
    let mut na = |reason: &String| {
        if !reasons.contains(reason) {
            reasons.push(reason.clone());
        }
        "n/a".to_owned()
    };
    let mut row = vec![
        r.variant.clone(),
        count(r.treatment.users),
        fixed(r.control.mean, places),
        fixed(r.treatment.mean, places),
    ];
    match &r.frequentist.relative {
        Ok(t) => {
            row.push(format!(
                "{} {}",
                signed_percent(t.result.expected),
                signed_percent_interval(t.result.ci)
            ));
            row.push(p_value(t.result.p_value));
            if report.correction != Correction::None {
                row.push(t.adjusted_p_value.map(p_value).unwrap_or_default());
            }
        }
        Err(reason) => {
            row.push(na(reason));
            row.push("n/a".to_owned());
            if report.correction != Correction::None {
                row.push("n/a".to_owned());
            }
        }
    }
    match &r.sequential.relative {
        Ok(q) => {
            row.push(signed_percent_interval(q.ci));
            row.push(p_value(q.p_value));
        }
        Err(reason) => {
            row.push(na(reason));
            row.push("n/a".to_owned());
        }
    }
    row.push(match &r.bayesian.relative {
        Ok(b) => probability(b.chance_to_win),
        Err(reason) => na(reason),
    });
    if let Some(g) = &r.guardrail {
        row.push(match g {
            Guardrail::Pass => "pass".to_owned(),
            Guardrail::Fail => "FAIL".to_owned(),
            Guardrail::Unknown(reason) => na(reason),
        });
    }
    (row, reasons)
}

/// The decimals of a metric's means: four significant digits of the largest.
pub(in crate::cli::render) fn places(metric: &MetricResult) -> usize {
    let largest = metric
        .variants
        .iter()
        .flat_map(|r| [r.control.mean.abs(), r.treatment.mean.abs()])
        .fold(0.0, f64::max);
    decimals(largest)
}

pub(in crate::cli::render) fn headers(report: &Report, metric: &MetricResult) -> Vec<String> {
    let level = confidence_level(report.settings.alpha);
    let mut headers = vec![
        "variant".to_owned(),
        "users".to_owned(),
        "control mean".to_owned(),
        "variant mean".to_owned(),
        format!("lift [{level} CI]"),
        "p-value".to_owned(),
    ];
    if report.correction != Correction::None {
        headers.push("adjusted p".to_owned());
    }
    headers.push(format!("sequential [{level} CI]"));
    headers.push("sequential p".to_owned());
    headers.push("chance to win".to_owned());
    if matches!(metric.spec.role, Role::Guardrail { .. }) {
        headers.push("guardrail".to_owned());
    }
    headers
}

/// Whether each column of `rows` (headers first) holds numbers, to align them to the right.
pub(in crate::cli::render) fn numeric_columns(rows: &[Vec<String>]) -> Vec<bool> {
    let numeric =
        |c: &String| c == "n/a" || c.starts_with(|c: char| c.is_ascii_digit() || c == '<');
    (0..rows[0].len())
        .map(|i| i > 0 && rows[1..].iter().all(|r| r.get(i).is_none_or(numeric)))
        .collect()
}

/// Rows of cells (headers first) as aligned columns: numbers to the right, text to the left.
pub(in crate::cli::render) fn columns(
    out: &mut dyn Write,
    rows: &[Vec<String>],
    indent: &str,
) -> std::io::Result<()> {
    let columns = rows[0].len();
    let width: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let right = numeric_columns(rows);
    for row in rows {
        let mut line = indent.to_owned();
        for (i, cell) in row.iter().enumerate() {
            let pad = " ".repeat(width[i].saturating_sub(cell.chars().count()));
            if i > 0 {
                line.push_str("  ");
            }
            if right[i] {
                line.push_str(&pad);
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&pad);
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// The report as text: the sample ratio check, one table per metric, the decision.
pub fn analyze(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    let loud = report
        .srm
        .mismatch
        .then(|| format!("!!! {} !!!", srm_warning(report)));
    writeln!(out, "flagstone analyze: {}", report.file)?;
    writeln!(
        out,
        "control \"{}\"; alpha {} ({} intervals); {}",
        report.control,
        report.settings.alpha,
        confidence_level(report.settings.alpha),
        correction_label(report.correction)
    )?;
    if let Some(loud) = &loud {
        writeln!(out, "\n{loud}")?;
    }
    writeln!(
        out,
        "\nSample ratio check: {}, {}",
        p_is("p", report.srm.p_value),
        if report.srm.mismatch {
            "MISMATCH"
        } else {
            "no mismatch"
        }
    )?;
    let mut rows = vec![vec![
        "variant".to_owned(),
        "users".to_owned(),
        "expected".to_owned(),
        "observed".to_owned(),
    ]];
    let total: u64 = report.variants.iter().map(|v| v.users).sum();
    for v in &report.variants {
        rows.push(vec![
            v.name.clone(),
            count(v.users),
            probability(v.expected_share),
            probability(v.users as f64 / total as f64),
        ]);
    }
    columns(out, &rows, "  ")?;
    for metric in &report.metrics {
        writeln!(out)?;
        if let Some(loud) = &loud {
            writeln!(out, "{loud}")?;
        }
        writeln!(out, "{}", heading(metric))?;
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
        columns(out, &rows, "  ")?;
        for (variant, reason) in notes {
            writeln!(out, "  n/a for {variant}: {reason}")?;
        }
    }
    writeln!(out)?;
    if let Some(loud) = &loud {
        writeln!(out, "{loud}")?;
    }
    writeln!(out, "Decision: {}", report.decision.summary)?;
    for call in &report.decision.variants {
        writeln!(out, "  {}: {}", call.variant, call.detail)?;
    }
    Ok(())
}

/// What the summary was computed from: the units each variant got, and every exposure and
/// event not counted, by why.
pub fn raw_data(out: &mut dyn Write, summary: &Summary) -> std::io::Result<()> {
    let (x, e) = (&summary.exposures, &summary.events);
    writeln!(out, "Raw data")?;
    writeln!(out, "exposures  {}", input(&x.input))?;
    let units: Vec<String> = summary
        .rows
        .iter()
        .map(|r| format!("{} {}", r.variation, count(r.users)))
        .collect();
    let assigned: u64 = summary.rows.iter().map(|r| r.users).sum();
    writeln!(
        out,
        "  units in the experiment  {}: {}",
        count(assigned),
        if units.is_empty() {
            "none".to_owned()
        } else {
            units.join(" · ")
        }
    )?;
    writeln!(out, "  units left out           {}", left_out(x))?;
    writeln!(out, "  exposures not assigning  {}", not_assigning(x))?;
    writeln!(out, "events     {}", input(&e.input))?;
    writeln!(out, "  counted {} · {}", count(e.counted), not_counted(e))?;
    for line in x
        .input
        .malformed_shown
        .iter()
        .chain(&e.input.malformed_shown)
    {
        writeln!(
            out,
            "  malformed: {}:{}: {}",
            line.file, line.line, line.reason
        )?;
    }
    for at in x.input.incomplete.iter().chain(&e.input.incomplete) {
        writeln!(
            out,
            "  {at}: incomplete last line (a writer still running), skipped"
        )?;
    }
    writeln!(out)
}

/// `3 files, 1,200 read, 2 malformed`.
pub(in crate::cli::render) fn input(input: &Input) -> String {
    format!(
        "{} {}, {} read, {} malformed",
        count(input.files),
        if input.files == 1 { "file" } else { "files" },
        count(input.read),
        count(input.malformed)
    )
}

pub(in crate::cli::render) fn left_out(x: &ExposureCounts) -> String {
    format!(
        "{} saw several variants · {} held out or outside the layer's slice",
        count(x.several_variants),
        count(x.held_out)
    )
}

pub(in crate::cli::render) fn not_assigning(x: &ExposureCounts) -> String {
    format!(
        "{} by another rule or the fallthrough · {} outside the dates · {} of unknown variants · {} without the experiment · {} in other environments · {} of other flags",
        count(x.not_split),
        count(x.outside_dates),
        count(x.unknown_variants),
        count(x.other_experiments),
        count(x.other_environments),
        count(x.other_flags)
    )
}

pub(in crate::cli::render) fn not_counted(e: &EventCounts) -> String {
    format!(
        "not in the experiment {} · no metric's event {} · before exposure {} · after the window {} · property not a number {}",
        count(e.not_in_experiment),
        count(e.other_events),
        count(e.before_exposure),
        count(e.after_window),
        count(e.property_not_number)
    )
}
