//! `flagstone evals compare` at scale: 100,000 cases with 10,000 bootstrap resamples (every
//! statistic, from parsed cases), and parsing their CSV. `cargo bench --bench evals`

use std::sync::OnceLock;

use divan::black_box;
use flagstone::evals::{Case, Options, compare, parse_cases};
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
