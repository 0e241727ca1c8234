//! `flagstone analyze --summary FILE.csv --metric SPEC...`: experiment results from
//! per-variant sufficient statistics (docs/analyze.md).
//!
//! Exit status: 0 when the analysis is done, whatever it decides; 2 on bad input.

use std::io::Write;
use std::path::PathBuf;

use crate::analyze::text::{count, number, p_value, percent, percent_interval, probability};
use crate::analyze::{self, Guardrail, MetricResult, Report, Request, Role, VariantResult};
use crate::stats::{Correction, Settings};

use super::{Error, Outcome, write_atomic};

/// Analyse an experiment from a per-variant summary CSV: Bayesian, frequentist and
/// sequential results per metric and variant, the sample ratio check, and a decision.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The summary: one row per variant with `variation`, `users` and each metric's sums.
    #[arg(long, value_name = "FILE.csv")]
    summary: PathBuf,
    /// A metric: NAME=binomial, NAME=mean or NAME=NUMERATOR/DENOMINATOR, then optionally
    /// `,inverse` (lower is better), `,covariate=NAME` (CUPED) or `,guardrail=MAX_REGRESSION`.
    /// The first that is not a guardrail is the primary metric.
    #[arg(long = "metric", value_name = "SPEC", required = true)]
    metrics: Vec<String>,
    /// The control variant; default: the summary's first row.
    #[arg(long)]
    control: Option<String>,
    /// The significance level; intervals are (1 − alpha).
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// The standard deviation of a normal prior on the relative lift; default: a flat prior.
    #[arg(long)]
    prior_stddev: Option<f64>,
    /// The sequential test's tuning parameter, in units.
    #[arg(long, default_value_t = 5000.0)]
    sequential_tuning: f64,
    /// The smallest relative lift worth detecting (0.02 is 2%), for the "keep running"
    /// estimate; default: the observed lift.
    #[arg(long)]
    mde: Option<f64>,
    /// The multiple-comparison correction across every metric × variant p-value.
    #[arg(long, value_enum, default_value_t = CorrectionArg::None)]
    correction: CorrectionArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AnalyzeFormat::Human)]
    format: AnalyzeFormat,
    /// Also write an SVG plot of every metric's relative lifts to this file.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum CorrectionArg {
    None,
    /// Holm–Bonferroni (family-wise error rate).
    Holm,
    /// Benjamini–Hochberg (false discovery rate).
    Bh,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum AnalyzeFormat {
    Human,
    Json,
    Markdown,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Outcome, Error> {
    let metrics = analyze::parse_metrics(&args.metrics)?;
    let request = Request {
        control: args.control,
        settings: Settings {
            alpha: args.alpha,
            prior_stddev: args.prior_stddev,
            sequential_tuning: args.sequential_tuning,
            ..Settings::default()
        },
        correction: match args.correction {
            CorrectionArg::None => Correction::None,
            CorrectionArg::Holm => Correction::Holm,
            CorrectionArg::Bh => Correction::BenjaminiHochberg,
        },
        mde: args.mde,
        ..Request::new(metrics)
    };
    let bytes = std::fs::read(&args.summary)
        .map_err(|e| format!("cannot read {}: {e}", args.summary.display()))?;
    let report = analyze::analyze_csv(&bytes, &args.summary.display().to_string(), &request)?;
    if let Some(plot) = &args.plot {
        write_atomic(plot, analyze::plot::svg(&report).as_bytes())?;
    }
    match args.format {
        AnalyzeFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &report.to_json())?;
            writeln!(out)?;
        }
        AnalyzeFormat::Human => human(out, &report)?,
        AnalyzeFormat::Markdown => markdown(out, &report)?,
    }
    Ok(Outcome::Success)
}

/// The confidence level of the intervals: `95%`.
fn level(report: &Report) -> String {
    let text = format!("{:.2}", 100.0 * (1.0 - report.settings.alpha));
    text.trim_end_matches('0').trim_end_matches('.').to_owned() + "%"
}

fn correction_label(c: Correction) -> &'static str {
    match c {
        Correction::None => "no correction",
        Correction::Holm => "Holm correction",
        Correction::BenjaminiHochberg => "Benjamini-Hochberg correction",
    }
}

fn srm_warning(report: &Report) -> String {
    format!(
        "SAMPLE RATIO MISMATCH (p = {} < {}): the variants did not get their intended shares of units. Do not trust these results.",
        p_value(report.srm.p_value),
        analyze::SRM_THRESHOLD
    )
}

