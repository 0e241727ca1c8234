//! Property tests: bucketing monotonicity and stability end to end through the evaluator,
//! evaluation that never panics on arbitrary contexts, and bundles whose bytes depend on the
//! flags' meaning only, never on how the TOML is written.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use flagstone::bundle::{Bundle, Serve, content_hash};
use flagstone::eval::{Evaluator, Reason};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use serde_json::{Value, json};

use crate::support::{options, repo, root};

fn config(cases: u32) -> ProptestConfig {
    crate::support::proptest_config!("test_properties", cases)
}

// ---------------------------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------------------------

/// Loads, checks and builds the repository at `dir`; the error lists the check's errors.
fn build_dir(dir: &Path) -> Result<Vec<Bundle>, String> {
    let repo = flagstone::load::load(dir).map_err(|e| e.to_string())?;
    let report = flagstone::check::check(&repo, &options());
    match report.checked() {
        Some(checked) => Ok(flagstone::build::all(checked)),
        None => Err(report
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{} {} {:?}: {}", d.code.as_str(), d.file, d.span, d.message))
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

/// Writes `files` to a temporary repository (in the given order) and builds it.
fn build_files(files: &[(String, Vec<u8>)]) -> Result<Vec<Bundle>, String> {
    let borrowed: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_slice()))
        .collect();
    let dir = repo(&borrowed);
    build_dir(dir.path())
}

/// Each environment's canonical bytes and content hash.
fn hashes(bundles: &[Bundle]) -> BTreeMap<String, (String, String)> {
    bundles
        .iter()
        .map(|b| {
            let bytes = b.to_canonical_json();
            let hash = content_hash(&bytes);
            (
                b.environment.clone(),
                (String::from_utf8(bytes).unwrap(), hash),
            )
        })
        .collect()
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A percentage in thousandths, as TOML: `12.5`, `100`, `0.001`.
fn percent(thousandths: u32) -> String {
    let (int, frac) = (thousandths / 1000, thousandths % 1000);
    if frac == 0 {
        format!("{int}")
    } else {
        let frac = format!("{frac:03}");
        format!("{int}.{}", frac.trim_end_matches('0'))
    }
}

// ---------------------------------------------------------------------------------------------
// 1 and 2: rollouts through the evaluator
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// 3: evaluation never panics, whatever the context
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// 4: the presentation of a repository never changes its bundles
// ---------------------------------------------------------------------------------------------

/// A TOML value as the repository means it. How it is written — key order, table style,
/// number and string spelling, whitespace, comments, line endings — is the renderer's choice.
#[derive(Clone, Debug, PartialEq)]
enum T {
    Str(String),
    Bool(bool),
    /// An integer that must stay one (a variant value).
    Int(i64),
    /// A float that must stay one (a variant value).
    Float(f64),
    /// A number whose integer or float spelling means the same (condition operands).
    Num(f64),
    /// A percentage in thousandths, spelled as an integer or a float.
    Pct(u32),
    /// A local date (`expires`).
    Date(&'static str),
    /// An instant in milliseconds, as a date-time with any offset, or a string holding one.
    Instant(i64),
    /// Items, and whether their order is meaningless (so the renderer shuffles them).
    Arr(Vec<T>, bool),
    Tab(Vec<(String, T)>),
}

fn s(text: &str) -> T {
    T::Str(text.to_owned())
}

fn tab(entries: Vec<(&str, T)>) -> T {
    T::Tab(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

fn strs(items: &[&str]) -> T {
    T::Arr(items.iter().map(|i| s(i)).collect(), false)
}

/// A small deterministic generator (splitmix64) for presentation choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// True with probability `percent`%.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, X>(&mut self, items: &'a [X]) -> &'a X {
        &items[self.below(items.len())]
    }
    fn word(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len())]
    }
    fn shuffle<X>(&mut self, items: &mut [X]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

const COMMENTS: &[&str] = &[
    "",
    " a comment",
    "# twice",
    " serve = \"on\"   (not a key)",
    " [env.production]",
    " ünïcödé ✓ 🚀 مرحبا",
    "\tindented \"quoted\" 'text' \\",
    " '''  \"\"\"  { } [ ] , =",
];

const SPACES: &[&str] = &[" ", "  ", "\t", " \t ", "    "];
const INDENTS: &[&str] = &["  ", "\t", "    ", " "];

/// Writes [`T`] values as TOML, making every presentation choice at random.
struct Renderer<'r> {
    rng: &'r mut Rng,
    /// Also use what TOML 1.1 added: `\xHH` and `\e` escapes, date-times without seconds,
    /// inline tables over several lines with comments and a trailing comma.
    toml11: bool,
}

impl Renderer<'_> {
    /// Optional whitespace.
    fn ws(&mut self) -> &'static str {
        if self.rng.chance(50) {
            ""
        } else {
            self.rng.word(SPACES)
        }
    }

    fn indent(&mut self) -> &'static str {
        if self.rng.chance(70) {
            ""
        } else {
            self.rng.word(INDENTS)
        }
    }

    fn comment(&mut self) -> String {
        format!("#{}", self.rng.pick(COMMENTS))
    }

    /// What may end a line after a value or header: whitespace, perhaps a comment.
    fn line_end(&mut self) -> String {
        let ws = self.ws();
        if self.rng.chance(20) {
            let space = if self.rng.chance(70) { " " } else { "" };
            format!("{ws}{space}{}", self.comment())
        } else {
            ws.to_owned()
        }
    }

    fn bare(key: &str) -> bool {
        !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }

    fn key(&mut self, key: &str) -> String {
        if Self::bare(key) && self.rng.chance(75) {
            return key.to_owned();
        }
        if self.rng.chance(50) && Self::literal_ok(key) {
            format!("'{key}'")
        } else {
            self.basic(key)
        }
    }

    fn key_path(&mut self, path: &[String]) -> String {
        let mut out = String::new();
        for (i, part) in path.iter().enumerate() {
            if i > 0 {
                let (a, b) = (self.ws(), self.ws());
                out.push_str(&format!("{a}.{b}"));
            }
            out.push_str(&self.key(part));
        }
        out
    }

    fn literal_ok(text: &str) -> bool {
        !text.contains('\'') && !text.chars().any(|c| c.is_control() && c != '\t')
    }

    /// A basic string, escaping some characters that need no escape.
    fn basic(&mut self, text: &str) -> String {
        let mut out = String::from("\"");
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\t' if self.rng.chance(50) => out.push_str("\\t"),
                '\u{1b}' if self.toml11 && self.rng.chance(50) => out.push_str("\\e"),
                c if self.toml11 && (c as u32) < 0x100 && self.rng.chance(15) => {
                    out.push_str(&format!("\\x{:02X}", c as u32));
                }
                c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
                c if self.rng.chance(8) => {
                    if self.rng.chance(50) {
                        let mut units = [0u16; 2];
                        let units = c.encode_utf16(&mut units);
                        if units.len() == 1 {
                            out.push_str(&format!("\\u{:04X}", units[0]));
                        } else {
                            out.push_str(&format!("\\U{:08X}", c as u32));
                        }
                    } else {
                        out.push_str(&format!("\\U{:08x}", c as u32));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    fn string(&mut self, text: &str, multiline: bool) -> String {
        let newline = if self.rng.chance(50) { "\n" } else { "" };
        match self.rng.below(if multiline { 4 } else { 2 }) {
            0 if Self::literal_ok(text) => format!("'{text}'"),
            2 if !text.contains('"')
                && !text.contains('\\')
                && !text.chars().any(char::is_control) =>
            {
                format!("\"\"\"{newline}{text}\"\"\"")
            }
            3 if Self::literal_ok(text) && !text.is_empty() => {
                format!("'''{newline}{text}'''")
            }
            _ => self.basic(text),
        }
    }

    /// Underscores between some digits of a run of decimal digits.
    fn underscores(&mut self, digits: &str) -> String {
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && self.rng.chance(25) {
                out.push('_');
            }
            out.push(c);
        }
        out
    }

    fn integer(&mut self, n: i64) -> String {
        if n < 0 {
            let digits = n.unsigned_abs().to_string();
            return format!("-{}", self.underscores(&digits));
        }
        match self.rng.below(8) {
            0 => format!("+{n}"),
            1 => format!("0x{n:x}"),
            2 => format!("0x{n:X}"),
            3 => format!("0o{n:o}"),
            4 => format!("0b{n:b}"),
            5 => self.underscores(&n.to_string()),
            _ => n.to_string(),
        }
    }

    /// A float literal: always with a fraction or an exponent.
    fn float(&mut self, x: f64) -> String {
        let debug = format!("{x:?}");
        let text = match self.rng.below(5) {
            0 => format!("{x:e}"),
            1 => format!("{x:E}"),
            2 if debug.contains('.') && !debug.contains('e') => format!("{debug}00"),
            _ => debug,
        };
        let text = if text.contains(['.', 'e', 'E']) {
            text
        } else {
            format!("{text}.0")
        };
        if x >= 0.0 && self.rng.chance(20) {
            format!("+{text}")
        } else {
            text
        }
    }

    /// A number written as an integer when it is one, or as a float.
    fn number(&mut self, x: f64) -> String {
        if x.fract() == 0.0 && x.abs() < 1e15 && self.rng.chance(50) {
            self.integer(x as i64)
        } else {
            self.float(x)
        }
    }

    fn percent(&mut self, thousandths: u32) -> String {
        let (int, frac) = (thousandths / 1000, thousandths % 1000);
        let digits = thousandths.to_string();
        // d.ddd...e<exponent>: the same decimal number in scientific notation.
        let scientific = |e: &str| {
            let exponent = digits.len() as i64 - 1 - 3;
            let mantissa = if digits.len() > 1 {
                format!("{}.{}", &digits[..1], &digits[1..])
            } else {
                digits.clone()
            };
            format!("{mantissa}{e}{exponent}")
        };
        if thousandths == 0 {
            return self
                .rng
                .pick(&[
                    "0", "+0", "-0", "0.0", "-0.0", "+0.0", "0e0", "0.000", "0x0", "0b0",
                ])
                .to_string();
        }
        if frac == 0 {
            let int_digits = int.to_string();
            return match self.rng.below(14) {
                0 => format!("+{int}"),
                1 => format!("0x{int:x}"),
                2 => format!("0o{int:o}"),
                3 => format!("0b{int:b}"),
                4 => self.underscores(&int_digits),
                5 => format!("{int}.0"),
                6 => format!("{int}.000"),
                7 => format!("{int}e0"),
                8 => format!("{int}E+00"),
                9 => format!("{thousandths}e-3"),
                10 => scientific("e"),
                11 => format!("+{int}.0"),
                _ => int_digits,
            };
        }
        let fraction = format!("{frac:03}");
        let trimmed = fraction.trim_end_matches('0');
        match self.rng.below(9) {
            0 => format!("{int}.{fraction}"),
            1 => format!("{thousandths}e-3"),
            2 => format!("{thousandths}0E-4"),
            3 => format!("+{int}.{trimmed}"),
            4 => scientific("e"),
            5 => scientific("E"),
            6 => format!("{int}.{trimmed}000"),
            7 => format!("{}.{}", self.underscores(&int.to_string()), trimmed),
            _ => format!("{int}.{trimmed}"),
        }
    }

    /// An instant as a date-time; `literal` when written as a TOML date-time, not a string.
    fn instant(&mut self, millis: i64, literal: bool) -> String {
        let offset = *self
            .rng
            .pick(&[0i64, 0, 60, -300, 330, 345, -720, 840, 120, -570]);
        let local = millis + offset * 60_000;
        let (days, ms) = (local.div_euclid(86_400_000), local.rem_euclid(86_400_000));
        let (h, m, sec, ms) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
        let date = flagstone::literal::format_date(days);
        let separator = self.rng.pick(&["T", "t", " "]);
        // TOML 1.1 lets a date-time leave out zero seconds.
        let seconds = if literal && self.toml11 && sec == 0 && ms == 0 && self.rng.chance(60) {
            String::new()
        } else {
            format!(":{sec:02}")
        };
        let fraction = if seconds.is_empty() {
            String::new()
        } else if ms != 0 {
            match self.rng.below(3) {
                0 => format!(".{ms:03}000"),
                1 => format!(".{}", format!("{ms:03}").trim_end_matches('0')),
                _ => format!(".{ms:03}"),
            }
        } else {
            self.rng
                .pick(&["", "", ".0", ".000", ".000000"])
                .to_string()
        };
        let zone = if offset == 0 {
            self.rng.pick(&["Z", "z", "+00:00"]).to_string()
        } else {
            let sign = if offset < 0 { '-' } else { '+' };
            format!("{sign}{:02}:{:02}", offset.abs() / 60, offset.abs() % 60)
        };
        format!("{date}{separator}{h:02}:{m:02}{seconds}{fraction}{zone}")
    }

    /// A value; `top` when it is the whole right-hand side of a line's key/value pair, where
    /// multi-line strings and arrays are allowed.
    fn value(&mut self, value: &T, top: bool) -> String {
        match value {
            T::Str(text) => self.string(text, top),
            T::Bool(b) => b.to_string(),
            T::Int(n) => self.integer(*n),
            T::Float(x) => self.float(*x),
            T::Num(x) => self.number(*x),
            T::Pct(p) => self.percent(*p),
            T::Date(date) => {
                if self.rng.chance(70) {
                    date.to_string()
                } else {
                    format!("\"{date}\"")
                }
            }
            T::Instant(millis) => {
                if self.rng.chance(70) {
                    self.instant(*millis, true)
                } else {
                    let text = self.instant(*millis, false);
                    self.string(&text, false)
                }
            }
            T::Arr(items, unordered) => {
                let mut items = items.clone();
                if *unordered {
                    self.rng.shuffle(&mut items);
                }
                self.array(&items, top)
            }
            T::Tab(entries) => self.inline_table(entries),
        }
    }

    fn array(&mut self, items: &[T], top: bool) -> String {
        let rendered: Vec<String> = items.iter().map(|i| self.value(i, false)).collect();
        if top && !rendered.is_empty() && self.rng.chance(40) {
            let mut out = String::from("[");
            out.push_str(&self.line_end());
            for (i, item) in rendered.iter().enumerate() {
                out.push('\n');
                if self.rng.chance(15) {
                    out.push_str(&format!("{}{}\n", self.indent(), self.comment()));
                }
                if self.rng.chance(10) {
                    out.push('\n');
                }
                out.push_str(&format!("{}{}{item}", self.indent(), self.indent()));
                if i + 1 < rendered.len() || self.rng.chance(50) {
                    let ws = self.ws();
                    out.push_str(&format!("{ws},"));
                }
                out.push_str(&self.line_end());
            }
            out.push('\n');
            out.push_str(self.indent());
            out.push(']');
            return out;
        }
        let mut out = format!("[{}", self.ws());
        for (i, item) in rendered.iter().enumerate() {
            if i > 0 {
                let (a, b) = (self.ws(), self.ws());
                out.push_str(&format!("{a},{b}"));
            }
            out.push_str(item);
        }
        if !rendered.is_empty() && self.rng.chance(20) {
            out.push(',');
        }
        out.push_str(self.ws());
        out.push(']');
        out
    }

    fn inline_table(&mut self, entries: &[(String, T)]) -> String {
        let multiline = self.toml11 && self.rng.chance(40);
        let mut pairs = Vec::new();
        self.inline_pairs(&[], entries, multiline, &mut pairs);
        self.rng.shuffle(&mut pairs);
        if pairs.is_empty() {
            return format!("{{{}}}", self.ws());
        }
        if multiline {
            let mut out = String::from("{");
            out.push_str(&self.line_end());
            for (i, pair) in pairs.iter().enumerate() {
                out.push('\n');
                if self.rng.chance(15) {
                    out.push_str(&format!("{}{}\n", self.indent(), self.comment()));
                }
                out.push_str(&format!("{}{pair}", self.indent()));
                if i + 1 < pairs.len() || self.rng.chance(50) {
                    let ws = self.ws();
                    out.push_str(&format!("{ws},"));
                }
                out.push_str(&self.line_end());
            }
            out.push('\n');
            out.push_str(self.indent());
            out.push('}');
            return out;
        }
        let mut out = format!("{{{}", self.ws());
        for (i, pair) in pairs.iter().enumerate() {
            if i > 0 {
                let (a, b) = (self.ws(), self.ws());
                out.push_str(&format!("{a},{b}"));
            }
            out.push_str(pair);
        }
        out.push_str(self.ws());
        out.push('}');
        out
    }

    /// An inline table's pairs, with some sub-tables as dotted keys.
    fn inline_pairs(
        &mut self,
        prefix: &[String],
        entries: &[(String, T)],
        multiline: bool,
        out: &mut Vec<String>,
    ) {
        for (key, value) in entries {
            let path = [prefix, std::slice::from_ref(key)].concat();
            match value {
                T::Tab(children) if !children.is_empty() && self.rng.chance(30) => {
                    self.inline_pairs(&path, children, multiline, out);
                }
                _ => {
                    let key = self.key_path(&path);
                    let (a, b) = (self.ws(), self.ws());
                    let value = self.value(value, multiline);
                    out.push(format!("{key}{a}={b}{value}"));
                }
            }
        }
    }

    fn pair(&mut self, path: &[String], value: &T) -> String {
        let indent = self.indent();
        let key = self.key_path(path);
        let (a, b) = (self.ws(), self.ws());
        let value = self.value(value, true);
        let end = self.line_end();
        format!("{indent}{key}{a}={b}{value}{end}")
    }

    fn header(&mut self, path: &[String], array: bool) -> String {
        let indent = self.indent();
        let (a, b) = (self.ws(), self.ws());
        let key = self.key_path(path);
        let end = self.line_end();
        if array {
            format!("{indent}[[{a}{key}{b}]]{end}")
        } else {
            format!("{indent}[{a}{key}{b}]{end}")
        }
    }

    /// The key/value lines of a table written with dotted keys, `prefix` being its path
    /// relative to the section.
    fn dotted(&mut self, prefix: &[String], entries: &[(String, T)], lines: &mut Vec<String>) {
        for (key, value) in entries {
            let path = [prefix, std::slice::from_ref(key)].concat();
            match value {
                T::Tab(children) if !children.is_empty() && self.rng.chance(50) => {
                    self.dotted(&path, children, lines);
                }
                _ => lines.push(self.pair(&path, value)),
            }
        }
    }

    /// The body of the section of the table at `path` (the root, a `[table]` or an
    /// `[[array]]` element), and the sub-sections to write after it: each a run of lines that
    /// must stay together. Outside arrays of tables they may go anywhere in the file.
    fn section(
        &mut self,
        path: &[String],
        entries: &[(String, T)],
    ) -> (Vec<String>, Vec<Vec<String>>) {
        let mut lines = Vec::new();
        let mut sections = Vec::new();
        for (key, value) in entries {
            let full = [path, std::slice::from_ref(key)].concat();
            match value {
                T::Tab(children) => match self.rng.below(if children.is_empty() { 2 } else { 3 }) {
                    0 => lines.push(self.pair(std::slice::from_ref(key), value)),
                    1 => {
                        let (body, subs) = self.section(&full, children);
                        // A table with only sub-tables needs no header of its own.
                        let implicit = body.is_empty() && !subs.is_empty() && self.rng.chance(50);
                        let mut chunk = Vec::new();
                        if !implicit {
                            chunk.push(self.header(&full, false));
                        }
                        chunk.extend(body);
                        if !chunk.is_empty() {
                            sections.push(chunk);
                        }
                        sections.extend(subs);
                    }
                    _ => self.dotted(std::slice::from_ref(key), children, &mut lines),
                },
                T::Arr(items, unordered)
                    if !items.is_empty()
                        && items.iter().all(|i| matches!(i, T::Tab(_)))
                        && self.rng.chance(50) =>
                {
                    let mut items = items.clone();
                    if *unordered {
                        self.rng.shuffle(&mut items);
                    }
                    let mut chunk = Vec::new();
                    for item in &items {
                        let T::Tab(children) = item else {
                            unreachable!()
                        };
                        chunk.push(self.header(&full, true));
                        let (body, mut subs) = self.section(&full, children);
                        chunk.extend(body);
                        // An element's sub-tables follow it, in any order.
                        self.rng.shuffle(&mut subs);
                        chunk.extend(subs.into_iter().flatten());
                    }
                    sections.push(chunk);
                }
                _ => lines.push(self.pair(std::slice::from_ref(key), value)),
            }
        }
        self.rng.shuffle(&mut lines);
        (lines, sections)
    }

    /// Blank lines and comment lines between two lines.
    fn gap(&mut self, out: &mut String) {
        while self.rng.chance(25) {
            if self.rng.chance(50) {
                out.push_str(self.ws());
            } else {
                out.push_str(self.indent());
                out.push_str(&self.comment());
            }
            out.push('\n');
        }
    }

    fn document(&mut self, root: &[(String, T)]) -> String {
        let (lines, mut sections) = self.section(&[], root);
        self.rng.shuffle(&mut sections);
        let mut out = String::new();
        if self.rng.chance(30) {
            out.push_str("#:schema ./schema.json\n");
        }
        for line in lines.iter().chain(sections.iter().flatten()) {
            self.gap(&mut out);
            out.push_str(line);
            out.push('\n');
        }
        self.gap(&mut out);
        if out.ends_with('\n') && self.rng.chance(20) {
            out.pop();
        }
        // Line endings: LF, CRLF, or a mix.
        match self.rng.below(3) {
            0 => out,
            1 => out.replace('\n', "\r\n"),
            _ => {
                let mut mixed = String::new();
                for c in out.chars() {
                    if c == '\n' && self.rng.chance(50) {
                        mixed.push('\r');
                    }
                    mixed.push(c);
                }
                mixed
            }
        }
    }
}

// The repository generator: raw choices (shrinkable indices) resolved into a valid repository.

#[derive(Clone, Copy, Debug, PartialEq)]
enum Ty {
    Str,
    Num,
    Semver,
    Time,
}

/// Attributes a generated project may declare, with their allowed values.
const ATTRIBUTES: &[(&str, Ty, &[&str], &[f64])] = &[
    ("country", Ty::Str, &["US", "CA", "DE", "FR"], &[]),
    ("plan", Ty::Str, &[], &[]),
    ("org.id", Ty::Str, &[], &[]),
    ("seats", Ty::Num, &[], &[]),
    ("score", Ty::Num, &[], &[1.0, 2.5, 10.0]),
    ("app_version", Ty::Semver, &[], &[]),
    ("signup_at", Ty::Time, &[], &[]),
];

const ENVIRONMENTS: &[&str] = &["development", "staging", "production", "qa", "eu-1"];
const VARIANT_NAMES: &[&str] = &[
    "off",
    "on",
    "control",
    "treatment",
    "blue",
    "green",
    "a",
    "b",
    "Zed",
    "0day",
    "big_one",
    "v-2",
];
const STRING_OPERANDS: &[&str] = &[
    "US",
    "org_",
    "acme.com",
    "ünï",
    "🚀",
    "",
    "a\"b",
    "back\\slash",
    "tab\tx",
    "x y",
    "'q'",
];
const REGEXES: &[&str] = &["^org_[0-9]+$", "(?i)acme", "\\d{3}", "^(a|b)$", "ü+", "'"];
const VERSIONS: &[&str] = &["1.0.0", "2.3.0-beta.1", "5.3.1", "10.0.0+build.5", "0.0.1"];
const NUMBERS: &[f64] = &[0.0, 1.0, 2.5, 10.0, 100.0, 250.0, -3.0, 1000.0, 0.125, 1e9];
/// Condition instants and schedule origins, in milliseconds.
const INSTANTS: &[i64] = &[
    1_735_689_600_000, // 2025-01-01T00:00:00Z
    1_796_117_400_000, // 2026-12-01T09:30:00Z
    946_684_799_500,   // 1999-12-31T23:59:59.5Z
    1_907_755_200_123, // 2030-06-15T12:00:00.123Z
    0,
];
/// The schedules start here (2027-01-01T00:00:00Z), after the tests' "now".
const SCHEDULE_START: i64 = 1_798_761_600_000;
const UNITS: &[&str] = &["usr_1", "usr_2", "admin", "ünï", "42", "u-🚀", "O'Brien"];
const STRING_VALUES: &[&str] = &[
    "red",
    "Analytics for every team",
    "ünïcödé ✓",
    "",
    "a\\b\"c",
    "\u{1b}[1mbold\u{1b}[0m",
];
const RULE_NAMES: &[&str] = &["staff", "beta", "gradual", "EU rollout", "ünï", "r"];
const SALTS: &[&str] = &["s", "exp-2026-v2", "ünïcode salt", "a/b/c", "🚀", "it's"];
const DESCRIPTIONS: &[&str] = &[
    "A flag",
    "Ünïcödé description 🚀",
    "quotes \" and 'apostrophes'",
    "back\\slash # not a comment",
    "tab\there",
];

#[derive(Clone, Debug)]
struct RawCond {
    kind: u8,
    pick: usize,
    op: usize,
    operands: Vec<usize>,
    ignore_case: Option<bool>,
}

#[derive(Clone, Debug)]
enum RawServe {
    Variant(usize),
    /// Split over variants from `start` on, cut at these thousandths.
    Split {
        start: usize,
        cuts: Vec<u32>,
    },
}

#[derive(Clone, Debug)]
struct RawRule {
    name: usize,
    conditions: Vec<RawCond>,
    rollout: Option<u32>,
    serve: RawServe,
    schedule: Vec<(u64, Option<u32>, Option<RawServe>)>,
}

#[derive(Clone, Debug)]
struct RawEnv {
    enabled: Option<bool>,
    off: Option<usize>,
    serve: Option<usize>,
    rules: Vec<RawRule>,
    schedule: Vec<(u64, Option<bool>, Option<usize>)>,
}

#[derive(Clone, Debug)]
struct RawFlag {
    area: usize,
    kind: usize,
    /// 0: boolean, 1: strings, 2: numbers, 3: payloads.
    variant_kind: u8,
    variant_names: Vec<&'static str>,
    values: Vec<usize>,
    off: usize,
    bucket_by: Option<usize>,
    salt: Option<usize>,
    prerequisites: Vec<(usize, usize)>,
    envs: Vec<Option<RawEnv>>,
    owners: Vec<usize>,
    description: usize,
}

#[derive(Clone, Debug)]
struct RawSegment {
    nested: bool,
    include: Vec<usize>,
    exclude: Vec<usize>,
    conditions: Vec<RawCond>,
}

#[derive(Clone, Debug)]
struct RawRepo {
    name: usize,
    environments: Vec<&'static str>,
    attributes: Vec<usize>,
    teams: usize,
    segments: Vec<RawSegment>,
    flags: Vec<RawFlag>,
}

fn raw_cond() -> impl Strategy<Value = RawCond> {
    (
        0u8..10,
        0usize..16,
        0usize..16,
        vec(0usize..16, 1..4),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(kind, pick, op, operands, ignore_case)| RawCond {
            kind,
            pick,
            op,
            operands,
            ignore_case,
        })
}

fn raw_serve() -> impl Strategy<Value = RawServe> {
    prop_oneof![
        2 => (0usize..8).prop_map(RawServe::Variant),
        1 => (0usize..8, vec(prop_oneof![0u32..=100_000, Just(0), Just(50_000), Just(100_000)], 1..4))
            .prop_map(|(start, cuts)| RawServe::Split { start, cuts }),
    ]
}

fn raw_percent() -> impl Strategy<Value = u32> {
    prop_oneof![
        0u32..=100_000,
        (0u32..=100).prop_map(|p| p * 1000),
        Just(100_000),
        Just(0)
    ]
}

/// Milliseconds between schedule steps; often whole minutes.
fn delta() -> impl Strategy<Value = u64> {
    prop_oneof![
        1u64..10_000_000_000,
        (1u64..100_000).prop_map(|m| m * 60_000)
    ]
}

fn raw_rule() -> impl Strategy<Value = RawRule> {
    (
        0usize..8,
        vec(raw_cond(), 0..3),
        proptest::option::of(raw_percent()),
        raw_serve(),
        vec(
            (
                delta(),
                proptest::option::of(raw_percent()),
                proptest::option::of(raw_serve()),
            ),
            0..3,
        ),
    )
        .prop_map(|(name, conditions, rollout, serve, schedule)| RawRule {
            name,
            conditions,
            rollout,
            serve,
            schedule,
        })
}

fn raw_env() -> impl Strategy<Value = RawEnv> {
    (
        proptest::option::of(any::<bool>()),
        proptest::option::of(0usize..8),
        proptest::option::of(0usize..8),
        vec(raw_rule(), 0..4),
        vec(
            (
                delta(),
                proptest::option::of(any::<bool>()),
                proptest::option::of(0usize..8),
            ),
            0..3,
        ),
    )
        .prop_map(|(enabled, off, serve, rules, schedule)| RawEnv {
            enabled,
            off,
            serve,
            rules,
            schedule,
        })
}

fn raw_flag() -> impl Strategy<Value = RawFlag> {
    (
        (
            0usize..4,
            0usize..5,
            0u8..4,
            subsequence(VARIANT_NAMES, 2..=4),
            vec(0usize..16, 4),
            0usize..8,
        ),
        (
            proptest::option::of(0usize..8),
            proptest::option::of(0usize..SALTS.len()),
            vec((0usize..8, 0usize..8), 0..3),
            vec(proptest::option::of(raw_env()), 3),
            vec(0usize..5, 1..3),
            0usize..DESCRIPTIONS.len(),
        ),
    )
        .prop_map(
            |(
                (area, kind, variant_kind, variant_names, values, off),
                (bucket_by, salt, prerequisites, envs, owners, description),
            )| RawFlag {
                area,
                kind,
                variant_kind,
                variant_names,
                values,
                off,
                bucket_by,
                salt,
                prerequisites,
                envs,
                owners,
                description,
            },
        )
}

fn raw_segment() -> impl Strategy<Value = RawSegment> {
    (
        any::<bool>(),
        vec(0usize..UNITS.len(), 0..4),
        vec(0usize..UNITS.len(), 0..3),
        vec(raw_cond(), 0..3),
    )
        .prop_map(|(nested, include, exclude, conditions)| RawSegment {
            nested,
            include,
            exclude,
            conditions,
        })
}

fn raw_repo() -> impl Strategy<Value = RawRepo> {
    (
        0usize..3,
        subsequence(ENVIRONMENTS, 2..=3),
        subsequence(
            (0..ATTRIBUTES.len()).collect::<Vec<_>>(),
            2..=ATTRIBUTES.len(),
        ),
        0usize..=2,
        vec(raw_segment(), 0..=2),
        vec(raw_flag(), 1..=6),
    )
        .prop_map(
            |(name, environments, attributes, teams, segments, flags)| RawRepo {
                name,
                environments,
                attributes,
                teams,
                segments,
                flags,
            },
        )
}

/// Resolves raw choices into the files of a valid repository. `defaults` decides whether
/// values equal to their defaults are written out or left implicit.
struct Resolver<'a> {
    raw: &'a RawRepo,
    defaults: Rng,
}

