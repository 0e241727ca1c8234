//! `flagstone evals compare --cases FILE.csv`: whether a candidate prompt or model scores
//! worse than its baseline on the same eval cases (docs/evals.md).
//!
//! Exit status: 0 pass or inconclusive (with a warning), 1 regression, 2 usage or I/O error.

use std::io::{Read, Write};
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::evals::{
    Conclusion, DEFAULT_SEED, Margin, Options, Report, TTestUndefined, WilcoxonMethod,
};

use super::{Error, Exit, Format, formats};

/// Compare AI eval scores of a baseline and a candidate.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: EvalsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum EvalsCommand {
    Compare(CompareArgs),
}

/// Compare per-case scores of a baseline and a candidate (CSV: case_id,baseline,candidate).
#[derive(Debug, clap::Args)]
struct CompareArgs {
    /// The cases: a CSV file with the columns case_id, baseline and candidate; `-` reads
    /// standard input.
    #[arg(long, value_name = "FILE.csv")]
    cases: PathBuf,
    /// Lower scores are better (latency, cost, error rate). Default: higher is better.
    #[arg(long)]
    lower_is_better: bool,
    /// The tolerated regression: score units (`0.02`), or a percentage of the baseline
    /// mean (`2%`).
    #[arg(
        long,
        value_name = "X|X%",
        default_value = "0",
        allow_hyphen_values = true
    )]
    max_regression: String,
    /// Intervals are (1 − alpha) and tests two-sided at level alpha.
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// Bootstrap resamples.
    #[arg(long, default_value_t = 10_000)]
    resamples: u32,
    /// The bootstrap's random seed.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// How many of the most regressed cases to list.
    #[arg(long, value_name = "K", default_value_t = 10)]
    worst: usize,
    /// Output format.
    #[arg(long, default_value = "human", value_parser = formats(&[Format::Human, Format::Json, Format::Markdown]))]
    format: Format,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    let EvalsCommand::Compare(args) = args.command;
    let margin: Margin = args.max_regression.parse()?;
    let options = Options {
        alpha: args.alpha,
        lower_is_better: args.lower_is_better,
        resamples: args.resamples,
        seed: args.seed,
        worst: args.worst,
        margin,
        threads: 0,
    };
    options.validate()?;
    let (name, bytes) = if args.cases.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        ("<stdin>".to_owned(), bytes)
    } else {
        let name = args.cases.display().to_string();
        let bytes = std::fs::read(&args.cases).map_err(|e| format!("cannot read {name}: {e}"))?;
        (name, bytes)
    };
    let cases = crate::evals::parse_cases(&name, &bytes)?;
    let report = crate::evals::compare(&cases, &options).map_err(|e| format!("{name}: {e}"))?;
    let text = Text::new(&report, margin);
    match args.format {
        Format::Human | Format::Github => human(out, &report, &text)?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &to_json(&report, margin, &text))?;
            writeln!(out)?;
        }
        Format::Markdown => markdown(out, &report, &text)?,
    }
    for note in &text.notes {
        eprintln!("warning: {note}");
    }
    Ok(match report.verdict.outcome {
        Conclusion::Regression => Exit::Failure,
        Conclusion::Pass | Conclusion::Inconclusive => Exit::Success,
    })
}

/// The sentences every format shares.
struct Text {
    /// The verdict in plain words, without its label.
    verdict: String,
    /// What deserves a warning: an inconclusive verdict, an undefined test, no difference.
    notes: Vec<String>,
    /// "95%".
    level: String,
}

impl Text {
    fn new(report: &Report, margin: Margin) -> Text {
        let level = format!("{}%", number((1.0 - report.alpha) * 100.0));
        let verdict = &report.verdict;
        let beyond = match margin {
            _ if verdict.margin == 0.0 => String::new(),
            Margin::Absolute(_) => format!(" by more than {}", number(verdict.margin)),
            Margin::Relative(fraction) => format!(
                " by more than {} ({}% of the baseline mean)",
                number(verdict.margin),
                number(fraction * 100.0)
            ),
        };
        let interval = format!(
            "the {level} bootstrap interval of its mean improvement, {}",
            interval(verdict.improvement)
        );
        let bound = number(-verdict.margin);
        let sentence = match verdict.outcome {
            Conclusion::Pass => format!(
                "the candidate is not worse than the baseline{beyond}: {interval}, lies at or above {bound}."
            ),
            Conclusion::Regression => format!(
                "the candidate is worse than the baseline{beyond}: {interval}, lies below {bound}."
            ),
            Conclusion::Inconclusive => format!(
                "the cases do not show whether the candidate is worse than the baseline{beyond}: {interval}, contains {bound}."
            ),
        };
        let mut notes = Vec::new();
        if verdict.outcome == Conclusion::Inconclusive {
            notes.push(match verdict.more_cases {
                Some(more) => format!(
                    "inconclusive: about {more} more case{} would likely settle it (if the differences keep their mean and spread)",
                    if more == 1 { "" } else { "s" }
                ),
                None => "inconclusive: the mean difference sits on the margin; no number of cases is sure to settle it".to_owned(),
            });
        }
        if report.unchanged == report.n {
            notes.push(
                "no difference: every case has the same score under the baseline and the candidate"
                    .to_owned(),
            );
        } else if report.t_test == Err(TTestUndefined::ZeroVariance) {
            notes.push(format!(
                "the t-test is undefined: the differences have no variance (their mean is {})",
                signed(report.mean_difference)
            ));
        }
        Text {
            verdict: sentence,
            notes,
            level,
        }
    }
}

