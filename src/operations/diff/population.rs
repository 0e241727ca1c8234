//! The synthetic units a blast radius is estimated on.
//!
//! A change that matters to some units must be seen on some sampled unit, so the units are
//! made of the values conditions test, not of random text. For every declared attribute the
//! candidates are, by type:
//!
//! - string: the declared `values`; for each operand a string the operator holds for (the
//!   operand itself for `in`; for `starts_with`, the operand and more) and one it does not
//!   hold for, so that a condition holds about as often as not; their upper-case forms, for
//!   `ignore_case`;
//! - number: every operand, one above and one below it, and half-way steps: both sides of
//!   every threshold, and the threshold itself;
//! - datetime: every operand, and a millisecond and a day to either side;
//! - semver: every operand, each part one up and one down, and a pre-release of it;
//! - ip: for every network, its first address, an address inside it and the first address
//!   past it;
//! - string list: subsets of the operands;
//! - boolean: both.
//!
//! Each unit draws every attribute independently: absent one time in six, a value outside
//! every candidate (unique to the unit) one time in four, a candidate otherwise. Its targeting
//! key is its own, or one time in eight a key a segment lists; every other `bucket_by` path
//! gets a value of its own. The draws come from a fixed generator: the same bundles give the
//! same units.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde_json::{Value, json};

use crate::bundle::{self, Bundle, Condition};
use crate::literal::format_timestamp;
use crate::op::{AttrType, Op};

/// Units made for every estimate.
pub const UNITS: u32 = 2_000;

/// The units every estimate of one comparison evaluates, from the conditions of the flags
/// `sources` and of every segment. `declared` holds each attribute's declared values, as JSON.
pub fn units(
    bundles: &[&Bundle],
    sources: &BTreeSet<&str>,
    attributes: &BTreeMap<String, AttrType>,
    declared: &BTreeMap<String, Vec<Value>>,
) -> Vec<Value> {
    let mut candidates: BTreeMap<&str, BTreeSet<Candidate>> = BTreeMap::new();
    let mut listed: BTreeSet<&str> = BTreeSet::new();
    let mut bucket_paths: BTreeSet<&str> = BTreeSet::new();
    for bundle in bundles {
        let conditions = bundle
            .flags
            .iter()
            .filter(|(key, _)| sources.contains(key.as_str()))
            .flat_map(|(_, f)| f.rules.iter().flat_map(|r| &r.conditions))
            .chain(bundle.segments.values().flat_map(|s| &s.conditions));
        for condition in conditions {
            let Some(attr) = &condition.attr else {
                continue;
            };
            let Some(ty) = attributes.get(attr) else {
                continue;
            };
            candidates
                .entry(attr)
                .or_default()
                .extend(around(*ty, condition));
        }
        for segment in bundle.segments.values() {
            listed.extend(segment.include.iter().map(String::as_str));
            listed.extend(segment.exclude.iter().map(String::as_str));
        }
        let flags = bundle
            .flags
            .iter()
            .filter(|(key, _)| sources.contains(key.as_str()));
        bucket_paths.extend(flags.map(|(_, f)| f.bucket_by.as_str()));
    }
    for (attr, values) in declared {
        if let Some(set) = attributes.get_key_value(attr.as_str()).map(|(k, _)| k) {
            let entry = candidates.entry(set).or_default();
            entry.extend(values.iter().cloned().map(Candidate));
        }
    }
    bucket_paths.remove(bundle::TARGETING_KEY);
    let candidates: BTreeMap<&str, Vec<Value>> = candidates
        .into_iter()
        .map(|(attr, set)| (attr, set.into_iter().map(|c| c.0).collect()))
        .collect();
    let listed: Vec<&str> = listed.into_iter().collect();
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    (0..UNITS)
        .map(|unit| {
            let key = match random.pick(&listed) {
                Some(listed) if random.one_in(8) => (*listed).to_owned(),
                _ => format!("unit-{unit}"),
            };
            let mut context = json!({ bundle::TARGETING_KEY: key });
            for (name, ty) in attributes {
                if random.one_in(6) {
                    continue;
                }
                let known = candidates.get(name.as_str()).map_or(&[][..], Vec::as_slice);
                let value = match random.pick(known) {
                    Some(value) if !random.one_in(4) => match ty {
                        AttrType::StringList => subset(known, &mut random),
                        _ => value.clone(),
                    },
                    _ => outside(*ty, unit, &mut random),
                };
                crate::eval::set_path(&mut context, name, value);
            }
            for path in &bucket_paths {
                if !attributes.contains_key(*path) {
                    crate::eval::set_path(&mut context, path, json!(format!("{path}-{unit}")));
                }
            }
            context
        })
        .collect()
}

/// A JSON value ordered by its text, so candidates can be a sorted set.
#[derive(PartialEq, Eq)]
struct Candidate(Value);

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.to_string().cmp(&other.0.to_string())
    }
}