const TEAMS: &[&str] = &["payments", "growth"];

impl Resolver<'_> {
    fn explicit(&mut self) -> bool {
        self.defaults.chance(40)
    }

    fn condition(&mut self, c: &RawCond, segments: &[String]) -> T {
        if c.kind < 2 && !segments.is_empty() {
            let key = if c.kind == 0 {
                "segment"
            } else {
                "not_segment"
            };
            return tab(vec![(key, s(&segments[c.pick % segments.len()]))]);
        }
        let attributes = &self.raw.attributes;
        let which = c.pick % (attributes.len() + 1);
        let (name, ty, allowed_strings, allowed_numbers) = if which == attributes.len() {
            ("targeting_key", Ty::Str, &[][..], &[][..])
        } else {
            ATTRIBUTES[attributes[which]]
        };
        let ops: &[&str] = match ty {
            Ty::Str => &[
                "in",
                "not_in",
                "starts_with",
                "not_starts_with",
                "ends_with",
                "not_ends_with",
                "contains",
                "not_contains",
                "matches",
                "not_matches",
                "exists",
                "not_exists",
            ],
            Ty::Num => &[
                "gt",
                "gte",
                "lt",
                "lte",
                "in",
                "not_in",
                "exists",
                "not_exists",
            ],
            Ty::Semver => &[
                "semver_eq",
                "semver_gt",
                "semver_gte",
                "semver_lt",
                "semver_lte",
                "exists",
                "not_exists",
            ],
            Ty::Time => &["before", "after", "exists", "not_exists"],
        };
        let op = ops[c.op % ops.len()];
        let equality = matches!(op, "in" | "not_in");
        let operand = |i: usize| -> T {
            match ty {
                Ty::Str if equality && !allowed_strings.is_empty() => {
                    s(allowed_strings[i % allowed_strings.len()])
                }
                Ty::Str if op.ends_with("matches") => s(REGEXES[i % REGEXES.len()]),
                Ty::Str => s(STRING_OPERANDS[i % STRING_OPERANDS.len()]),
                Ty::Num if equality && !allowed_numbers.is_empty() => {
                    T::Num(allowed_numbers[i % allowed_numbers.len()])
                }
                Ty::Num => T::Num(NUMBERS[i % NUMBERS.len()]),
                Ty::Semver => s(VERSIONS[i % VERSIONS.len()]),
                Ty::Time => T::Instant(INSTANTS[i % INSTANTS.len()]),
            }
        };
        let mut entries = vec![("attr", s(name)), ("op", s(op))];
        match op {
            "exists" | "not_exists" => {}
            _ if equality || op.contains("with") || op.contains("contains") => entries.push((
                "values",
                T::Arr(c.operands.iter().map(|i| operand(*i)).collect(), false),
            )),
            _ => entries.push(("value", operand(c.operands[0]))),
        }
        let takes_ignore_case = equality || op.contains("with") || op.contains("contains");
        if let (Ty::Str, true) = (ty, takes_ignore_case) {
            match c.ignore_case {
                Some(ignore_case) => entries.push(("ignore_case", T::Bool(ignore_case))),
                None if self.explicit() => entries.push(("ignore_case", T::Bool(false))),
                None => {}
            }
        }
        tab(entries)
    }

    fn serve(&self, serve: &RawServe, variants: &[&str]) -> (&'static str, T) {
        match serve {
            RawServe::Variant(i) => ("serve", s(variants[i % variants.len()])),
            RawServe::Split { start, cuts } => {
                let parts = (cuts.len() + 1).min(variants.len());
                let mut cuts: Vec<u32> = cuts[..parts - 1].to_vec();
                cuts.sort_unstable();
                cuts.push(100_000);
                let mut previous = 0;
                let mut weights = Vec::new();
                for (i, cut) in cuts.iter().enumerate() {
                    let variant = variants[(start + i) % variants.len()];
                    weights.push((variant.to_owned(), T::Pct(cut - previous)));
                    previous = *cut;
                }
                ("split", T::Tab(weights))
            }
        }
    }

    fn files(&mut self) -> Vec<(String, T)> {
        let raw = self.raw;
        let mut files = Vec::new();

        // The project.
        let mut attributes = Vec::new();
        for &i in &raw.attributes {
            let (name, ty, strings, numbers) = ATTRIBUTES[i];
            let mut decl = vec![(
                "type",
                s(match ty {
                    Ty::Str => "string",
                    Ty::Num => "number",
                    Ty::Semver => "semver",
                    Ty::Time => "datetime",
                }),
            )];
            if !strings.is_empty() {
                decl.push((
                    "values",
                    T::Arr(strings.iter().map(|v| s(v)).collect(), true),
                ));
            }
            if !numbers.is_empty() {
                decl.push((
                    "values",
                    T::Arr(numbers.iter().map(|n| T::Num(*n)).collect(), true),
                ));
            }
            if i % 2 == 0 {
                decl.push(("description", s(DESCRIPTIONS[i % DESCRIPTIONS.len()])));
            }
            attributes.push((name.to_owned(), tab(decl)));
        }
        let mut project = vec![
            ("name", s(["acme", "Acme Cloud ☁", "x"][raw.name])),
            ("environments", strs(&raw.environments)),
            ("attributes", T::Tab(attributes)),
        ];
        let teams = &TEAMS[..raw.teams];
        if !teams.is_empty() {
            project.push((
                "teams",
                T::Tab(
                    teams
                        .iter()
                        .map(|t| (t.to_string(), T::Arr(vec![s("alice"), s("bob")], true)))
                        .collect(),
                ),
            ));
        }
        files.push(("flagstone.toml".to_owned(), tab(project)));

        // Segments: conditions may name earlier segments only, so there are no cycles.
        let mut segment_names: Vec<String> = Vec::new();
        for (i, segment) in raw.segments.iter().enumerate() {
            let name = if segment.nested {
                format!("grp/seg{i}")
            } else {
                format!("seg{i}")
            };
            let mut include: Vec<&str> = segment.include.iter().map(|u| UNITS[*u]).collect();
            include.sort_unstable();
            include.dedup();
            let mut exclude: Vec<&str> = segment
                .exclude
                .iter()
                .map(|u| UNITS[*u])
                .filter(|u| !include.contains(u))
                .collect();
            exclude.sort_unstable();
            exclude.dedup();
            let mut entries = vec![("description", s(DESCRIPTIONS[i % DESCRIPTIONS.len()]))];
            let unordered = |units: &[&str]| T::Arr(units.iter().map(|u| s(u)).collect(), true);
            if !include.is_empty() || self.explicit() {
                entries.push(("include", unordered(&include)));
            }
            if !exclude.is_empty() || self.explicit() {
                entries.push(("exclude", unordered(&exclude)));
            }
            let mut conditions = Vec::new();
            for c in &segment.conditions {
                conditions.push(self.condition(c, &segment_names));
            }
            if !conditions.is_empty() || self.explicit() {
                entries.push(("if", T::Arr(conditions, false)));
            }
            files.push((format!("segments/{name}.toml"), tab(entries)));
            segment_names.push(name);
        }

        // Flags: prerequisites name earlier flags only, so there are no cycles.
        let mut flags: Vec<(String, Vec<&'static str>)> = Vec::new();
        for (i, flag) in raw.flags.iter().enumerate() {
            let area = ["", "checkout/", "growth/", "a/b/"][flag.area];
            let key = format!(
                "{area}{}{i}",
                ["one-page", "dark_mode", "X", "rate-limit"][flag.area]
            );
            let mut entries: Vec<(String, T)> = Vec::new();
            let mut put = |k: &str, v: T| entries.push((k.to_owned(), v));
            put("description", s(DESCRIPTIONS[flag.description]));
            let owners: Vec<T> = flag
                .owners
                .iter()
                .map(|o| match o {
                    0 | 1 if !teams.is_empty() => s(&format!("@{}", teams[o % teams.len()])),
                    o => s(["alice", "bob", "carol", "dana", "eli"][*o]),
                })
                .collect();
            put("owners", T::Arr(owners, false));
            let kind = ["ops", "config", "permission", "release", "experiment"][flag.kind];
            put("kind", s(kind));
            if flag.kind >= 3 {
                put("expires", T::Date("2030-06-30"));
            }
            // Variants.
            let variants: Vec<&'static str> = if flag.variant_kind == 0 {
                vec!["off", "on"]
            } else {
                flag.variant_names.clone()
            };
            if flag.variant_kind == 0 {
                if self.explicit() {
                    put(
                        "variants",
                        tab(vec![("off", T::Bool(false)), ("on", T::Bool(true))]),
                    );
                }
            } else {
                let values = variants
                    .iter()
                    .enumerate()
                    .map(|(j, name)| {
                        let v = flag.values[j] + j;
                        let value = match flag.variant_kind {
                            1 => s(STRING_VALUES[v % STRING_VALUES.len()]),
                            2 => [
                                T::Int(0),
                                T::Int(5),
                                T::Int(-7),
                                T::Int(12_000),
                                T::Int(255),
                                T::Float(0.5),
                                T::Float(2.5),
                                T::Float(-1.25),
                                T::Float(1e10),
                                T::Float(0.1),
                            ][v % 10]
                                .clone(),
                            _ => tab(vec![
                                ("model", s(["acme-small", "acme-large", "ünï"][v % 3])),
                                ("temperature", T::Float([0.2, 0.5, 1.0][v % 3])),
                                ("max_tokens", T::Int([800, 1500, 0][v % 3])),
                                ("steps", strs(&["connect", "create", "invite"][..v % 4])),
                                (
                                    "limits",
                                    tab(vec![
                                        ("daily", T::Int(v as i64 * 100)),
                                        ("nested", tab(vec![("deep", T::Bool(v % 2 == 0))])),
                                    ]),
                                ),
                            ]),
                        };
                        (name.to_string(), value)
                    })
                    .collect();
                put("variants", T::Tab(values));
            }
            let has_off = variants.contains(&"off");
            let flag_off = variants[flag.off % variants.len()];
            let flag_off = if has_off && flag.off % 2 == 0 {
                "off"
            } else {
                flag_off
            };
            if flag_off != "off" || self.explicit() {
                put("off_variant", s(flag_off));
            }
            let keyed: Vec<&str> = raw
                .attributes
                .iter()
                .map(|a| ATTRIBUTES[*a])
                .filter(|a| matches!(a.1, Ty::Str | Ty::Num))
                .map(|a| a.0)
                .collect();
            match flag.bucket_by {
                Some(b) if !keyed.is_empty() => put("bucket_by", s(keyed[b % keyed.len()])),
                _ if self.explicit() => put("bucket_by", s("targeting_key")),
                _ => {}
            }
            match flag.salt {
                Some(salt) => put("salt", s(SALTS[salt])),
                None if self.explicit() => put("salt", s(&key)),
                None => {}
            }
            let mut prerequisites: Vec<T> = Vec::new();
            let mut required: Vec<usize> = Vec::new();
            for &(f, v) in &flag.prerequisites {
                if i == 0 || required.contains(&(f % i)) {
                    continue;
                }
                required.push(f % i);
                let (other, other_variants) = &flags[f % i];
                prerequisites.push(tab(vec![
                    ("flag", s(other)),
                    ("variant", s(other_variants[v % other_variants.len()])),
                ]));
            }
            if !prerequisites.is_empty() || self.explicit() {
                put("prerequisites", T::Arr(prerequisites, true));
            }
            // Targeting per environment.
            let mut envs = Vec::new();
            for (e, env) in raw.environments.iter().enumerate() {
                let Some(raw_env) = &flag.envs[e] else {
                    continue;
                };
                let mut env_entries: Vec<(String, T)> = Vec::new();
                let mut put = |k: &str, v: T| env_entries.push((k.to_owned(), v));
                match raw_env.enabled {
                    Some(enabled) => put("enabled", T::Bool(enabled)),
                    None if self.explicit() => put("enabled", T::Bool(true)),
                    None => {}
                }
                let off = match raw_env.off {
                    Some(o) => {
                        let off = variants[o % variants.len()];
                        put("off_variant", s(off));
                        off
                    }
                    None => {
                        if self.explicit() {
                            put("off_variant", s(flag_off));
                        }
                        flag_off
                    }
                };
                match raw_env.serve {
                    Some(v) => put("serve", s(variants[v % variants.len()])),
                    None if self.explicit() => put("serve", s(off)),
                    None => {}
                }
                let count = raw_env.rules.len();
                let mut rules = Vec::new();
                for (r, rule) in raw_env.rules.iter().enumerate() {
                    let mut rule_entries = vec![(
                        "name".to_owned(),
                        s(&format!("{} {r}", RULE_NAMES[rule.name % RULE_NAMES.len()])),
                    )];
                    let mut conditions = Vec::new();
                    for c in &rule.conditions {
                        conditions.push(self.condition(c, &segment_names));
                    }
                    let full = |p: Option<u32>| p.is_none_or(|p| p == 100_000);
                    let mut rollout = rule.rollout;
                    // Only the last rule may match every unit: later ones would be unreachable.
                    if r + 1 < count
                        && conditions.is_empty()
                        && full(rollout)
                        && rule.schedule.iter().all(|s| full(s.1))
                    {
                        rollout = Some(50_000);
                    }
                    if !conditions.is_empty() || self.explicit() {
                        rule_entries.push(("if".to_owned(), T::Arr(conditions, false)));
                    }
                    match rollout {
                        Some(p) => rule_entries.push(("rollout".to_owned(), T::Pct(p))),
                        None if self.explicit() => {
                            rule_entries.push(("rollout".to_owned(), T::Pct(100_000)))
                        }
                        None => {}
                    }
                    let (k, v) = self.serve(&rule.serve, &variants);
                    rule_entries.push((k.to_owned(), v));
                    let mut at = SCHEDULE_START;
                    let mut steps = Vec::new();
                    for (delta, step_rollout, step_serve) in &rule.schedule {
                        at += *delta as i64;
                        let mut step = vec![("at".to_owned(), T::Instant(at))];
                        if let Some(p) = step_rollout {
                            step.push(("rollout".to_owned(), T::Pct(*p)));
                        }
                        if let Some(serve) = step_serve {
                            let (k, v) = self.serve(serve, &variants);
                            step.push((k.to_owned(), v));
                        }
                        if step.len() == 1 {
                            step.push(("rollout".to_owned(), T::Pct(25_000)));
                        }
                        steps.push(T::Tab(step));
                    }
                    if !steps.is_empty() || self.explicit() {
                        rule_entries.push(("schedule".to_owned(), T::Arr(steps, false)));
                    }
                    rules.push(T::Tab(rule_entries));
                }
                if !rules.is_empty() || self.explicit() {
                    put("rules", T::Arr(rules, false));
                }
                let mut at = SCHEDULE_START;
                let mut steps = Vec::new();
                for (delta, enabled, serve) in &raw_env.schedule {
                    at += *delta as i64;
                    let mut step = vec![("at".to_owned(), T::Instant(at))];
                    if let Some(enabled) = enabled {
                        step.push(("enabled".to_owned(), T::Bool(*enabled)));
                    }
                    if let Some(v) = serve {
                        step.push(("serve".to_owned(), s(variants[v % variants.len()])));
                    }
                    if step.len() == 1 {
                        step.push(("enabled".to_owned(), T::Bool(true)));
                    }
                    steps.push(T::Tab(step));
                }
                if !steps.is_empty() || self.explicit() {
                    put("schedule", T::Arr(steps, false));
                }
                envs.push((env.to_string(), T::Tab(env_entries)));
            }
            if !envs.is_empty() {
                put("env", T::Tab(envs));
            }
            files.push((format!("flags/{key}.toml"), T::Tab(entries)));
            flags.push((key, variants));
        }
        files
    }
}

