//! `evaluate` allocates nothing: a counting global allocator watches every evaluation of a
//! realistic bundle (prerequisites, segments that refer to segments, include and exclude
//! lists, splits gated by an experiment, schedules, case-insensitive operands with non-ASCII
//! text, semver, numbers, regexes) over 1,024 varied contexts. Its own binary, since a global
//! allocator is per binary; run with `cargo test --test alloc`. Recording an exposure that is
//! a duplicate allocates nothing either.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use flagstone::eval::{Evaluator, Reason};
use flagstone::exposure::{Config, Outcome, Recorder};
use serde_json::{Value, json};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const NOW: i64 = 1_780_000_000_000;

fn rule(name: &str, conditions: Value, serve: Value, rollout: u32) -> Value {
    json!({"name": name, "conditions": conditions, "rollout": rollout, "schedule": [], "serve": serve})
}

fn flag(prerequisites: Value, rules: Value) -> Value {
    json!({
        "bucket_by": "targeting_key", "enabled": true, "fallthrough": "off",
        "off_variant": "off", "prerequisites": prerequisites, "rules": rules, "salt": "s",
        "schedule": [], "variants": {"off": false, "on": true, "other": "x"}
    })
}

fn bundle() -> Value {
    let split = json!({"split": [{"variant": "off", "weight": 30_000}, {"variant": "on", "weight": 40_000}, {"variant": "other", "weight": 30_000}]});
    let on = json!({"variant": "on"});
    let mut flags = BTreeMap::new();
    flags.insert("base", flag(json!([]), json!([rule("eu", json!([{"attr": "country", "op": "in", "values": ["DE", "FR", "ÖS"], "ignore_case": true}]), on.clone(), 100_000)])));
    flags.insert(
        "beta",
        flag(
            json!([]),
            json!([
                rule("staff", json!([{"segment": "staff"}]), on.clone(), 100_000),
                rule("half", json!([]), on.clone(), 50_000)
            ]),
        ),
    );
    flags.insert(
        "checkout",
        flag(
            json!([{"flag": "base", "variant": "on"}, {"flag": "beta", "variant": "on"}]),
            json!([
                rule(
                    "new",
                    json!([{"attr": "version", "op": "semver_gte", "values": ["2.0.0"]}]),
                    split.clone(),
                    100_000
                ),
                rule(
                    "big",
                    json!([{"attr": "seats", "op": "gt", "values": [10.0]}]),
                    on.clone(),
                    100_000
                ),
            ]),
        ),
    );
    let mut gated = flag(
        json!([{"flag": "checkout", "variant": "on"}]),
        json!([rule("all", json!([]), split.clone(), 100_000)]),
    );
    gated["experiment"] = json!({
        "name": "e", "control": "off",
        "holdout": {"name": "h", "percent": 10_000, "salt": "h"},
        "layer": {"name": "l", "salt": "l", "from": 0, "to": 60_000}
    });
    flags.insert("gated", gated);
    flags.insert("text", flag(json!([]), json!([
        rule("starts", json!([{"attr": "email", "op": "starts_with", "values": ["ÉLODIE"], "ignore_case": true}]), on.clone(), 100_000),
        rule("ends", json!([{"attr": "email", "op": "ends_with", "values": ["@BÜRO.DE"], "ignore_case": true}]), on.clone(), 100_000),
        rule("contains", json!([{"attr": "email", "op": "contains", "values": ["STRASSE", "straße"], "ignore_case": true}]), json!({"variant": "other"}), 100_000),
        rule("regex", json!([{"attr": "email", "op": "matches", "values": ["^[a-z]+@acme\\.com$"]}]), split.clone(), 25_000),
        rule("not", json!([{"segment": "staff", "negate": true}, {"attr": "country", "op": "not_in", "values": ["us"], "ignore_case": true}]), on.clone(), 100_000),
    ])));
    let mut scheduled = flag(
        json!([{"flag": "text", "variant": "on"}]),
        json!([rule(
            "later",
            json!([{"segment": "power"}]),
            on.clone(),
            50_000
        )]),
    );
    scheduled["schedule"] =
        json!([{"at": 1_000, "fallthrough": "other"}, {"at": NOW + 1, "enabled": false}]);
    flags.insert("scheduled", scheduled);
    let mut off = flag(json!([]), json!([]));
    off["enabled"] = json!(false);
    flags.insert("off", off);
    json!({
        "attributes": {"country": "string", "email": "string", "version": "semver", "seats": "number"},
        "environment": "production", "format": 2, "project": "acme",
        "flags": flags,
        "segments": {
            "employees": {"conditions": [{"attr": "email", "op": "ends_with", "values": ["@acme.com"]}], "exclude": ["user-13"], "include": ["user-1", "user-2"]},
            "staff": {"conditions": [{"segment": "employees"}, {"segment": "testers", "negate": true}], "exclude": [], "include": []},
            "testers": {"conditions": [], "exclude": [], "include": ["user-7"]},
            "power": {"conditions": [{"segment": "staff"}, {"attr": "seats", "op": "gt", "values": [100.0]}], "exclude": [], "include": []}
        }
    })
}

