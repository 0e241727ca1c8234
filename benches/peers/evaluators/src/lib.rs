//! The three scenarios of the evaluation benchmark, built for each engine over the same
//! [`FLAGS`] flags, and [`CONTEXTS`] varied contexts in each engine's own type, with a check
//! that the engines agree. Shared by `benches/compare.rs` (timing), `benches/allocs.rs`
//! (allocation counts) and `examples/profile.rs` (a loop for callgrind).
//!
//! Evaluation `i` is of flag `i % FLAGS` for context `i % CONTEXTS`: the two cycles are of
//! coprime lengths, so every pair comes up, and each evaluation finds its flag by key and
//! reads a context other than the last one's, as in flagstone's own `benches/eval.rs`.
//!
//! (a) boolean flags with no rules, on: every context gets `on`.
//! (b) one rule `country in [US, CA]` (a quarter of the contexts), then a 50/50 split on the
//!     unit; the other contexts fall through to `off`.
//! (c) ten rules of three conditions (`plan in [all four plans]`, `seats > r`,
//!     `app_version >= v`): the first two hold for every context, and rules 0–8 want a
//!     version no context has, so every evaluation runs all 30 conditions. Rule 9's version
//!     (2.0.0, 2.3.0 or 3.0.0 by flag) decides between `on` and the fallthrough `off`.

use std::collections::HashMap;
use std::hint::black_box;

use serde_json::{Value, json};

/// Flags per scenario and engine, and contexts they are evaluated for (as `benches/eval.rs`).
pub const FLAGS: usize = 1_000;
pub const CONTEXTS: usize = 1_024;

/// How many of the first evaluations every engine must agree on before anything is timed.
pub const AGREEMENT: usize = 5_000;

/// Milliseconds since the epoch passed to flagstone (its flags here have no schedules).
pub const NOW: i64 = 1_780_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    A,
    B,
    C,
}

impl Scenario {
    pub const ALL: [Scenario; 3] = [Scenario::A, Scenario::B, Scenario::C];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::A => "a",
            Scenario::B => "b",
            Scenario::C => "c",
        }
    }

    pub fn parse(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// Flag `f`'s key: the same in every engine, of a realistic length, valid in all three.
pub fn key(f: usize) -> String {
    format!("team-{:02}-feature-{f:04}", f % 17)
}

fn keys() -> Vec<String> {
    (0..FLAGS).map(key).collect()
}

/// The (flag, context) of evaluation `i`.
#[inline(always)]
pub fn pair(i: usize) -> (usize, usize) {
    (i % FLAGS, i % CONTEXTS)
}

const PLANS: [&str; 4] = ["free", "pro", "team", "enterprise"];

/// One context's attributes, before each engine's own type is built from them.
pub struct Attributes {
    pub unit: String,
    pub country: &'static str,
    pub plan: &'static str,
    pub seats: u32,
    pub app_version: &'static str,
}

/// [`CONTEXTS`] contexts: distinct units, and the countries, plans and versions of
/// `benches/eval.rs`; seats are 10–129, so that every `seats > r` of (c) holds.
pub fn contexts() -> Vec<Attributes> {
    let countries = ["US", "CA", "DE", "FR", "GB", "JP", "BR", "IN"];
    let versions = ["1.9.3", "2.0.0", "2.3.0", "3.1.4", "2.3.0-rc.1"];
    (0..CONTEXTS)
        .map(|i| Attributes {
            unit: format!("user-{:06}", i * 7_919 % 1_000_000),
            country: countries[i % countries.len()],
            plan: PLANS[i / 8 % PLANS.len()],
            seats: 10 + (i * 13 % 120) as u32,
            app_version: versions[i / 3 % versions.len()],
        })
        .collect()
}

/// Rule `r` of flag `f` in (c): the plans of its `in` (all four, rotated so that the
/// context's plan is found at every position), its seat threshold and its minimum version.
fn c_rule(f: usize, r: usize) -> (Vec<&'static str>, u32, String) {
    let plans = (0..PLANS.len())
        .map(|p| PLANS[(p + f + r) % PLANS.len()])
        .collect();
    let version = if r < 9 {
        format!("9.{r}.0") // no context has it: the rule fails on its last condition
    } else {
        ["2.0.0", "2.3.0", "3.0.0"][f % 3].to_owned()
    };
    (plans, r as u32, version)
}

/// What an engine did with one evaluation, for the agreement check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// A rule (an Unleash strategy) matched.
    pub matched: bool,
    /// The `on` variant (`true`, an enabled toggle) was served.
    pub on: bool,
}

