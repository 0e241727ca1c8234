//! The evaluator: single evaluations over 1,000 flags and 1,024 varied contexts (allocation
//! counts included), the worst cases of prerequisites and segments, loading and verifying a
//! large bundle, building, and running a test suite. `cargo bench --bench eval`

#[path = "support/synth.rs"]
mod synth;

use std::path::PathBuf;
use std::sync::OnceLock;

use divan::{AllocProfiler, Bencher, black_box};
use flagstone::bundle::Bundle;
use flagstone::eval::Evaluator;
use serde_json::{Map, Value, json};

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    divan::main();
}

const NOW: i64 = 1_780_000_000_000;

/// Flags per bundle in the single-evaluation benchmarks, and contexts they are evaluated for.
const FLAGS: usize = 1_000;
const CONTEXTS: usize = 1_024;

fn condition(attr: &str, op: &str, value: Value) -> Value {
    json!({"attr": attr, "op": op, "values": [value]})
}

fn load(flags: Map<String, Value>, segments: Value) -> Evaluator {
    let bundle: Bundle = serde_json::from_value(json!({
        "format": 2, "project": "bench", "environment": "production",
        "attributes": {"country": "string", "plan": "string", "seats": "number", "app_version": "semver"},
        "flags": flags, "segments": segments
    }))
    .unwrap();
    Evaluator::from_bundle(bundle).unwrap()
}

/// A flag salted by its key, so that each buckets units differently.
fn flag(key: &str, prerequisites: Value, rules: Value) -> Value {
    json!({
        "variants": {"off": false, "on": true}, "enabled": true, "off_variant": "off",
        "fallthrough": "on", "bucket_by": "targeting_key", "salt": key,
        "prerequisites": prerequisites, "rules": rules, "schedule": []
    })
}

/// [`FLAGS`] flags `f0000`…, each with the rules `rules(i)` gives.
fn bundle(rules: impl Fn(usize) -> Value) -> Evaluator {
    let flags = (0..FLAGS)
        .map(|i| {
            let key = format!("f{i:04}");
            let flag = flag(&key, json!([]), rules(i));
            (key, flag)
        })
        .collect();
    load(flags, json!({}))
}

/// [`CONTEXTS`] contexts of five attributes: distinct units, and countries, plans, seat
/// counts and versions that vary, so that rules match some and not others.
fn contexts() -> Vec<Value> {
    let countries = ["US", "CA", "DE", "FR", "GB", "JP", "BR", "IN"];
    let plans = ["free", "pro", "team", "enterprise"];
    let versions = ["1.9.3", "2.0.0", "2.3.0", "3.1.4", "2.3.0-rc.1"];
    (0..CONTEXTS)
        .map(|i| {
            json!({
                "targeting_key": format!("user-{:06}", i * 7_919 % 1_000_000),
                "country": countries[i % countries.len()],
                "plan": plans[i / 8 % plans.len()],
                "seats": i * 13 % 120,
                "app_version": versions[i / 3 % versions.len()],
            })
        })
        .collect()
}

/// Times one evaluation at a time, cycling through every flag and every context. The two
/// cycles are of coprime lengths, so every (flag, context) pair comes up.
fn evaluate_all(bencher: Bencher, flags: &Evaluator, keys: &[String]) {
    let contexts = contexts();
    let mut i = 0usize;
    bencher.bench_local(|| {
        i = i.wrapping_add(1);
        let key = &keys[i % keys.len()];
        let context = &contexts[i % contexts.len()];
        black_box(flags.evaluate(key, context, NOW).unwrap().variant.len())
    });
}

fn keys() -> Vec<String> {
    (0..FLAGS).map(|i| format!("f{i:04}")).collect()
}

/// (a) Boolean flags with no rules.
#[divan::bench(sample_count = 100, sample_size = 5000)]
fn a_boolean_no_rules(bencher: Bencher) {
    let flags = bundle(|_| json!([]));
    evaluate_all(bencher, &flags, &keys());
}