/// Renders the files, each with its own random presentation, listed in a random order.
fn render(files: &[(String, T)], seed: u64, toml11: bool) -> Vec<(String, Vec<u8>)> {
    let mut rng = Rng(seed);
    let mut out: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(path, root)| {
            let T::Tab(entries) = root else {
                unreachable!()
            };
            let text = Renderer {
                rng: &mut rng,
                toml11,
            }
            .document(entries);
            (path.clone(), text.into_bytes())
        })
        .collect();
    rng.shuffle(&mut out);
    out
}

/// Changes the rollout of the `pick`th rule (counting every rule of every flag) by 0.001%;
/// returns the environment it is in.
fn nudge_rollout(files: &mut [(String, T)], pick: usize) -> Option<String> {
    let mut rules: Vec<(usize, String, usize)> = Vec::new();
    for (f, (_, root)) in files.iter().enumerate() {
        let T::Tab(entries) = root else { continue };
        let Some((_, T::Tab(envs))) = entries.iter().find(|(k, _)| k == "env") else {
            continue;
        };
        for (env, value) in envs {
            let T::Tab(env_entries) = value else { continue };
            if let Some((_, T::Arr(list, _))) = env_entries.iter().find(|(k, _)| k == "rules") {
                rules.extend((0..list.len()).map(|r| (f, env.clone(), r)));
            }
        }
    }
    if rules.is_empty() {
        return None;
    }
    let (f, env, r) = rules[pick % rules.len()].clone();
    let T::Tab(entries) = &mut files[f].1 else {
        unreachable!()
    };
    let T::Tab(envs) = &mut entries.iter_mut().find(|(k, _)| k == "env").unwrap().1 else {
        unreachable!()
    };
    let T::Tab(env_entries) = &mut envs.iter_mut().find(|(k, _)| *k == env).unwrap().1 else {
        unreachable!()
    };
    let T::Arr(list, _) = &mut env_entries
        .iter_mut()
        .find(|(k, _)| k == "rules")
        .unwrap()
        .1
    else {
        unreachable!()
    };
    let T::Tab(rule) = &mut list[r] else {
        unreachable!()
    };
    let current = rule
        .iter()
        .find_map(|(k, v)| match (k.as_str(), v) {
            ("rollout", T::Pct(p)) => Some(*p),
            _ => None,
        })
        .unwrap_or(100_000);
    // Down, so that no rule comes to match every unit and hide the ones after it.
    let nudged = if current > 0 { current - 1 } else { 1 };
    rule.retain(|(k, _)| k != "rollout");
    rule.push(("rollout".to_owned(), T::Pct(nudged)));
    Some(env)
}

