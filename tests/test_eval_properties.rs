//! Evaluation never panics, whatever the context and the time, and always serves one of the
//! flag's variants.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use flagstone::bundle::{Bundle, Serve};
use flagstone::eval::{Evaluator, Reason};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use crate::support::build::build_dir;
use crate::support::root;

fn config(cases: u32) -> ProptestConfig {
    crate::support::proptest_config!("test_eval_properties", cases)
}

/// Every environment of flags.example: its bundle and evaluator, built once.
fn example() -> &'static [(Bundle, Evaluator)] {
    static EXAMPLE: OnceLock<Vec<(Bundle, Evaluator)>> = OnceLock::new();
    EXAMPLE.get_or_init(|| {
        let bundles = build_dir(&root().join("flags.example")).expect("flags.example builds");
        assert_eq!(bundles.len(), 3);
        bundles
            .into_iter()
            .map(|b| (b.clone(), Evaluator::from_bundle(b).unwrap()))
            .collect()
    })
}

/// Strings the example's conditions look at, and some that stress text handling.
const INTERESTING: &[&str] = &[
    "",
    " ",
    "US",
    "CA",
    "DE",
    "IN",
    "BR",
    "GB",
    "free",
    "starter",
    "pro",
    "enterprise",
    "web",
    "ios",
    "android",
    "api",
    "eu-central",
    "eu-west",
    "us-east",
    "owner",
    "admin",
    "member",
    "qa",
    "mobile-testers",
    "design-partner",
    "ai-early-access",
    "ana@acme.com",
    "ANA@ACME.COM",
    "x@mailinator.com",
    "ab123456@example.com",
    "org_4f2a9c",
    "org_sbx_1",
    "org_5d0c77",
    "usr_contractor_4821",
    "usr_sales_demo",
    "usr_7f3e21",
    "usr_design_partner_0193",
    "usr_prospect_globex_admin",
    "5.3.1",
    "5.2.0",
    "6.0.0",
    "3.9.9",
    "5.2.0-beta.1",
    "1.0.0+build",
    "v5.3.1",
    "5.3",
    "10.1.2.3",
    "172.16.0.1",
    "198.51.100.7",
    "2001:db8:ac3e::1",
    "::ffff:10.0.0.1",
    "::",
    "256.1.1.1",
    "2026-12-02T00:00:00Z",
    "2024-12-31T23:59:59.999+01:00",
    "2025-01-01 00:00:00z",
    "2025-01-01T00:00:00",
    "9999-12-31T23:59:60Z",
    "0000-01-01T00:00:00Z",
    "2025-02-29T00:00:00Z",
    "2025-01-01T00:00:00+99:99",
    "2025-01-01T00:00:00.Z",
    "2025-01-01Té0:00:00Z",
    "acme-sdk-python/3.2.1",
    "acme-sdk-go/3.10.0",
    "HeadlessChrome/120",
    "python-requests/2.31",
    "AcmeSyntheticMonitor/1.0",
    "en-GB",
    "EN-us",
    "ar-SA",
    "he",
    "İstanbul",
    "ﬀ",
    "ß",
    "ǅ",
    "🦀",
    "👩‍👩‍👧‍👦",
    "مرحبا",
    "\u{0}",
    "\u{feff}",
    "\u{10ffff}",
    "a\u{301}",
];

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("JSON numbers are finite", |f| {
            serde_json::Number::from_f64(f).map(Value::Number)
        }),
        (-300i64..300).prop_map(Value::from),
        select(vec![
            json!(i64::MIN),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(0),
            json!(-0.0),
            json!(1e308),
            json!(-1e308),
            json!(5e-324),
            json!(100),
            json!(100.5),
            json!(249.999),
            json!(250),
            json!(50),
        ]),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(INTERESTING).prop_map(str::to_owned),
        2 => any::<String>(),
        1 => vec(any::<char>(), 0..12).prop_map(|c| c.into_iter().collect()),
        // Huge: 10,000 characters.
        1 => (select(INTERESTING), any::<char>(), 0usize..3).prop_map(|(s, c, kind)| match kind {
            0 => c.to_string().repeat(10_000),
            1 => format!("{s}{}", "é".repeat(10_000)),
            _ => format!("{}@mailinator.com", "a".repeat(10_000)),
        }),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String),
        vec(text(), 0..5).prop_map(|items| json!(items)),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            "targeting_key",
            "org",
            "id",
            "region",
            "country",
            "email",
            "groups",
            "roles",
            "app_version",
            "",
            ".",
            "org.id",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ]
}

