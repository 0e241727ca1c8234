//! The three scenarios, built for each engine, with checks that every engine gives the
//! intended answer. Shared by `benches/compare.rs` (timing) and `benches/allocs.rs`
//! (allocation counts).
//!
//! (a) a boolean flag with no rules: served its default "on" value.
//! (b) one rule `country in [US, CA]` serving a 50/50 split; the context matches.
//! (c) ten rules of three conditions each (string equality, number `>`, semver `>=`), only
//!     the last matching. Two shapes:
//!     - `c` (primary): each of the first nine rules fails on its *last* condition, so all 30
//!       conditions run (the worst case; every operator is exercised ten times);
//!     - `c_early`: each of the first nine rules fails on its *first* condition (string
//!       equality), so 9 + 3 = 12 conditions run.

use std::collections::HashMap;

use serde_json::{Value, json};

/// Milliseconds since the epoch passed to flagstone (its flags here have no schedules).
pub const NOW: i64 = 1_780_000_000_000;

/// The unit every engine evaluates for.
pub const USER: &str = "user-123";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    A,
    B,
    C,
    CEarly,
}

pub const FLAG: &str = "bench-flag";

/// The context attributes, the same for every engine.
pub fn context_json() -> Value {
    json!({
        "targeting_key": USER,
        "country": "US",
        "plan": "enterprise",
        "seats": 40,
        "app_version": "2.3.0",
    })
}

/// Rule `i` of (c): (plan, seats threshold, minimum version), for the shape asked.
fn c_rule(i: usize, early: bool) -> (String, i64, String) {
    let last = i == 9;
    let plan = if early && !last {
        format!("plan-{i}") // fails: the context's plan is "enterprise"
    } else {
        "enterprise".to_owned()
    };
    let seats = 10 + i as i64; // 10..19: 40 is greater than all
    let version = if !early && !last {
        format!("3.{i}.0") // fails: 2.3.0 < 3.i.0
    } else {
        "2.0.0".to_owned()
    };
    (plan, seats, version)
}

// ---------------------------------------------------------------------------------------
// flagstone
// ---------------------------------------------------------------------------------------

pub mod flagstone_engine {
    use super::*;
    use flagstone::eval::{Evaluator, Reason};

    fn flag(rules: Value) -> Value {
        json!({
            "variants": {"off": false, "on": true},
            "enabled": true,
            "off_variant": "off",
            "fallthrough": "off",
            "bucket_by": "targeting_key",
            "salt": FLAG,
            "prerequisites": [],
            "schedule": [],
            "rules": rules,
        })
    }

    pub fn flag_json(scenario: Scenario) -> Value {
        match scenario {
            // No rules: the fallthrough is the served default, "on".
            Scenario::A => {
                let mut f = flag(json!([]));
                f["fallthrough"] = json!("on");
                f
            }
            Scenario::B => flag(json!([{
                "name": "north-america",
                "conditions": [{"attr": "country", "op": "in", "values": ["US", "CA"]}],
                "rollout": 100000,
                "serve": {"split": [
                    {"variant": "off", "weight": 50000},
                    {"variant": "on", "weight": 50000},
                ]},
                "schedule": [],
            }])),
            Scenario::C | Scenario::CEarly => {
                let early = scenario == Scenario::CEarly;
                let rules: Vec<Value> = (0..10)
                    .map(|i| {
                        let (plan, seats, version) = c_rule(i, early);
                        json!({
                            "name": format!("rule-{i}"),
                            "conditions": [
                                {"attr": "plan", "op": "in", "values": [plan]},
                                {"attr": "seats", "op": "gt", "values": [seats]},
                                {"attr": "app_version", "op": "semver_gte", "values": [version]},
                            ],
                            "rollout": 100000,
                            "serve": {"variant": "on"},
                            "schedule": [],
                        })
                    })
                    .collect();
                flag(Value::Array(rules))
            }
        }
    }

    /// A bundle holding the scenario's flag under `FLAG` and `filler` other flags.
    pub fn bundle_json(scenario: Scenario, filler: usize) -> Value {
        let mut flags = serde_json::Map::new();
        flags.insert(FLAG.to_owned(), flag_json(scenario));
        for i in 0..filler {
            let key = format!("team-{}/flag-{i:04}", i % 17);
            let mut f = flag_json(Scenario::B);
            f["salt"] = json!(key);
            flags.insert(key, f);
        }
        json!({
            "format": 2,
            "project": "bench",
            "environment": "production",
            "attributes": {"country": "string", "plan": "string", "seats": "number", "app_version": "semver"},
            "flags": flags,
            "segments": {},
        })
    }