fn show(files: &[(String, Vec<u8>)]) -> String {
    files
        .iter()
        .map(|(path, text)| format!("--- {path}\n{}", String::from_utf8_lossy(text)))
        .collect::<Vec<_>>()
        .join("\n")
}

proptest! {
    #![proptest_config(config(128))]

    /// Reformatting, reordering keys, tables and files, comments, line endings and writing
    /// defaults out never change a bundle; changing a rollout by 0.001% does.
    #[test]
    fn presentation_never_changes_a_bundle(
        raw in raw_repo(),
        seeds in any::<[u64; 4]>(),
        pick in any::<usize>(),
    ) {
        let mut model_a = Resolver { raw: &raw, defaults: Rng(seeds[0]) }.files();
        let model_b = Resolver { raw: &raw, defaults: Rng(seeds[1]) }.files();
        let files_a = render(&model_a, seeds[2], false);
        let files_b = render(&model_b, seeds[3], false);
        let a = build_files(&files_a);
        prop_assert!(a.is_ok(), "{}\n{}", a.unwrap_err(), show(&files_a));
        let b = build_files(&files_b);
        prop_assert!(b.is_ok(), "{}\n{}", b.unwrap_err(), show(&files_b));
        let (a, b) = (hashes(&a.unwrap()), hashes(&b.unwrap()));
        prop_assert_eq!(a.len(), raw.environments.len());
        for (env, (bytes, hash)) in &a {
            let (other_bytes, other_hash) = &b[env];
            prop_assert_eq!(
                bytes, other_bytes,
                "environment {}\n=== A\n{}\n=== B\n{}", env, show(&files_a), show(&files_b)
            );
            prop_assert_eq!(hash, other_hash);
        }

        // A real change: one rollout, 0.001% lower.
        let Some(changed_env) = nudge_rollout(&mut model_a, pick) else { return Ok(()) };
        let files_c = render(&model_a, seeds[2] ^ seeds[3], false);
        let c = build_files(&files_c);
        prop_assert!(c.is_ok(), "{}\n{}", c.unwrap_err(), show(&files_c));
        let c = hashes(&c.unwrap());
        for (env, (bytes, hash)) in &a {
            if *env == changed_env {
                prop_assert_ne!(hash, &c[env].1, "a changed rollout left {} as it was", env);
                prop_assert_ne!(bytes, &c[env].0);
            } else {
                prop_assert_eq!(hash, &c[env].1, "a rollout in {} changed {}", changed_env, env);
            }
        }
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// What TOML 1.1 added (docs/format.md: "TOML (1.0, with the additions of 1.1)") is
    /// presentation too: the same repository written with it builds the same bundles.
    #[test]
    fn toml_1_1_spellings_never_change_a_bundle(
        raw in raw_repo(),
        seeds in any::<[u64; 3]>(),
    ) {
        let model = Resolver { raw: &raw, defaults: Rng(seeds[0]) }.files();
        let files_a = render(&model, seeds[1], false);
        let files_b = render(&model, seeds[2], true);
        let a = build_files(&files_a);
        prop_assert!(a.is_ok(), "{}\n{}", a.unwrap_err(), show(&files_a));
        let b = build_files(&files_b);
        prop_assert!(b.is_ok(), "TOML 1.0 builds, TOML 1.1 does not: {}\n{}", b.unwrap_err(), show(&files_b));
        let (a, b) = (hashes(&a.unwrap()), hashes(&b.unwrap()));
        for (env, (bytes, hash)) in &a {
            let (other_bytes, other_hash) = &b[env];
            prop_assert_eq!(
                bytes, other_bytes,
                "environment {}\n=== TOML 1.0\n{}\n=== TOML 1.1\n{}", env, show(&files_a), show(&files_b)
            );
            prop_assert_eq!(hash, other_hash);
        }
    }
}

/// TOML 1.1 lets a date-time leave out zero seconds: `09:00Z` is `09:00:00Z`.
#[test]
fn date_times_without_seconds_are_the_same_instants() {
    let project = "name = \"acme\"\nenvironments = [\"production\"]\n\n[attributes]\nsignup_at = { type = \"datetime\" }\n";
    let flag = |time: &str| {
        format!(
            "description = \"d\"\nowners = [\"alice\"]\nkind = \"ops\"\n\n[env.production]\nschedule = [{{ at = 2027-01-01T09:00{time}Z, serve = \"on\" }}]\n\n[[env.production.rules]]\nname = \"new\"\nif = [{{ attr = \"signup_at\", op = \"after\", value = 2026-12-01T00:00{time}+01:00 }}]\nrollout = 5\nserve = \"on\"\nschedule = [{{ at = 2027-02-01T09:30{time}-05:00, rollout = 50 }}]\n"
        )
    };
    let build = |time: &str| {
        let files = vec![
            ("flagstone.toml".to_owned(), project.as_bytes().to_vec()),
            ("flags/f.toml".to_owned(), flag(time).into_bytes()),
        ];
        build_files(&files).unwrap_or_else(|e| panic!("{e}\n--- flags/f.toml\n{}", flag(time)))
    };
    let with_seconds = hashes(&build(":00"));
    let without_seconds = hashes(&build(""));
    assert_eq!(with_seconds, without_seconds);
}

// ---------------------------------------------------------------------------------------------
// 5: flags.example, reordered and with CRLF line endings
// ---------------------------------------------------------------------------------------------

/// The bracket depth at the start of each line: 0 outside arrays and inline tables.
fn depths(text: &str) -> Vec<i32> {
    #[derive(PartialEq)]
    enum State {
        Normal,
        Comment,
        Basic,
        Literal,
        MultiBasic,
        MultiLiteral,
    }
    let chars: Vec<char> = text.chars().collect();
    let ahead = |i: usize, s: &str| {
        s.chars()
            .enumerate()
            .all(|(j, c)| chars.get(i + j) == Some(&c))
    };
    let (mut depth, mut state, mut out, mut i) = (0, State::Normal, vec![0], 0);
    while i < chars.len() {
        let c = chars[i];
        match state {
            State::Normal => match c {
                '#' => state = State::Comment,
                '"' if ahead(i, "\"\"\"") => {
                    state = State::MultiBasic;
                    i += 2;
                }
                '"' => state = State::Basic,
                '\'' if ahead(i, "'''") => {
                    state = State::MultiLiteral;
                    i += 2;
                }
                '\'' => state = State::Literal,
                '[' | '{' => depth += 1,
                ']' | '}' => depth -= 1,
                _ => {}
            },
            State::Comment if c == '\n' => state = State::Normal,
            State::Basic | State::MultiBasic if c == '\\' => i += 1,
            State::Basic if c == '"' => state = State::Normal,
            State::Literal if c == '\'' => state = State::Normal,
            State::MultiBasic if ahead(i, "\"\"\"") => {
                state = State::Normal;
                i += 2;
            }
            State::MultiLiteral if ahead(i, "'''") => {
                state = State::Normal;
                i += 2;
            }
            _ => {}
        }
        if chars.get(i) == Some(&'\n') {
            out.push(depth);
        }
        i += 1;
    }
    out
}

/// Reorders a TOML file without changing its meaning: the key/value pairs of every table in
/// reverse order (each with the comments above it), and the tables grouped by their first two
/// key parts (`[env.production]` with its `[[env.production.rules]]`) in reverse order.
fn reorder(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let depths = depths(text);
    assert_eq!(lines.len(), depths.len());
    /// A line and its depth.
    type Line<'t> = (&'t str, i32);
    // (group, header, body)
    let mut sections: Vec<(String, Option<&str>, Vec<Line>)> =
        vec![(String::new(), None, Vec::new())];
    for (line, depth) in lines.iter().zip(&depths) {
        let trimmed = line.trim_start();
        if *depth == 0 && trimmed.starts_with('[') {
            let path: Vec<&str> = trimmed
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap()
                .split('.')
                .map(str::trim)
                .collect();
            let group = path[..path.len().min(2)].join(".");
            sections.push((group, Some(line), Vec::new()));
        } else {
            sections.last_mut().unwrap().2.push((line, *depth));
        }
    }
    let reversed_body = |body: &[Line]| -> Vec<String> {
        let mut entries: Vec<Vec<&str>> = Vec::new();
        let mut pending: Vec<&str> = Vec::new();
        for (line, depth) in body {
            let trimmed = line.trim();
            if *depth > 0 {
                entries.last_mut().expect("a value continues").push(line);
            } else if trimmed.is_empty() || trimmed.starts_with('#') {
                pending.push(line);
            } else {
                let mut entry = std::mem::take(&mut pending);
                entry.push(line);
                entries.push(entry);
            }
        }
        entries.reverse();
        entries
            .into_iter()
            .flatten()
            .chain(pending)
            .map(str::to_owned)
            .collect()
    };
    let root = sections.remove(0);
    let mut groups: Vec<Vec<String>> = Vec::new();
    let mut last_group = None;
    for (group, header, body) in &sections {
        if last_group != Some(group) {
            groups.push(Vec::new());
            last_group = Some(group);
        }
        let out = groups.last_mut().unwrap();
        out.push(header.unwrap().to_owned());
        out.extend(reversed_body(body));
    }
    groups.reverse();
    let mut out = reversed_body(&root.2);
    out.extend(groups.into_iter().flatten());
    out.join("\n")
}

