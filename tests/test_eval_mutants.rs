//! The evaluator's boundaries, each pinned by an exact expected value: limits that are
//! inclusive, thresholds a unit's bucket can equal, attributes kept in slots, memos reused
//! within one evaluation, operators on either side of their operand. Bundles are written as
//! format-2 bytes, so that the loader sees exactly what a file would hold.

use flagstone::bundle::content_hash;
use flagstone::eval::bucket::bucket;
use flagstone::eval::{Evaluator, LoadError, Reason};
use serde_json::{Map, Value, json};

/// Loads format-2 bytes under their own hash: only their content can refuse them.
fn load(bundle: &Value) -> Result<Evaluator, String> {
    let bytes = serde_json::to_vec(bundle).unwrap();
    Evaluator::load(&bytes, &content_hash(&bytes)).map_err(|e| match e {
        LoadError::Invalid(why) => why,
        other => panic!("{other}"),
    })
}

/// A format-2 bundle: `attributes` all strings unless given as a map.
fn bundle(attributes: Value, conditions: Value, flags: Value, segments: Value) -> Value {
    json!({
        "attributes": attributes,
        "conditions": conditions,
        "environment": "production",
        "flags": flags,
        "format": 2,
        "project": "acme",
        "segments": segments,
    })
}

/// The bucket `unit` gets for `salt` and `kind` (`rollout`, `split`, `holdout`, `layer`)
/// among `total`, as bucketing.md defines it.
fn bucket_of(salt: &str, kind: &str, unit: &str, total: u32) -> u32 {
    bucket(
        &[
            salt.as_bytes(),
            b"/",
            kind.as_bytes(),
            b"/",
            unit.as_bytes(),
        ],
        total,
    )
}

fn units() -> Vec<String> {
    (0..400).map(|i| format!("user-{i}")).collect()
}

/// (variant, reason) of one evaluation, for exact comparison.
fn decide<'e>(
    flags: &'e Evaluator,
    flag: &str,
    context: &Value,
    now: i64,
) -> (&'e str, Reason<'e>) {
    let evaluation = flags.evaluate(flag, context, now).unwrap();
    (evaluation.variant, evaluation.reason)
}

fn rule(rule_index: usize, rule_name: &str) -> Reason<'_> {
    Reason::Rule {
        rule_index,
        rule_name,
    }
}

// ---------------------------------------------------------------------------------------
// Limits: a bundle exactly at each limit loads; one past it is refused with the limit.

/// The bundle `make(limit)` loads and passes `at`; `make(limit + 1)` is refused with `refusal`.
fn at_and_past(
    limit: usize,
    make: impl Fn(usize) -> Value,
    at: impl FnOnce(&Evaluator),
    refusal: &str,
) {
    at(&load(&make(limit)).unwrap());
    assert_eq!(load(&make(limit + 1)).unwrap_err(), refusal);
}

