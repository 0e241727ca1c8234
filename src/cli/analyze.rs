//! `flagstone analyze [EXPERIMENT] --summary FILE.csv [--metric SPEC...]`: experiment results
//! from per-variant sufficient statistics (docs/analyze.md). The experiment file, when named,
//! gives the metrics, control, variants, intended split, alpha and MDE.
//!
//! Exit status: 0 when the analysis is done, whatever it decides; 2 on bad input.

use std::io::Write;
use std::path::PathBuf;

use crate::analyze::text::{
    count, decimals, fixed, p_is, p_value, percent, percent_interval, probability,
};
use crate::analyze::{
    self, Guardrail, MetricResult, Report, Request, RequestError, Role, VariantResult,
};
use crate::stats::{Correction, Settings};

use super::{DirArg, Error, Exit, Format, experiment_repository, formats, write_atomic};
use crate::experiment::Design;

/// Analyse an experiment from a per-variant summary CSV: Bayesian, frequentist and
/// sequential results per metric and variant, the sample ratio check, and a decision.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment's key (its path below experiments/ without .toml): its metrics,
    /// control, variants, intended split, alpha and MDE. Without it, give --metric.
    experiment: Option<String>,
    #[command(flatten)]
    dir: DirArg,
    /// The environment the summary comes from, for the intended split. Default: the one the
    /// experiment lists that comes last in the project's promotion order.
    #[arg(long, requires = "experiment")]
    env: Option<String>,
    /// The summary: one row per variant with `variation`, `users` and each metric's sums.
    #[arg(long, value_name = "FILE.csv")]
    summary: PathBuf,
    /// A metric: NAME=binomial, NAME=mean or NAME=NUMERATOR/DENOMINATOR, then optionally
    /// `,inverse` (lower is better), `,covariate=NAME` (CUPED) or `,guardrail=MAX_REGRESSION`.
    /// The first that is not a guardrail is the primary metric.
    #[arg(
        long = "metric",
        value_name = "SPEC",
        required_unless_present = "experiment",
        conflicts_with = "experiment"
    )]
    metrics: Vec<String>,
    /// The control variant; default: the experiment's, or the summary's first row.
    #[arg(long)]
    control: Option<String>,
    /// The significance level; intervals are (1 − alpha) [default: the experiment's, or
    /// 0.05].
    #[arg(long, allow_negative_numbers = true)]
    alpha: Option<f64>,
    /// The standard deviation of a normal prior on the relative lift; default: a flat prior.
    #[arg(long, allow_negative_numbers = true)]
    prior_stddev: Option<f64>,
    /// The sequential test's tuning parameter, in units.
    #[arg(long, default_value_t = 5000.0, allow_negative_numbers = true)]
    sequential_tuning: f64,
    /// The smallest relative lift worth detecting (0.02 is 2%), for the "keep running"
    /// estimate; default: the experiment's, or the observed lift.
    #[arg(long, allow_negative_numbers = true)]
    mde: Option<f64>,
    /// The multiple-comparison correction across every metric × variant p-value.
    #[arg(long, value_enum, default_value_t = CorrectionArg::None)]
    correction: CorrectionArg,
    /// Output format.
    #[arg(long, default_value = "human", value_parser = formats(&[Format::Human, Format::Json, Format::Markdown]))]
    format: Format,
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

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    let repo;
    let base = match &args.experiment {
        Some(key) => {
            repo = match experiment_repository(&args.dir, args.format, out)? {
                Some(repo) => repo,
                None => return Ok(Exit::Failure),
            };
            from_experiment(&crate::experiment::design(&repo, key, args.env.as_deref())?)
        }
        None => Request::new(
            analyze::parse_metrics(&args.metrics)
                .map_err(|e| format!("--metric `{}`: {}", e.spec, e.problem))?,
        ),
    };
    let request = Request {
        control: args.control.or(base.control),
        settings: Settings {
            alpha: args.alpha.unwrap_or(base.settings.alpha),
            prior_stddev: args.prior_stddev,
            sequential_tuning: args.sequential_tuning,
            ..Settings::default()
        },
        correction: match args.correction {
            CorrectionArg::None => Correction::None,
            CorrectionArg::Holm => Correction::Holm,
            CorrectionArg::Bh => Correction::BenjaminiHochberg,
        },
        mde: args.mde.or(base.mde),
        ..base
    };
    // The command line's own words for what to pass.
    request.validate().map_err(|e| match e {
        RequestError::NoMetrics => format!("{e}; name at least one (--metric NAME=KIND)"),
        RequestError::NoPrimary => format!("{e} (the first --metric that is not a guardrail)"),
        e => e.to_string(),
    })?;
    let bytes = std::fs::read(&args.summary)
        .map_err(|e| format!("cannot read {}: {e}", args.summary.display()))?;
    let report = analyze::analyze_csv(&bytes, &args.summary.display().to_string(), &request)?;
    if let Some(plot) = &args.plot {
        write_atomic(plot, analyze::plot::svg(&report).as_bytes())?;
    }
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &report.json())?;
            writeln!(out)?;
        }
        Format::Human | Format::Github => human(out, &report)?,
        Format::Markdown => markdown(out, &report)?,
    }
    Ok(Exit::Success)
}