/// Flag `i`'s `in` rule: one or two countries, so about a fifth of contexts match.
fn b_rule(i: usize) -> Value {
    let countries = ["US", "CA", "DE", "FR", "GB"];
    let operands: Vec<&str> = countries[i % 5..(i % 5 + 1 + i % 2).min(5)].to_vec();
    json!({
        "name": "r", "conditions": [{"attr": "country", "op": "in", "values": operands}],
        "rollout": 100_000, "schedule": [],
        "serve": {"split": [{"variant": "off", "weight": 50_000}, {"variant": "on", "weight": 50_000}]}
    })
}

/// (b) One `in` rule on country, then a 50/50 split.
#[divan::bench(sample_count = 100, sample_size = 2000)]
fn b_in_rule_then_split(bencher: Bencher) {
    let flags = bundle(|i| json!([b_rule(i)]));
    evaluate_all(bencher, &flags, &keys());
}

/// (b) again, with each split gated by an experiment's holdout (1%) and layer slice (all):
/// the cost of the gate is the difference.
#[divan::bench(sample_count = 100, sample_size = 2000)]
fn b_gated_by_holdout_and_layer(bencher: Bencher) {
    let flags = (0..FLAGS)
        .map(|i| {
            let key = format!("f{i:04}");
            let mut gated = flag(&key, json!([]), json!([b_rule(i)]));
            gated["experiment"] = json!({
                "name": format!("e{i}"), "control": "off",
                "holdout": {"name": "h", "percent": 1_000, "salt": format!("h{i}")},
                "layer": {"name": "l", "salt": format!("l{i}"), "from": 0, "to": 100_000}
            });
            (key, gated)
        })
        .collect();
    evaluate_all(bencher, &load(flags, json!({})), &keys());
}

/// (c) Ten rules of three conditions (string equality, number gt, semver gte); only the
/// last can match. For the context of the original scenario (plan `pro`, 40 seats, version
/// 2.3.0) the first nine fail on their last condition, so all thirty are evaluated; the
/// varied contexts fail some rules earlier.
#[divan::bench(sample_count = 100, sample_size = 500)]
fn c_ten_rules_last_matches(bencher: Bencher) {
    let flags = bundle(|_| {
        let rules: Vec<Value> = (0..10)
            .map(|r| {
                let minimum = if r == 9 { "2.0.0" } else { "9.0.0" };
                json!({
                    "name": format!("r{r}"), "rollout": 100_000, "schedule": [], "serve": {"variant": "on"},
                    "conditions": [
                        condition("plan", "in", json!("pro")),
                        condition("seats", "gt", json!(10.0)),
                        condition("app_version", "semver_gte", json!(minimum)),
                    ]
                })
            })
            .collect();
        json!(rules)
    });
    let context = json!({"targeting_key": "user-123456", "country": "US", "plan": "pro", "seats": 40, "app_version": "2.3.0"});
    let result = flags.explain("f0000", &context, NOW).unwrap();
    assert_eq!(result.evaluation.reason.to_string(), "rule 9 \"r9\"");
    assert!(
        result.trace[..9]
            .iter()
            .all(|r| r.failed_condition == Some(2))
    );
    evaluate_all(bencher, &flags, &keys());
}

/// Flag `i` requires flags `i + 1` and `i + 2` (or only `i + 1`: a chain); segment `i`
/// likewise refers to segments `i + 1` and `i + 2`, and flag `seg` tests segment 0. Without a
/// memo, the ladder costs Fibonacci(n) evaluations; with recursion, the chain a deep stack.
fn worst_case(n: usize, ladder: bool) -> Evaluator {
    let next = |i: usize| (i + 1..=i + 1 + usize::from(ladder)).filter(move |j| *j < n);
    let us = condition("country", "in", json!("US"));
    let mut flags = Map::new();
    let mut segments = Map::new();
    for i in 0..n {
        let key = format!("f{i:05}");
        let prerequisites: Vec<Value> = next(i)
            .map(|j| json!({"flag": format!("f{j:05}"), "variant": "on"}))
            .collect();
        flags.insert(key.clone(), flag(&key, json!(prerequisites), json!([])));
        let conditions: Vec<Value> = if i + 1 == n {
            vec![us.clone()]
        } else {
            next(i)
                .map(|j| json!({"segment": format!("s{j:05}")}))
                .collect()
        };
        segments.insert(
            format!("s{i:05}"),
            json!({"conditions": conditions, "include": [], "exclude": []}),
        );
    }
    let rule = json!({"name": "r", "conditions": [{"segment": "s00000"}], "rollout": 100_000, "schedule": [], "serve": {"variant": "on"}});
    flags.insert("seg".into(), flag("seg", json!([]), json!([rule])));
    load(flags, Value::Object(segments))
}

