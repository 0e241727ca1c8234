//! A generator of valid repositories for property tests: raw choices (shrinkable indices)
//! resolved into the files of a repository, as [`T`] values for the TOML writer.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::subsequence;

use super::toml_writer::{Rng, T, s, strs, tab};

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
pub struct RawRepo {
    name: usize,
    pub environments: Vec<&'static str>,
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

pub fn raw_repo() -> impl Strategy<Value = RawRepo> {
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
pub struct Resolver<'a> {
    pub raw: &'a RawRepo,
    pub defaults: Rng,
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

    pub fn files(&mut self) -> Vec<(String, T)> {
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