#[test]
fn every_limit_is_inclusive() {
    let country = |i: usize| json!({"attr": "country", "op": "in", "values": [format!("C{i:05}")]});
    let attributes = json!({"country": "string"});

    // 100 conditions in a rule, and in a segment.
    at_and_past(
        100,
        |n| {
            let indices: Vec<usize> = (0..n).collect();
            bundle(
                attributes.clone(),
                Value::Array((0..n).map(country).collect()),
                json!({"f": {"r": [{"c": indices, "n": "all", "s": 1}]}}),
                json!({"s": {"c": indices}}),
            )
        },
        |flags| {
            let context = json!({"targeting_key": "u", "country": "C00000"});
            assert_eq!(
                decide(flags, "f", &context, 0),
                ("off", Reason::Fallthrough)
            );
        },
        "flag `f`: rule `all`: 101 conditions, more than the limit of 100",
    );

    // 10,000 operands of one condition; the last of them matches.
    at_and_past(
        10_000,
        |n| {
            let values: Vec<String> = (0..n).map(|i| format!("C{i:05}")).collect();
            bundle(
                attributes.clone(),
                json!([{"attr": "country", "op": "in", "values": values}]),
                json!({"f": {"r": [{"c": [0], "n": "listed", "s": 1}]}}),
                json!({}),
            )
        },
        |flags| {
            let context = json!({"targeting_key": "u", "country": "C09999"});
            assert_eq!(decide(flags, "f", &context, 0), ("on", rule(0, "listed")));
        },
        // Conditions are verified once, as entries of the bundle's table.
        "condition 0: 10001 operands, more than the limit of 10000",
    );

    // 100 prerequisites, every one met: more than the memo holds inline.
    at_and_past(
        100,
        |n| {
            let mut flags = Map::new();
            for i in 0..n {
                flags.insert(format!("p{i:03}"), json!({"f": 1}));
            }
            let prerequisites: Vec<Value> =
                (0..n).map(|i| json!([format!("p{i:03}"), "on"])).collect();
            flags.insert("z".into(), json!({"f": 1, "p": prerequisites}));
            bundle(json!({}), json!([]), Value::Object(flags), json!({}))
        },
        |flags| {
            let context = json!({"targeting_key": "u"});
            assert_eq!(decide(flags, "z", &context, 0), ("on", Reason::Fallthrough));
        },
        "flag `z`: 101 prerequisites, more than the limit of 100",
    );

    // 1,000 rules: the first 999 roll out to nobody, the last to everyone.
    at_and_past(
        1_000,
        |n| {
            let rules: Vec<Value> = (0..n)
                .map(|i| {
                    if i == n - 1 {
                        json!({"n": format!("r{i}"), "s": 1})
                    } else {
                        json!({"n": format!("r{i}"), "r": 0, "s": 1})
                    }
                })
                .collect();
            bundle(json!({}), json!([]), json!({"f": {"r": rules}}), json!({}))
        },
        |flags| {
            let context = json!({"targeting_key": "u"});
            assert_eq!(decide(flags, "f", &context, 0), ("on", rule(999, "r999")));
        },
        "flag `f`: 1001 rules, more than the limit of 1000",
    );

    // 1,000 schedule steps, alternately disabling and enabling the flag.
    at_and_past(
        1_000,
        |n| {
            let steps: Vec<Value> = (0..n).map(|i| json!({"at": i, "e": i % 2 == 1})).collect();
            bundle(
                json!({}),
                json!([]),
                json!({"f": {"f": 1, "t": steps}}),
                json!({}),
            )
        },
        |flags| {
            let context = json!({"targeting_key": "u"});
            assert_eq!(decide(flags, "f", &context, 500), ("off", Reason::Disabled));
            assert_eq!(
                decide(flags, "f", &context, 501),
                ("on", Reason::Fallthrough)
            );
            assert_eq!(
                decide(flags, "f", &context, -1),
                ("on", Reason::Fallthrough)
            );
        },
        "flag `f`: 1001 schedule steps, more than the limit of 1000",
    );

    // 1,000 variants; the fallthrough is the last.
    at_and_past(
        1_000,
        |n| {
            let variants: Map<String, Value> =
                (0..n).map(|i| (format!("v{i:04}"), json!(i))).collect();
            bundle(
                json!({}),
                json!([]),
                json!({"f": {"f": n - 1, "v": variants}}),
                json!({}),
            )
        },
        |flags| {
            let evaluation = flags.evaluate("f", &json!({}), 0).unwrap();
            assert_eq!(evaluation.variant, "v0999");
            assert_eq!(evaluation.value, &json!(999));
        },
        "flag `f`: 1001 variants, more than the limit of 1000",
    );

    // A unit of exactly 1 MiB, the largest file a repository may hold.
    let unit = |n: usize| "u".repeat(n);
    at_and_past(
        1024 * 1024,
        |n| {
            bundle(
                json!({}),
                json!([{"segment": "s"}]),
                json!({"f": {"r": [{"c": [0], "n": "in", "s": 1}]}}),
                json!({"s": {"in": [unit(n)]}}),
            )
        },
        |flags| {
            let context = json!({"targeting_key": unit(1024 * 1024)});
            assert_eq!(decide(flags, "f", &context, 0), ("on", rule(0, "in")));
        },
        "segment `s`: a unit in `include` is 1048577 bytes long, more than the limit of 1048576",
    );
}

