//! The evaluator: single evaluations (allocation counts included), loading and verifying a
//! large bundle, building, and running a test suite. `cargo bench --bench eval`

#[path = "support/synth.rs"]
mod synth;

use std::path::PathBuf;
use std::sync::OnceLock;

use divan::{AllocProfiler, Bencher, black_box};
use flagstone::bundle::Bundle;
use flagstone::eval::Evaluator;
use serde_json::{Value, json};

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    divan::main();
}

const NOW: i64 = 1_780_000_000_000;

fn condition(attr: &str, op: &str, value: Value) -> Value {
    json!({"attr": attr, "op": op, "values": [value]})
}

fn bundle(flags: Value) -> Evaluator {
    let bundle: Bundle = serde_json::from_value(json!({
        "format": 2, "project": "bench", "environment": "production",
        "attributes": {"country": "string", "plan": "string", "seats": "number", "app_version": "semver"},
        "flags": flags, "segments": {}
    }))
    .unwrap();
    Evaluator::from_bundle(bundle).unwrap()
}

fn flag(rules: Value) -> Value {
    json!({
        "variants": {"off": false, "on": true}, "enabled": true, "off_variant": "off",
        "fallthrough": "on", "bucket_by": "targeting_key", "salt": "f", "prerequisites": [],
        "rules": rules, "schedule": []
    })
}

fn context() -> Value {
    json!({"targeting_key": "user-123456", "country": "US", "plan": "pro", "seats": 40, "app_version": "2.3.0"})
}

/// Times evaluating the flag `f` for [`context`].
fn evaluate_repeatedly(bencher: Bencher, flags: &Evaluator) {
    let context = context();
    bencher.bench(|| {
        black_box(
            flags
                .evaluate(black_box("f"), &context, NOW)
                .unwrap()
                .variant
                .len(),
        )
    });
}

/// (a) A boolean flag with no rules.
#[divan::bench(sample_count = 100, sample_size = 5000)]
fn a_boolean_no_rules(bencher: Bencher) {
    let flags = bundle(json!({"f": flag(json!([]))}));
    evaluate_repeatedly(bencher, &flags);
}

/// (b) One `in` rule on country, then a 50/50 split.
#[divan::bench(sample_count = 100, sample_size = 2000)]
fn b_in_rule_then_split(bencher: Bencher) {
    let rule = json!({
        "name": "r", "conditions": [condition("country", "in", json!("US"))],
        "rollout": 100_000, "schedule": [],
        "serve": {"split": [{"variant": "off", "weight": 50_000}, {"variant": "on", "weight": 50_000}]}
    });
    let flags = bundle(json!({"f": flag(json!([rule]))}));
    evaluate_repeatedly(bencher, &flags);
}

/// (b) again, with the split gated by an experiment's holdout and layer slice: the cost of
/// the gate is the difference. The context's unit is in the experiment, so both hashes run.
#[divan::bench(sample_count = 100, sample_size = 2000)]
fn b_gated_by_holdout_and_layer(bencher: Bencher) {
    let rule = json!({
        "name": "r", "conditions": [condition("country", "in", json!("US"))],
        "rollout": 100_000, "schedule": [],
        "serve": {"split": [{"variant": "off", "weight": 50_000}, {"variant": "on", "weight": 50_000}]}
    });
    let mut gated = flag(json!([rule]));
    gated["experiment"] = json!({
        "name": "e", "control": "off",
        "holdout": {"name": "h", "percent": 1, "salt": "h"},
        "layer": {"name": "l", "salt": "l", "from": 0, "to": 100_000}
    });
    let flags = bundle(json!({ "f": gated }));
    let context = context();
    let result = flags.evaluate("f", &context, NOW).unwrap();
    assert!(
        !result.reason.to_string().contains("excluded"),
        "{}",
        result.reason
    );
    evaluate_repeatedly(bencher, &flags);
}

/// (c) Ten rules of three conditions (string equality, number gt, semver gte); only the
/// last matches. The first nine fail on their last condition, so all thirty are evaluated.
#[divan::bench(sample_count = 100, sample_size = 500)]
fn c_ten_rules_last_matches(bencher: Bencher) {
    let rules: Vec<Value> = (0..10)
        .map(|i| {
            let minimum = if i == 9 { "2.0.0" } else { "9.0.0" };
            json!({
                "name": format!("r{i}"), "rollout": 100_000, "schedule": [], "serve": {"variant": "on"},
                "conditions": [
                    condition("plan", "in", json!("pro")),
                    condition("seats", "gt", json!(10.0)),
                    condition("app_version", "semver_gte", json!(minimum)),
                ]
            })
        })
        .collect();
    let flags = bundle(json!({"f": flag(json!(rules))}));
    let context = context();
    let result = flags.explain("f", &context, NOW).unwrap();
    assert_eq!(result.evaluation.reason.to_string(), "rule 9 \"r9\"");
    assert!(
        result.trace[..9]
            .iter()
            .all(|r| r.failed_condition == Some(2))
    );
    evaluate_repeatedly(bencher, &flags);
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
    let bundle = flagstone::bundle::build(report.checked().unwrap())
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
        flagstone::bundle::build(checked)
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