/// One engine, its flags of one scenario, and the contexts in its own type.
pub struct Setup<E, C> {
    pub scenario: Scenario,
    pub engine: E,
    pub keys: Vec<String>,
    pub contexts: Vec<C>,
}

// ---------------------------------------------------------------------------------------
// flagstone
// ---------------------------------------------------------------------------------------

pub mod flagstone_engine {
    use super::*;
    use flagstone::eval::{Evaluator, Reason};

    pub type FlagstoneSetup = Setup<Evaluator, Value>;

    fn rule(conditions: Value, serve: Value) -> Value {
        json!({"name": "r", "conditions": conditions, "rollout": 100_000, "serve": serve, "schedule": []})
    }

    pub fn flag_json(scenario: Scenario, f: usize) -> Value {
        let (fallthrough, rules) = match scenario {
            Scenario::A => ("on", json!([])),
            Scenario::B => (
                "off",
                json!([rule(
                    json!([{"attr": "country", "op": "in", "values": ["US", "CA"]}]),
                    json!({"split": [{"variant": "off", "weight": 50_000},
                                     {"variant": "on", "weight": 50_000}]}),
                )]),
            ),
            Scenario::C => (
                "off",
                (0..10)
                    .map(|r| {
                        let (plans, seats, version) = c_rule(f, r);
                        rule(
                            json!([
                                {"attr": "plan", "op": "in", "values": plans},
                                {"attr": "seats", "op": "gt", "values": [seats]},
                                {"attr": "app_version", "op": "semver_gte", "values": [version]},
                            ]),
                            json!({"variant": "on"}),
                        )
                    })
                    .collect(),
            ),
        };
        json!({
            "variants": {"off": false, "on": true}, "enabled": true, "off_variant": "off",
            "fallthrough": fallthrough, "bucket_by": "targeting_key", "salt": key(f),
            "prerequisites": [], "schedule": [], "rules": rules,
        })
    }

    /// The scenario's bundle, in flagstone's resolved model (as `flagstone build` makes it).
    pub fn bundle(scenario: Scenario) -> flagstone::bundle::Bundle {
        let flags: serde_json::Map<String, Value> = (0..FLAGS)
            .map(|f| (key(f), flag_json(scenario, f)))
            .collect();
        serde_json::from_value(json!({
            "format": flagstone::bundle::FORMAT, "project": "bench", "environment": "production",
            "attributes": {"country": "string", "plan": "string", "seats": "number", "app_version": "semver"},
            "flags": flags, "segments": {},
        }))
        .expect("a valid bundle")
    }

    pub fn context(a: &Attributes) -> Value {
        json!({
            "targeting_key": a.unit, "country": a.country, "plan": a.plan,
            "seats": a.seats, "app_version": a.app_version,
        })
    }

    pub fn setup(scenario: Scenario) -> FlagstoneSetup {
        Setup {
            scenario,
            engine: Evaluator::from_bundle(bundle(scenario)).expect("the bundle compiles"),
            keys: keys(),
            contexts: contexts().iter().map(context).collect(),
        }
    }

    /// Evaluation `i`, as timed.
    #[inline]
    pub fn evaluate(s: &FlagstoneSetup, i: usize) {
        let (f, c) = pair(i);
        evaluate_pair(s, f, c);
    }

