//! Format 2 as written: a [`Bundle`](super::Bundle) with its attribute and segment tests
//! gathered in one table that rules and segments refer to by index, variants referred to by
//! their index in name order, one-letter keys, and every value that equals its documented
//! default left out (docs/bundle-format.md).
//!
//! Leaving defaults out is what keeps the encoding canonical as well as small: a value is
//! written only when it differs from its default, so one behaviour has one spelling.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Condition, FULL, Holdout, LayerSlice, TARGETING_KEY};
use crate::fast_hash::{FastMap, FxHasher};
use crate::op::{AttrType, Op};

/// A bundle as its bytes spell it.
#[derive(Serialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Bundle<'a> {
    /// The declared context attributes' types, by name. A value of another type counts as
    /// missing.
    pub attributes: BTreeMap<String, AttrType>,
    /// Every distinct condition of the bundle's rules and segments, sorted by its canonical
    /// JSON; rules and segments name them by index.
    pub conditions: Vec<Condition>,
    pub environment: String,
    /// Flags by key.
    pub flags: Sorted<'a, Flag<'a>>,
    /// Always 2.
    #[cfg_attr(feature = "compiler", schemars(range(min = 2, max = 2)))]
    pub format: u32,
    pub project: String,
    /// Segments by name.
    pub segments: Sorted<'a, Segment>,
}

/// A flag. Variants are named by their index in name order (the order of `v`).
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Flag<'a> {
    /// Bucket by: the attribute path whose value is the bucketing unit. Default
    /// `targeting_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b: Option<Cow<'a, str>>,
    /// Enabled. Default true; false: every unit gets the off variant.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub e: bool,
    /// The fallthrough variant, served when no rule matches. Default: the off variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub f: Option<u32>,
    /// The off variant. Default 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub o: u32,
    /// Prerequisites: `[flag, variant name]`, sorted; each must serve that variant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub p: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Rules, in order: the first that matches decides.
    #[serde(borrow, default, skip_serializing_if = "Vec::is_empty")]
    pub r: Vec<Rule<'a>>,
    /// The bucketing salt. Default: the flag key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s: Option<Cow<'a, str>>,
    /// The schedule, sorted by time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub t: Vec<FlagStep>,
    /// Variant values by name. Default `{"off": false, "on": true}`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub v: Option<Sorted<'a, Cow<'a, Value>>>,
    /// The experiment gating the flag's splits in this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<Experiment>,
}

/// An experiment on a flag; `control` is a variant index.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    pub control: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout: Option<Holdout>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<LayerSlice>,
    /// The experiment's key.
    pub name: String,
}

#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Rule<'a> {
    /// Conditions, as indices into the bundle's `conditions`: all must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub c: Vec<u32>,
    /// The rule's name, shown in reasons and traces.
    #[serde(borrow)]
    pub n: Cow<'a, str>,
    /// Rollout: thousandths of a percent of matching units. Default 100000.
    #[serde(default = "full", skip_serializing_if = "is_full")]
    #[cfg_attr(feature = "compiler", schemars(range(max = 100_000)))]
    pub r: u32,
    /// What it serves.
    pub s: Serve,
    /// The schedule, sorted by time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub t: Vec<RuleStep>,
}

/// A variant index, or a split: one weight per variant, in variant order, in thousandths of a
/// percent.
#[derive(Debug, Serialize, PartialEq)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum Serve {
    Variant(u32),
    Split(Vec<u32>),
}

/// From `at` (milliseconds since the Unix epoch) on, the flag uses the values given.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FlagStep {
    pub at: i64,
    /// Enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<bool>,
    /// The fallthrough variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub f: Option<u32>,
}

/// From `at` (milliseconds since the Unix epoch) on, the rule uses the values given.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleStep {
    pub at: i64,
    /// Rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "compiler", schemars(range(max = 100_000)))]
    pub r: Option<u32>,
    /// What it serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s: Option<Serve>,
}

/// A segment: a unit is in it when not excluded, and included or meeting every condition
/// (when there is at least one).
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// Conditions, as indices into the bundle's `conditions`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub c: Vec<u32>,
    /// Excluded targeting keys, sorted, without repeats.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ex: Vec<String>,
    /// Included targeting keys, sorted, without repeats.
    #[serde(default, rename = "in", skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
}

