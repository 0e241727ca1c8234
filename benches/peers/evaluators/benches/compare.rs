//! ns per evaluation: flagstone vs unleash-yggdrasil vs launchdarkly-server-sdk-evaluation,
//! each over the same 1,000 flags per scenario and 1,024 varied contexts (see `src/lib.rs`).
//!
//! Engines and contexts are built before timing, and the engines are first checked to agree
//! on the first 5,000 evaluations of every scenario. Each timed call is evaluation `i` of a
//! running counter: flag `i % 1000` looked up by key, for context `i % 1024`; its result is
//! `black_box`ed and dropped inside the call, so the peers' owned results are paid for,
//! including their deallocation.

use divan::Bencher;
use flagstone_peer_evaluators::{
    Scenario, check_agreement, flagstone_engine as fs, launchdarkly_engine as ld,
    yggdrasil_engine as yg,
};

fn main() {
    for scenario in Scenario::ALL {
        println!("{}", check_agreement(scenario));
    }
    // 500 samples of 1,000 evaluations each (a fixed sample size: divan's calibration
    // sometimes settles on 1 iteration per sample, which times the timer). Command-line
    // options (--sample-count, --sample-size) still override.
    divan::Divan::default()
        .sample_count(500)
        .sample_size(1000)
        .config_with_args()
        .main();
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

/// (c) ten rules × three conditions, all 30 evaluated; the last rule decides.
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
