//! Bundles with a valid hash but hostile content: each is refused with a clear reason, and
//! none makes the loader or the evaluator panic.

use std::panic::{AssertUnwindSafe, catch_unwind};

use flagstone::eval::{Evaluator, LoadError};
use serde_json::{Value, json};

const NOW: i64 = 1_780_000_000_000;

/// A valid bundle that uses every part of the format: prerequisites, segments that refer to
/// segments, include and exclude lists, splits, schedules, an experiment gate.
fn valid() -> Value {
    json!({
        "attributes": {"country": "string", "email": "string", "version": "semver"},
        "environment": "production",
        "format": 2,
        "project": "acme",
        "flags": {
            "base": {
                "bucket_by": "targeting_key", "enabled": true, "fallthrough": "on",
                "off_variant": "off", "prerequisites": [], "rules": [], "salt": "base",
                "schedule": [{"at": 1_000, "enabled": true}, {"at": 2_000, "fallthrough": "off"}],
                "variants": {"off": false, "on": true}
            },
            "main": {
                "bucket_by": "targeting_key", "enabled": true, "fallthrough": "a",
                "off_variant": "a", "prerequisites": [{"flag": "base", "variant": "on"}],
                "experiment": {
                    "name": "e", "control": "a",
                    "holdout": {"name": "h", "percent": 5_000, "salt": "h"},
                    "layer": {"name": "l", "salt": "l", "from": 0, "to": 50_000}
                },
                "rules": [
                    {
                        "name": "staff", "rollout": 100_000, "serve": {"variant": "b"},
                        "conditions": [{"segment": "staff"}],
                        "schedule": [{"at": 1_000, "rollout": 50_000}, {"at": 2_000, "serve": {"variant": "a"}}]
                    },
                    {
                        "name": "split", "rollout": 100_000, "schedule": [],
                        "conditions": [
                            {"attr": "country", "op": "in", "values": ["US", "CA"], "ignore_case": true},
                            {"attr": "version", "op": "semver_gte", "values": ["1.2.0"]},
                            {"attr": "email", "op": "matches", "values": ["@acme\\.com$"]}
                        ],
                        "serve": {"split": [{"variant": "a", "weight": 50_000}, {"variant": "b", "weight": 50_000}]}
                    }
                ],
                "salt": "main", "schedule": [],
                "variants": {"a": "A", "b": "B"}
            }
        },
        "segments": {
            "employees": {
                "conditions": [{"attr": "email", "op": "ends_with", "values": ["@acme.com"]}],
                "exclude": ["mallory"], "include": ["alice", "bob"]
            },
            "staff": {
                "conditions": [{"segment": "employees"}, {"segment": "testers", "negate": true}],
                "exclude": [], "include": []
            },
            "testers": {"conditions": [], "exclude": [], "include": ["carol"]}
        }
    })
}

/// The format-2 bytes of a bundle given in the resolved model's shape
/// (`flagstone::bundle::Bundle`), or why it has none.
fn encode(bundle: &Value) -> Result<Vec<u8>, String> {
    let bundle: flagstone::bundle::Bundle =
        serde_json::from_value(bundle.clone()).map_err(|e| e.to_string())?;
    bundle.encode().map_err(|e| e.to_string())
}

/// Loads bundle bytes with their own hash; a panic fails the test with the bytes.
fn load_bytes(bytes: &[u8]) -> Result<Evaluator, LoadError> {
    let hash = flagstone::bundle::content_hash(bytes);
    catch_unwind(|| Evaluator::load(bytes, &hash))
        .unwrap_or_else(|_| panic!("loading panicked on {}", String::from_utf8_lossy(bytes)))
}

/// Sets the value at a JSON pointer, adding the last key to an object that lacks it.
fn set(mut bundle: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    match bundle.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(key.replace("~1", "/").replace("~0", "~"), value);
        }
        Some(Value::Array(items)) => items[key.parse::<usize>().unwrap()] = value,
        _ => panic!("no {parent}"),
    }
    bundle
}

