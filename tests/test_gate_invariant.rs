//! The review gate's guarantee, checked on random repositories and random edits:
//!
//! 1. "no changes" means the bundles of base and head are byte-identical in every environment;
//! 2. "emergency" means every flag, for every unit at every time a schedule names, serves the
//!    head what the base served or the flag's off variant, and that flag is one the policy
//!    lets a kill turn off (a release flag, by default);
//! 3. every flag served differently to some unit at some time is in the report.
//!
//! The units and times the test evaluates are its own, not the ones `diff` samples.

use std::collections::BTreeSet;
use std::path::Path;

use flagstone::bundle::Bundle;
use flagstone::eval::Evaluator;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use crate::support::run;

const NOW: &str = "2026-12-01";
/// 2026-12-01T00:00:00Z, and the times schedule steps may name: past, soon, later.
const NOW_MS: i64 = 1_796_083_200_000;
const STEPS: [&str; 3] = [
    "2026-11-01T00:00:00Z",
    "2026-12-05T00:00:00Z",
    "2027-01-01T00:00:00Z",
];
const ENVIRONMENTS: [&str; 2] = ["staging", "production"];
const COUNTRIES: [&str; 3] = ["US", "CA", "DE"];

#[derive(Clone, Debug)]
struct Flag {
    kind: &'static str,
    /// Integer payloads (`{ n = … }`) instead of booleans.
    payload: bool,
    /// Variant values, for payload flags.
    values: [i64; 2],
    /// Which variant is the off variant (0 = "off", 1 = "on").
    off: usize,
    /// Needs the flag with this index (always lower: no cycles) to serve this variant.
    prerequisite: Option<(usize, usize)>,
    env: [Env; 2],
}

#[derive(Clone, Debug)]
struct Env {
    enabled: bool,
    serve: usize,
    /// A flag-level step: (time, enabled, fallthrough).
    step: Option<(usize, Option<bool>, Option<usize>)>,
    rules: Vec<Rule>,
}

#[derive(Clone, Debug)]
struct Rule {
    condition: Condition,
    rollout: u32,
    serve: usize,
    /// A rule step: (time, rollout).
    step: Option<(usize, u32)>,
}

