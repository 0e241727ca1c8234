//! ns per evaluation: flagstone vs unleash-yggdrasil vs launchdarkly-server-sdk-evaluation,
//! each over the same 1,000 flags per scenario and 1,024 varied contexts (see `src/lib.rs`).
//!
//! Engines and contexts are built before timing, and the engines are first checked to agree
//! on the first 5,000 evaluations of every scenario. Each timed call is evaluation `i` of a
//! running counter: flag `i % 1000` looked up by key, for context `i % 1024`; its result is
//! `black_box`ed and dropped inside the call, so the peers' owned results are paid for,
//! including their deallocation.

use divan::{Bencher, black_box};
use flagstone_peer_evaluators::{
    Scenario, check_agreement, flagstone_engine as fs, launchdarkly_engine as ld,
    yggdrasil_engine as yg,
};

fn main() {
    for scenario in Scenario::ALL {
        println!("{}", check_agreement(scenario));
    }
    // Sample sizes are fixed per group (divan's calibration sometimes settles on 1 iteration
    // per sample, which times the timer); --sample-count and --sample-size still override.
    divan::Divan::from_args().main();
}

/// Times `evaluate(setup, i)` for i = 1, 2, …, continuing across samples.
fn cycle<S>(bencher: Bencher, setup: S, evaluate: impl Fn(&S, usize)) {
    let mut i = 0usize;
    bencher.bench_local(|| {
        i = i.wrapping_add(1);
        evaluate(&setup, i);
    });
}

fn flagstone(b: Bencher, s: Scenario) {
    cycle(b, fs::setup(s), fs::evaluate);
}

fn yggdrasil_is_enabled(b: Bencher, s: Scenario) {
    cycle(b, yg::setup(s), yg::is_enabled);
}

fn yggdrasil_get_variant(b: Bencher, s: Scenario) {
    cycle(b, yg::setup(s), yg::get_variant);
}

fn launchdarkly(b: Bencher, s: Scenario) {
    cycle(b, ld::setup(s), ld::evaluate);
}

/// (a) boolean flags with no rules, on.
#[divan::bench_group(sample_count = 500, sample_size = 1000)]
mod a_no_rules {
    use super::*;
    const S: Scenario = Scenario::A;
    #[divan::bench]
    fn flagstone(b: Bencher) {
        super::flagstone(b, S)
    }
    /// Unleash's boolean API.
    #[divan::bench]
    fn yggdrasil(b: Bencher) {
        super::yggdrasil_is_enabled(b, S)
    }
    /// The same toggles through the variant API (an owned variant).
    #[divan::bench]
    fn yggdrasil_get_variant(b: Bencher) {
        super::yggdrasil_get_variant(b, S)
    }
    #[divan::bench]
    fn launchdarkly(b: Bencher) {
        super::launchdarkly(b, S)
    }
}

/// (b) `country in [US, CA]`, then a 50/50 split.
#[divan::bench_group(sample_count = 500, sample_size = 1000)]
mod b_rule_split {
    use super::*;
    const S: Scenario = Scenario::B;
    #[divan::bench]
    fn flagstone(b: Bencher) {
        super::flagstone(b, S)
    }
    /// A split needs Unleash's variant API.
    #[divan::bench]
    fn yggdrasil(b: Bencher) {
        super::yggdrasil_get_variant(b, S)
    }
    #[divan::bench]
    fn launchdarkly(b: Bencher) {
        super::launchdarkly(b, S)
    }
}

/// (c) ten rules × three conditions, all 30 evaluated; the last rule decides. Samples of
/// 100 evaluations (0.1–3 ms) rather than 1,000, so that fewer of them span a preemption on
/// the shared machine.
#[divan::bench_group(sample_count = 1000, sample_size = 100)]
mod c_ten_rules {
    use super::*;
    const S: Scenario = Scenario::C;
    #[divan::bench]
    fn flagstone(b: Bencher) {
        super::flagstone(b, S)
    }
    #[divan::bench]
    fn yggdrasil(b: Bencher) {
        super::yggdrasil_is_enabled(b, S)
    }
    #[divan::bench]
    fn yggdrasil_get_variant(b: Bencher) {
        super::yggdrasil_get_variant(b, S)
    }
    #[divan::bench]
    fn launchdarkly(b: Bencher) {
        super::launchdarkly(b, S)
    }
}

/// flagstone only, to attribute its time (see RESULTS.md).
mod d_flagstone_parts {
    use super::*;
    use flagstone_peer_evaluators::pair;

    fn scenario(name: &str) -> Scenario {
        Scenario::parse(name).expect("a scenario")
    }

    /// The key lookup alone, over the same cycle of 1,000 keys: `Evaluator::bucket_by` hashes
    /// the key, probes the index, compares the key and reads one field of the flag.
    #[divan::bench(sample_count = 500, sample_size = 1000)]
    fn lookup_only(b: Bencher) {
        cycle(b, fs::setup(Scenario::A), |s, i| {
            black_box(s.engine.bucket_by(&s.keys[pair(i).0]));
        });
    }

    /// Seven flags (which stay in cache) for the 1,024 contexts.
    #[divan::bench(args = ["a", "b", "c"], sample_count = 1000, sample_size = 100)]
    fn few_flags(b: Bencher, name: &str) {
        cycle(b, fs::setup(scenario(name)), |s, i| {
            fs::evaluate_pair(s, i % 7, i % s.contexts.len())
        });
    }

    /// The 1,000 flags for eight contexts (which stay in cache; one per country, so (b)
    /// matches as often as over all contexts).
    #[divan::bench(args = ["a", "b", "c"], sample_count = 1000, sample_size = 100)]
    fn few_contexts(b: Bencher, name: &str) {
        cycle(b, fs::setup(scenario(name)), |s, i| {
            fs::evaluate_pair(s, i % s.keys.len(), i % 8)
        });
    }
}