/// What an experiment file says about its analysis: the variants its flag splits (each must
/// have a row), their intended shares for the sample ratio check, control, alpha and MDE.
fn from_experiment(design: &Design) -> Request {
    let weights: Vec<(String, f64)> = design
        .weights
        .iter()
        .map(|(variant, weight)| ((*variant).to_owned(), *weight))
        .collect();
    Request {
        control: Some(design.control.to_owned()),
        known_variants: Some(weights.iter().map(|(v, _)| v.clone()).collect()),
        weights: Some(weights),
        settings: Settings {
            alpha: design.alpha,
            ..Settings::default()
        },
        mde: Some(design.mde),
        ..Request::new(design.metrics.clone())
    }
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
        "SAMPLE RATIO MISMATCH ({} < {}): the variants did not get their intended shares of units. Do not trust these results.",
        p_is("p", report.srm.p_value),
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
fn cells(report: &Report, r: &VariantResult, places: usize) -> (Vec<String>, Vec<String>) {
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
    match &r.sequential.relative {
        Ok(q) => {
            row.push(percent_interval(q.ci));
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
fn places(metric: &MetricResult) -> usize {
    let largest = metric
        .variants
        .iter()
        .flat_map(|r| [r.control.mean.abs(), r.treatment.mean.abs()])
        .fold(0.0, f64::max);
    decimals(largest)
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
    headers.push(format!("sequential [{level} CI]"));
    headers.push("sequential p".to_owned());
    headers.push("chance to win".to_owned());
    if matches!(metric.spec.role, Role::Guardrail { .. }) {
        headers.push("guardrail".to_owned());
    }
    headers
}

/// Whether each column of `rows` (headers first) holds numbers, to align them to the right.
fn numeric_columns(rows: &[Vec<String>]) -> Vec<bool> {
    let numeric =
        |c: &String| c == "n/a" || c.starts_with(|c: char| c.is_ascii_digit() || c == '<');
    (0..rows[0].len())
        .map(|i| i > 0 && rows[1..].iter().all(|r| r.get(i).is_none_or(numeric)))
        .collect()
}

/// Rows of cells (headers first) as aligned columns: numbers to the right, text to the left.
fn columns(out: &mut dyn Write, rows: &[Vec<String>], indent: &str) -> std::io::Result<()> {
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
            let mut row: Vec<String> = row.iter().map(|c| md(c)).collect();
            row[0] = format!("`{}`", row[0]);
            writeln!(out, "| {} |", row.join(" | "))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn render(f: fn(&mut dyn Write, &Report) -> std::io::Result<()>, report: &Report) -> String {
        let mut out = Vec::new();
        f(&mut out, report).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_mismatch_is_loud_above_every_table_and_unavailable_cells_say_why() {
        let report = crate::analyze::tests::sample_report(true);
        assert_eq!(
            render(human, &report),
            r#"flagstone analyze: s.csv
control "control"; alpha 0.05 (95% intervals); no correction

!!! SAMPLE RATIO MISMATCH (p < 0.0001 < 0.001): the variants did not get their intended shares of units. Do not trust these results. !!!

Sample ratio check: p < 0.0001, MISMATCH
  variant  users  expected  observed
  control  1,000     33.3%     33.3%
  b<&>     1,010     33.3%     33.7%
  c          990     33.3%     33.0%

!!! SAMPLE RATIO MISMATCH (p < 0.0001 < 0.001): the variants did not get their intended shares of units. Do not trust these results. !!!
converted (binomial, primary)
  variant  users  control mean  variant mean  lift [95% CI]              p-value  sequential [95% CI]  sequential p  chance to win
  b<&>     1,010        0.1000        0.1123  +12.34% [+2.00%, +22.68%]   0.0191  [+3.00%, +34.02%]          0.0191          98.8%
  c        1,010        0.1000        0.1000  n/a                            n/a  n/a                           n/a            n/a
  n/a for c: the control mean of `converted` is zero (row 2, column `converted__sum`), so a relative lift is undefined; see the absolute difference

!!! SAMPLE RATIO MISMATCH (p < 0.0001 < 0.001): the variants did not get their intended shares of units. Do not trust these results. !!!
latency (mean, guardrail, tolerates +2.00%, lower is better)
  variant  users  control mean  variant mean  lift [95% CI]             p-value  sequential [95% CI]  sequential p  chance to win  guardrail
  b<&>     1,010        0.1000        0.0990  -1.00% [-3.00%, +1.00%]    0.3200  [-4.50%, +1.50%]           0.3200          84.0%  pass
  c        1,010        0.1000        0.1080  +8.00% [+5.00%, +11.00%]  <0.0001  [+7.50%, +16.50%]         <0.0001           0.0%  FAIL

!!! SAMPLE RATIO MISMATCH (p < 0.0001 < 0.001): the variants did not get their intended shares of units. Do not trust these results. !!!
Decision: Don't ship: sample ratio mismatch (p < 0.0001 < 0.001). The variants did not get their intended shares of units, so no result can be trusted; find the cause (assignment, exposure logging, bot filtering) and restart.
  b<&>: better at alpha 0.05: `converted` +12.34% [+2.00%, +22.68%], p = 0.0191
  c: fails guardrail `latency` +8.00% [+5.00%, +11.00%] is beyond the tolerated +2.00%
"#
        );
    }
}
