//! `flagstone evals compare --format json`: a comparison, with its fields in alphabetical order
//! (docs/evals.md lists them).

use serde::Serialize;

use crate::cli::render::human::EvalsWords;
use crate::cli::render::human::evals::{label, method};
use crate::evals::{Margin, Report, WorstCase};

/// The document of a comparison.
#[derive(Serialize)]
pub struct Comparison<'a> {
    alpha: f64,
    baseline_mean: f64,
    bootstrap: BootstrapView,
    candidate_mean: f64,
    direction: &'static str,
    improved: usize,
    mean_difference: f64,
    n: usize,
    notes: &'a [String],
    regressed: usize,
    sign_test: SignTestView,
    stddev_difference: f64,
    t_test: Option<TTestView>,
    unchanged: usize,
    verdict: VerdictView,
    wilcoxon: WilcoxonView,
    worst: Vec<WorstView<'a>>,
}

#[derive(Serialize)]
struct BootstrapView {
    ci: [f64; 2],
    resamples: u32,
    seed: u64,
}

#[derive(Serialize)]
struct SignTestView {
    nonzero: usize,
    p_value: f64,
    positive: usize,
}

#[derive(Serialize)]
struct TTestView {
    ci: [f64; 2],
    df: f64,
    p_value: f64,
    t: f64,
}

#[derive(Serialize)]
struct VerdictView {
    improvement_interval: [f64; 2],
    margin: f64,
    margin_relative: Option<f64>,
    more_cases: Option<u64>,
    outcome: String,
    too_few_cases: bool,
}

#[derive(Serialize)]
struct WilcoxonView {
    method: &'static str,
    p_value: f64,
    ranked: usize,
    statistic: f64,
    ties: bool,
    w_minus: f64,
    w_plus: f64,
    z: Option<f64>,
    zeros: usize,
}

#[derive(Serialize)]
struct WorstView<'a> {
    baseline: f64,
    candidate: f64,
    case_id: &'a str,
    difference: f64,
    index: usize,
}

/// The document of a comparison made with `margin`, to serialise.
pub fn evals<'a>(report: &'a Report, margin: Margin, words: &'a EvalsWords) -> Comparison<'a> {
    let verdict = &report.verdict;
    let w = &report.wilcoxon;
    Comparison {
        alpha: report.alpha,
        baseline_mean: report.baseline_mean,
        bootstrap: BootstrapView {
            ci: report.bootstrap.ci,
            resamples: report.bootstrap.resamples,
            seed: report.bootstrap.seed,
        },
        candidate_mean: report.candidate_mean,
        direction: if report.lower_is_better {
            "lower_is_better"
        } else {
            "higher_is_better"
        },
        improved: report.improved,
        mean_difference: report.mean_difference,
        n: report.n,
        notes: &words.notes,
        regressed: report.regressed,
        sign_test: SignTestView {
            nonzero: report.sign_test.nonzero,
            p_value: report.sign_test.p_value,
            positive: report.sign_test.positive,
        },
        stddev_difference: report.stddev_difference,
        t_test: report.t_test.as_ref().ok().map(|t| TTestView {
            ci: t.ci,
            df: t.df,
            p_value: t.p_value,
            t: t.t,
        }),
        unchanged: report.unchanged,
        verdict: VerdictView {
            improvement_interval: verdict.improvement,
            margin: verdict.margin,
            margin_relative: match margin {
                Margin::Absolute(_) => None,
                Margin::Relative(fraction) => Some(fraction),
            },
            more_cases: verdict.more_cases,
            outcome: label(verdict.outcome).to_lowercase(),
            too_few_cases: verdict.too_few_cases,
        },
        wilcoxon: WilcoxonView {
            method: method(w.method),
            p_value: w.p_value,
            ranked: w.ranked,
            statistic: w.statistic,
            ties: w.ties,
            w_minus: w.w_minus,
            w_plus: w.w_plus,
            z: w.z,
            zeros: w.zeros,
        },
        worst: report.worst.iter().map(worst).collect(),
    }
}

fn worst(c: &WorstCase) -> WorstView<'_> {
    WorstView {
        baseline: c.baseline,
        candidate: c.candidate,
        case_id: &c.id,
        difference: c.difference,
        index: c.index,
    }
}