// ---------------------------------------------------------------------------------------
// Attribute slots: attributes tested by several rules are looked up once per evaluation.

/// Nine attributes `a0`…`a8`, each tested by two rules (`a{i} = p` then `a{i} = q`): eight get
/// slots, the ninth is looked up at each use.
fn shared_attributes() -> Value {
    let names: Vec<String> = (0..9).map(|i| format!("a{i}")).collect();
    let attributes: Map<String, Value> =
        names.iter().map(|n| (n.clone(), json!("string"))).collect();
    let mut conditions = Vec::new();
    let mut rules = Vec::new();
    for (i, name) in names.iter().enumerate() {
        for (j, value) in ["p", "q"].into_iter().enumerate() {
            conditions.push(json!({"attr": name, "op": "in", "values": [value]}));
            rules.push(json!({"c": [2 * i + j], "n": format!("{name}={value}"), "s": 1}));
        }
    }
    bundle(
        Value::Object(attributes),
        Value::Array(conditions),
        json!({"f": {"r": rules}}),
        json!({}),
    )
}

#[test]
fn attributes_tested_by_several_rules_each_give_their_own_value() {
    let flags = load(&shared_attributes()).unwrap();
    for i in 0..9 {
        for (j, value) in ["p", "q"].into_iter().enumerate() {
            // Every other attribute has a value no rule wants, so each is read.
            let mut context = json!({"targeting_key": "u"});
            for k in 0..9 {
                context[format!("a{k}")] = json!("r");
            }
            context[format!("a{i}")] = json!(value);
            let name = format!("a{i}={value}");
            let explanation = flags.explain("f", &context, 0).unwrap();
            assert_eq!(
                (
                    explanation.evaluation.variant,
                    &explanation.evaluation.reason
                ),
                ("on", &rule(2 * i + j, &name)),
                "{context}"
            );
            assert_eq!(explanation.trace.len(), 2 * i + j + 1);
            assert_eq!(
                flags.evaluate("f", &context, 0).unwrap(),
                explanation.evaluation
            );
        }
    }
    let nobody = json!({"targeting_key": "u", "a0": "r"});
    assert_eq!(
        decide(&flags, "f", &nobody, 0),
        ("off", Reason::Fallthrough)
    );
}

#[test]
fn attributes_are_read_by_their_exact_name_among_names_of_equal_length() {
    // Seven letters each, and `company` sorts before `country`.
    let b = bundle(
        json!({"company": "string", "country": "string"}),
        json!([{"attr": "country", "op": "in", "values": ["US"]}]),
        json!({"f": {"r": [{"c": [0], "n": "us", "s": 1}]}}),
        json!({}),
    );
    let flags = load(&b).unwrap();
    let us = json!({"company": "acme", "country": "US"});
    let other = json!({"company": "US", "country": "DE"});
    assert_eq!(decide(&flags, "f", &us, 0), ("on", rule(0, "us")));
    assert_eq!(decide(&flags, "f", &other, 0), ("off", Reason::Fallthrough));
}

// ---------------------------------------------------------------------------------------
// Thresholds a bucket can equal: rollouts, splits, holdouts and layer slices.

