//! `flagstone evals compare`: the verdict in a sentence, then each test's numbers and the most
//! regressed cases. The sentences and labels here are shared with the Markdown and JSON
//! renderers.

use std::io::Write;

use crate::evals::{Conclusion, Margin, Report, TTestUndefined, WilcoxonMethod};
use crate::format::{signed_significant, significant, significant_interval};

/// The sentences every format of a comparison shares.
pub struct EvalsWords {
    /// The verdict in plain words, without its label.
    pub verdict: String,
    /// What deserves a warning: an inconclusive verdict, an undefined test, no difference.
    pub notes: Vec<String>,
    /// "95%".
    pub level: String,
}

impl EvalsWords {
    pub fn new(report: &Report, margin: Margin) -> EvalsWords {
        let level = format!("{}%", significant((1.0 - report.alpha) * 100.0));
        let verdict = &report.verdict;
        let beyond = match margin {
            _ if verdict.margin == 0.0 => String::new(),
            Margin::Absolute(_) => format!(" by more than {}", significant(verdict.margin)),
            Margin::Relative(fraction) => format!(
                " by more than {} ({}% of the baseline mean)",
                significant(verdict.margin),
                significant(fraction * 100.0)
            ),
        };
        let interval = format!(
            "the {level} bootstrap interval of its mean improvement, {}",
            significant_interval(verdict.improvement)
        );
        let bound = significant(-verdict.margin);
        let sentence = match verdict.outcome {
            Conclusion::Pass => format!(
                "the candidate is not worse than the baseline{beyond}: {interval}, lies above {bound}."
            ),
            Conclusion::Regression => format!(
                "the candidate is worse than the baseline{beyond}: {interval}, lies below {bound}."
            ),
            Conclusion::Inconclusive if verdict.too_few_cases => format!(
                "{} cases are too few to show that the candidate is not worse than the baseline{beyond}: {interval}, lies above {bound}, but a pass needs at least {}.",
                report.n,
                report.n + verdict.more_cases.unwrap_or(0) as usize
            ),
            Conclusion::Inconclusive => format!(
                "the cases do not show whether the candidate is worse than the baseline{beyond}: {interval}, reaches {bound}."
            ),
        };
        let mut notes = Vec::new();
        if verdict.too_few_cases {
            notes.push(format!(
                "inconclusive: {} more case{} needed for a pass (--min-cases)",
                verdict.more_cases.unwrap_or(0),
                if verdict.more_cases == Some(1) {
                    " is"
                } else {
                    "s are"
                }
            ));
        } else if verdict.outcome == Conclusion::Inconclusive {
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
                signed_significant(report.mean_difference)
            ));
        }
        EvalsWords {
            verdict: sentence,
            notes,
            level,
        }
    }
}

pub(in crate::cli::render) fn label(outcome: Conclusion) -> &'static str {
    match outcome {
        Conclusion::Pass => "PASS",
        Conclusion::Regression => "REGRESSION",
        Conclusion::Inconclusive => "INCONCLUSIVE",
    }
}

pub(in crate::cli::render) fn direction(report: &Report) -> &'static str {
    if report.lower_is_better {
        "lower is better"
    } else {
        "higher is better"
    }
}

pub(in crate::cli::render) fn method(method: WilcoxonMethod) -> &'static str {
    match method {
        WilcoxonMethod::Exact => "exact",
        WilcoxonMethod::Permutation => "permutation",
        WilcoxonMethod::Normal => "normal",
        WilcoxonMethod::NoDifferences => "none",
    }
}

pub(in crate::cli::render) fn method_words(report: &Report) -> String {
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

/// A comparison as text: the verdict, each test, the most regressed cases.
pub fn evals(out: &mut dyn Write, report: &Report, text: &EvalsWords) -> std::io::Result<()> {
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
        significant(report.baseline_mean),
        significant(report.candidate_mean),
        signed_significant(report.mean_difference),
        significant(report.stddev_difference)
    )?;
    match &report.t_test {
        Ok(t) => writeln!(
            out,
            "t-test     t = {}, df = {}, p = {}; {level} CI of the difference {}",
            significant(t.t),
            t.df,
            significant(t.p_value),
            significant_interval(t.ci)
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
        significant(w.p_value),
        method_words(report)
    )?;
    let s = &report.sign_test;
    writeln!(
        out,
        "sign test  {} positive of {} non-zero, p = {}",
        s.positive,
        s.nonzero,
        significant(s.p_value)
    )?;
    let b = &report.bootstrap;
    writeln!(
        out,
        "bootstrap  {level} interval of the difference {} ({} resamples, seed {})",
        significant_interval(b.ci),
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
                    signed_significant(c.difference),
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