/// A number is a variant, an array a split: told apart without buffering the value, as
/// `untagged` would.
impl<'de> Deserialize<'de> for Serve {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Serve;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a variant index or an array of split weights")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Serve, E> {
                u32::try_from(v)
                    .map(Serve::Variant)
                    .map_err(|_| E::custom("variant index out of range"))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Serve, A::Error> {
                let mut weights = Vec::with_capacity(seq.size_hint().unwrap_or(2));
                while let Some(weight) = seq.next_element()? {
                    weights.push(weight);
                }
                Ok(Serve::Split(weights))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// A JSON object's members in their order, which must be strictly increasing by key: the
/// canonical order, which also rules out repeated keys. Read without building a map whose
/// order the bytes already give.
pub struct Sorted<'a, V>(pub Vec<(Cow<'a, str>, V)>);

impl<'a, V> FromIterator<(Cow<'a, str>, V)> for Sorted<'a, V> {
    /// From members already in key order (a `BTreeMap`'s).
    fn from_iter<I: IntoIterator<Item = (Cow<'a, str>, V)>>(members: I) -> Self {
        Sorted(members.into_iter().collect())
    }
}

impl<V: Serialize> Serialize for Sorted<'_, V> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de: 'a, 'a, V: Deserialize<'de>> Deserialize<'de> for Sorted<'a, V> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<'a, V>(std::marker::PhantomData<(Cow<'a, str>, V)>);
        impl<'de: 'a, 'a, V: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<'a, V> {
            type Value = Sorted<'a, V>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object with keys in byte order")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Sorted<'a, V>, A::Error> {
                let mut members: Vec<(Cow<'a, str>, V)> =
                    Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(Key(key)) = map.next_key::<Key<'a>>()? {
                    if members.last().is_some_and(|(last, _)| *last >= key) {
                        return Err(serde::de::Error::custom(format!(
                            "key `{key}` is out of order or repeated"
                        )));
                    }
                    let value = map.next_value()?;
                    members.push((key, value));
                }
                Ok(Sorted(members))
            }
        }
        deserializer.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

/// A key borrowed from the bytes when it has no escapes, so that reading one allocates nothing.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<Cow<'a, str>>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = Key<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }
            fn visit_str<E>(self, key: &str) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }
        }
        deserializer.deserialize_str(Visitor(std::marker::PhantomData))
    }
}

#[cfg(feature = "compiler")]
impl<V: schemars::JsonSchema> schemars::JsonSchema for Sorted<'_, V> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        BTreeMap::<String, V>::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        BTreeMap::<String, V>::json_schema(generator)
    }
}

/// The variants of a flag that does not declare its own.
pub fn default_variants() -> Vec<(String, Value)> {
    vec![
        ("off".to_owned(), Value::Bool(false)),
        ("on".to_owned(), Value::Bool(true)),
    ]
}

/// Whether variants are the default `{"off": false, "on": true}`.
fn is_default_variants(variants: &BTreeMap<String, Value>) -> bool {
    variants.len() == 2
        && variants.get("off") == Some(&Value::Bool(false))
        && variants.get("on") == Some(&Value::Bool(true))
}

/// The bucketing attribute that `b` leaves out.
pub const DEFAULT_BUCKET_BY: &str = TARGETING_KEY;

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn full() -> u32 {
    FULL
}

fn is_full(n: &u32) -> bool {
    *n == FULL
}

/// Why a bundle cannot be encoded: what in it does not hold together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// A rule, schedule, experiment or the flag itself serves a variant the flag does not have.
    NoVariant { flag: String, variant: String },
    /// A split's weights add up past what a share can hold.
    SplitOverflow { flag: String },
    /// serde_json refused a value (it does not for JSON values; kept so nothing panics).
    Json(String),
}