fn many(n: usize, item: impl Fn(usize) -> Value) -> Value {
    Value::Array((0..n).map(item).collect())
}

/// (what is wrong, the bundle, what the refusal must say).
fn hostile() -> Vec<(&'static str, Value, String)> {
    let v = valid;
    let main = "/flags/main";
    let rule = "/flags/main/rules/1";
    let condition = |i: usize| json!({"attr": "country", "op": "in", "values": [format!("X{i}")]});
    let long = "x".repeat(1024 * 1024 + 1);
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "an unsorted include",
            set(v(), "/segments/employees/include", json!(["bob", "alice"])),
            "segment `employees`: `in` is not sorted without repeats",
        ),
        (
            "a repeated include",
            set(
                v(),
                "/segments/employees/include",
                json!(["alice", "alice"]),
            ),
            "segment `employees`: `in` is not sorted without repeats",
        ),
        (
            "an unsorted exclude",
            set(v(), "/segments/employees/exclude", json!(["z", "a"])),
            "segment `employees`: `ex` is not sorted without repeats",
        ),
        (
            "an unknown prerequisite",
            set(v(), &format!("{main}/prerequisites/0/flag"), json!("ghost")),
            "flag `main`: unknown prerequisite `ghost` = `on`",
        ),
        (
            "a prerequisite's unknown variant",
            set(
                v(),
                &format!("{main}/prerequisites/0/variant"),
                json!("maybe"),
            ),
            "unknown prerequisite `base` = `maybe`",
        ),
        (
            "a flag its own prerequisite",
            set(
                v(),
                "/flags/base/prerequisites",
                json!([{"flag": "base", "variant": "on"}]),
            ),
            "prerequisites form a cycle through flag `base`",
        ),
        (
            "a prerequisite cycle",
            set(
                v(),
                "/flags/base/prerequisites",
                json!([{"flag": "main", "variant": "a"}]),
            ),
            "prerequisites form a cycle through flag",
        ),
        (
            "a segment cycle",
            set(
                v(),
                "/segments/testers/conditions",
                json!([{"segment": "staff"}]),
            ),
            "segments form a cycle through segment",
        ),
        (
            "a segment containing itself",
            set(
                v(),
                "/segments/testers/conditions",
                json!([{"segment": "testers"}]),
            ),
            "segments form a cycle through segment `testers`",
        ),
        (
            "an unknown segment",
            set(
                v(),
                &format!("{main}/rules/0/conditions/0/segment"),
                json!("ghost"),
            ),
            "unknown segment `ghost`",
        ),
        (
            "a rollout over 100%",
            set(v(), &format!("{main}/rules/0/rollout"), json!(100_001)),
            "rollout 100001 exceeds 100000",
        ),
        (
            "a scheduled rollout over 100%",
            set(
                v(),
                &format!("{main}/rules/0/schedule/0/rollout"),
                json!(4_000_000),
            ),
            "rollout 4000000 exceeds 100000",
        ),
        (
            "split weights that overflow",
            set(
                v(),
                &format!("{rule}/serve/split/0/weight"),
                json!(u32::MAX),
            ),
            "split weights overflow",
        ),
        (
            "split weights of zero",
            set(
                set(v(), &format!("{rule}/serve/split/0/weight"), json!(0)),
                &format!("{rule}/serve/split/1/weight"),
                json!(0),
            ),
            "a split needs a positive total weight",
        ),
        (
            "an empty split",
            set(v(), &format!("{rule}/serve/split"), json!([])),
            "a split needs a positive total weight",
        ),
        (
            "a split's unknown variant",
            set(v(), &format!("{rule}/serve/split/0/variant"), json!("c")),
            "no variant `c`",
        ),
        (
            "a flag schedule out of order",
            set(v(), "/flags/base/schedule/0/at", json!(3_000)),
            "flag `base`: schedule steps are not in time order",
        ),
        (
            "a rule schedule out of order",
            set(v(), &format!("{main}/rules/0/schedule/0/at"), json!(3_000)),
            "schedule steps are not in time order",
        ),
        (
            "an unknown off variant",
            set(v(), &format!("{main}/off_variant"), json!("z")),
            "no variant `z`",
        ),
        (
            "an unknown fallthrough",
            set(v(), &format!("{main}/fallthrough"), json!("z")),
            "no variant `z`",
        ),
        (
            "a scheduled unknown fallthrough",
            set(v(), "/flags/base/schedule/1/fallthrough", json!("z")),
            "no variant `z`",
        ),
        (
            "no variants",
            set(v(), "/flags/base/variants", json!({})),
            "no variant `",
        ),
        (
            "a holdout of everyone",
            set(
                v(),
                &format!("{main}/experiment/holdout/percent"),
                json!(100_000),
            ),
            "holdout `h` holds out every unit",
        ),
        (
            "an empty layer slice",
            set(v(), &format!("{main}/experiment/layer/from"), json!(50_000)),
            "layer `l` has an empty or oversized slice",
        ),
        (
            "an oversized layer slice",
            set(v(), &format!("{main}/experiment/layer/to"), json!(100_001)),
            "layer `l` has an empty or oversized slice",
        ),
        (
            "an unknown control",
            set(v(), &format!("{main}/experiment/control"), json!("z")),
            "no variant `z`",
        ),
        (
            "an undeclared attribute",
            set(v(), &format!("{rule}/conditions/0/attr"), json!("age")),
            "undeclared attribute `age`",
        ),
        (
            "an invalid regex",
            set(v(), &format!("{rule}/conditions/2/values"), json!(["("])),
            "invalid regex",
        ),
        (
            "an invalid version",
            set(v(), &format!("{rule}/conditions/1/values"), json!(["one"])),
            "invalid semantic version",
        ),
        (
            "two operands to a comparison",
            set(
                v(),
                &format!("{rule}/conditions/1/values"),
                json!(["1.0.0", "2.0.0"]),
            ),
            "takes exactly one operand",
        ),
        (
            "a condition both segment and attribute",
            set(
                v(),
                &format!("{main}/rules/0/conditions/0/attr"),
                json!("country"),
            ),
            "a condition has either `segment` (and `negate`), or `attr` and `op`",
        ),
        (
            "an unknown key",
            set(v(), "/flags/base/owner", json!("x")),
            "unknown field `owner`",
        ),
        (
            "a negative rollout",
            set(v(), &format!("{main}/rules/0/rollout"), json!(-1)),
            "invalid value",
        ),
        (
            "too many conditions",
            set(v(), &format!("{rule}/conditions"), many(101, condition)),
            "flag `main`: rule `split`: 101 conditions, more than the limit of 100",
        ),
        (
            "too many segment conditions",
            set(v(), "/segments/testers/conditions", many(101, condition)),
            "segment `testers`: 101 conditions, more than the limit of 100",
        ),
        (
            "too many rules",
            set(
                v(),
                &format!("{main}/rules"),
                many(
                    1_001,
                    |i| json!({"name": format!("r{i}"), "rollout": 0, "schedule": [], "conditions": [], "serve": {"variant": "a"}}),
                ),
            ),
            "flag `main`: 1001 rules, more than the limit of 1000",
        ),
        (
            "too many prerequisites",
            set(
                v(),
                &format!("{main}/prerequisites"),
                many(101, |_| json!({"flag": "base", "variant": "on"})),
            ),
            "101 prerequisites, more than the limit of 100",
        ),
        (
            "too many schedule steps",
            set(
                v(),
                "/flags/base/schedule",
                many(1_001, |i| json!({"at": i})),
            ),
            "1001 schedule steps, more than the limit of 1000",
        ),
        (
            "too many operands",
            set(
                v(),
                &format!("{rule}/conditions/0/values"),
                many(10_001, |i| json!(format!("C{i}"))),
            ),
            "10001 operands, more than the limit of 10000",
        ),
        (
            "an overlong unit",
            set(v(), "/segments/testers/include", json!([long])),
            "segment `testers`: a unit in `include` is 1048577 bytes long, more than the limit of 1048576",
        ),
        (
            "an overlong operand",
            set(v(), &format!("{rule}/conditions/0/values"), json!([long])),
            "an operand is 1048577 bytes long",
        ),
    ];
    cases
        .into_iter()
        .map(|(what, bundle, expected)| (what, bundle, expected.to_owned()))
        .collect()
}