#[test]
fn a_unit_whose_bucket_equals_the_rollout_is_outside_it() {
    let rollout = bucket_of("f", "rollout", "alice", 100_000);
    let b = bundle(
        json!({}),
        json!([]),
        json!({"f": {"r": [{"n": "gradual", "r": rollout, "s": 1}]}}),
        json!({}),
    );
    let flags = load(&b).unwrap();
    let alice = json!({"targeting_key": "alice"});
    assert_eq!(decide(&flags, "f", &alice, 0), ("off", Reason::Fallthrough));
    let trace = &flags.explain("f", &alice, 0).unwrap().trace[0];
    assert_eq!(
        (trace.bucket, trace.threshold),
        (Some(rollout), Some(rollout))
    );
    assert!(!trace.matched);
    for unit in units() {
        let expected = if bucket_of("f", "rollout", &unit, 100_000) < rollout {
            ("on", rule(0, "gradual"))
        } else {
            ("off", Reason::Fallthrough)
        };
        let context = json!({"targeting_key": unit});
        assert_eq!(decide(&flags, "f", &context, 0), expected, "{unit}");
    }
}

#[test]
fn a_full_rollout_needs_no_unit_and_a_full_split_no_rollout_bucket() {
    let b = bundle(
        json!({}),
        json!([]),
        json!({
            "split": {"r": [{"n": "half", "s": [50_000, 50_000]}]},
            "whole": {"r": [{"n": "everyone", "s": 1}]},
        }),
        json!({}),
    );
    let flags = load(&b).unwrap();
    // No targeting key: a rule at 100% serving one variant still matches.
    let anonymous = json!({"country": "US"});
    assert_eq!(
        decide(&flags, "whole", &anonymous, 0),
        ("on", rule(0, "everyone"))
    );
    // A split buckets the unit, but at 100% there is no rollout bucket to show.
    let alice = json!({"targeting_key": "alice"});
    let explanation = flags.explain("split", &alice, 0).unwrap();
    let trace = &explanation.trace[0];
    assert!(trace.matched);
    assert_eq!((trace.bucket, trace.threshold), (None, None));
    let expected = if bucket_of("split", "split", "alice", 100_000) < 50_000 {
        "off"
    } else {
        "on"
    };
    assert_eq!(explanation.evaluation.variant, expected);
    assert_eq!(
        decide(&flags, "split", &anonymous, 0),
        ("off", Reason::Fallthrough)
    );
}

#[test]
fn a_unit_whose_split_bucket_equals_a_cumulative_weight_gets_the_next_variant() {
    let first = bucket_of("f", "split", "alice", 100_000);
    assert!(first > 0, "alice's split bucket");
    let b = bundle(
        json!({}),
        json!([]),
        json!({"f": {"r": [{"n": "split", "s": [first, 100_000 - first]}]}}),
        json!({}),
    );
    let flags = load(&b).unwrap();
    let alice = json!({"targeting_key": "alice"});
    assert_eq!(decide(&flags, "f", &alice, 0), ("on", rule(0, "split")));
    let (mut off, mut on) = (0, 0);
    for unit in units() {
        let expected = if bucket_of("f", "split", &unit, 100_000) < first {
            off += 1;
            "off"
        } else {
            on += 1;
            "on"
        };
        let context = json!({"targeting_key": unit});
        assert_eq!(
            decide(&flags, "f", &context, 0),
            (expected, rule(0, "split")),
            "{unit}"
        );
    }
    assert!(off > 0 && on > 0, "{off} off, {on} on");
}

/// A flag `f` whose one rule splits everyone between `a` and `b`, gated by an experiment
/// with a holdout of `percent` and a layer slice [`from`, `to`).
fn gated(percent: u32, from: u32, to: u32) -> Evaluator {
    let b = bundle(
        json!({}),
        json!([]),
        json!({"f": {
            "r": [{"n": "split", "s": [50_000, 50_000, 0]}],
            "v": {"a": "A", "b": "B", "c": "C"},
            "x": {
                "control": 2,
                "holdout": {"name": "h", "percent": percent, "salt": "hs"},
                "layer": {"from": from, "name": "l", "salt": "ls", "to": to},
                "name": "e",
            },
        }}),
        json!({}),
    );
    load(&b).unwrap()
}