fn label(outcome: Conclusion) -> &'static str {
    match outcome {
        Conclusion::Pass => "PASS",
        Conclusion::Regression => "REGRESSION",
        Conclusion::Inconclusive => "INCONCLUSIVE",
    }
}

fn direction(report: &Report) -> &'static str {
    if report.lower_is_better {
        "lower is better"
    } else {
        "higher is better"
    }
}

fn method(method: WilcoxonMethod) -> &'static str {
    match method {
        WilcoxonMethod::Exact => "exact",
        WilcoxonMethod::Permutation => "permutation",
        WilcoxonMethod::Normal => "normal",
        WilcoxonMethod::NoDifferences => "none",
    }
}

fn method_words(report: &Report) -> String {
    let w = &report.wilcoxon;
    let how = match w.method {
        WilcoxonMethod::Exact => "exact",
        WilcoxonMethod::Permutation => "exact over every sign flip, tied ranks",
        WilcoxonMethod::Normal if w.ties => "normal approximation, tie-corrected",
        WilcoxonMethod::Normal => "normal approximation",
        WilcoxonMethod::NoDifferences => "no non-zero differences",
    };
    match w.zeros {
        0 => how.to_owned(),
        1 => format!("{how}; 1 zero difference dropped"),
        zeros => format!("{how}; {zeros} zero differences dropped"),
    }
}

fn human(out: &mut dyn Write, report: &Report, text: &Text) -> std::io::Result<()> {
    let level = &text.level;
    writeln!(out, "{}: {}", label(report.verdict.outcome), text.verdict)?;
    writeln!(out)?;
    writeln!(
        out,
        "cases      {} ({} improved, {} regressed, {} unchanged; {})",
        report.n,
        report.improved,
        report.regressed,
        report.unchanged,
        direction(report)
    )?;
    writeln!(
        out,
        "means      baseline {}, candidate {}, difference {} (sd {})",
        number(report.baseline_mean),
        number(report.candidate_mean),
        signed(report.mean_difference),
        number(report.stddev_difference)
    )?;
    match &report.t_test {
        Ok(t) => writeln!(
            out,
            "t-test     t = {}, df = {}, p = {}; {level} CI of the difference {}",
            number(t.t),
            t.df,
            number(t.p_value),
            interval(t.ci)
        )?,
        Err(TTestUndefined::ZeroVariance) => writeln!(
            out,
            "t-test     undefined: the differences have no variance"
        )?,
    }
    let w = &report.wilcoxon;
    writeln!(
        out,
        "Wilcoxon   T = {} (W+ = {}, W- = {}), p = {}; {}",
        w.statistic,
        w.w_plus,
        w.w_minus,
        number(w.p_value),
        method_words(report)
    )?;
    let s = &report.sign_test;
    writeln!(
        out,
        "sign test  {} positive of {} non-zero, p = {}",
        s.positive,
        s.nonzero,
        number(s.p_value)
    )?;
    let b = &report.bootstrap;
    writeln!(
        out,
        "bootstrap  {level} interval of the difference {} ({} resamples, seed {})",
        interval(b.ci),
        b.resamples,
        b.seed
    )?;
    if report.worst.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "most regressed cases:")?;
    let rows: Vec<[String; 4]> =
        std::iter::once(["case_id", "baseline", "candidate", "difference"].map(str::to_owned))
            .chain(report.worst.iter().map(|c| {
                [
                    c.id.escape_debug().to_string(),
                    c.baseline.to_string(),
                    c.candidate.to_string(),
                    signed(c.difference),
                ]
            }))
            .collect();
    let widths: Vec<usize> = (0..4)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let line = format!(
            "  {:w0$}  {:w1$}  {:w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn markdown(out: &mut dyn Write, report: &Report, text: &Text) -> std::io::Result<()> {
    let level = &text.level;
    writeln!(
        out,
        "### Eval comparison: **{}**\n",
        label(report.verdict.outcome)
    )?;
    let mut sentence = text.verdict.clone();
    sentence[..1].make_ascii_uppercase();
    writeln!(out, "{}\n", escape(&sentence))?;
    for note in &text.notes {
        writeln!(out, "> **Warning**: {}\n", escape(note))?;
    }
    writeln!(out, "| | baseline | candidate | difference |")?;
    writeln!(out, "|---|--:|--:|--:|")?;
    writeln!(
        out,
        "| mean of {} cases | {} | {} | {} |\n",
        report.n,
        number(report.baseline_mean),
        number(report.candidate_mean),
        signed(report.mean_difference)
    )?;
    writeln!(
        out,
        "{} improved, {} regressed, {} unchanged ({}).\n",
        report.improved,
        report.regressed,
        report.unchanged,
        direction(report)
    )?;
    writeln!(
        out,
        "| test | statistic | p-value | {level} interval of the difference |"
    )?;
    writeln!(out, "|---|---|--:|---|")?;
    match &report.t_test {
        Ok(t) => writeln!(
            out,
            "| paired t-test | t = {}, df = {} | {} | {} |",
            number(t.t),
            t.df,
            number(t.p_value),
            interval(t.ci)
        )?,
        Err(TTestUndefined::ZeroVariance) => {
            writeln!(out, "| paired t-test | undefined: no variance | | |")?
        }
    }
    let w = &report.wilcoxon;
    writeln!(
        out,
        "| Wilcoxon signed-rank ({}) | T = {} | {} | |",
        method_words(report),
        w.statistic,
        number(w.p_value)
    )?;
    let s = &report.sign_test;
    writeln!(
        out,
        "| sign test | {} of {} positive | {} | |",
        s.positive,
        s.nonzero,
        number(s.p_value)
    )?;
    let b = &report.bootstrap;
    writeln!(
        out,
        "| paired bootstrap ({} resamples, seed {}) | | | {} |",
        b.resamples,
        b.seed,
        interval(b.ci)
    )?;
    if report.worst.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\n<details><summary>Most regressed cases ({})</summary>\n",
        report.worst.len()
    )?;
    writeln!(out, "| case_id | baseline | candidate | difference |")?;
    writeln!(out, "|---|--:|--:|--:|")?;
    for case in &report.worst {
        writeln!(
            out,
            "| {} | {} | {} | {} |",
            escape(&case.id),
            case.baseline,
            case.candidate,
            signed(case.difference)
        )?;
    }
    writeln!(out, "\n</details>")
}

