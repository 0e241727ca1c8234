//! Bucketing properties end to end through the evaluator: raising a rollout keeps every unit
//! that was in, and changing it never reshuffles a split.

use flagstone::eval::{Evaluator, Reason};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::subsequence;
use serde_json::{Value, json};

use crate::support::build::build_files;
use crate::support::toml_writer::{percent, quote};

fn config(cases: u32) -> ProptestConfig {
    crate::support::proptest_config!("test_bucketing_properties", cases)
}

const ROLLOUT_PROJECT: &str = "name = \"props\"\nenvironments = [\"production\"]\n";

/// The evaluator of a one-flag repository: one rule with `rollout` serving `serve` (a TOML
/// value: `serve = "on"` or `split = {...}`), the fallthrough `off`.
fn rollout_flag(salt: &str, rollout: u32, variants: &str, serve: &str) -> Evaluator {
    let flag = format!(
        "description = \"rollout property\"\nowners = [\"alice\"]\nkind = \"ops\"\nsalt = {}\n{variants}\n[env.production]\nserve = \"off\"\n\n[[env.production.rules]]\nname = \"gradual\"\nrollout = {}\n{serve}\n",
        quote(salt),
        percent(rollout)
    );
    let files = vec![
        (
            "flagstone.toml".to_owned(),
            ROLLOUT_PROJECT.as_bytes().to_vec(),
        ),
        ("flags/f.toml".to_owned(), flag.clone().into_bytes()),
    ];
    let bundles = build_files(&files).unwrap_or_else(|e| panic!("{e}\n--- flag\n{flag}"));
    assert_eq!(bundles.len(), 1);
    let bundle = bundles.into_iter().next().unwrap();
    assert_eq!(bundle.flags["f"].rules[0].rollout, rollout);
    Evaluator::from_bundle(bundle).unwrap()
}

/// Whether the unit got the rule's variant (`Some`) or fell through to `off` (`None`);
/// anything else fails the test.
fn rule_variant(evaluator: &Evaluator, unit: &Value) -> Option<String> {
    let context = json!({ "targeting_key": unit });
    let evaluation = evaluator.evaluate("f", &context, 0).unwrap();
    match evaluation.reason {
        Reason::Rule {
            rule_index: 0,
            rule_name: "gradual",
        } => Some(evaluation.variant.to_owned()),
        Reason::Fallthrough => {
            assert_eq!(evaluation.variant, "off", "fallthrough for {unit}");
            None
        }
        other => panic!("unexpected reason {other:?} for {unit}"),
    }
}

fn salt() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9/_-]{1,24}",
        any::<String>().prop_filter("salts are not empty", |s| !s.is_empty()),
        vec(any::<char>(), 1..8).prop_map(|c| c.into_iter().collect()),
    ]
}

fn unit() -> impl Strategy<Value = Value> {
    prop_oneof![
        "user-[0-9]{1,7}".prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1000i64..1000).prop_map(Value::from),
        Just(Value::from(i64::MIN)),
        Just(Value::from(u64::MAX)),
        Just(Value::from("")),
    ]
}

/// Thousandths of a percent, with the edges often.
fn rollout() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => 0u32..=100_000,
        1 => Just(0u32),
        1 => Just(100_000u32),
        1 => 0u32..=20,
        1 => 99_980u32..=100_000,
    ]
}

proptest! {
    #![proptest_config(config(96))]

    /// Raising a rollout never removes a unit that was in.
    #[test]
    fn raising_a_rollout_keeps_every_unit_that_was_in(
        salt in salt(),
        units in vec(unit(), 1..48),
        a in rollout(),
        b in rollout(),
    ) {
        let (r1, r2) = (a.min(b), a.max(b));
        let low = rollout_flag(&salt, r1, "", "serve = \"on\"");
        let high = rollout_flag(&salt, r2, "", "serve = \"on\"");
        for unit in &units {
            let before = rule_variant(&low, unit);
            let after = rule_variant(&high, unit);
            for (rollout, got) in [(r1, &before), (r2, &after)] {
                if rollout == 0 {
                    prop_assert_eq!(got, &None, "0% includes {}", unit);
                }
                if rollout == 100_000 {
                    prop_assert_eq!(got.as_deref(), Some("on"), "100% leaves out {}", unit);
                }
                if let Some(variant) = got {
                    prop_assert_eq!(variant, "on");
                }
            }
            if before.is_some() {
                prop_assert_eq!(
                    after.as_deref(), Some("on"),
                    "unit {} was in at {} but is out at {} (salt {:?})", unit, r1, r2, salt
                );
            }
        }
    }
}

/// Split variant names; `off` is the fallthrough.
const SPLIT_VARIANTS: &[&str] = &[
    "a",
    "b",
    "control",
    "treatment",
    "Zed",
    "0day",
    "big_one",
    "v-2",
    "blue",
];

/// 2–4 variants and their weights (thousandths summing to 100000).
fn split() -> impl Strategy<Value = Vec<(&'static str, u32)>> {
    subsequence(SPLIT_VARIANTS, 2..=4).prop_flat_map(|names| {
        let n = names.len();
        vec(
            prop_oneof![0u32..=100_000, Just(0u32), Just(100_000u32)],
            n - 1,
        )
        .prop_map(move |mut cuts| {
            cuts.sort_unstable();
            let mut previous = 0;
            let mut weights = Vec::with_capacity(n);
            for (i, name) in names.iter().enumerate() {
                let cut = cuts.get(i).copied().unwrap_or(100_000);
                weights.push((*name, cut - previous));
                previous = cut;
            }
            weights
        })
    })
}

proptest! {
    #![proptest_config(config(96))]

    /// Changing a rollout never moves a unit that stays in to another variant of the split.
    #[test]
    fn changing_a_rollout_never_reshuffles_a_split(
        salt in salt(),
        units in vec(unit(), 1..48),
        weights in split(),
        a in rollout(),
        b in rollout(),
    ) {
        prop_assume!(a != b);
        let (r1, r2) = (a.min(b), a.max(b));
        let mut variants = String::from("[variants]\noff = \"off\"\n");
        for (name, _) in &weights {
            variants.push_str(&format!("{name} = {}\n", quote(name)));
        }
        let split = weights
            .iter()
            .map(|(name, weight)| format!("{name} = {}", percent(*weight)))
            .collect::<Vec<_>>()
            .join(", ");
        let serve = format!("split = {{ {split} }}");
        let low = rollout_flag(&salt, r1, &variants, &serve);
        let high = rollout_flag(&salt, r2, &variants, &serve);
        let weight = |v: &str| weights.iter().find(|(n, _)| *n == v).map(|(_, w)| *w);
        for unit in &units {
            let before = rule_variant(&low, unit);
            let after = rule_variant(&high, unit);
            for got in [&before, &after].into_iter().flatten() {
                prop_assert!(
                    weight(got).is_some_and(|w| w > 0),
                    "{} got {} of the split {:?}", unit, got, weights
                );
            }
            if before.is_some() {
                prop_assert!(after.is_some(), "unit {} was in at {} but is out at {}", unit, r1, r2);
            }
            if let (Some(before), Some(after)) = (&before, &after) {
                prop_assert_eq!(
                    before, after,
                    "unit {} moved between variants when the rollout went from {} to {} (salt {:?}, split {:?})",
                    unit, r1, r2, salt, weights
                );
            }
        }
    }
}
