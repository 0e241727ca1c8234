//! ns per evaluation: flagstone vs unleash-yggdrasil vs launchdarkly-server-sdk-evaluation.
//!
//! Engines are built before timing. In every timed closure the flag key and the context go
//! through `black_box`, the engine looks the flag up by key and evaluates it, and the result
//! is `black_box`ed and dropped inside the closure (so the peers' owned results are paid for,
//! including their deallocation).

use divan::{Bencher, black_box};
use flagstone_peer_evaluators::{
    FLAG, NOW, Scenario, flagstone_engine as fs, launchdarkly_engine as ld, yggdrasil_engine as yg,
};

fn main() {
    // 500 samples of 1,000 evaluations each (a fixed sample size: divan's calibration
    // sometimes settles on 1 iteration per sample, which times the timer). Command-line
    // options (--sample-count, --sample-size) still override.
    divan::Divan::default()
        .sample_count(500)
        .sample_size(1000)
        .config_with_args()
        .main();
}

fn flagstone(bencher: Bencher, scenario: Scenario) {
    let (ev, ctx) = fs::setup(scenario);
    bencher.bench_local(|| {
        let r = ev.evaluate(black_box(FLAG), black_box(&ctx), black_box(NOW));
        black_box(&r);
    });
}

fn yggdrasil_is_enabled(bencher: Bencher, scenario: Scenario) {
    let (engine, ctx) = yg::setup(scenario);
    bencher.bench_local(|| {
        let r = engine.is_enabled(black_box(FLAG), black_box(&ctx), black_box(&None));
        black_box(&r);
    });
}

fn yggdrasil_get_variant(bencher: Bencher, scenario: Scenario) {
    let (engine, ctx) = yg::setup(scenario);
    bencher.bench_local(|| {
        let r = engine.get_variant(black_box(FLAG), black_box(&ctx), black_box(&None));
        black_box(&r);
    });
}

fn launchdarkly(bencher: Bencher, scenario: Scenario) {
    let (store, ctx) = ld::setup(scenario);
    bencher.bench_local(|| {
        let r = ld::evaluate(&store, black_box(FLAG), black_box(&ctx));
        black_box(&r);
    });
}

/// (a) a boolean flag with no rules.
mod a_no_rules {
    use super::*;
    const S: Scenario = Scenario::A;
    #[divan::bench]
    fn flagstone(b: Bencher) {
        super::flagstone(b, S)
    }
    #[divan::bench]
    fn yggdrasil(b: Bencher) {
        super::yggdrasil_is_enabled(b, S)
    }
    /// The same toggle through the variant API (returns an owned variant).
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

/// (c) ten rules × three conditions, only the last matching; the first nine each fail on
/// their last condition, so all 30 conditions run.
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

/// (c) again, but the first nine rules fail on their first condition: 12 conditions run.
mod c_early_exit {
    use super::*;
    const S: Scenario = Scenario::CEarly;
    #[divan::bench]
    fn flagstone(b: Bencher) {
        super::flagstone(b, S)
    }
    #[divan::bench]
    fn yggdrasil(b: Bencher) {
        super::yggdrasil_is_enabled(b, S)
    }
    #[divan::bench]
    fn launchdarkly(b: Bencher) {
        super::launchdarkly(b, S)
    }
}

/// (d) flagstone only: (b) through `evaluate`, whose key lookup is part of every call.
mod d_flagstone_lookup {
    use super::*;
    use std::collections::HashMap;

    /// (b)'s flag alone in its bundle (the same as `b_rule_split::flagstone`).
    #[divan::bench]
    fn evaluate_1_flag_bundle(b: Bencher) {
        super::flagstone(b, Scenario::B)
    }

    /// (b)'s flag among 1,000 others.
    #[divan::bench]
    fn evaluate_1001_flag_bundle(b: Bencher) {
        let (ev, ctx) = fs::setup_with(Scenario::B, 1000);
        b.bench_local(|| {
            let r = ev.evaluate(black_box(FLAG), black_box(&ctx), black_box(NOW));
            black_box(&r);
        });
    }