impl EncodeError {
    fn json(e: serde_json::Error) -> EncodeError {
        EncodeError::Json(e.to_string())
    }
}

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EncodeError::NoVariant { flag, variant } => {
                write!(f, "flag `{flag}`: no variant `{variant}`")
            }
            EncodeError::SplitOverflow { flag } => {
                write!(f, "flag `{flag}`: split weights overflow")
            }
            EncodeError::Json(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for EncodeError {}

/// Encodes a bundle; the error names what does not hold together.
pub fn encode(bundle: &super::Bundle) -> Result<Bundle<'_>, EncodeError> {
    let table = ConditionTable::of(bundle)?;
    let flags = bundle
        .flags
        .iter()
        .map(|(key, flag)| Ok((Cow::Borrowed(key.as_str()), encode_flag(key, flag, &table)?)))
        .collect::<Result<_, EncodeError>>()?;
    let segments = bundle
        .segments
        .iter()
        .map(|(name, s)| {
            Ok((
                Cow::Borrowed(name.as_str()),
                Segment {
                    c: table.refer(&s.conditions),
                    ex: s.exclude.clone(),
                    include: s.include.clone(),
                },
            ))
        })
        .collect::<Result<_, EncodeError>>()?;
    Ok(Bundle {
        attributes: bundle.attributes.clone(),
        conditions: table.conditions,
        environment: bundle.environment.clone(),
        flags,
        format: super::FORMAT,
        project: bundle.project.clone(),
        segments,
    })
}

/// The condition table being written, and where each use of a condition is in it.
struct ConditionTable {
    /// The index in `conditions` of each condition of the bundle, in the order [`encode`]
    /// visits them: flags in key order, their rules and conditions in order, then segments.
    uses: Vec<u32>,
    /// How many of `uses` [`ConditionTable::refer`] has handed out.
    next: Cell<usize>,
    /// Every distinct condition, in the order of its canonical bytes.
    conditions: Vec<Condition>,
}

impl ConditionTable {
    /// Gathers the distinct conditions of `bundle`. Equal conditions are found by hashing
    /// and comparing values, so that only the distinct ones are serialized (to sort them), not
    /// every use.
    fn of(bundle: &super::Bundle) -> Result<ConditionTable, EncodeError> {
        let all = bundle
            .flags
            .values()
            .flat_map(|f| &f.rules)
            .flat_map(|r| &r.conditions)
            .chain(bundle.segments.values().flat_map(|s| &s.conditions));
        type Shape<'a> = (Option<&'a str>, Option<Op>, Option<&'a str>, u64);
        let mut candidates: FastMap<Shape<'_>, Vec<usize>> = FastMap::default();
        let mut distinct: Vec<&Condition> = Vec::new();
        let mut uses: Vec<usize> = Vec::new();
        for condition in all {
            let mut hasher = FxHasher::default();
            hash_values(&condition.values, &mut hasher);
            let shape = (
                condition.attr.as_deref(),
                condition.op,
                condition.segment.as_deref(),
                std::hash::Hasher::finish(&hasher),
            );
            let same = candidates.entry(shape).or_default();
            let id = match same.iter().find(|&&i| distinct[i] == condition) {
                Some(&i) => i,
                None => {
                    same.push(distinct.len());
                    distinct.push(condition);
                    distinct.len() - 1
                }
            };
            uses.push(id);
        }
        let mut order: Vec<(Vec<u8>, usize)> = distinct
            .iter()
            .enumerate()
            .map(|(id, c)| Ok((serde_json::to_vec(c).map_err(EncodeError::json)?, id)))
            .collect::<Result<_, EncodeError>>()?;
        order.sort();
        let mut rank = vec![0u32; distinct.len()];
        for (position, (_, id)) in order.iter().enumerate() {
            rank[*id] = position as u32;
        }
        Ok(ConditionTable {
            uses: uses.into_iter().map(|id| rank[id]).collect(),
            next: Cell::new(0),
            conditions: order.iter().map(|(_, id)| distinct[*id].clone()).collect(),
        })
    }

    /// The indices of `conditions`: the next uses, as [`encode`] visits them.
    fn refer(&self, conditions: &[Condition]) -> Vec<u32> {
        let from = self.next.get();
        let to = from + conditions.len();
        self.next.set(to);
        self.uses[from..to].to_vec()
    }
}

/// Hashes JSON values so that equal values hash equal (serde_json's `Value` is not `Hash`).
fn hash_values(values: &[Value], hasher: &mut impl std::hash::Hasher) {
    use std::hash::Hash;
    values.len().hash(hasher);
    for value in values {
        match value {
            Value::Null => 0u8.hash(hasher),
            Value::Bool(b) => (1u8, b).hash(hasher),
            Value::Number(n) => (2u8, n.is_f64(), n.as_f64().map(f64::to_bits)).hash(hasher),
            Value::String(s) => (3u8, s).hash(hasher),
            Value::Array(items) => {
                4u8.hash(hasher);
                hash_values(items, hasher);
            }
            Value::Object(map) => {
                (5u8, map.len()).hash(hasher);
                for (key, value) in map {
                    key.hash(hasher);
                    hash_values(std::slice::from_ref(value), hasher);
                }
            }
        }
    }
}