    /// Flag `f` for context `c`, as timed.
    #[inline]
    pub fn evaluate_pair(s: &FlagstoneSetup, f: usize, c: usize) {
        let r = s.engine.evaluate(&s.keys[f], &s.contexts[c], NOW);
        black_box(&r);
    }

    pub fn outcome(s: &FlagstoneSetup, i: usize) -> Outcome {
        let (f, c) = pair(i);
        let e = s.engine.evaluate(&s.keys[f], &s.contexts[c], NOW).unwrap();
        if s.scenario == Scenario::C {
            // Every rule before the last fails on its third condition: all 30 conditions ran.
            let x = s.engine.explain(&s.keys[f], &s.contexts[c], NOW).unwrap();
            assert!(x.trace[..9].iter().all(|t| t.failed_condition == Some(2)));
            assert_eq!(x.trace.len(), 10);
        }
        Outcome {
            matched: matches!(e.reason, Reason::Rule { .. }),
            on: e.variant == "on",
        }
    }
}

// ---------------------------------------------------------------------------------------
// Unleash: unleash-yggdrasil
// ---------------------------------------------------------------------------------------

pub mod yggdrasil_engine {
    use super::*;
    use unleash_yggdrasil::{ClientFeatures, Context, EngineState};

    pub type YggdrasilSetup = Setup<EngineState, Context>;

    fn strategy(constraints: Value) -> Value {
        json!({"name": "default", "parameters": {}, "constraints": constraints})
    }

    pub fn feature_json(scenario: Scenario, f: usize) -> Value {
        let strategies = match scenario {
            // Unleash's "on for everyone": the standard strategy with no constraints.
            Scenario::A => json!([strategy(json!([]))]),
            // One strategy with the constraint; its variants split 50/50 (Unleash weights sum
            // to 1000), sticky on the default stickiness, the user id.
            Scenario::B => {
                let mut s = strategy(json!([
                    {"contextName": "country", "operator": "IN", "values": ["US", "CA"]}
                ]));
                s["variants"] = json!([
                    {"name": "off", "weight": 500, "stickiness": "default"},
                    {"name": "on", "weight": 500, "stickiness": "default"},
                ]);
                json!([s])
            }
            // Ten strategies, OR-ed; the constraints within one are AND-ed.
            Scenario::C => (0..10)
                .map(|r| {
                    let (plans, seats, version) = c_rule(f, r);
                    strategy(json!([
                        {"contextName": "plan", "operator": "IN", "values": plans},
                        {"contextName": "seats", "operator": "NUM_GT", "value": seats.to_string()},
                        {"contextName": "app_version", "operator": "SEMVER_GTE", "value": version},
                    ]))
                })
                .collect(),
        };
        json!({"name": key(f), "enabled": true, "strategies": strategies})
    }

    /// The scenario's client features payload, as an Unleash server serves it.
    pub fn features_json(scenario: Scenario) -> Value {
        let features: Vec<Value> = (0..FLAGS).map(|f| feature_json(scenario, f)).collect();
        json!({"version": 2, "features": features})
    }

