//! Evaluation is bounded: each evaluation decides each flag and segment at most once, and
//! nothing recurses, so neither a ladder of shared prerequisites (exponential without a memo)
//! nor a long chain (a deep stack with recursion) can stall or abort the process. Each case
//! runs on a thread with a 2 MiB stack, the default for spawned threads.

use std::path::Path;

use flagstone::eval::{Evaluator, Reason};
use serde_json::{Value, json};

use crate::support::{PROJECT, options, tempdir};

const NOW: i64 = 1_780_000_000_000;

/// Runs `f` on a thread with a 2 MiB stack.
fn small_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn_scoped(scope, f)
            .unwrap()
            .join()
            .unwrap()
    })
}

fn flag(prerequisites: Vec<Value>, rules: Value) -> Value {
    json!({
        "bucket_by": "targeting_key", "enabled": true, "fallthrough": "on",
        "off_variant": "off", "prerequisites": prerequisites, "rules": rules, "salt": "s",
        "schedule": [], "variants": {"off": false, "on": true}
    })
}

fn name(prefix: &str, i: usize) -> String {
    format!("{prefix}{i:05}")
}

/// Flag `i` requires flags `i + 1` and `i + 2` (those that exist) to serve `on`; the last
/// serves `on` only in `country` US. Segment `i` likewise holds when segments `i + 1` and
/// `i + 2` do, the last testing `country`; flag `seg` serves `on` to segment 0.
/// With `ladder` false, each refers to `i + 1` only: a chain.
fn bundle(n: usize, ladder: bool) -> Value {
    let next = |i: usize| {
        (i + 1..=(i + if ladder { 2 } else { 1 }))
            .filter(move |j| *j < n)
            .collect::<Vec<_>>()
    };
    let country = json!({"attr": "country", "op": "in", "values": ["US"]});
    let mut flags = serde_json::Map::new();
    let mut segments = serde_json::Map::new();
    for i in 0..n {
        let prerequisites = next(i)
            .into_iter()
            .map(|j| json!({"flag": name("f", j), "variant": "on"}))
            .collect();
        let rules = if i == n - 1 {
            json!([{"conditions": [country], "name": "us", "rollout": 100_000, "schedule": [], "serve": {"variant": "on"}}])
        } else {
            json!([])
        };
        let mut flag = flag(prerequisites, rules);
        if i == n - 1 {
            flag["fallthrough"] = json!("off");
        }
        flags.insert(name("f", i), flag);
        let conditions: Vec<Value> = if i == n - 1 {
            vec![country.clone()]
        } else {
            next(i)
                .into_iter()
                .map(|j| json!({"segment": name("s", j)}))
                .collect()
        };
        segments.insert(
            name("s", i),
            json!({"conditions": conditions, "exclude": [], "include": []}),
        );
    }
    let rule = json!({"conditions": [{"segment": name("s", 0)}], "name": "in", "rollout": 100_000, "schedule": [], "serve": {"variant": "on"}});
    let mut seg = flag(vec![], json!([rule]));
    seg["fallthrough"] = json!("off");
    flags.insert("seg".into(), seg);
    json!({
        "attributes": {"country": "string"}, "environment": "production", "flags": flags,
        "format": 2, "project": "acme", "segments": segments
    })
}

/// The bytes of a bundle given in the resolved model's shape (`flagstone::bundle::Bundle`).
fn encode(bundle: &Value) -> Vec<u8> {
    let bundle: flagstone::bundle::Bundle = serde_json::from_value(bundle.clone()).unwrap();
    bundle.encode().unwrap()
}

fn load(bundle: &Value) -> Evaluator {
    let bytes = encode(bundle);
    let hash = flagstone::bundle::content_hash(&bytes);
    Evaluator::load(&bytes, &hash).unwrap()
}

/// Flag f00000 and flag `seg` serve `on` in US and `off` elsewhere, the first because a
/// prerequisite failed.
fn assert_answers(flags: &Evaluator) {
    let us = json!({"targeting_key": "u", "country": "US"});
    let ca = json!({"targeting_key": "u", "country": "CA"});
    for key in ["f00000", "seg"] {
        assert_eq!(
            flags.evaluate(key, &us, NOW).unwrap().variant,
            "on",
            "{key}"
        );
        assert_eq!(
            flags.evaluate(key, &ca, NOW).unwrap().variant,
            "off",
            "{key}"
        );
    }
    let failed = flags.evaluate("f00000", &ca, NOW).unwrap().reason;
    assert_eq!(
        failed,
        Reason::PrerequisiteFailed {
            prerequisite: "f00001"
        }
    );
}

#[test]
fn a_ladder_of_shared_prerequisites_and_segments_is_evaluated_once_each() {
    // Without a memo, 90 rungs take Fibonacci(90) ≈ 2.9e18 evaluations.
    small_stack(|| assert_answers(&load(&bundle(90, true))));
}

#[test]
fn a_chain_of_20000_prerequisites_and_segments_loads_and_evaluates_on_a_small_stack() {
    small_stack(|| assert_answers(&load(&bundle(20_000, false))));
}