/// What the gate of [`gated`] does to `unit`: `Some("holdout")`, `Some("layer")` or `None`.
fn gate_of(unit: &str, percent: u32, from: u32, to: u32) -> Option<&'static str> {
    let layer = bucket_of("ls", "layer", unit, 100_000);
    if bucket_of("hs", "holdout", unit, 100_000) < percent {
        Some("holdout")
    } else if layer < from || layer >= to {
        Some("layer")
    } else {
        None
    }
}

fn check_gate(
    flags: &Evaluator,
    unit: &str,
    percent: u32,
    from: u32,
    to: u32,
) -> Option<&'static str> {
    let evaluation = flags
        .evaluate("f", &json!({"targeting_key": unit}), 0)
        .unwrap();
    let gate = gate_of(unit, percent, from, to);
    match (gate, &evaluation.reason) {
        (
            Some(kind),
            Reason::Excluded {
                exclusion,
                rule_index: 0,
                ..
            },
        ) => {
            assert_eq!(evaluation.variant, "c", "{unit}");
            assert_eq!(exclusion.gate.as_str(), kind, "{unit}");
            assert_eq!(exclusion.by, if kind == "holdout" { "h" } else { "l" });
            assert_eq!(exclusion.experiment, "e");
        }
        (None, Reason::Rule { rule_index: 0, .. }) => {
            let split = bucket_of("f", "split", unit, 100_000);
            assert_eq!(
                evaluation.variant,
                if split < 50_000 { "a" } else { "b" },
                "{unit}"
            );
        }
        (gate, reason) => panic!("{unit}: expected {gate:?}, got {reason:?}"),
    }
    gate
}

#[test]
fn holdout_and_layer_thresholds_that_a_bucket_equals() {
    // Alice's holdout bucket is the holdout's share: she is not held out. Bob's and Carol's
    // layer buckets bound the slice: the one at its start is in it, the one at its end not.
    // Without the holdout, nothing hides what the layer does to them.
    let percent = bucket_of("hs", "holdout", "alice", 100_000);
    let (bob, carol) = (
        bucket_of("ls", "layer", "bob", 100_000),
        bucket_of("ls", "layer", "carol", 100_000),
    );
    let (from, to) = (bob.min(carol), bob.max(carol));
    assert!(from < to);
    for (percent, from, to) in [(percent, from, to), (0, from, to), (percent, 0, 100_000)] {
        let flags = gated(percent, from, to);
        let mut seen = std::collections::BTreeSet::new();
        for unit in units()
            .iter()
            .map(String::as_str)
            .chain(["alice", "bob", "carol"])
        {
            seen.insert(check_gate(&flags, unit, percent, from, to));
        }
        assert!(seen.contains(&None), "someone gets the split");
    }
}

#[test]
fn a_layer_slice_may_end_at_the_full_range() {
    let flags = gated(0, 60_000, 100_000);
    let mut seen = std::collections::BTreeSet::new();
    for unit in units() {
        seen.insert(check_gate(&flags, &unit, 0, 60_000, 100_000));
    }
    assert_eq!(seen, [None, Some("layer")].into_iter().collect());
}

// ---------------------------------------------------------------------------------------
// Schedules: a step applies from its own instant on.

#[test]
fn a_schedule_step_applies_from_its_instant() {
    let b = bundle(
        json!({}),
        json!([]),
        json!({"f": {
            "f": 1,
            "r": [{"n": "gradual", "r": 0, "s": 1, "t": [{"at": 2_000, "r": 100_000}, {"at": 3_000, "s": 0}]}],
            "t": [{"at": 1_000, "e": false}, {"at": 4_000, "e": true, "f": 0}],
        }}),
        json!({}),
    );
    let flags = load(&b).unwrap();
    let unit = json!({"targeting_key": "u"});
    let cases = [
        (999, ("on", Reason::Fallthrough)),
        (1_000, ("off", Reason::Disabled)),
        (3_999, ("off", Reason::Disabled)),
        (4_000, ("off", rule(0, "gradual"))),
    ];
    for (now, expected) in cases {
        assert_eq!(decide(&flags, "f", &unit, now), expected, "at {now}");
    }
    let rules = bundle(
        json!({}),
        json!([]),
        json!({"f": {"f": 0, "r": [{"n": "gradual", "r": 0, "s": 1, "t": [{"at": 2_000, "r": 100_000}, {"at": 3_000, "s": 0}]}]}}),
        json!({}),
    );
    let flags = load(&rules).unwrap();
    for (now, expected) in [
        (1_999, ("off", Reason::Fallthrough)),
        (2_000, ("on", rule(0, "gradual"))),
        (2_999, ("on", rule(0, "gradual"))),
        (3_000, ("off", rule(0, "gradual"))),
    ] {
        assert_eq!(decide(&flags, "f", &unit, now), expected, "at {now}");
    }
}