    /// Unleash contexts hold custom properties as strings.
    pub fn context(a: &Attributes) -> Context {
        let properties: HashMap<String, String> = [
            ("country", a.country.to_owned()),
            ("plan", a.plan.to_owned()),
            ("seats", a.seats.to_string()),
            ("app_version", a.app_version.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Context {
            user_id: Some(a.unit.clone()),
            session_id: None,
            environment: None,
            app_name: None,
            current_time: None,
            remote_address: None,
            properties: Some(properties),
        }
    }

    pub fn setup(scenario: Scenario) -> YggdrasilSetup {
        let features: ClientFeatures =
            serde_json::from_value(features_json(scenario)).expect("valid client features");
        let engine = EngineState::default();
        assert!(
            engine.apply_client_features(features).is_none(),
            "compile warnings"
        );
        Setup {
            scenario,
            engine,
            keys: keys(),
            contexts: contexts().iter().map(context).collect(),
        }
    }

    /// Evaluation `i` through Unleash's boolean API, as timed.
    #[inline]
    pub fn is_enabled(s: &YggdrasilSetup, i: usize) {
        let (f, c) = pair(i);
        let r = s.engine.is_enabled(&s.keys[f], &s.contexts[c], &None);
        black_box(&r);
    }

    /// Evaluation `i` through the variant API (an owned variant), as timed.
    #[inline]
    pub fn get_variant(s: &YggdrasilSetup, i: usize) {
        let (f, c) = pair(i);
        let r = s.engine.get_variant(&s.keys[f], &s.contexts[c], &None);
        black_box(&r);
    }

    pub fn outcome(s: &YggdrasilSetup, i: usize) -> Outcome {
        let (f, c) = pair(i);
        let (key, ctx) = (&s.keys[f], &s.contexts[c]);
        let enabled = s.engine.is_enabled(key, ctx, &None);
        let variant = s.engine.get_variant(key, ctx, &None);
        assert_eq!(variant.feature_enabled, enabled);
        Outcome {
            matched: enabled,
            on: match s.scenario {
                Scenario::B => variant.enabled && variant.name == "on",
                Scenario::A | Scenario::C => enabled,
            },
        }
    }
}

// ---------------------------------------------------------------------------------------
// LaunchDarkly: launchdarkly-server-sdk-evaluation
// ---------------------------------------------------------------------------------------

pub mod launchdarkly_engine {
    use super::*;
    use launchdarkly_server_sdk_evaluation::{
        AttributeValue, Context, ContextBuilder, Flag, Reason, Segment, Store,
    };

    pub type LaunchDarklySetup = Setup<MemoryStore, Context>;

    /// The SDK's in-memory store, reduced to what evaluation needs: flags by key. The
    /// evaluator takes the flag itself; the benchmark looks it up by key first, as the SDK
    /// does, so all three engines pay a lookup.
    pub struct MemoryStore {
        pub flags: HashMap<String, Flag>,
    }

    impl Store for MemoryStore {
        fn flag(&self, flag_key: &str) -> Option<Flag> {
            self.flags.get(flag_key).cloned()
        }
        fn segment(&self, _segment_key: &str) -> Option<Segment> {
            None
        }
    }

    fn clause(attr: &str, op: &str, values: Value, negate: bool) -> Value {
        json!({"contextKind": "user", "attribute": attr, "op": op, "values": values, "negate": negate})
    }

    pub fn flag_json(scenario: Scenario, f: usize) -> Value {
        let (fallthrough, rules) = match scenario {
            Scenario::A => (1, json!([])),
            Scenario::B => (
                0,
                json!([{
                    "id": "r", "trackEvents": false,
                    "clauses": [clause("country", "in", json!(["US", "CA"]), false)],
                    "rollout": {"variations": [
                        {"variation": 0, "weight": 50_000},
                        {"variation": 1, "weight": 50_000},
                    ]},
                }]),
            ),
            Scenario::C => (
                0,
                (0..10)
                    .map(|r| {
                        let (plans, seats, version) = c_rule(f, r);
                        json!({
                            "id": format!("r{r}"), "variation": 1, "trackEvents": false,
                            "clauses": [
                                clause("plan", "in", json!(plans), false),
                                clause("seats", "greaterThan", json!([seats]), false),
                                // LaunchDarkly has no semver >=: "not semVerLessThan".
                                clause("app_version", "semVerLessThan", json!([version]), true),
                            ],
                        })
                    })
                    .collect(),
            ),
        };
        json!({
            "key": key(f), "version": 1, "on": true, "targets": [], "contextTargets": [],
            "prerequisites": [], "rules": rules, "fallthrough": {"variation": fallthrough},
            "offVariation": 0, "variations": [false, true], "salt": key(f),
            "clientSideAvailability": {"usingMobileKey": false, "usingEnvironmentId": false},
        })
    }

    /// The scenario's flags, as the SDK's data set holds them (`{"flags": {...}}`).
    pub fn flags_json(scenario: Scenario) -> Value {
        let flags: serde_json::Map<String, Value> = (0..FLAGS)
            .map(|f| (key(f), flag_json(scenario, f)))
            .collect();
        json!({"flags": flags, "segments": {}})
    }

    pub fn context(a: &Attributes) -> Context {
        ContextBuilder::new(a.unit.as_str())
            .set_string("country", a.country)
            .set_string("plan", a.plan)
            .set_value("seats", AttributeValue::Number(f64::from(a.seats)))
            .set_string("app_version", a.app_version)
            .build()
            .expect("a valid context")
    }

    pub fn setup(scenario: Scenario) -> LaunchDarklySetup {
        let data = flags_json(scenario);
        let flags: HashMap<String, Flag> =
            serde_json::from_value(data["flags"].clone()).expect("valid flags");
        Setup {
            scenario,
            engine: MemoryStore { flags },
            keys: keys(),
            contexts: contexts().iter().map(context).collect(),
        }
    }

    /// Evaluation `i`, as timed: the lookup by key, then the evaluation.
    #[inline]
    pub fn evaluate(s: &LaunchDarklySetup, i: usize) {
        let (f, c) = pair(i);
        let store = &s.engine;
        if let Some(flag) = store.flags.get(&s.keys[f]) {
            let r = launchdarkly_server_sdk_evaluation::evaluate(store, flag, &s.contexts[c], None);
            black_box(&r);
        }
    }

    pub fn outcome(s: &LaunchDarklySetup, i: usize) -> Outcome {
        let (f, c) = pair(i);
        let flag = &s.engine.flags[&s.keys[f]];
        let detail =
            launchdarkly_server_sdk_evaluation::evaluate(&s.engine, flag, &s.contexts[c], None);
        match detail.reason {
            Reason::RuleMatch { .. } | Reason::Fallthrough { .. } => {}
            other => panic!("{}: {other:?}", s.keys[f]),
        }
        Outcome {
            matched: matches!(detail.reason, Reason::RuleMatch { .. }),
            on: detail.variation_index == Some(1),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Agreement
// ---------------------------------------------------------------------------------------

/// Checks that the three engines agree on the first [`AGREEMENT`] evaluations of `scenario`:
/// the variant served in (a) and (c); in (b), whether the rule matched (each engine hashes
/// units its own way, so the split's side may differ). Panics on any disagreement, and when a
/// scenario's evaluations do not vary as intended. Returns a one-line summary.
pub fn check_agreement(scenario: Scenario) -> String {
    let fs = flagstone_engine::setup(scenario);
    let yg = yggdrasil_engine::setup(scenario);
    let ld = launchdarkly_engine::setup(scenario);
    let (mut matched, mut on) = (0, [0usize; 3]);
    for i in 0..AGREEMENT {
        let outcomes = [
            flagstone_engine::outcome(&fs, i),
            yggdrasil_engine::outcome(&yg, i),
            launchdarkly_engine::outcome(&ld, i),
        ];
        let same = |o: &Outcome| match scenario {
            Scenario::B => o.matched == outcomes[0].matched,
            Scenario::A | Scenario::C => o.on == outcomes[0].on,
        };
        let (f, c) = pair(i);
        assert!(
            outcomes.iter().all(same),
            "({}) the engines disagree on flag {} for context {c}: \
             flagstone, yggdrasil, LaunchDarkly = {outcomes:?}",
            scenario.name(),
            key(f)
        );
        // Only a matched rule serves `on` in (b) and (c).
        if scenario != Scenario::A {
            assert!(outcomes.iter().all(|o| o.on <= o.matched), "{outcomes:?}");
        }
        matched += usize::from(outcomes[0].matched || scenario == Scenario::A);
        for (n, o) in on.iter_mut().zip(outcomes) {
            *n += usize::from(o.on);
        }
    }
    match scenario {
        Scenario::A => assert_eq!(on, [AGREEMENT; 3]),
        Scenario::B => {
            for n in on {
                let share = n as f64 / matched as f64;
                assert!(
                    (0.4..0.6).contains(&share),
                    "(b) split serves on to {share}"
                );
            }
        }
        Scenario::C => assert!(0 < matched && matched < AGREEMENT),
    }
    format!(
        "({}) the 3 engines agree on the first {AGREEMENT} evaluations: {matched} matched a \
         rule; `on` served by flagstone / yggdrasil / LaunchDarkly: {} / {} / {}",
        scenario.name(),
        on[0],
        on[1],
        on[2]
    )
}

// ---------------------------------------------------------------------------------------
// Loading: the same 10,000 flags in every engine's format
// ---------------------------------------------------------------------------------------

/// The flags of `benches/support/synth.rs` (and of `benches/peers/featurevisor/generate.mjs`),
/// production environment, in each engine's own format: `flag-NNNNN` has a rule for
/// segment-((f + 2) mod 50), a rule `country in [US, CA] and app_version >= 2.(f mod 10).0`
/// and a rollout of (7f + 26) mod 101 percent, each serving `on`; otherwise `off`. Segment
/// `segment-SS` holds `unit-S` and `unit-(S+1000)`, and everyone with `seats >= 10 S`.
pub mod synth {
    use super::*;

    pub const ENVIRONMENT: usize = 2; // production
    pub const SEGMENTS: usize = 50;

    pub fn key(f: usize) -> String {
        format!("flag-{f:05}")
    }

    fn segment_of(f: usize) -> usize {
        (f + ENVIRONMENT) % SEGMENTS
    }

    fn version_of(f: usize) -> String {
        format!("2.{}.0", f % 10)
    }

    fn rollout_of(f: usize) -> u32 {
        ((f * 7 + ENVIRONMENT * 13) % 101) as u32
    }

    fn included(s: usize) -> [String; 2] {
        [format!("unit-{s}"), format!("unit-{}", s + 1000)]
    }

    /// A context every engine must serve `on` for flag `f`: a US user on 2.9.0 with one seat,
    /// outside every segment.
    pub fn us_user() -> (&'static str, &'static str, &'static str, u32) {
        ("unit-x", "US", "2.9.0", 1)
    }

    /// flagstone: the canonical bundle bytes and their content hash.
    pub fn flagstone(flags: usize) -> (Vec<u8>, String) {
        let bytes = logical(flags).to_canonical_json();
        let hash = flagstone::bundle::content_hash(&bytes);
        (bytes, hash)
    }

    /// flagstone's resolved model of the flags, as `flagstone build` makes it.
    pub fn logical(flags: usize) -> flagstone::bundle::Bundle {
        let mut all = serde_json::Map::new();
        for f in 0..flags {
            let rule = |name: &str, conditions: Value, rollout: u32| {
                json!({"name": name, "conditions": conditions, "rollout": rollout,
                       "schedule": [], "serve": {"variant": "on"}})
            };
            all.insert(
                key(f),
                json!({
                    "bucket_by": "targeting_key", "enabled": true, "fallthrough": "off",
                    "off_variant": "off", "prerequisites": [], "salt": key(f), "schedule": [],
                    "variants": {"off": false, "on": true},
                    "rules": [
                        rule("segment", json!([{"segment": format!("segment-{:02}", segment_of(f))}]), 100_000),
                        rule("countries", json!([
                            {"attr": "country", "op": "in", "values": ["CA", "US"]},
                            {"attr": "app_version", "op": "semver_gte", "values": [version_of(f)]},
                        ]), 100_000),
                        rule("gradual", json!([]), rollout_of(f) * 1000),
                    ],
                }),
            );
        }
        let segments: serde_json::Map<String, Value> = (0..SEGMENTS)
            .map(|s| {
                let mut include = included(s).to_vec();
                include.sort();
                (
                    format!("segment-{s:02}"),
                    json!({"include": include, "exclude": [], "conditions": [
                        {"attr": "seats", "op": "gte", "values": [(s * 10) as f64]}
                    ]}),
                )
            })
            .collect();
        serde_json::from_value(json!({
            "format": flagstone::bundle::FORMAT, "project": "synthetic", "environment": "production",
            "attributes": {"country": "string", "plan": "string", "app_version": "semver",
                           "seats": "number", "email": "string", "org.id": "string"},
            "flags": all, "segments": segments,
        }))
        .expect("a valid bundle")
    }

    /// LaunchDarkly: the SDK's data set, `{"flags": {...}, "segments": {...}}`.
    pub fn launchdarkly(flags: usize) -> Vec<u8> {
        let clause = |attr: &str, op: &str, values: Value| json!({"contextKind": "user", "attribute": attr, "op": op, "values": values, "negate": false});
        let all: serde_json::Map<String, Value> = (0..flags)
            .map(|f| {
                let rollout = rollout_of(f) * 1000;
                (
                    key(f),
                    json!({
                        "key": key(f), "version": 1, "on": true, "targets": [], "contextTargets": [],
                        "prerequisites": [], "salt": key(f), "offVariation": 0,
                        "fallthrough": {"variation": 0}, "variations": [false, true],
                        "clientSideAvailability": {"usingMobileKey": false, "usingEnvironmentId": false},
                        "rules": [
                            {"id": "segment", "variation": 1, "trackEvents": false, "clauses": [
                                clause("", "segmentMatch", json!([format!("segment-{:02}", segment_of(f))]))]},
                            {"id": "countries", "variation": 1, "trackEvents": false, "clauses": [
                                clause("country", "in", json!(["US", "CA"])),
                                // LaunchDarkly has no semver >=: "not semVerLessThan".
                                {"contextKind": "user", "attribute": "app_version", "op": "semVerLessThan",
                                 "values": [version_of(f)], "negate": true}]},
                            {"id": "gradual", "trackEvents": false, "clauses": [],
                             "rollout": {"variations": [
                                 {"variation": 1, "weight": rollout},
                                 {"variation": 0, "weight": 100_000 - rollout}]}},
                        ],
                    }),
                )
            })
            .collect();
        let segments: serde_json::Map<String, Value> = (0..SEGMENTS)
            .map(|s| {
                let name = format!("segment-{s:02}");
                (
                    name.clone(),
                    json!({"key": name, "version": 1, "salt": name, "included": included(s),
                           "excluded": [], "includedContexts": [], "excludedContexts": [],
                           "rules": [{"id": "seats", "clauses": [
                               clause("seats", "greaterThanOrEqual", json!([s * 10]))]}]}),
                )
            })
            .collect();
        serde_json::to_vec(&json!({"flags": all, "segments": segments})).expect("serializes")
    }

    /// Unleash: the client features payload. A segment's "included, or seats at least" is two
    /// strategies, since an Unleash segment's constraints all have to hold.
    pub fn unleash(flags: usize) -> Vec<u8> {
        let features: Vec<Value> = (0..flags)
            .map(|f| {
                let s = segment_of(f);
                json!({
                    "name": key(f), "enabled": true, "strategies": [
                        {"name": "default", "parameters": {}, "constraints": [
                            {"contextName": "userId", "operator": "IN", "values": included(s)}]},
                        {"name": "default", "parameters": {}, "constraints": [], "segments": [s + 1]},
                        {"name": "default", "parameters": {}, "constraints": [
                            {"contextName": "country", "operator": "IN", "values": ["US", "CA"]},
                            {"contextName": "app_version", "operator": "SEMVER_GTE", "value": version_of(f)}]},
                        {"name": "flexibleRollout", "constraints": [], "parameters": {
                            "rollout": rollout_of(f).to_string(), "stickiness": "default", "groupId": key(f)}},
                    ],
                })
            })
            .collect();
        let segments: Vec<Value> = (0..SEGMENTS)
            .map(|s| {
                json!({"id": s + 1, "constraints": [
                    {"contextName": "seats", "operator": "NUM_GTE", "value": (s * 10).to_string()}]})
            })
            .collect();
        serde_json::to_vec(&json!({"version": 2, "features": features, "segments": segments}))
            .expect("serializes")
    }
}
