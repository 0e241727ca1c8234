//! `flagstone evals compare --format markdown`: a comparison as a pull request comment.

use std::io::Write;

use super::text;
use crate::cli::render::human::EvalsWords;
use crate::cli::render::human::evals::{direction, label, method_words};
use crate::evals::{Report, TTestUndefined};
use crate::format::{signed_significant, significant, significant_interval};

/// A comparison as Markdown: the verdict, the means, each test, the most regressed cases.
pub fn evals(out: &mut dyn Write, report: &Report, words: &EvalsWords) -> std::io::Result<()> {
    let level = &words.level;
    writeln!(
        out,
        "### Eval comparison: **{}**\n",
        label(report.verdict.outcome)
    )?;
    let mut sentence = words.verdict.clone();
    sentence[..1].make_ascii_uppercase();
    writeln!(out, "{}\n", text(&sentence))?;
    for note in &words.notes {
        writeln!(out, "> **Warning**: {}\n", text(note))?;
    }
    writeln!(out, "| | baseline | candidate | difference |")?;
    writeln!(out, "|---|--:|--:|--:|")?;
    writeln!(
        out,
        "| mean of {} cases | {} | {} | {} |\n",
        report.n,
        significant(report.baseline_mean),
        significant(report.candidate_mean),
        signed_significant(report.mean_difference)
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
            significant(t.t),
            t.df,
            significant(t.p_value),
            significant_interval(t.ci)
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
        significant(w.p_value)
    )?;
    let s = &report.sign_test;
    writeln!(
        out,
        "| sign test | {} of {} positive | {} | |",
        s.positive,
        s.nonzero,
        significant(s.p_value)
    )?;
    let b = &report.bootstrap;
    writeln!(
        out,
        "| paired bootstrap ({} resamples, seed {}) | | | {} |",
        b.resamples,
        b.seed,
        significant_interval(b.ci)
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
            text(&case.id),
            case.baseline,
            case.candidate,
            signed_significant(case.difference)
        )?;
    }
    writeln!(out, "\n</details>")
}