// ---------------------------------------------------------------------------------------
// Prerequisites: each decided once per evaluation, with the variant it really serves.

#[test]
fn prerequisites_serve_what_they_decide_disabled_ones_their_off_variant() {
    let b = bundle(
        json!({"country": "string"}),
        json!([{"attr": "country", "op": "in", "values": ["US"]}]),
        json!({
            // `a` needs `b` and `c`, `b` needs `c`: `c` is decided once and reused.
            "a": {"f": 1, "p": [["b", "on"], ["c", "on"]]},
            "b": {"f": 1, "p": [["c", "on"]]},
            "c": {"r": [{"c": [0], "n": "us", "s": 1}]},
            // Disabled: off, whatever its own prerequisites.
            "d": {"e": false, "f": 1, "p": [["c", "on"]]},
            "needs-d-off": {"f": 1, "p": [["d", "off"]]},
            "needs-d-on": {"f": 1, "p": [["d", "on"]]},
            // Its prerequisite serves `off` by falling through: wanted, so it is met.
            "needs-c-off": {"f": 1, "p": [["c", "off"]]},
            "needs-x-on": {"f": 1, "p": [["x", "on"]]},
            "x": {"f": 1, "p": [["needs-c-off", "on"]]},
        }),
        json!({}),
    );
    let flags = load(&b).unwrap();
    let us = json!({"targeting_key": "u", "country": "US"});
    let de = json!({"targeting_key": "u", "country": "DE"});
    let failed = |prerequisite| Reason::PrerequisiteFailed { prerequisite };
    let cases = [
        ("a", &us, ("on", Reason::Fallthrough)),
        ("a", &de, ("off", failed("b"))),
        ("b", &us, ("on", Reason::Fallthrough)),
        ("b", &de, ("off", failed("c"))),
        ("c", &us, ("on", rule(0, "us"))),
        ("c", &de, ("off", Reason::Fallthrough)),
        ("d", &us, ("off", Reason::Disabled)),
        ("needs-d-off", &us, ("on", Reason::Fallthrough)),
        ("needs-d-on", &us, ("off", failed("d"))),
        ("needs-c-off", &us, ("off", failed("c"))),
        ("needs-c-off", &de, ("on", Reason::Fallthrough)),
        ("needs-x-on", &de, ("on", Reason::Fallthrough)),
        ("needs-x-on", &us, ("off", failed("x"))),
        ("x", &us, ("off", failed("needs-c-off"))),
    ];
    for (flag, context, expected) in cases {
        assert_eq!(
            decide(&flags, flag, context, 0),
            expected,
            "{flag} for {context}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Segments: lists first, then conditions; a segment tested twice is decided once.

#[test]
fn segments_decide_by_lists_then_conditions_and_keep_their_answer() {
    let b = bundle(
        json!({"country": "string", "email": "string"}),
        json!([
            {"attr": "email", "op": "ends_with", "values": ["@acme.com"]},
            {"segment": "employees"},
            {"segment": "testers", "negate": true},
            {"attr": "country", "op": "in", "values": ["US"]},
            {"segment": "staff"},
            {"segment": "staff", "negate": true},
        ]),
        json!({"f": {
            "r": [
                {"c": [4, 3], "n": "us staff", "s": 1},
                {"c": [4], "n": "staff", "s": 2},
                {"c": [5, 3], "n": "us others", "s": 3},
            ],
            "v": {"a": "A", "b": "B", "c": "C", "d": "D"},
        }}),
        json!({
            "employees": {"c": [0], "ex": ["mallory"], "in": ["alice"]},
            "staff": {"c": [1, 2]},
            "testers": {"in": ["carol"]},
        }),
    );
    let flags = load(&b).unwrap();
    let acme = "x@acme.com";
    // (context, the rule that serves in the US and elsewhere: None for the fallthrough).
    let cases: [(Value, Option<usize>, Option<usize>); 7] = [
        (json!({"targeting_key": "alice"}), Some(0), Some(1)),
        (
            json!({"targeting_key": "dave", "email": acme}),
            Some(0),
            Some(1),
        ),
        (json!({"email": acme}), Some(0), Some(1)),
        (
            json!({"targeting_key": "mallory", "email": acme}),
            Some(2),
            None,
        ),
        (
            json!({"targeting_key": "carol", "email": acme}),
            Some(2),
            None,
        ),
        (
            json!({"targeting_key": "erin", "email": "e@else.com"}),
            Some(2),
            None,
        ),
        (json!({"targeting_key": 7, "email": acme}), Some(0), Some(1)),
    ];
    let names = ["us staff", "staff", "us others"];
    let variants = ["b", "c", "d"];
    for (context, us, elsewhere) in cases {
        for (country, expected) in [("US", us), ("DE", elsewhere)] {
            let mut context = context.clone();
            context["country"] = json!(country);
            let expected = match expected {
                Some(i) => (variants[i], rule(i, names[i])),
                None => ("a", Reason::Fallthrough),
            };
            assert_eq!(decide(&flags, "f", &context, 0), expected, "{context}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Operators on either side of their operand, through a loaded bundle.

/// Whether `condition` (on attribute `a`, declared `ty`) holds for `a` = `value`.
fn holds(ty: &str, condition: Value, value: Value) -> bool {
    let b = bundle(
        json!({ "a": ty }),
        json!([condition]),
        json!({"f": {"r": [{"c": [0], "n": "test", "s": 1}]}}),
        json!({}),
    );
    let flags = load(&b).unwrap_or_else(|e| panic!("{condition}: {e}"));
    let context = json!({"targeting_key": "u", "a": value});
    match decide(&flags, "f", &context, 0) {
        ("on", Reason::Rule { .. }) => true,
        ("off", Reason::Fallthrough) => false,
        other => panic!("{condition} on {value}: {other:?}"),
    }
}

#[test]
fn operators_hold_exactly_on_their_side_of_the_operand() {
    let op = |op: &str, values: Value| json!({"attr": "a", "op": op, "values": values});
    let cases: Vec<(&str, Value, Value, bool)> = vec![
        // Numbers are equal by value, integer or not.
        ("number", op("in", json!([2.0])), json!(2), true),
        ("number", op("in", json!([1.0, 2.0])), json!(3), false),
        ("number", op("in", json!([1.5])), json!(1.5), true),
        ("number", op("not_in", json!([1.0, 2.0])), json!(2), false),
        ("number", op("not_in", json!([1.0, 2.0])), json!(3), true),
        ("number", op("gt", json!([10.0])), json!(10), false),
        ("number", op("gt", json!([10.0])), json!(11), true),
        ("number", op("gte", json!([10.0])), json!(11), true),
        ("number", op("gte", json!([10.0])), json!(9.5), false),
        ("number", op("lt", json!([10.0])), json!(9), true),
        ("number", op("lt", json!([10.0])), json!(10), false),
        ("number", op("lte", json!([10.0])), json!(10), true),
        ("number", op("lte", json!([10.0])), json!(11), false),
        (
            "semver",
            op("semver_eq", json!(["1.2.3"])),
            json!("1.2.2"),
            false,
        ),
        (
            "semver",
            op("semver_eq", json!(["1.2.3"])),
            json!("1.2.3"),
            true,
        ),
        (
            "semver",
            op("semver_gt", json!(["1.2.3"])),
            json!("1.2.3"),
            false,
        ),
        (
            "semver",
            op("semver_gte", json!(["1.2.3"])),
            json!("1.2.2"),
            false,
        ),
        (
            "semver",
            op("semver_lt", json!(["1.2.3"])),
            json!("1.2.3"),
            false,
        ),
        (
            "semver",
            op("semver_lt", json!(["1.2.3"])),
            json!("1.2.2"),
            true,
        ),
        (
            "semver",
            op("semver_lte", json!(["1.2.3"])),
            json!("1.2.3"),
            true,
        ),
        (
            "semver",
            op("semver_lte", json!(["1.2.3"])),
            json!("1.2.4"),
            false,
        ),
        // Nineteen digits are a number a version may have; twenty overflow it: no version.
        (
            "semver",
            op("semver_gt", json!(["1.0.0"])),
            json!("9999999999999999999.0.0"),
            true,
        ),
        (
            "semver",
            op("semver_gt", json!(["1.0.0"])),
            json!("99999999999999999999.0.0"),
            false,
        ),
        (
            "semver",
            op("semver_lt", json!(["1.0.0"])),
            json!("0.99999999999999999999.0"),
            false,
        ),
        (
            "datetime",
            op("before", json!([1_000_000])),
            json!("1970-01-01T00:16:40Z"),
            false,
        ),
        (
            "datetime",
            op("before", json!([1_000_000])),
            json!("1970-01-01T00:16:39Z"),
            true,
        ),
        (
            "datetime",
            op("after", json!([1_000_000])),
            json!("1970-01-01T00:16:40Z"),
            false,
        ),
        (
            "datetime",
            op("after", json!([1_000_000])),
            json!("1970-01-01T00:16:41Z"),
            true,
        ),
        (
            "string_list",
            op("contains_all", json!(["a", "b"])),
            json!(["c", "b", "a"]),
            true,
        ),
        (
            "string_list",
            op("contains_all", json!(["a", "b"])),
            json!(["a", "c"]),
            false,
        ),
        (
            "string_list",
            op("contains_any", json!(["a", "b"])),
            json!(["c", "b"]),
            true,
        ),
        (
            "string_list",
            op("contains_any", json!(["a", "b"])),
            json!(["c"]),
            false,
        ),
        (
            "string_list",
            op("contains_none", json!(["a", "b"])),
            json!(["c"]),
            true,
        ),
        (
            "string_list",
            op("contains_none", json!(["a", "b"])),
            json!(["c", "a"]),
            false,
        ),
    ];
    for (ty, condition, value, expected) in cases {
        assert_eq!(
            holds(ty, condition.clone(), value.clone()),
            expected,
            "{condition} on {value}"
        );
    }
}

#[test]
fn ignore_case_folds_the_operand_and_the_value_whichever_is_upper_case() {
    let ignoring = |op: &str, operand: &str| json!({"attr": "a", "op": op, "values": [operand], "ignore_case": true});
    let cases = [
        ("in", "us", "US", true),
        ("in", "US", "us", true),
        ("in", "ÜBER", "über", true),
        ("in", "über", "ÜBER", true),
        ("in", "ÜBER", "uber", false),
        ("not_in", "ÜBER", "über", false),
        ("not_in", "ÜBER", "uber", true),
        ("starts_with", "ÜB", "über", true),
        ("ends_with", "ER", "ÜBER", true),
        ("contains", "BE", "ÜBER", true),
    ];
    for (op, operand, value, expected) in cases {
        assert_eq!(
            holds("string", ignoring(op, operand), json!(value)),
            expected,
            "{op} {operand} on {value}"
        );
    }
    // Without ignore_case, case counts.
    let exact = json!({"attr": "a", "op": "in", "values": ["ÜBER"]});
    assert!(!holds("string", exact.clone(), json!("über")));
    assert!(holds("string", exact, json!("ÜBER")));
}