    pub fn setup_with(scenario: Scenario, filler: usize) -> (Evaluator, Value) {
        let bundle: flagstone::bundle::Bundle =
            serde_json::from_value(bundle_json(scenario, filler)).expect("a valid bundle");
        let ev = Evaluator::from_bundle(bundle).expect("the bundle compiles");
        let ctx = context_json();
        check(&ev, &ctx, scenario);
        (ev, ctx)
    }

    pub fn setup(scenario: Scenario) -> (Evaluator, Value) {
        setup_with(scenario, 0)
    }

    fn check(ev: &Evaluator, ctx: &Value, scenario: Scenario) {
        let e = ev.evaluate(FLAG, ctx, NOW).expect("known flag");
        match scenario {
            Scenario::A => {
                assert_eq!(e.reason, Reason::Fallthrough);
                assert_eq!(e.variant, "on");
            }
            Scenario::B => assert!(matches!(e.reason, Reason::Rule { rule_index: 0, .. })),
            Scenario::C | Scenario::CEarly => {
                assert!(
                    matches!(e.reason, Reason::Rule { rule_index: 9, .. }),
                    "{e:?}"
                );
                assert_eq!(e.variant, "on");
            }
        }
    }

    /// (b)'s split over many units: the share served "on" (about a half).
    pub fn b_share_on(ev: &Evaluator) -> f64 {
        let on = (0..10_000)
            .filter(|i| {
                let ctx = json!({"targeting_key": format!("user-{i}"), "country": "CA"});
                ev.evaluate(FLAG, &ctx, NOW).unwrap().variant == "on"
            })
            .count();
        on as f64 / 10_000.0
    }
}

// ---------------------------------------------------------------------------------------
// Unleash: unleash-yggdrasil
// ---------------------------------------------------------------------------------------

pub mod yggdrasil_engine {
    use super::*;
    use unleash_yggdrasil::{ClientFeatures, Context, EngineState};

    pub fn features_json(scenario: Scenario) -> Value {
        let feature = match scenario {
            // Unleash's "on for everyone": the standard strategy with no constraints.
            Scenario::A => json!({
                "name": FLAG, "enabled": true,
                "strategies": [{"name": "default", "parameters": {}, "constraints": []}],
            }),
            // One strategy with the constraint; its strategy variants split 50/50 (Unleash
            // weights sum to 1000) sticky on the default stickiness (userId).
            Scenario::B => json!({
                "name": FLAG, "enabled": true,
                "strategies": [{
                    "name": "default",
                    "parameters": {},
                    "constraints": [
                        {"contextName": "country", "operator": "IN", "values": ["US", "CA"]}
                    ],
                    "variants": [
                        {"name": "off", "weight": 500, "stickiness": "default"},
                        {"name": "on", "weight": 500, "stickiness": "default"},
                    ],
                }],
            }),
            // Ten strategies (OR-ed); constraints within a strategy are AND-ed.
            Scenario::C | Scenario::CEarly => {
                let early = scenario == Scenario::CEarly;
                let strategies: Vec<Value> = (0..10)
                    .map(|i| {
                        let (plan, seats, version) = c_rule(i, early);
                        json!({
                            "name": "default",
                            "parameters": {},
                            "constraints": [
                                {"contextName": "plan", "operator": "IN", "values": [plan]},
                                {"contextName": "seats", "operator": "NUM_GT", "value": seats.to_string()},
                                {"contextName": "app_version", "operator": "SEMVER_GTE", "value": version},
                            ],
                        })
                    })
                    .collect();
                json!({"name": FLAG, "enabled": true, "strategies": strategies})
            }
        };
        json!({"version": 2, "features": [feature]})
    }

    pub fn engine(features: Value) -> EngineState {
        let features: ClientFeatures =
            serde_json::from_value(features).expect("valid client features");
        let engine = EngineState::default();
        let warnings = engine.apply_client_features(features);
        assert!(warnings.is_none(), "compile warnings");
        engine
    }

