//! Generated evaluation contexts, for the tests that compare flagstone's answers with another
//! engine's (flagd's evaluators, OpenFeature clients of `flagstone serve`).

use std::collections::{BTreeMap, BTreeSet};

use flagstone::bundle::{Bundle, TARGETING_KEY};
use flagstone::op::AttrType;
use serde_json::{Map, Value, json};

use super::toml_writer::Rng;

/// Contexts that exercise the bundle's conditions: each declared attribute absent or with a
/// value of its type, often one its conditions name (or one near it), and units named by
/// segments.
pub fn contexts(bundle: &Bundle, seed: u64, count: usize) -> Vec<Value> {
    let mut operands: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    let mut units: BTreeSet<&str> = BTreeSet::new();
    let conditions = bundle
        .flags
        .values()
        .flat_map(|f| f.rules.iter().flat_map(|r| r.conditions.iter()))
        .chain(bundle.segments.values().flat_map(|s| s.conditions.iter()));
    for c in conditions {
        if let Some(attr) = &c.attr {
            operands
                .entry(attr.as_str())
                .or_default()
                .extend(c.values.iter());
        }
    }
    for segment in bundle.segments.values() {
        units.extend(segment.include.iter().map(String::as_str));
        units.extend(segment.exclude.iter().map(String::as_str));
    }
    let units: Vec<&str> = units.into_iter().collect();
    let mut attributes: Vec<(&str, AttrType)> = bundle
        .attributes
        .iter()
        .map(|(n, t)| (n.as_str(), *t))
        .collect();
    attributes.push((TARGETING_KEY, AttrType::String));
    let mut rng = Rng(seed);
    const WORDS: &[&str] = &["", "x", "US", "acme.com", "org_1", "ünï", "🚀", "Admin"];
    const VERSIONS: &[&str] = &[
        "0.0.1",
        "1.0.0",
        "2.3.0-beta.1",
        "2.3.0",
        "2.10.0",
        "10.0.0+build.5",
    ];
    (0..count)
        .map(|i| {
            let mut context = Map::new();
            for &(name, ty) in &attributes {
                if rng.chance(25) {
                    continue;
                }
                let named = operands.get(name).filter(|o| !o.is_empty());
                let value = match (ty, named) {
                    _ if name == TARGETING_KEY => {
                        if !units.is_empty() && rng.chance(20) {
                            json!(rng.pick(&units))
                        } else {
                            json!(format!("unit-{i}"))
                        }
                    }
                    (AttrType::String, Some(named)) if rng.chance(70) => {
                        let base = rng.pick(named).as_str().unwrap_or("").to_owned();
                        match rng.below(4) {
                            0 => json!(format!("{base}{}", rng.word(WORDS))),
                            1 => json!(format!("{}{base}", rng.word(WORDS))),
                            _ => json!(base),
                        }
                    }
                    (AttrType::String, _) => json!(rng.word(WORDS)),
                    (AttrType::Number, Some(named)) if rng.chance(70) => {
                        let base = rng.pick(named).as_f64().unwrap_or(0.0);
                        json!(base + [0.0, 1.0, -1.0, 0.5][rng.below(4)])
                    }
                    (AttrType::Number, _) => json!(rng.below(2000) as f64 / 4.0 - 100.0),
                    (AttrType::Boolean, _) => json!(rng.chance(50)),
                    (AttrType::Semver, Some(named)) if rng.chance(50) => (*rng.pick(named)).clone(),
                    (AttrType::Semver, _) => json!(rng.word(VERSIONS)),
                    (AttrType::StringList, named) => {
                        let pool: Vec<&str> = named
                            .map(|n| n.iter().filter_map(|v| v.as_str()).collect())
                            .unwrap_or_default();
                        let list: Vec<&str> = (0..rng.below(4))
                            .map(|_| {
                                if !pool.is_empty() && rng.chance(70) {
                                    *rng.pick(&pool)
                                } else {
                                    rng.word(WORDS)
                                }
                            })
                            .collect();
                        json!(list)
                    }
                    (AttrType::Datetime, _) => json!("2026-11-26T12:00:00Z"),
                    (AttrType::Ip, _) => json!("10.0.0.1"),
                };
                insert(&mut context, name, value);
            }
            Value::Object(context)
        })
        .collect()
}

/// Sets a dotted attribute path in nested objects.
fn insert(context: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            context.insert(path.into(), value);
        }
        Some((head, rest)) => {
            let inner = context.entry(head).or_insert_with(|| json!({}));
            if let Some(inner) = inner.as_object_mut() {
                insert(inner, rest, value);
            }
        }
    }
}

/// flagstone's `targeting_key` is OpenFeature's `targetingKey`.
pub fn to_openfeature(context: &Value) -> Value {
    let mut object = context.as_object().unwrap().clone();
    if let Some(key) = object.remove(TARGETING_KEY) {
        object.insert("targetingKey".into(), key);
    }
    Value::Object(object)
}
