//! `flagstone evals compare` at scale: 100,000 cases with 10,000 bootstrap resamples (every
//! statistic, from parsed cases), and parsing their CSV; and what `review`'s eval gate adds
//! for one report of 100,000 cases (reading it, checking its payload hashes, comparing with
//! the gate's 2,000 resamples). `cargo bench --bench evals`

use std::sync::OnceLock;

use divan::black_box;
use flagstone::evals::{Case, Margin, Options, Payloads, compare, parse_cases, parse_report};
use flagstone::review::{REVIEW_RESAMPLES, WORST_SHOWN};
use flagstone::stats::rng::Xoshiro256PlusPlus;

fn main() {
    divan::main();
}

const CASES: usize = 100_000;

/// 100,000 cases as CSV: rubric scores in [0, 1] to 3 decimals, the candidate a little better
/// on average, a tenth of the cases unchanged.
fn csv() -> &'static [u8] {
    static CSV: OnceLock<Vec<u8>> = OnceLock::new();
    CSV.get_or_init(|| {
        let mut rng = Xoshiro256PlusPlus::for_resample(2026, 0);
        let mut unit = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let mut text = String::from("case_id,baseline,candidate\n");
        for i in 0..CASES {
            let baseline = (unit() * 1000.0).round() / 1000.0;
            let candidate = if unit() < 0.1 {
                baseline
            } else {
                ((baseline + (unit() - 0.48) * 0.3).clamp(0.0, 1.0) * 1000.0).round() / 1000.0
            };
            text.push_str(&format!("case-{i:06},{baseline},{candidate}\n"));
        }
        text.into_bytes()
    })
}

fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| parse_cases("bench.csv", csv()).unwrap())
}

/// Everything `evals compare` computes for 100,000 cases, 10,000 resamples, on every core.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn compare_100k_cases_10k_resamples() -> usize {
    let cases = cases();
    let report = compare(black_box(cases), &Options::default()).unwrap();
    report.worst.len()
}

/// Reading the 100,000 cases from CSV (about 2.4 MB).
#[divan::bench(sample_count = 20, sample_size = 1)]
fn parse_100k_cases() -> usize {
    let bytes = csv();
    parse_cases("bench.csv", black_box(bytes)).unwrap().len()
}

const BASELINE: &str = "4102f89c863b7c6ac553fd82845e7b8bd7939f7aedb247a69ea805dc6b46892f";
const CANDIDATE: &str = "4f3edf112a1dc66c3472f09ffd5e29cce86b5efb6c9e3f4d8755254f83c5feb7";

/// The same cases as an eval report: both payloads' hashes on every row (about 15 MB).
fn report() -> &'static [u8] {
    static REPORT: OnceLock<Vec<u8>> = OnceLock::new();
    REPORT.get_or_init(|| {
        let text = String::from_utf8(csv().to_vec()).unwrap();
        let mut lines = text.lines();
        let mut out = format!(
            "{},baseline_payload,candidate_payload\n",
            lines.next().unwrap()
        );
        for line in lines {
            out.push_str(&format!("{line},{BASELINE},{CANDIDATE}\n"));
        }
        out.into_bytes()
    })
}

/// What `review`'s eval gate adds for a report of 100,000 cases, as `review` runs it: read
/// the report, refuse rows of other payloads, compare with the gate's resamples (2% margin,
/// 30 cases), on every core.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn review_gate_100k_cases() -> usize {
    let payloads = Payloads {
        baseline: BASELINE,
        candidate: CANDIDATE,
    };
    let cases = parse_report("report.csv", black_box(report()), payloads).unwrap();
    let options = Options {
        resamples: REVIEW_RESAMPLES,
        worst: WORST_SHOWN,
        margin: Margin::Relative(0.02),
        min_cases: 30,
        ..Options::default()
    };
    compare(&cases, &options).unwrap().worst.len()
}
