//! Bundles: one environment of a flags repository, resolved into what evaluation needs and
//! nothing else, as canonical JSON named by its content hash.
//!
//! [`Bundle`] is the resolved model, every default explicit, that the compiler builds and
//! `diff` compares; [`wire`] is how it is written (format 2, specified in
//! docs/bundle-format.md and schema/bundle.schema.json). Every order that carries no meaning
//! is sorted and every default is left out, so the bytes (and the hash) depend on the flags'
//! behaviour only: reformatting or reordering the TOML, or moving a flag between files,
//! changes nothing.

pub mod wire;

pub use wire::EncodeError;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::op::{AttrType, Op};

/// The bundle format's version; readers refuse others.
pub const FORMAT: u32 = 2;

/// blake3 key-derivation context of the content hash: versioned, so a future format can
/// never collide with this one.
pub const HASH_CONTEXT: &str = "flagstone 2026-12 bundle v2";

/// The context attribute holding the unit's key: built in, a string or an integer.
pub const TARGETING_KEY: &str = "targeting_key";

/// Percentages are held in thousandths of a percent: 100% is this many.
pub const FULL: u32 = 100_000;

/// One environment's flags and segments, resolved: every default explicit, every name
/// spelled out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// The declared context attributes' types, by name. A value of another type counts as
    /// missing.
    pub attributes: BTreeMap<String, AttrType>,
    pub environment: String,
    /// Flags by key.
    pub flags: BTreeMap<String, Flag>,
    /// The format it is written in: [`FORMAT`].
    pub format: u32,
    pub project: String,
    /// Segments by name.
    pub segments: BTreeMap<String, Segment>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Flag {
    /// The attribute path whose value is the bucketing unit.
    pub bucket_by: String,
    /// false: every unit gets `off_variant` (also for flags the environment does not list).
    pub enabled: bool,
    /// The experiment gating the flag's splits in this environment; absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<Experiment>,
    /// Served when no rule matches.
    pub fallthrough: String,
    pub off_variant: String,
    /// Sorted by flag key.
    pub prerequisites: Vec<Prerequisite>,
    pub rules: Vec<Rule>,
    pub salt: String,
    /// Sorted by time.
    pub schedule: Vec<FlagStep>,
    /// Variant values by name.
    pub variants: BTreeMap<String, Value>,
}

/// An experiment on a flag: a unit that a split would assign a variant is served `control`
/// instead when the holdout holds it out or it is outside the layer slice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    pub control: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout: Option<Holdout>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<LayerSlice>,
    /// The experiment's key.
    pub name: String,
}

/// Held out: bucket("{salt}/holdout/{unit}", 100000) < percent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Holdout {
    pub name: String,
    /// Thousandths of a percent, below 100000.
    pub percent: u32,
    pub salt: String,
}

/// In the experiment: from ≤ bucket("{salt}/layer/{unit}", 100000) < to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LayerSlice {
    /// Thousandths of a percent.
    pub from: u32,
    pub name: String,
    pub salt: String,
    /// Thousandths of a percent, above `from`, at most 100000.
    pub to: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Prerequisite {
    pub flag: String,
    pub variant: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// All must hold.
    pub conditions: Vec<Condition>,
    pub name: String,
    /// Thousandths of a percent of matching units, 0–100000.
    pub rollout: u32,
    /// Sorted by time.
    pub schedule: Vec<RuleStep>,
    pub serve: Serve,
}

/// A variant, or a weighted split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Serve {
    Variant(String),
    /// Sorted by variant name; weights in thousandths of a percent, summing to 100000.
    Split(Vec<Weight>),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Weight {
    pub variant: String,
    pub weight: u32,
}

/// From `at` (milliseconds since the Unix epoch) on, the rule uses the values given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleStep {
    pub at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serve: Option<Serve>,
}

/// From `at` (milliseconds since the Unix epoch) on, the flag uses the values given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FlagStep {
    pub at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallthrough: Option<String>,
}

/// A test of an attribute (`attr`, `op`, `values`) or of segment membership (`segment`,
/// `negate`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The attribute path, e.g. "org.id".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attr: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_case: bool,
    /// With `segment`: holds when the unit is not in it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub negate: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<Op>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// Operands: one for comparisons, none for exists / not_exists. Date-times are
    /// milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<Value>,
}

fn is_false(b: &bool) -> bool {
    !b
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Segment {
    pub conditions: Vec<Condition>,
    /// Sorted, without repeats.
    pub exclude: Vec<String>,
    /// Sorted, without repeats.
    pub include: Vec<String>,
}

impl Bundle {
    /// The canonical bytes of a built bundle: format 2 ([`wire`]), JSON with object keys in
    /// byte order and no whitespace.
    ///
    /// serde writes struct fields in declaration order, so every struct of [`wire`] declares
    /// its fields in byte order, and maps are sorted (`BTreeMap`, and serde_json's `Map`
    /// without its `preserve_order` feature). A test re-sorts built bundles to hold this to
    /// account.
    pub fn to_canonical_json(&self) -> Vec<u8> {
        self.encode()
            .expect("built bundles name only variants they have")
    }

    /// The canonical bytes, or what does not hold together: a rule, schedule or experiment
    /// naming a variant the flag does not have.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        serde_json::to_vec(&wire::encode(self)?).map_err(|e| EncodeError::Json(e.to_string()))
    }
}

/// The key-derivation context of payload hashes.
pub const PAYLOAD_HASH_CONTEXT: &str = "flagstone 2026-12 payload v1";

/// A variant's value as canonical JSON: compact, object keys sorted by their bytes, numbers
/// as serde_json writes them. Sorted here rather than by the map type, which a dependency's
/// feature could switch to insertion order.
pub fn canonical_json(value: &serde_json::Value) -> String {
    fn write(out: &mut String, value: &serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (key, value)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::from(key.as_str()).to_string());
                    out.push(':');
                    write(out, value);
                }
                out.push('}');
            }
            serde_json::Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(out, item);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let mut out = String::new();
    write(&mut out, value);
    out
}

/// The hash an eval report names the payload it scored by: blake3 in key-derivation mode with
/// [`PAYLOAD_HASH_CONTEXT`] of the value's [`canonical_json`], as 64 lowercase hex digits.
pub fn payload_hash(value: &serde_json::Value) -> String {
    let mut hasher = blake3::Hasher::new_derive_key(PAYLOAD_HASH_CONTEXT);
    hasher.update(canonical_json(value).as_bytes());
    hasher.finalize().to_hex().to_string()
}

/// The content hash of bundle bytes: blake3 in key-derivation mode with [`HASH_CONTEXT`],
/// as 64 lowercase hex digits.
pub fn content_hash(bytes: &[u8]) -> String {
    let mut hasher = blake3::Hasher::new_derive_key(HASH_CONTEXT);
    hasher.update(bytes);
    hasher.finalize().to_hex().to_string()
}