/// Markdown-escapes text for a paragraph or a table cell, on one line.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' => {
                escaped.push('\\');
                escaped.push(c);
            }
            c if c.is_control() => escaped.push(' '),
            c => escaped.push(c),
        }
    }
    escaped
}

fn to_json(report: &Report, margin: Margin, text: &Text) -> Value {
    let verdict = &report.verdict;
    let w = &report.wilcoxon;
    json!({
        "verdict": {
            "outcome": label(verdict.outcome).to_lowercase(),
            "margin": verdict.margin,
            "margin_relative": match margin {
                Margin::Absolute(_) => None,
                Margin::Relative(fraction) => Some(fraction),
            },
            "improvement_interval": verdict.improvement,
            "more_cases": verdict.more_cases,
        },
        "n": report.n,
        "direction": if report.lower_is_better { "lower_is_better" } else { "higher_is_better" },
        "alpha": report.alpha,
        "baseline_mean": report.baseline_mean,
        "candidate_mean": report.candidate_mean,
        "mean_difference": report.mean_difference,
        "stddev_difference": report.stddev_difference,
        "improved": report.improved,
        "regressed": report.regressed,
        "unchanged": report.unchanged,
        "t_test": report.t_test.as_ref().ok().map(|t| json!({
            "t": t.t,
            "df": t.df,
            "p_value": t.p_value,
            "ci": t.ci,
        })),
        "wilcoxon": {
            "method": method(w.method),
            "ranked": w.ranked,
            "zeros": w.zeros,
            "ties": w.ties,
            "w_plus": w.w_plus,
            "w_minus": w.w_minus,
            "statistic": w.statistic,
            "z": w.z,
            "p_value": w.p_value,
        },
        "sign_test": {
            "positive": report.sign_test.positive,
            "nonzero": report.sign_test.nonzero,
            "p_value": report.sign_test.p_value,
        },
        "bootstrap": {
            "resamples": report.bootstrap.resamples,
            "seed": report.bootstrap.seed,
            "ci": report.bootstrap.ci,
        },
        "worst": report.worst.iter().map(|c| json!({
            "case_id": c.id,
            "index": c.index,
            "baseline": c.baseline,
            "candidate": c.candidate,
            "difference": c.difference,
        })).collect::<Vec<Value>>(),
        "notes": text.notes,
    })
}

/// A number to 4 significant digits, trailing zeros dropped; scientific notation outside
/// [1e-4, 1e6).
fn number(x: f64) -> String {
    if x == 0.0 {
        return "0".to_owned();
    }
    let exponent = x.abs().log10().floor();
    if (-4.0..6.0).contains(&exponent) {
        let decimals = (3.0 - exponent).max(0.0) as usize;
        let text = format!("{x:.decimals$}");
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            text
        }
    } else {
        let text = format!("{x:.3e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        format!("{mantissa}e{exponent}")
    }
}

/// A difference, with its sign.
fn signed(x: f64) -> String {
    if x > 0.0 {
        format!("+{}", number(x))
    } else {
        number(x)
    }
}

fn interval([low, high]: [f64; 2]) -> String {
    format!("[{}, {}]", number(low), number(high))
}