/// Any JSON value: nested a few levels, or a chain about 50 deep.
fn json_value() -> impl Strategy<Value = Value> {
    let nested = leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(key(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    let deep = (leaf(), vec((key(), any::<bool>()), 40..60)).prop_map(|(leaf, links)| {
        links.into_iter().fold(leaf, |inner, (key, array)| {
            if array {
                Value::Array(vec![inner])
            } else {
                json!({ key: inner })
            }
        })
    });
    prop_oneof![4 => nested, 1 => deep]
}

/// Sets `value` at a dotted `path` of `context`, making objects on the way.
fn set_path(context: &mut Value, path: &str, value: Value) {
    let mut target = context;
    for part in path.split('.') {
        if !target.is_object() {
            *target = json!({});
        }
        target = target
            .as_object_mut()
            .unwrap()
            .entry(part.to_owned())
            .or_insert(Value::Null);
    }
    *target = value;
}

/// An RFC 3339 rendering of milliseconds since the epoch.
fn rfc3339(millis: i64) -> String {
    let (days, ms) = (millis.div_euclid(86_400_000), millis.rem_euclid(86_400_000));
    let (h, m, s, ms) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    format!(
        "{}T{h:02}:{m:02}:{s:02}.{ms:03}Z",
        flagstone::literal::format_date(days)
    )
}

/// For each attribute the example's conditions test, values near their operands; for
/// `targeting_key`, the units its segments list.
fn plausible_values() -> BTreeMap<String, Vec<Value>> {
    use flagstone::op::AttrType;
    let (bundle, _) = &example()[2];
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut conditions: Vec<&flagstone::bundle::Condition> = Vec::new();
    for (_, flag) in example().iter().flat_map(|(b, _)| &b.flags) {
        conditions.extend(flag.rules.iter().flat_map(|r| &r.conditions));
    }
    for segment in bundle.segments.values() {
        conditions.extend(&segment.conditions);
        let units = out.entry("targeting_key".into()).or_default();
        units.extend(
            segment
                .include
                .iter()
                .chain(&segment.exclude)
                .map(|u| json!(u)),
        );
    }
    for condition in conditions {
        let Some(attr) = &condition.attr else {
            continue;
        };
        let ty = bundle
            .attributes
            .get(attr)
            .copied()
            .unwrap_or(AttrType::String);
        let values = out.entry(attr.clone()).or_default();
        for operand in &condition.values {
            match (ty, operand) {
                (AttrType::Number, Value::Number(n)) => {
                    let n = n.as_f64().unwrap();
                    values.extend([json!(n), json!(n - 1.0), json!(n + 1.0), json!(n as i64)]);
                }
                (AttrType::Datetime, Value::Number(n)) => {
                    let n = n.as_i64().unwrap();
                    values.extend([n - 1, n, n + 1].map(|t| json!(rfc3339(t))));
                }
                (AttrType::Ip, Value::String(cidr)) => {
                    let address = cidr.split('/').next().unwrap();
                    values.push(json!(address));
                }
                (AttrType::StringList, Value::String(s)) => {
                    values.extend([json!([s]), json!(["x", s]), json!([])]);
                }
                (AttrType::Semver, Value::String(s)) => values.push(json!(s)),
                (_, Value::String(s)) => {
                    values.extend([json!(s), json!(format!("x{s}")), json!(format!("{s}/1"))]);
                }
                (_, other) => values.push(other.clone()),
            }
        }
        if values.is_empty() {
            values.push(json!("x"));
        }
    }
    // Segments' conditions may test attributes rules do not.
    for (name, ty) in &bundle.attributes {
        let values = out.entry(name.clone()).or_default();
        if values.is_empty() {
            values.push(match ty {
                AttrType::Number => json!(1),
                AttrType::Boolean => json!(true),
                AttrType::StringList => json!(["qa"]),
                _ => json!("x"),
            });
        }
        if *ty == AttrType::Boolean {
            values.extend([json!(true), json!(false)]);
        }
    }
    out
}

fn context() -> impl Strategy<Value = Value> {
    let mut paths: Vec<String> = example()[0].0.attributes.keys().cloned().collect();
    paths.extend(["targeting_key", "org", "org.id.x", "email.x"].map(str::to_owned));
    let path = prop_oneof![4 => select(paths), 1 => key()];
    // Values the example's conditions test for, at their attributes, so rules match often.
    let candidates = plausible_values();
    let plausible = vec(
        (
            select(candidates.keys().cloned().collect::<Vec<_>>()),
            any::<usize>(),
        ),
        0..20,
    )
    .prop_map(move |picks| {
        picks
            .into_iter()
            .map(|(path, i)| {
                let values = &candidates[&path];
                (path, values[i % values.len()].clone())
            })
            .collect::<Vec<_>>()
    });
    let built = (
        plausible,
        vec((path, json_value()), 0..6),
        // The targeting key: absent, or of any type.
        prop_oneof![
            2 => Just(None),
            2 => text().prop_map(|t| Some(Value::String(t))),
            2 => number().prop_map(Some),
            1 => json_value().prop_map(Some),
        ],
    )
        .prop_map(|(plausible, entries, targeting_key)| {
            let mut context = json!({});
            if let Some(key) = targeting_key {
                context["targeting_key"] = key;
            }
            for (path, value) in plausible.into_iter().chain(entries) {
                set_path(&mut context, &path, value);
            }
            context
        });
    // Sometimes the whole context is any value, objects or not.
    prop_oneof![5 => built, 1 => json_value()]
}

fn now() -> impl Strategy<Value = i64> {
    // Schedule times of the example, where states change.
    let mut steps: Vec<i64> = Vec::new();
    for flag in example()[2].0.flags.values() {
        steps.extend(flag.schedule.iter().map(|s| s.at));
        for rule in &flag.rules {
            steps.extend(rule.schedule.iter().map(|s| s.at));
        }
    }
    for (bundle, _) in example() {
        for flag in bundle.flags.values() {
            steps.extend(flag.schedule.iter().map(|s| s.at));
        }
    }
    assert!(!steps.is_empty(), "the example has schedules");
    prop_oneof![
        2 => any::<i64>(),
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
        1 => Just(0i64),
        2 => 1_750_000_000_000i64..1_850_000_000_000,
        3 => (select(steps), -1i64..=1).prop_map(|(at, d)| at + d),
    ]
}

/// The value in force at `now` from a base and timed steps that may set it.
fn scheduled<T: Clone>(base: T, steps: impl Iterator<Item = (i64, Option<T>)>, now: i64) -> T {
    steps
        .filter(|(at, _)| *at <= now)
        .fold(base, |value, (_, step)| step.unwrap_or(value))
}

proptest! {
    #![proptest_config(config(256))]

    /// Evaluation never panics, and always serves one of the flag's variants.
    #[test]
    fn evaluation_never_panics_and_serves_a_variant(context in context(), now in now()) {
        for (bundle, evaluator) in example() {
            for (key, flag) in &bundle.flags {
                let evaluation = evaluator.evaluate(key, &context, now).unwrap();
                let variants: Vec<&str> = evaluator.variants(key).unwrap().collect();
                prop_assert!(
                    variants.contains(&evaluation.variant),
                    "{}: {} served {:?}, not one of {:?}", bundle.environment, key, evaluation.variant, variants
                );
                prop_assert_eq!(evaluation.value, &flag.variants[evaluation.variant]);
                // Pure and deterministic; explaining changes nothing.
                prop_assert_eq!(&evaluator.evaluate(key, &context, now).unwrap(), &evaluation);
                prop_assert_eq!(&evaluator.explain(key, &context, now).unwrap().evaluation, &evaluation);

                let enabled = scheduled(
                    flag.enabled,
                    flag.schedule.iter().map(|s| (s.at, s.enabled)),
                    now,
                );
                let fallthrough = scheduled(
                    flag.fallthrough.clone(),
                    flag.schedule.iter().map(|s| (s.at, s.fallthrough.clone())),
                    now,
                );
                match &evaluation.reason {
                    Reason::Error { .. } => {
                        prop_assert!(!context.is_object());
                        prop_assert_eq!(evaluation.variant, flag.off_variant.as_str());
                    }
                    Reason::Disabled => {
                        prop_assert!(!enabled);
                        prop_assert_eq!(evaluation.variant, flag.off_variant.as_str());
                    }
                    Reason::PrerequisiteFailed { prerequisite } => {
                        prop_assert!(enabled);
                        prop_assert!(flag.prerequisites.iter().any(|p| p.flag == *prerequisite));
                        prop_assert_eq!(evaluation.variant, flag.off_variant.as_str());
                    }
                    Reason::Fallthrough => {
                        prop_assert!(enabled);
                        prop_assert_eq!(evaluation.variant, fallthrough.as_str());
                    }
                    Reason::Rule { rule_index, rule_name } => {
                        prop_assert!(enabled);
                        let rule = &flag.rules[*rule_index];
                        prop_assert_eq!(*rule_name, rule.name.as_str());
                        let serve = scheduled(
                            rule.serve.clone(),
                            rule.schedule.iter().map(|s| (s.at, s.serve.clone())),
                            now,
                        );
                        match serve {
                            Serve::Variant(v) => prop_assert_eq!(evaluation.variant, v.as_str()),
                            Serve::Split(weights) => prop_assert!(weights
                                .iter()
                                .any(|w| w.weight > 0 && w.variant == evaluation.variant)),
                        }
                    }
                    // Only a split's unit is excluded, and it gets the experiment's control.
                    Reason::Excluded { rule_index, rule_name, exclusion } => {
                        prop_assert!(enabled);
                        let rule = &flag.rules[*rule_index];
                        prop_assert_eq!(*rule_name, rule.name.as_str());
                        prop_assert!(matches!(rule.serve, Serve::Split(_)));
                        let gate = flag.experiment.as_ref().expect("excluded by an experiment");
                        prop_assert_eq!(exclusion.experiment.as_str(), gate.name.as_str());
                        prop_assert_eq!(evaluation.variant, gate.control.as_str());
                    }
                }
                if !context.is_object() {
                    let is_error = matches!(evaluation.reason, Reason::Error { .. });
                    prop_assert!(is_error, "a non-object context gave {:?}", evaluation.reason);
                } else if !enabled {
                    prop_assert_eq!(&evaluation.reason, &Reason::Disabled);
                }
            }
        }
    }
}