/// 1,024 contexts that vary every attribute the bundle tests.
fn contexts() -> Vec<Value> {
    let countries = ["DE", "de", "Ös", "öS", "US", "us", "CA", "FR"];
    let emails = [
        "élodie@example.com",
        "ÉLODIE@example.com",
        "x@büro.de",
        "y@BÜRO.DE",
        "hauptstraße@example.com",
        "HAUPTSTRASSE@example.com",
        "ana@acme.com",
        "bob@ACME.com",
    ];
    let versions = ["1.9.0", "2.0.0", "2.1.0-rc.1", "10.0.0"];
    (0..1024)
        .map(|i: usize| {
            let key = if i.is_multiple_of(5) {
                json!(i)
            } else {
                json!(format!("user-{i}"))
            };
            let mut context = json!({
                "targeting_key": key,
                "country": countries[i % countries.len()],
                "email": emails[(i / 8) % emails.len()],
                "version": versions[(i / 3) % versions.len()],
                "seats": (i * 7) % 200,
            });
            if i.is_multiple_of(17) {
                context.as_object_mut().unwrap().remove("email");
            }
            context
        })
        .collect()
}

fn main() {
    let bundle: flagstone::bundle::Bundle = serde_json::from_value(bundle()).unwrap();
    let bytes = bundle.encode().unwrap();
    let hash = flagstone::bundle::content_hash(&bytes);
    let flags = Evaluator::load(&bytes, &hash).unwrap();
    let keys: Vec<String> = flags.flag_keys().map(str::to_owned).collect();
    let contexts = contexts();
    let evaluate_all = |reasons: &mut [usize; 6]| {
        for key in &keys {
            for context in &contexts {
                let result = flags.evaluate(key, context, NOW).unwrap();
                let kind = match result.reason {
                    Reason::Disabled => 0,
                    Reason::Rule { .. } => 1,
                    Reason::Fallthrough => 2,
                    Reason::PrerequisiteFailed { .. } => 3,
                    Reason::Excluded { .. } => 4,
                    Reason::Error { .. } => 5,
                };
                reasons[kind] += 1;
            }
        }
    };
    // Once first: a regex builds its matching cache on its first use by a thread.
    let mut reasons = [0; 6];
    evaluate_all(&mut reasons);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut reasons = [0; 6];
    evaluate_all(&mut reasons);
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    let evaluations = keys.len() * contexts.len();
    assert_eq!(
        allocations, 0,
        "{allocations} allocations in {evaluations} evaluations"
    );
    // Every reason but the error occurs, so every path above was taken.
    assert!(reasons[..5].iter().all(|n| *n > 0), "{reasons:?}");
    println!("alloc: {evaluations} evaluations, 0 allocations, reasons {reasons:?}");
    duplicate_exposures_allocate_nothing(&flags, &keys, &contexts);
}

/// Recording an exposure already recorded allocates nothing (a new one does: it is an
/// owned event on its way to the sink).
fn duplicate_exposures_allocate_nothing(flags: &Evaluator, keys: &[String], contexts: &[Value]) {
    let config = Config {
        queue: keys.len() * contexts.len(),
        ..Config::default()
    };
    let (recorder, _receiver) = Recorder::to_channel(config);
    let record_all = |outcomes: &mut [usize; 4]| {
        for key in keys {
            for context in contexts {
                let evaluation = flags.evaluate(key, context, NOW).unwrap();
                let kind = match recorder.record(flags, key, context, &evaluation) {
                    Outcome::Recorded => 0,
                    Outcome::Duplicate => 1,
                    Outcome::Dropped => 2,
                    Outcome::NoUnit => 3,
                };
                outcomes[kind] += 1;
            }
        }
    };
    let mut first = [0; 4];
    record_all(&mut first);
    assert!(first[0] > 0 && first[2] == 0, "{first:?}");
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut again = [0; 4];
    record_all(&mut again);
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(again, [0, first[0] + first[1], 0, first[3]], "{first:?}");
    assert_eq!(
        allocations, 0,
        "{allocations} allocations in {again:?} records"
    );
    println!("alloc: {} duplicate exposures, 0 allocations", again[1]);
}