/// Evaluating the top of a worst case: every flag (or every segment) once.
fn evaluate_top(bencher: Bencher, flags: &Evaluator, key: &str) {
    let context = json!({"targeting_key": "user-1", "country": "US"});
    assert_eq!(flags.evaluate(key, &context, NOW).unwrap().variant, "on");
    bencher.bench_local(|| {
        black_box(
            flags
                .evaluate(black_box(key), &context, NOW)
                .unwrap()
                .variant
                .len(),
        )
    });
}

#[divan::bench(args = [60, 1_000], sample_count = 20, sample_size = 20)]
fn ladder_of_prerequisites(bencher: Bencher, n: usize) {
    evaluate_top(bencher, &worst_case(n, true), "f00000");
}

#[divan::bench(args = [60, 1_000], sample_count = 20, sample_size = 20)]
fn ladder_of_segments(bencher: Bencher, n: usize) {
    evaluate_top(bencher, &worst_case(n, true), "seg");
}

#[divan::bench(sample_count = 20, sample_size = 5)]
fn chain_of_20000_prerequisites(bencher: Bencher) {
    evaluate_top(bencher, &worst_case(20_000, false), "f00000");
}

#[divan::bench(sample_count = 20, sample_size = 5)]
fn chain_of_20000_segments(bencher: Bencher) {
    evaluate_top(bencher, &worst_case(20_000, false), "seg");
}

/// A synthetic repository of `flags` flags (see support/synth.rs), written once.
fn repository(flags: usize, cases: usize) -> PathBuf {
    static DIRS: OnceLock<tempfile::TempDir> = OnceLock::new();
    let base = DIRS.get_or_init(|| tempfile::tempdir().unwrap()).path();
    let dir = base.join(format!("{flags}-{cases}"));
    if !dir.exists() {
        synth::write_repo(&dir, flags).unwrap();
        if cases > 0 {
            synth::write_tests(&dir, flags, cases).unwrap();
        }
    }
    dir
}

fn options() -> flagstone::check::Options {
    flagstone::check::Options { now_millis: NOW }
}

/// Loading and verifying (hash, parse, compile) the production bundle of 10,000 flags.
#[divan::bench(sample_count = 20, sample_size = 1)]
fn load_verify_10000(bencher: Bencher) {
    let repo = flagstone::load::load(&repository(10_000, 0)).unwrap();
    let report = flagstone::check::check(&repo, &options());
    let bundle = flagstone::build::all(report.checked().unwrap())
        .pop()
        .unwrap();
    let bytes = bundle.to_canonical_json();
    let hash = flagstone::bundle::content_hash(&bytes);
    bencher.bench(|| Evaluator::load(black_box(&bytes), &hash).unwrap());
}

/// Building every environment of 10,000 flags into canonical, hashed bytes (after loading
/// and checking, which `check` measures).
#[divan::bench(sample_count = 10, sample_size = 1)]
fn build_10000(bencher: Bencher) {
    let repo = flagstone::load::load(&repository(10_000, 0)).unwrap();
    let report = flagstone::check::check(&repo, &options());
    let checked = report.checked().unwrap();
    bencher.bench(|| {
        flagstone::build::all(checked)
            .iter()
            .map(|b| flagstone::bundle::content_hash(&b.to_canonical_json()))
            .collect::<Vec<_>>()
    });
}

/// `flagstone test` in process: load, check, build and run 500 cases on 5,000 flags.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn test_500_cases_5000_flags(bencher: Bencher) {
    let dir = repository(5_000, 500);
    bencher.bench(|| {
        let repo = flagstone::load::load(&dir).unwrap();
        let report = flagstone::check::check(&repo, &options());
        let outcomes = flagstone::suite::run(report.checked().unwrap(), NOW);
        assert!(outcomes.iter().all(|o| o.passed));
        outcomes.len()
    });
}