#[test]
fn a_prerequisite_cycle_is_refused_without_recursion() {
    let mut chain = bundle(20_000, false);
    chain["flags"]["f19999"]["prerequisites"] = json!([{"flag": "f00000", "variant": "on"}]);
    let bytes = encode(&chain);
    let hash = flagstone::bundle::content_hash(&bytes);
    let error = small_stack(|| Evaluator::load(&bytes, &hash).unwrap_err().to_string());
    assert!(error.contains("prerequisites form a cycle"), "{error}");
}

/// The same shapes as a repository: flag and segment files.
fn write_repo(dir: &Path, n: usize, ladder: bool) {
    let next = |i: usize| (i + 1..=(i + if ladder { 2 } else { 1 })).filter(move |j| *j < n);
    std::fs::write(dir.join("flagstone.toml"), PROJECT).unwrap();
    std::fs::create_dir_all(dir.join("flags")).unwrap();
    std::fs::create_dir_all(dir.join("segments")).unwrap();
    for i in 0..n {
        let prerequisites: Vec<String> = next(i)
            .map(|j| format!("{{ flag = \"{}\", variant = \"on\" }}", name("f", j)))
            .collect();
        let env = if i == n - 1 {
            "serve = \"off\"\n\n[[env.production.rules]]\nname = \"us\"\nif = [{ attr = \"country\", op = \"in\", values = [\"US\"] }]\nserve = \"on\"\n"
        } else {
            "serve = \"on\"\n"
        };
        let text = format!(
            "description = \"d\"\nowners = [\"alice\"]\nkind = \"ops\"\nprerequisites = [{}]\n\n[env.production]\n{env}",
            prerequisites.join(", ")
        );
        std::fs::write(dir.join(format!("flags/{}.toml", name("f", i))), text).unwrap();
        let conditions: Vec<String> = if i == n - 1 {
            vec!["{ attr = \"country\", op = \"in\", values = [\"US\"] }".into()]
        } else {
            next(i)
                .map(|j| format!("{{ segment = \"{}\" }}", name("s", j)))
                .collect()
        };
        let text = format!("description = \"d\"\nif = [{}]\n", conditions.join(", "));
        std::fs::write(dir.join(format!("segments/{}.toml", name("s", i))), text).unwrap();
    }
    let seg = format!(
        "description = \"d\"\nowners = [\"alice\"]\nkind = \"ops\"\n\n[env.production]\nserve = \"off\"\n\n[[env.production.rules]]\nname = \"in\"\nif = [{{ segment = \"{}\" }}]\nserve = \"on\"\n",
        name("s", 0)
    );
    std::fs::write(dir.join("flags/seg.toml"), seg).unwrap();
}

/// Loads, checks and builds the repository, then loads its production bundle's bytes.
fn check_build_load(dir: &Path) -> Evaluator {
    let repo = flagstone::load::load(dir).unwrap();
    let report = flagstone::check::check(&repo, &options());
    let errors: Vec<_> = report
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{} {}: {}", d.code.as_str(), d.file, d.message))
        .take(5)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let bundles = flagstone::build::all(report.checked().unwrap());
    let production = bundles
        .into_iter()
        .find(|b| b.environment == "production")
        .unwrap();
    let bytes = production.to_canonical_json();
    let hash = flagstone::bundle::content_hash(&bytes);
    Evaluator::load(&bytes, &hash).unwrap()
}

#[test]
fn ladder_and_chain_repositories_check_build_and_evaluate_on_a_small_stack() {
    for (n, ladder) in [(60, true), (20_000, false)] {
        let dir = tempdir();
        write_repo(dir.path(), n, ladder);
        small_stack(|| assert_answers(&check_build_load(dir.path())));
    }
}

#[test]
fn memos_spill_past_their_inline_entries_without_changing_answers() {
    // A flag with 30 prerequisites, each with a rule on one of 30 segments: more than the
    // memos hold inline.
    let mut flags = serde_json::Map::new();
    let mut segments = serde_json::Map::new();
    let mut prerequisites = Vec::new();
    for i in 0..30 {
        let rule = json!({"conditions": [{"segment": name("s", i)}], "name": "r", "rollout": 100_000, "schedule": [], "serve": {"variant": "on"}});
        let mut f = flag(vec![], json!([rule]));
        f["fallthrough"] = json!("off");
        flags.insert(name("f", i), f);
        prerequisites.push(json!({"flag": name("f", i), "variant": "on"}));
        let include = if i == 17 { json!([]) } else { json!(["a"]) };
        segments.insert(
            name("s", i),
            json!({"conditions": [], "exclude": [], "include": include}),
        );
    }
    flags.insert("top".into(), flag(prerequisites, json!([])));
    let flags = load(&json!({
        "attributes": {}, "environment": "production", "flags": flags,
        "format": 2, "project": "acme", "segments": segments
    }));
    let result = flags
        .evaluate("top", &json!({"targeting_key": "a"}), NOW)
        .unwrap();
    assert_eq!(
        result.reason,
        Reason::PrerequisiteFailed {
            prerequisite: "f00017"
        }
    );
}