fn files_below(dir: &Path, base: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_below(&path, base, out);
        } else {
            let relative = path
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((relative, std::fs::read(&path).unwrap()));
        }
    }
}

#[test]
fn the_example_builds_the_same_reordered_and_with_crlf() {
    let example = root().join("flags.example");
    let mut files = Vec::new();
    files_below(&example, &example, &mut files);
    files.sort();
    let mut changed = 0;
    let mut toml_files = 0;
    let rewritten: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(path, bytes)| {
            if !path.ends_with(".toml") {
                return (path.clone(), bytes.clone());
            }
            toml_files += 1;
            let text = String::from_utf8(bytes.clone()).unwrap();
            assert!(!text.contains('\r'), "{path} already has CRLF line endings");
            let reordered = reorder(&text);
            if reordered.trim() != text.trim() {
                changed += 1;
            }
            (path.clone(), reordered.replace('\n', "\r\n").into_bytes())
        })
        .collect();
    // Every file but the one-entry ones is reordered.
    assert!(
        changed >= toml_files - 2,
        "only {changed} of {toml_files} files were reordered"
    );

    let original = hashes(&build_dir(&example).unwrap());
    // Written in the reverse order too.
    let mut rewritten = rewritten;
    rewritten.reverse();
    let copy = build_files(&rewritten).unwrap_or_else(|e| {
        panic!(
            "the rewritten example does not build: {e}\n{}",
            show(&rewritten)
        )
    });
    let copy = hashes(&copy);
    assert_eq!(original.len(), 3);
    assert_eq!(
        original.keys().collect::<Vec<_>>(),
        copy.keys().collect::<Vec<_>>()
    );
    for (env, (bytes, hash)) in &original {
        assert_eq!(bytes, &copy[env].0, "environment {env}");
        assert_eq!(hash, &copy[env].1, "environment {env}");
    }
}