/// A metric's heading: `revenue (mean, secondary, lower is better)`.
fn heading(metric: &MetricResult) -> String {
    let spec = &metric.spec;
    let mut parts = vec![spec.kind.label(), spec.role.label().to_owned()];
    if let Role::Guardrail { max_regression } = spec.role {
        parts.push(format!(
            "tolerates {}",
            percent(if spec.inverse {
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
fn cells(report: &Report, r: &VariantResult) -> (Vec<String>, Vec<String>) {
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
        number(r.control.mean),
        number(r.treatment.mean),
    ];
    match &r.frequentist.relative {
        Ok(t) => {
            row.push(format!(
                "{} {}",
                percent(t.result.expected),
                percent_interval(t.result.ci)
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
    row.push(match &r.sequential.relative {
        Ok(q) => format!("{} {}", percent_interval(q.ci), p_value(q.p_value)),
        Err(reason) => na(reason),
    });
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

fn headers(report: &Report, metric: &MetricResult) -> Vec<String> {
    let level = level(report);
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
    headers.push(format!("sequential [{level} CI] p"));
    headers.push("chance to win".to_owned());
    if matches!(metric.spec.role, Role::Guardrail { .. }) {
        headers.push("guardrail".to_owned());
    }
    headers
}

/// Rows of cells as aligned columns: text left, numbers right.
fn columns(out: &mut dyn Write, rows: &[Vec<String>], indent: &str) -> std::io::Result<()> {
    let width = |i: usize| {
        rows.iter()
            .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..rows[0].len()).map(width).collect();
    for row in rows {
        let mut line = indent.to_owned();
        for (i, cell) in row.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            if i > 0 {
                line.push_str("  ");
            }
            let numeric = i > 0 && cell.starts_with(|c: char| c.is_ascii_digit() || c == '<');
            if numeric {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn human(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
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
        level(report),
        correction_label(report.correction)
    )?;
    if let Some(loud) = &loud {
        writeln!(out, "\n{loud}")?;
    }
    writeln!(
        out,
        "\nSample ratio check: p = {}, {}",
        p_value(report.srm.p_value),
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
        let mut rows = vec![headers(report, metric)];
        let mut notes = Vec::new();
        for r in &metric.variants {
            let (row, reasons) = cells(report, r);
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

/// A table cell's text for Markdown.
fn md(text: &str) -> String {
    text.replace('|', "\\|")
}

fn markdown(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    writeln!(out, "### flagstone analyze: `{}`", md(&report.file))?;
    writeln!(
        out,
        "\nControl `{}`; alpha {} ({} intervals); {}.",
        md(&report.control),
        report.settings.alpha,
        level(report),
        correction_label(report.correction)
    )?;
    let loud = report
        .srm
        .mismatch
        .then(|| format!("> [!CAUTION]\n> **{}**", srm_warning(report)));
    if let Some(loud) = &loud {
        writeln!(out, "\n{loud}")?;
    }
    writeln!(out, "\n**Decision:** {}\n", md(&report.decision.summary))?;
    for call in &report.decision.variants {
        writeln!(out, "- `{}`: {}", md(&call.variant), md(&call.detail))?;
    }
    writeln!(
        out,
        "\n#### Sample ratio check: p = {}, {}\n",
        p_value(report.srm.p_value),
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
            md(&v.name),
            count(v.users),
            probability(v.expected_share),
            probability(v.users as f64 / total as f64)
        )?;
    }
    for metric in &report.metrics {
        writeln!(out, "\n#### {}\n", md(&heading(metric)))?;
        if let Some(loud) = &loud {
            writeln!(out, "{loud}\n")?;
        }
        let headers = headers(report, metric);
        writeln!(out, "| {} |", headers.join(" | "))?;
        let align: Vec<&str> = (0..headers.len())
            .map(|i| if i == 0 { "---" } else { "---:" })
            .collect();
        writeln!(out, "|{}|", align.join("|"))?;
        let mut notes = Vec::new();
        for r in &metric.variants {
            let (mut row, reasons) = cells(report, r);
            row[0] = format!("`{}`", row[0]);
            let row: Vec<String> = row.iter().map(|c| md(c)).collect();
            writeln!(out, "| {} |", row.join(" | "))?;
            notes.extend(
                reasons
                    .into_iter()
                    .map(|reason| (r.variant.clone(), reason)),
            );
        }
        if !notes.is_empty() {
            writeln!(out)?;
        }
        for (variant, reason) in notes {
            writeln!(out, "- n/a for `{}`: {}", md(&variant), md(&reason))?;
        }
    }
    Ok(())
}