#[test]
fn the_valid_bundle_loads_and_evaluates() {
    let flags = load_bytes(&encode(&valid()).unwrap()).unwrap();
    for context in [
        json!({"targeting_key": "alice"}),
        json!({"targeting_key": "dave", "email": "dave@acme.com"}),
        json!({"targeting_key": "u", "country": "us", "version": "1.3.0", "email": "u@acme.com"}),
    ] {
        flags.evaluate("main", &context, 500).unwrap();
    }
    let staff = flags.evaluate("main", &json!({"targeting_key": "alice"}), 500);
    assert_eq!(staff.unwrap().variant, "b");
}

#[test]
fn hostile_bundles_are_refused_with_their_reason() {
    let mut wrong = Vec::new();
    for (what, bundle, expected) in hostile() {
        // Names are indices in format 2: a reference to a variant no flag has cannot even be
        // written (tests/test_bundle_format.rs gives the loader indices out of range).
        let bytes = match encode(&bundle) {
            Ok(bytes) => bytes,
            Err(message) if message.contains(&expected) => continue,
            Err(message) => {
                wrong.push(format!(
                    "{what}: not written: `{message}` does not say `{expected}`"
                ));
                continue;
            }
        };
        match load_bytes(&bytes) {
            Ok(_) => wrong.push(format!("{what}: loaded")),
            Err(LoadError::Invalid(message)) if message.contains(&expected) => {}
            Err(other) => wrong.push(format!("{what}: `{other}` does not say `{expected}`")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Every value in `bundle`, by JSON pointer.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                pointers(
                    child,
                    format!("{at}/{}", key.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

#[test]
fn no_mutation_of_a_valid_bundle_makes_loading_or_evaluating_panic() {
    // The mutations apply to the bytes' own JSON, as an attacker would write them.
    let original: Value = serde_json::from_slice(&encode(&valid()).unwrap()).unwrap();
    let mut all = Vec::new();
    pointers(&original, String::new(), &mut all);
    let replacements = [
        json!(null),
        json!(true),
        json!(-1),
        json!(0),
        json!(100_000),
        json!(u32::MAX),
        json!(u64::MAX),
        json!(1.5),
        json!(""),
        json!("on"),
        json!("staff"),
        json!("base"),
        json!([]),
        json!({}),
        json!(["b", "a"]),
        json!([{"segment": "staff"}]),
        json!([{"flag": "main", "variant": "a"}]),
    ];
    let contexts = [
        json!({"targeting_key": "alice", "country": "US", "version": "1.2.0", "email": "a@acme.com"}),
        json!({"targeting_key": 7, "country": "ca", "version": "x"}),
        json!([]),
    ];
    let (mut loaded, mut refused) = (0, 0);
    for pointer in all.iter().filter(|p| !p.is_empty()) {
        for replacement in &replacements {
            let bundle = set(original.clone(), pointer, replacement.clone());
            match load_bytes(&serde_json::to_vec(&bundle).unwrap()) {
                Err(LoadError::Invalid(message)) => {
                    assert!(!message.is_empty());
                    refused += 1;
                }
                Err(other) => panic!("{pointer} = {replacement}: {other}"),
                Ok(flags) => {
                    loaded += 1;
                    let keys: Vec<String> = flags.flag_keys().map(str::to_owned).collect();
                    for key in &keys {
                        for context in &contexts {
                            catch_unwind(AssertUnwindSafe(|| {
                                flags.evaluate(key, context, NOW).unwrap();
                                flags.explain(key, context, NOW).unwrap();
                            }))
                            .unwrap_or_else(|_| {
                                panic!("{pointer} = {replacement}: evaluating `{key}` panicked")
                            });
                        }
                    }
                }
            }
        }
    }
    assert!(
        refused > 1_000 && loaded > 100,
        "{refused} refused, {loaded} loaded"
    );
}