#[derive(Clone, Debug)]
enum Condition {
    Country(Vec<&'static str>),
    SeatsAbove(i64),
    Segment,
}

#[derive(Clone, Debug)]
struct Repository {
    flags: Vec<Flag>,
    /// The segment's countries.
    segment: Vec<&'static str>,
    description: String,
}

const VARIANTS: [&str; 2] = ["off", "on"];

impl Repository {
    fn files(&self) -> Vec<(String, String)> {
        let mut files = vec![
            (
                "flagstone.toml".to_owned(),
                r#"name = "random"
environments = ["staging", "production"]

[attributes]
country = { type = "string", values = ["US", "CA", "DE"] }
seats = { type = "number" }

[teams]
web = ["wendy", "will"]
platform = ["pat", "pia"]

[review]
protected = ["@platform"]

[[review.rules]]
name = "owners approve"
from = ["owners"]
"#
                .to_owned(),
            ),
            (
                "segments/chosen.toml".to_owned(),
                format!(
                    "description = {:?}\ninclude = [\"unit-1\"]\nif = [{{ attr = \"country\", op = \"in\", values = {} }}]\n",
                    self.description,
                    list(&self.segment)
                ),
            ),
        ];
        for (i, flag) in self.flags.iter().enumerate() {
            files.push((format!("flags/f{i}.toml"), flag.toml()));
        }
        files
    }
}

fn list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|c| format!("{c:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

impl Flag {
    fn toml(&self) -> String {
        let mut t = format!(
            "description = \"random\"\nowners = [\"@web\"]\nkind = {:?}\n",
            self.kind
        );
        if self.kind == "release" {
            t.push_str("expires = 2030-01-01\n");
        }
        t.push_str(&format!("off_variant = {:?}\n", VARIANTS[self.off]));
        if let Some((flag, variant)) = self.prerequisite {
            t.push_str(&format!(
                "prerequisites = [{{ flag = \"f{flag}\", variant = {:?} }}]\n",
                VARIANTS[variant]
            ));
        }
        if self.payload {
            t.push_str(&format!(
                "\n[variants]\noff = {{ n = {} }}\non = {{ n = {} }}\n",
                self.values[0], self.values[1]
            ));
        }
        for (name, env) in ENVIRONMENTS.iter().zip(&self.env) {
            t.push_str(&format!("\n[env.{name}]\n"));
            if !env.enabled {
                t.push_str("enabled = false\n");
            }
            t.push_str(&format!("serve = {:?}\n", VARIANTS[env.serve]));
            if let Some((at, enabled, serve)) = env.step {
                let mut step = format!("at = {}", STEPS[at]);
                if let Some(enabled) = enabled {
                    step.push_str(&format!(", enabled = {enabled}"));
                }
                if let Some(serve) = serve {
                    step.push_str(&format!(", serve = {:?}", VARIANTS[serve]));
                }
                t.push_str(&format!("schedule = [{{ {step} }}]\n"));
            }
            for (i, rule) in env.rules.iter().enumerate() {
                let condition = match &rule.condition {
                    Condition::Country(c) => {
                        format!(
                            "{{ attr = \"country\", op = \"in\", values = {} }}",
                            list(c)
                        )
                    }
                    Condition::SeatsAbove(n) => {
                        format!("{{ attr = \"seats\", op = \"gt\", value = {n} }}")
                    }
                    Condition::Segment => "{ segment = \"chosen\" }".to_owned(),
                };
                t.push_str(&format!(
                    "\n[[env.{name}.rules]]\nname = \"r{i}\"\nif = [{condition}]\nrollout = {}\nserve = {:?}\n",
                    rule.rollout, VARIANTS[rule.serve]
                ));
                if let Some((at, rollout)) = rule.step {
                    t.push_str(&format!(
                        "schedule = [{{ at = {}, rollout = {rollout} }}]\n",
                        STEPS[at]
                    ));
                }
            }
        }
        t
    }
}

fn condition() -> impl Strategy<Value = Condition> {
    prop_oneof![
        proptest::sample::subsequence(COUNTRIES.to_vec(), 1..=2).prop_map(Condition::Country),
        (0i64..3).prop_map(|n| Condition::SeatsAbove(n * 10)),
        Just(Condition::Segment),
    ]
}

fn rule() -> impl Strategy<Value = Rule> {
    (
        condition(),
        select(vec![0u32, 10, 50, 100]),
        0usize..2,
        proptest::option::of((0usize..3, select(vec![0u32, 50, 100]))),
    )
        .prop_map(|(condition, rollout, serve, step)| Rule {
            condition,
            rollout,
            serve,
            step,
        })
}

fn env() -> impl Strategy<Value = Env> {
    (
        proptest::bool::weighted(0.85),
        0usize..2,
        proptest::option::weighted(
            0.3,
            (
                0usize..3,
                proptest::option::of(any::<bool>()),
                proptest::option::of(0usize..2),
            ),
        ),
        proptest::collection::vec(rule(), 0..3),
    )
        .prop_map(|(enabled, serve, step, rules)| Env {
            enabled,
            serve,
            step: step.filter(|(_, e, s)| e.is_some() || s.is_some()),
            rules,
        })
}

fn flag(index: usize) -> impl Strategy<Value = Flag> {
    (
        select(vec!["release", "ops", "config"]),
        any::<bool>(),
        (0i64..3, 3i64..6),
        0usize..2,
        proptest::option::of((0..index.max(1), 0usize..2)),
        env(),
        env(),
    )
        .prop_map(
            move |(kind, payload, (a, b), off, prerequisite, staging, production)| Flag {
                kind,
                payload,
                values: [a, b],
                off,
                // The first flag needs none: each needs a lower one, so there is no cycle.
                prerequisite: prerequisite.filter(|_| index > 0),
                env: [staging, production],
            },
        )
}

fn repository() -> impl Strategy<Value = Repository> {
    (
        flag(0),
        flag(1),
        flag(2),
        flag(3),
        proptest::sample::subsequence(COUNTRIES.to_vec(), 1..=2),
    )
        .prop_map(|(a, b, c, d, segment)| Repository {
            flags: vec![a, b, c, d],
            segment,
            description: "chosen ones".to_owned(),
        })
}

/// One edit a pull request might make.
#[derive(Clone, Debug)]
enum Edit {
    Kill(usize, usize),
    Enable(usize, usize),
    Rollout(usize, usize, u32),
    Serve(usize, usize, usize),
    Payload(usize, i64),
    OffVariant(usize),
    FlagStep(usize, usize, usize, bool),
    Segment(Vec<&'static str>),
    Description,
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (0usize..4, 0usize..2).prop_map(|(f, e)| Edit::Kill(f, e)),
        1 => (0usize..4, 0usize..2).prop_map(|(f, e)| Edit::Enable(f, e)),
        1 => (0usize..4, 0usize..2, select(vec![0u32, 25, 100])).prop_map(|(f, e, r)| Edit::Rollout(f, e, r)),
        1 => (0usize..4, 0usize..2, 0usize..2).prop_map(|(f, e, v)| Edit::Serve(f, e, v)),
        1 => (0usize..4, 0i64..6).prop_map(|(f, n)| Edit::Payload(f, n)),
        1 => (0usize..4).prop_map(Edit::OffVariant),
        1 => (0usize..4, 0usize..2, 0usize..3, any::<bool>()).prop_map(|(f, e, t, on)| Edit::FlagStep(f, e, t, on)),
        1 => proptest::sample::subsequence(COUNTRIES.to_vec(), 1..=3).prop_map(Edit::Segment),
        1 => Just(Edit::Description),
    ]
}

impl Edit {
    fn apply(&self, repo: &mut Repository) {
        match self {
            Edit::Kill(f, e) => {
                let env = &mut repo.flags[*f].env[*e];
                env.enabled = false;
                // As `flagstone kill` does: no step turns it back on.
                if env
                    .step
                    .is_some_and(|(_, enabled, _)| enabled == Some(true))
                {
                    env.step = None;
                }
            }
            Edit::Enable(f, e) => repo.flags[*f].env[*e].enabled = true,
            Edit::Rollout(f, e, r) => {
                if let Some(rule) = repo.flags[*f].env[*e].rules.first_mut() {
                    rule.rollout = *r;
                }
            }
            Edit::Serve(f, e, v) => repo.flags[*f].env[*e].serve = *v,
            Edit::Payload(f, n) => {
                let flag = &mut repo.flags[*f];
                if flag.payload {
                    flag.values[1] = *n;
                }
            }
            Edit::OffVariant(f) => repo.flags[*f].off = 1 - repo.flags[*f].off,
            Edit::FlagStep(f, e, t, on) => {
                repo.flags[*f].env[*e].step = Some((*t, Some(*on), None))
            }
            Edit::Segment(countries) => repo.segment = countries.clone(),
            Edit::Description => repo.description = "the chosen ones".to_owned(),
        }
    }
}

fn write(dir: &Path, repo: &Repository) {
    let _ = std::fs::remove_dir_all(dir.join("flags"));
    for (path, text) in repo.files() {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// The bundles of the repository at `dir`, or `None` when it does not check.
fn bundles(dir: &Path) -> Option<Vec<Bundle>> {
    let repo = flagstone::load::load(dir).unwrap();
    let options = flagstone::check::Options { now_millis: NOW_MS };
    let report = flagstone::check::check(&repo, &options);
    report.checked().map(flagstone::build::all)
}

/// The test's own units: every country (and none), seats around every threshold, the
/// segment's listed unit, and many keys for the rollouts.
fn units() -> Vec<Value> {
    let mut units = Vec::new();
    for i in 0..400 {
        let mut unit = json!({ "targeting_key": format!("unit-{i}") });
        if i % 4 != 3 {
            unit["country"] = json!(COUNTRIES[i % 3]);
        }
        if i % 5 != 4 {
            unit["seats"] = json!((i % 7) * 5);
        }
        units.push(unit);
    }
    units
}

/// Now, and a millisecond before and at every time a step may name.
fn times() -> Vec<i64> {
    let mut times = vec![NOW_MS];
    for step in STEPS {
        let at = flagstone::literal::parse_timestamp(step).unwrap();
        times.extend([at - 1, at, at + 1]);
    }
    times
}

fn check_invariant(base: &Repository, edits: &[Edit]) -> Result<(), TestCaseError> {
    let mut head = base.clone();
    for edit in edits {
        edit.apply(&mut head);
    }
    let work = crate::support::tempdir();
    write(work.path(), base);
    let Some(base_bundles) = bundles(work.path()) else {
        return Ok(()); // not a valid repository: nothing to review
    };
    let repository = git2::Repository::init(work.path()).unwrap();
    let base_commit = crate::support::commit(&repository, "base").to_string();
    write(work.path(), &head);
    let Some(head_bundles) = bundles(work.path()) else {
        return Ok(());
    };
    crate::support::commit(&repository, "head");
    let side = crate::support::tempdir();
    let reviews = side.path().join("reviews.json");
    std::fs::write(&reviews, "[]").unwrap();
    let args = [
        "review",
        "--dir",
        ".",
        "--base",
        &base_commit,
        "--reviews",
        reviews.to_str().unwrap(),
        "--author",
        "someone",
        "--now",
        NOW,
        "--format",
        "json",
    ];
    let (code, stdout, stderr) = run(&args, work.path());
    prop_assert!(code < 2, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let verdict = report["verdict"].as_str().unwrap();
    let reported: BTreeSet<String> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["change"].as_str().unwrap().to_owned())
        .collect();

    if verdict == "no_changes" {
        for (b, h) in base_bundles.iter().zip(&head_bundles) {
            prop_assert_eq!(b.to_canonical_json(), h.to_canonical_json());
        }
    }
    let units = units();
    for (b, h) in base_bundles.into_iter().zip(head_bundles) {
        let environment = h.environment.clone();
        let offs: Vec<(String, Value)> = h
            .flags
            .iter()
            .map(|(k, f)| (k.clone(), f.variants[&f.off_variant].clone()))
            .collect();
        let (b, h) = (
            Evaluator::from_bundle(b).unwrap(),
            Evaluator::from_bundle(h).unwrap(),
        );
        for (key, off) in &offs {
            let index: usize = key[1..].parse().unwrap();
            for unit in &units {
                for &at in &times() {
                    let before = b.evaluate(key, unit, at).unwrap().value.clone();
                    let after = h.evaluate(key, unit, at).unwrap().value.clone();
                    if before == after {
                        continue;
                    }
                    let change = format!("flag `{key}` in {environment}");
                    prop_assert!(
                        reported.contains(&change),
                        "{change} serves {unit} {before} then {after} at {at}, but the report has {reported:?}"
                    );
                    if verdict == "emergency" {
                        prop_assert_eq!(&after, off, "{} at {} for {}", change, at, unit);
                        prop_assert_eq!(base.flags[index].kind, "release", "{}", change);
                    }
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(crate::support::proptest_config!("test_gate_invariant", 64))]

    #[test]
    fn the_gate_guarantees_what_it_says(
        base in repository(),
        edits in proptest::collection::vec(edit(), 1..3),
    ) {
        check_invariant(&base, &edits)?;
    }

    /// Kills alone, of any flag and environment: the emergency path's own cases, with its
    /// dependents' prerequisites drawn as often on the killed flag's off variant as not.
    #[test]
    fn a_kill_alone_turns_nothing_on(
        base in repository(),
        flag in 0usize..4,
        env in 0usize..2,
    ) {
        check_invariant(&base, &[Edit::Kill(flag, env)])?;
    }
}