    /// Unleash contexts hold custom properties as strings.
    pub fn context() -> Context {
        let properties: HashMap<String, String> = [
            ("country", "US"),
            ("plan", "enterprise"),
            ("seats", "40"),
            ("app_version", "2.3.0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        Context {
            user_id: Some(USER.to_owned()),
            session_id: None,
            environment: None,
            app_name: None,
            current_time: None,
            remote_address: None,
            properties: Some(properties),
        }
    }

    pub fn setup(scenario: Scenario) -> (EngineState, Context) {
        let engine = engine(features_json(scenario));
        let ctx = context();
        match scenario {
            Scenario::A => assert!(engine.is_enabled(FLAG, &ctx, &None)),
            Scenario::B => {
                let v = engine.get_variant(FLAG, &ctx, &None);
                assert!(v.feature_enabled && v.enabled, "{v:?}");
                assert!(v.name == "on" || v.name == "off");
                let mut other = ctx.clone();
                other
                    .properties
                    .as_mut()
                    .unwrap()
                    .insert("country".into(), "FR".into());
                assert!(!engine.get_variant(FLAG, &other, &None).feature_enabled);
            }
            Scenario::C | Scenario::CEarly => {
                assert!(engine.is_enabled(FLAG, &ctx, &None));
                // Only the last strategy matches: without it, the toggle is off.
                let mut features = features_json(scenario);
                features["features"][0]["strategies"]
                    .as_array_mut()
                    .unwrap()
                    .pop();
                assert!(!self::engine(features).is_enabled(FLAG, &ctx, &None));
            }
        }
        (engine, ctx)
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

    fn flag(rules: Value, fallthrough: u64) -> Value {
        json!({
            "key": FLAG,
            "version": 1,
            "on": true,
            "targets": [],
            "contextTargets": [],
            "prerequisites": [],
            "rules": rules,
            "fallthrough": {"variation": fallthrough},
            "offVariation": 0,
            "variations": [false, true],
            "clientSideAvailability": {"usingMobileKey": false, "usingEnvironmentId": false},
            "salt": FLAG,
        })
    }

    fn clause(attr: &str, op: &str, values: Value, negate: bool) -> Value {
        json!({"contextKind": "user", "attribute": attr, "op": op, "values": values, "negate": negate})
    }

    pub fn flag_json(scenario: Scenario) -> Value {
        match scenario {
            Scenario::A => flag(json!([]), 1),
            Scenario::B => flag(
                json!([{
                    "id": "north-america",
                    "clauses": [clause("country", "in", json!(["US", "CA"]), false)],
                    "rollout": {"variations": [
                        {"variation": 0, "weight": 50000},
                        {"variation": 1, "weight": 50000},
                    ]},
                    "trackEvents": false,
                }]),
                0,
            ),
            Scenario::C | Scenario::CEarly => {
                let early = scenario == Scenario::CEarly;
                let rules: Vec<Value> = (0..10)
                    .map(|i| {
                        let (plan, seats, version) = c_rule(i, early);
                        json!({
                            "id": format!("rule-{i}"),
                            "clauses": [
                                clause("plan", "in", json!([plan]), false),
                                clause("seats", "greaterThan", json!([seats]), false),
                                // LaunchDarkly has no semver >=: "not semVerLessThan".
                                clause("app_version", "semVerLessThan", json!([version]), true),
                            ],
                            "variation": 1,
                            "trackEvents": false,
                        })
                    })
                    .collect();
                flag(Value::Array(rules), 0)
            }
        }
    }

    pub fn context() -> Context {
        ContextBuilder::new(USER)
            .set_string("country", "US")
            .set_string("plan", "enterprise")
            .set_value("seats", AttributeValue::Number(40.0))
            .set_string("app_version", "2.3.0")
            .build()
            .expect("a valid context")
    }

    pub fn store(flag_json: Value) -> MemoryStore {
        let flag: Flag = serde_json::from_value(flag_json).expect("a valid flag");
        MemoryStore {
            flags: HashMap::from([(FLAG.to_owned(), flag)]),
        }
    }

    /// Looks the flag up and evaluates it, as the SDK's variation call does.
    #[inline]
    pub fn evaluate<'a>(
        store: &'a MemoryStore,
        key: &str,
        ctx: &'a Context,
    ) -> Option<
        launchdarkly_server_sdk_evaluation::Detail<
            &'a launchdarkly_server_sdk_evaluation::FlagValue,
        >,
    > {
        let flag = store.flags.get(key)?;
        Some(launchdarkly_server_sdk_evaluation::evaluate(
            store, flag, ctx, None,
        ))
    }

    pub fn setup(scenario: Scenario) -> (MemoryStore, Context) {
        let store = store(flag_json(scenario));
        let ctx = context();
        let detail = evaluate(&store, FLAG, &ctx).expect("known flag");
        match scenario {
            Scenario::A => {
                assert_eq!(
                    detail.reason,
                    Reason::Fallthrough {
                        in_experiment: false
                    }
                );
                assert_eq!(detail.variation_index, Some(1));
            }
            Scenario::B => assert!(
                matches!(detail.reason, Reason::RuleMatch { rule_index: 0, .. }),
                "{:?}",
                detail.reason
            ),
            Scenario::C | Scenario::CEarly => {
                assert!(
                    matches!(detail.reason, Reason::RuleMatch { rule_index: 9, .. }),
                    "{:?}",
                    detail.reason
                );
                assert_eq!(detail.variation_index, Some(1));
            }
        }
        (store, ctx)
    }
}

/// What-ifs for RESULTS.md, not used by any engine: two other shapes flagstone's split and
/// rollout bucketing could take, with the same output as
/// `flagstone::eval::bucket::murmur3_x86_32` (checked in `benches/allocs.rs`).
pub mod murmur_whatif {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;