/// The values on and around what `condition` tests.
fn around(ty: AttrType, condition: &Condition) -> Vec<Candidate> {
    let mut out = Vec::new();
    for operand in &condition.values {
        match (ty, operand) {
            (AttrType::Number, Value::Number(n)) => {
                let x = n.as_f64().unwrap_or_default();
                out.extend([x - 1.0, x - 0.5, x, x + 0.5, x + 1.0].map(|v| json!(v)));
            }
            (AttrType::Datetime, Value::Number(n)) => {
                let at = n.as_i64().unwrap_or_default();
                const DAY: i64 = 86_400_000;
                for t in [at - DAY, at - 1, at, at + 1, at + DAY] {
                    out.push(json!(format_timestamp(t)));
                }
            }
            (AttrType::Semver, Value::String(s)) => {
                out.extend(versions(s).into_iter().map(|v| json!(v)))
            }
            (AttrType::Ip, Value::String(s)) => {
                out.extend(addresses(s).into_iter().map(|v| json!(v)))
            }
            (_, Value::String(s)) => {
                // A value that holds and one that does not, for each text operator.
                let (holds, fails) = match condition.op {
                    Some(Op::StartsWith | Op::NotStartsWith) => {
                        (format!("{s}-x"), format!("x-{s}"))
                    }
                    Some(Op::EndsWith | Op::NotEndsWith) => (format!("x-{s}"), format!("{s}-x")),
                    Some(Op::Contains | Op::NotContains) => (format!("x{s}x"), "x".to_owned()),
                    _ => (s.clone(), format!("not-{s}")),
                };
                if condition.ignore_case {
                    out.extend([json!(holds.to_uppercase()), json!(fails.to_uppercase())]);
                }
                out.extend([json!(holds), json!(fails)]);
            }
            (_, other) => out.push(other.clone()),
        }
    }
    if ty == AttrType::Boolean {
        out.extend([json!(true), json!(false)]);
    }
    out.into_iter().map(Candidate).collect()
}

/// A version, each part one up and one down, and a pre-release of it.
fn versions(text: &str) -> Vec<String> {
    let Ok(v) = semver::Version::parse(text) else {
        return vec![text.to_owned()];
    };
    let (major, minor, patch) = (v.major, v.minor, v.patch);
    let mut out = vec![
        text.to_owned(),
        format!("{major}.{minor}.{}", patch + 1),
        format!("{major}.{}.0", minor + 1),
        format!("{}.0.0", major + 1),
        format!("{major}.{minor}.{patch}-rc.1"),
    ];
    if patch > 0 {
        out.push(format!("{major}.{minor}.{}", patch - 1));
    }
    if minor > 0 {
        out.push(format!("{major}.{}.{patch}", minor - 1));
    }
    if major > 0 {
        out.push(format!("{}.{minor}.{patch}", major - 1));
    }
    out
}

/// A network's first address, one inside it, and the first address past it.
fn addresses(network: &str) -> Vec<String> {
    let (address, prefix) = network.split_once('/').unwrap_or((network, ""));
    let Ok(ip) = address.parse::<IpAddr>() else {
        return Vec::new();
    };
    match ip {
        IpAddr::V4(v4) => {
            let prefix: u32 = prefix.parse().unwrap_or(32).min(32);
            let size = 1u64 << (32 - prefix);
            let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
            let first = u64::from(u32::from(v4) & mask);
            [first, first + size / 2, first + size]
                .into_iter()
                .filter_map(|n| u32::try_from(n).ok())
                .map(|n| std::net::Ipv4Addr::from(n).to_string())
                .collect()
        }
        IpAddr::V6(v6) => {
            let prefix: u32 = prefix.parse().unwrap_or(128).min(128);
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            let first = u128::from(v6) & mask;
            let size = 1u128.checked_shl(128 - prefix).unwrap_or(0);
            [
                Some(first),
                first.checked_add(size / 2),
                first.checked_add(size),
            ]
            .into_iter()
            .flatten()
            .map(|n| std::net::Ipv6Addr::from(n).to_string())
            .collect()
        }
    }
}

/// Half of the candidates, drawn at random.
fn subset(known: &[Value], random: &mut Random) -> Value {
    let items: Vec<Value> = known.iter().filter(|_| random.one_in(2)).cloned().collect();
    Value::Array(items)
}

/// A value of type `ty` that no condition names: unique to the unit where it can be.
fn outside(ty: AttrType, unit: u32, random: &mut Random) -> Value {
    match ty {
        AttrType::Boolean => json!(random.one_in(2)),
        AttrType::Number => json!(random.next() % 1_000_000),
        AttrType::Datetime => json!(format_timestamp((random.next() % 4_102_444_800_000) as i64)),
        AttrType::Semver => json!(format!("{}.{}.{}", random.next() % 20, unit % 50, unit)),
        AttrType::Ip => json!(std::net::Ipv4Addr::from(random.next() as u32).to_string()),
        AttrType::StringList => json!([format!("other-{unit}")]),
        AttrType::String => json!(format!("other-{unit}")),
    }
}

/// xorshift64*: fixed, so estimates are reproducible.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }

    fn pick<'v, T>(&mut self, values: &'v [T]) -> Option<&'v T> {
        (!values.is_empty()).then(|| &values[(self.next() % values.len() as u64) as usize])
    }
}