fn encode_flag<'a>(
    key: &str,
    flag: &'a super::Flag,
    table: &ConditionTable,
) -> Result<Flag<'a>, EncodeError> {
    let variant = |name: &str| -> Result<u32, EncodeError> {
        flag.variants
            .keys()
            .position(|n| n == name)
            .map(|i| i as u32)
            .ok_or_else(|| EncodeError::NoVariant {
                flag: key.to_owned(),
                variant: name.to_owned(),
            })
    };
    let serve = |serve: &super::Serve| -> Result<Serve, EncodeError> {
        Ok(match serve {
            super::Serve::Variant(name) => Serve::Variant(variant(name)?),
            super::Serve::Split(weights) => {
                let mut split = vec![0u32; flag.variants.len()];
                for w in weights {
                    let slot = &mut split[variant(&w.variant)? as usize];
                    *slot =
                        slot.checked_add(w.weight)
                            .ok_or_else(|| EncodeError::SplitOverflow {
                                flag: key.to_owned(),
                            })?;
                }
                Serve::Split(split)
            }
        })
    };
    let off = variant(&flag.off_variant)?;
    let fallthrough = variant(&flag.fallthrough)?;
    let rules = flag
        .rules
        .iter()
        .map(|rule| {
            Ok(Rule {
                c: table.refer(&rule.conditions),
                n: Cow::Borrowed(&rule.name),
                r: rule.rollout,
                s: serve(&rule.serve)?,
                t: rule
                    .schedule
                    .iter()
                    .map(|step| {
                        Ok(RuleStep {
                            at: step.at,
                            r: step.rollout,
                            s: step.serve.as_ref().map(serve).transpose()?,
                        })
                    })
                    .collect::<Result<_, EncodeError>>()?,
            })
        })
        .collect::<Result<_, EncodeError>>()?;
    let schedule = flag
        .schedule
        .iter()
        .map(|step| {
            Ok(FlagStep {
                at: step.at,
                e: step.enabled,
                f: step.fallthrough.as_deref().map(variant).transpose()?,
            })
        })
        .collect::<Result<_, EncodeError>>()?;
    let experiment = flag
        .experiment
        .as_ref()
        .map(|x| {
            Ok::<_, EncodeError>(Experiment {
                control: variant(&x.control)?,
                holdout: x.holdout.clone(),
                layer: x.layer.clone(),
                name: x.name.clone(),
            })
        })
        .transpose()?;
    Ok(Flag {
        b: (flag.bucket_by != DEFAULT_BUCKET_BY).then_some(Cow::Borrowed(&flag.bucket_by)),
        e: flag.enabled,
        f: (fallthrough != off).then_some(fallthrough),
        o: off,
        p: flag
            .prerequisites
            .iter()
            .map(|p| {
                (
                    Cow::Borrowed(p.flag.as_str()),
                    Cow::Borrowed(p.variant.as_str()),
                )
            })
            .collect(),
        r: rules,
        s: (flag.salt != key).then_some(Cow::Borrowed(&flag.salt)),
        t: schedule,
        v: (!is_default_variants(&flag.variants)).then(|| {
            flag.variants
                .iter()
                .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v)))
                .collect()
        }),
        x: experiment,
    })
}

#[cfg(test)]
mod tests {
    use super::Sorted;

    #[test]
    fn keys_are_read_whether_escaped_or_not() {
        let sorted: Sorted<u32> = serde_json::from_str(r#"{"a":1,"b\u0062":2,"c":3}"#).unwrap();
        let keys: Vec<&str> = sorted.0.iter().map(|(k, _)| &**k).collect();
        assert_eq!(keys, ["a", "bb", "c"]);
        assert!(matches!(sorted.0[0].0, std::borrow::Cow::Borrowed(_)));
        let unsorted = serde_json::from_str::<Sorted<u32>>(r#"{"b":1,"\u0061":2}"#);
        assert_eq!(
            unsorted.err().map(|e| e.to_string()),
            Some("key `a` is out of order or repeated at line 1 column 15".to_owned())
        );
    }
}