    /// The lookup alone: a `HashMap<String, usize>` (std's SipHash, as the evaluator's index
    /// uses) of the same 1,001 keys.
    #[divan::bench]
    fn key_lookup_only_std_hashmap(b: Bencher) {
        let (ev, _) = fs::setup_with(Scenario::B, 1000);
        let index: HashMap<String, usize> = ev
            .flag_keys()
            .enumerate()
            .map(|(i, k)| (k.to_owned(), i))
            .collect();
        b.bench_local(|| {
            black_box(index.get(black_box(FLAG)));
        });
    }

    /// A context that is not matched by the rule (country FR): conditions, then fallthrough.
    #[divan::bench]
    fn evaluate_b_no_match(b: Bencher) {
        let (ev, mut ctx) = fs::setup(Scenario::B);
        ctx["country"] = serde_json::json!("FR");
        b.bench_local(|| {
            let r = ev.evaluate(black_box(FLAG), black_box(&ctx), black_box(NOW));
            black_box(&r);
        });
    }
}

/// Parts of a flagstone evaluation timed alone, to attribute its cost (see RESULTS.md).
mod e_flagstone_parts {
    use super::*;
    use flagstone_peer_evaluators::context_json;

    /// One attribute lookup in the context object with serde_json's `Map::get` (a BTreeMap
    /// of 5 keys): how flagstone looked attributes up at 33cab83.
    #[divan::bench(args = ["app_version", "plan", "seats", "targeting_key"])]
    fn context_get(b: Bencher, key: &str) {
        let ctx = context_json();
        b.bench_local(|| {
            black_box(black_box(&ctx).get(black_box(key)));
        });
    }

    /// The same lookup as flagstone does it from 74dfe65 on (a copy of `member` in
    /// src/eval/condition.rs): objects of at most 8 keys are scanned in order, comparing
    /// lengths first.
    #[divan::bench(args = ["app_version", "plan", "seats", "targeting_key"])]
    fn context_scan(b: Bencher, key: &str) {
        fn member<'c>(
            object: &'c serde_json::Map<String, serde_json::Value>,
            key: &str,
        ) -> Option<&'c serde_json::Value> {
            if object.len() > 8 {
                return object.get(key);
            }
            object
                .iter()
                .find(|(k, _)| k.len() == key.len() && k.as_str() == key)
                .map(|(_, v)| v)
        }
        let ctx = context_json();
        b.bench_local(|| {
            black_box(member(black_box(&ctx).as_object().unwrap(), black_box(key)));
        });
    }

    /// What a semver condition does per evaluation to the context's value.
    #[divan::bench]
    fn semver_parse_context_value(b: Bencher) {
        b.bench_local(|| {
            black_box(semver::Version::parse(black_box("2.3.0")).ok());
        });
    }

    /// (b)'s split bucket: MurmurHash3 of "bench-flag" "/split/" "user-123", in parts.
    #[divan::bench]
    fn murmur3_split_bucket(b: Bencher) {
        let parts: [&[u8]; 3] = [FLAG.as_bytes(), b"/split/", b"user-123"];
        b.bench_local(|| {
            black_box(flagstone::eval::bucket::bucket(black_box(&parts), 100_000));
        });
    }

    /// What-if: the same key hashed by a textbook contiguous MurmurHash3 after copying the
    /// parts into a stack buffer (same result; not flagstone code).
    #[divan::bench]
    fn murmur3_split_bucket_contiguous_whatif(b: Bencher) {
        let parts: [&[u8]; 3] = [FLAG.as_bytes(), b"/split/", b"user-123"];
        b.bench_local(|| {
            let h = flagstone_peer_evaluators::murmur_whatif::contiguous(black_box(&parts), 0);
            black_box(((u64::from(h) * 100_000) >> 32) as u32);
        });
    }

    /// What-if: the hash state after "bench-flag/split/" precomputed at load; each
    /// evaluation hashes "user-123" only (same result; not flagstone code).
    #[divan::bench]
    fn murmur3_split_bucket_prefixed_whatif(b: Bencher) {
        let prefix =
            flagstone_peer_evaluators::murmur_whatif::Prefixed::new(b"bench-flag/split/", 0);
        b.bench_local(|| {
            let h = prefix.hash(black_box(b"user-123"));
            black_box(((u64::from(h) * 100_000) >> 32) as u32);
        });
    }
}