    #[inline(always)]
    fn mix_k(k: u32) -> u32 {
        k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2)
    }

    #[inline(always)]
    fn mix_h(h: u32, k: u32) -> u32 {
        (h ^ mix_k(k))
            .rotate_left(13)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64)
    }

    #[inline(always)]
    fn finish(mut h: u32, tail: &[u8], len: usize) -> u32 {
        if !tail.is_empty() {
            let mut k = 0u32;
            for (i, b) in tail.iter().enumerate() {
                k |= u32::from(*b) << (8 * i);
            }
            h ^= mix_k(k);
        }
        h ^= len as u32;
        h ^= h >> 16;
        h = h.wrapping_mul(0x85eb_ca6b);
        h ^= h >> 13;
        h = h.wrapping_mul(0xc2b2_ae35);
        h ^ (h >> 16)
    }

    /// The textbook MurmurHash3 x86_32 over the key assembled in a stack buffer.
    pub fn contiguous(parts: &[&[u8]], seed: u32) -> u32 {
        let mut buf = [0u8; 256];
        let mut len = 0;
        for p in parts {
            buf[len..len + p.len()].copy_from_slice(p);
            len += p.len();
        }
        let key = &buf[..len];
        let mut h = seed;
        let mut blocks = key.chunks_exact(4);
        for b in &mut blocks {
            h = mix_h(h, u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        }
        finish(h, blocks.remainder(), len)
    }

    /// The hash state after a constant prefix ("{salt}/split/"), computed once when the
    /// bundle is loaded; each evaluation then hashes only the unit's bytes.
    pub struct Prefixed {
        h: u32,
        carry: [u8; 4],
        carried: usize,
        len: usize,
    }

    impl Prefixed {
        pub fn new(prefix: &[u8], seed: u32) -> Prefixed {
            let mut h = seed;
            let mut blocks = prefix.chunks_exact(4);
            for b in &mut blocks {
                h = mix_h(h, u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            }
            let tail = blocks.remainder();
            let mut carry = [0u8; 4];
            carry[..tail.len()].copy_from_slice(tail);
            Prefixed {
                h,
                carry,
                carried: tail.len(),
                len: prefix.len(),
            }
        }

        pub fn hash(&self, unit: &[u8]) -> u32 {
            let mut h = self.h;
            let mut bytes = unit;
            // Complete the carried block (at most 3 bytes) byte by byte, without memcpy.
            let mut block = self.carry;
            let mut filled = self.carried;
            if filled > 0 {
                while filled < 4 && !bytes.is_empty() {
                    block[filled] = bytes[0];
                    bytes = &bytes[1..];
                    filled += 1;
                }
                if filled < 4 {
                    return finish(h, &block[..filled], self.len + unit.len());
                }
                h = mix_h(h, u32::from_le_bytes(block));
            }
            let mut blocks = bytes.chunks_exact(4);
            for b in &mut blocks {
                h = mix_h(h, u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            }
            finish(h, blocks.remainder(), self.len + unit.len())
        }
    }
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
