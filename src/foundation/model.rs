//! The typed model of a flags repository's files, exactly as written.
//!
//! Every type here is deserialized from the spanned TOML tree of one file, and the JSON Schemas
//! in `schema/` are generated from these same types, so the schema and the model cannot drift.
//! Values that later stages point at carry their source span in [`Spanned`]. Spans never take
//! part in comparisons: moving text is not a change.

use std::borrow::Borrow;
use std::fmt;
use std::ops::{Deref, Range};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

pub use crate::op::{AttrType, Op, Operand};
use crate::stats::paired::{Margin, SCORE_LIMIT};
use serde::de::{self, Deserialize, Deserializer, IntoDeserializer, MapAccess, Visitor};

/// A value with the byte range it was read from. Files are at most 1 MiB, so the range is
/// stored as two `u32`s: the model holds many of these.
#[derive(Clone, Debug, Default)]
pub struct Spanned<T> {
    pub value: T,
    start: u32,
    end: u32,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Range<usize>) -> Self {
        let clamp = |offset: usize| u32::try_from(offset).unwrap_or(u32::MAX);
        Spanned {
            value,
            start: clamp(span.start),
            end: clamp(span.end),
        }
    }

    pub fn span(&self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

impl<T> Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}
impl<T: Eq> Eq for Spanned<T> {}
impl<T: PartialOrd> PartialOrd for Spanned<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.value.partial_cmp(&other.value)
    }
}
impl<T: Ord> Ord for Spanned<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.value.cmp(&other.value)
    }
}
impl Borrow<str> for Spanned<Str> {
    fn borrow(&self) -> &str {
        &self.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = toml::Spanned::<T>::deserialize(deserializer)?;
        let span = spanned.span();
        Ok(Spanned::new(spanned.into_inner(), span))
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

pub type Name = Spanned<Str>;

/// A string of the model. Most names in flag files (variants, rules, attributes, segments,
/// owners) are short, and a heap allocation costs more than their text: up to
/// [`Str::INLINE`] bytes are held inline, longer strings on the heap behind a thin pointer,
/// so that a string takes 16 bytes (a `String` 24, and a `Box<str>` 16 without room inline).
#[derive(Clone, Default)]
pub struct Str(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; Str::INLINE] },
    Heap(Box<Box<str>>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Inline {
            len: 0,
            bytes: [0; Str::INLINE],
        }
    }
}

impl Str {
    /// The longest string held inline: what fits in 16 bytes beside the tag and the length.
    pub const INLINE: usize = 14;

    pub fn new(text: &str) -> Str {
        match u8::try_from(text.len()) {
            Ok(len) if text.len() <= Self::INLINE => {
                let mut bytes = [0; Self::INLINE];
                bytes[..text.len()].copy_from_slice(text.as_bytes());
                Str(Repr::Inline { len, bytes })
            }
            _ => Str(Repr::Heap(Box::new(text.into()))),
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            // A whole `str` was copied in, so the bytes are UTF-8.
            Repr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Repr::Heap(text) => text,
        }
    }
}

impl Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Str {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Str {
    fn from(text: &str) -> Str {
        Str::new(text)
    }
}

impl From<Str> for String {
    fn from(text: Str) -> String {
        match text.0 {
            Repr::Inline { .. } => text.as_str().to_owned(),
            Repr::Heap(text) => (*text).into(),
        }
    }
}

impl PartialEq for Str {
    fn eq(&self, other: &Str) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for Str {}
impl PartialEq<str> for Str {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}
impl PartialEq<&str> for Str {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
impl PartialEq<String> for Str {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}
impl PartialOrd for Str {
    fn partial_cmp(&self, other: &Str) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Str {
    fn cmp(&self, other: &Str) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}
impl std::hash::Hash for Str {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<'de> Deserialize<'de> for Str {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl Visitor<'_> for StrVisitor {
            type Value = Str;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str, E> {
                Ok(Str::new(v))
            }
        }
        deserializer.deserialize_str(StrVisitor)
    }
}

impl serde::Serialize for Str {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl JsonSchema for Str {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        String::schema_name()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        String::json_schema(generator)
    }
}

/// A TOML table, held as its entries sorted by key. Flag files hold many small tables, for
/// which a sorted vector is several times smaller than a `BTreeMap`.
#[derive(Clone, Debug, PartialEq)]
pub struct Table<V>(Vec<(Name, V)>);

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table(Vec::new())
    }
}

impl<V> Table<V> {
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| &self.0[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn keys(&self) -> impl Iterator<Item = &Name> + Clone {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Name, &V)> + ExactSizeIterator {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a, V> IntoIterator for &'a Table<V> {
    type Item = &'a (Name, V);
    type IntoIter = std::slice::Iter<'a, (Name, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Table<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TableVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for TableVisitor<V> {
            type Value = Table<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Table<V>, A::Error> {
                let mut entries: Vec<(Name, V)> = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                // TOML forbids repeated keys, so sorting is all it takes to allow lookups.
                entries.sort_by(|a, b| a.0.value.cmp(&b.0.value));
                Ok(Table(entries))
            }
        }
        deserializer.deserialize_map(TableVisitor(std::marker::PhantomData))
    }
}

impl<V: JsonSchema> JsonSchema for Table<V> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Table_of_{}", V::schema_name()).into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "additionalProperties": generator.subschema_for::<V>(),
        })
    }
}

/// `flagstone.toml`: the project.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[schemars(title = "flagstone project (flagstone.toml)")]
pub struct ProjectFile {
    /// The project's name.
    pub name: Name,
    /// Environments in promotion order, e.g. ["development", "staging", "production"].
    #[schemars(length(min = 1))]
    pub environments: Spanned<Vec<Name>>,
    /// Context attributes that conditions may use, by name. Dotted names ("org.id") address
    /// nested context objects and must be quoted in TOML. `targeting_key` is built in.
    #[serde(default)]
    pub attributes: Table<AttributeDecl>,
    /// Teams by name, each a list of members' logins. Owners refer to a team as "@name".
    #[serde(default)]
    pub teams: Table<Vec<Name>>,
    /// Who must approve which changes (`flagstone review`). Omitted: every change needs one
    /// approval from the owners of what it changes.
    pub review: Option<ReviewPolicy>,
    /// What `flagstone stale` reports. Omitted: the defaults of docs/stale.md.
    pub stale: Option<StaleConfig>,
    /// How `flagstone refs` finds flag keys in source code (docs/refs.md).
    pub refs: Option<RefsConfig>,
    /// Mutually exclusive layers by name: experiments in one layer take disjoint slices of
    /// its units (docs/experiments.md).
    #[serde(default)]
    pub layers: Table<Spanned<Layer>>,
    /// Holdouts by name: a share of units kept out of every experiment naming the holdout.
    #[serde(default)]
    pub holdouts: Table<Spanned<Holdout>>,
    /// Metric definitions by name: what each metric an experiment names is computed from
    /// (docs/format.md). Once any is defined, experiments may name only defined metrics.
    #[serde(default)]
    pub metrics: Table<Spanned<MetricDefinition>>,
    /// The warehouse tables `flagstone sql` writes its query against (docs/raw-data.md).
    pub warehouse: Option<Warehouse>,
}

/// `[warehouse]` in flagstone.toml: the tables holding the raw data of experiments.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Warehouse {
    /// The exposures table or view, e.g. "analytics.exposures": one column per field of an
    /// exposure event (docs/exposures.md). One to three dotted parts, each an ASCII letter
    /// or `_` followed by letters, digits, `_` or `-`; quoted in the query, so case counts.
    pub exposures: Name,
    /// The events table or view, e.g. "analytics.events": columns `time`, `unit`, `event`
    /// and one numeric column per property a metric reads. Named like `exposures`.
    pub events: Name,
}

/// Whether `name` is a warehouse table name: one to three parts joined by dots, each an ASCII
/// letter or `_` followed by ASCII letters, digits, `_` or `-`. Strict, so that a name is the
/// same table in every dialect once each part is quoted.
pub fn valid_table_name(name: &str) -> bool {
    let parts = name.split('.');
    let count = parts.clone().count();
    (1..=3).contains(&count)
        && parts.into_iter().all(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

/// `[metrics.<name>]`: how a metric is computed per unit from its events, for every
/// experiment that names it.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct MetricDefinition {
    /// What the metric measures.
    pub description: Name,
    /// The event counted, e.g. "workspace_activated". Every aggregation but ratio needs it.
    pub event: Option<Name>,
    /// converted (did the event at least once in the window: a rate), count (events per
    /// unit), sum or mean (of the event's numeric `property` per unit), or ratio (of two
    /// other metrics' totals).
    pub aggregation: Spanned<Aggregation>,
    /// For sum and mean: the event's numeric property.
    pub property: Option<Name>,
    /// For a ratio: the defined metric summed above the line.
    pub numerator: Option<Name>,
    /// For a ratio: the defined metric summed below the line.
    pub denominator: Option<Name>,
    /// How long after the unit's first exposure its events count: a whole number of days,
    /// hours or minutes ("7d", "24h", "30m"). Every aggregation but ratio needs it.
    pub window: Option<Name>,
    /// A CUPED covariate: the same aggregation over a span before first exposure.
    pub covariate: Option<Spanned<Covariate>>,
    /// Which way is better. Default: higher.
    pub direction: Option<Spanned<Direction>>,
}

/// `covariate = { window = "14d" }` of a metric definition.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Covariate {
    /// How long before the unit's first exposure its events count, like `window`.
    pub window: Name,
}

/// How a metric definition aggregates a unit's events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    Converted,
    Count,
    Sum,
    Mean,
    Ratio,
}

impl Aggregation {
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregation::Converted => "converted",
            Aggregation::Count => "count",
            Aggregation::Sum => "sum",
            Aggregation::Mean => "mean",
            Aggregation::Ratio => "ratio",
        }
    }

    /// The kind of experiment metric the aggregation makes.
    pub fn kind(self) -> MetricKind {
        match self {
            Aggregation::Converted => MetricKind::Binomial,
            Aggregation::Count | Aggregation::Sum => MetricKind::Mean,
            // The mean per event: the ratio of the property's sum to the events that carry it,
            // over a variant's units. A unit without events has no mean of its own.
            Aggregation::Mean | Aggregation::Ratio => MetricKind::Ratio,
        }
    }

    /// Whether the aggregation reads a numeric property of the event.
    pub fn has_property(self) -> bool {
        matches!(self, Aggregation::Sum | Aggregation::Mean)
    }
}

/// A window's length in minutes: a positive whole number followed by `d`, `h` or `m`
/// ("7d", "24h", "30m"); `None` for anything else.
pub fn window_minutes(text: &str) -> Option<u64> {
    let unit = text.chars().last()?;
    let number = &text[..text.len() - unit.len_utf8()];
    let scale = match unit {
        'd' => 24 * 60,
        'h' => 60,
        'm' => 1,
        _ => return None,
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let minutes = number.parse::<u64>().ok()?.checked_mul(scale)?;
    (minutes > 0).then_some(minutes)
}

/// `[layers.<name>]`: units split into slices that experiments claim exclusively.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Layer {
    /// What the layer is for.
    pub description: Name,
    /// Seed of the layer's bucketing. Default: the layer's name.
    pub salt: Option<Name>,
    /// The attribute whose value is the unit; must be the bucket_by of its experiments'
    /// flags. Default: "targeting_key".
    pub bucket_by: Option<Name>,
}

/// `[holdouts.<name>]`: a share of units that stays out of every experiment naming it.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Holdout {
    /// Percentage of units held out: at least 0, below 100, up to 3 decimals.
    pub percent: Spanned<f64>,
    /// What the holdout measures.
    pub description: Name,
    /// Seed of the holdout's bucketing. Default: the holdout's name.
    pub salt: Option<Name>,
    /// The attribute whose value is the unit; must be the bucket_by of its experiments'
    /// flags. Default: "targeting_key".
    pub bucket_by: Option<Name>,
}

/// `experiments/<key>.toml`: an experiment on one flag's split. Its key is the path below
/// `experiments/` without `.toml`.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[schemars(title = "flagstone experiment (experiments/**/*.toml)")]
pub struct ExperimentFile {
    /// The key of the flag whose split assigns the variants.
    pub flag: Name,
    /// The flag's variant that is the baseline, served to units outside the experiment.
    pub control: Name,
    /// What the experiment expects to change, and why.
    pub hypothesis: Name,
    /// Teams ("@growth", declared in flagstone.toml) or users who own the experiment.
    #[schemars(length(min = 1))]
    pub owners: Spanned<Vec<Name>>,
    /// The first day of the experiment (a TOML date).
    pub start: Spanned<Timestamp>,
    /// The planned last day (a TOML date); `flagstone check` warns when it comes too early
    /// to detect the minimum detectable effect.
    pub end: Option<Spanned<Timestamp>>,
    /// The environments it runs in; in each, the flag must serve a split.
    #[schemars(length(min = 1))]
    pub environments: Spanned<Vec<Name>>,
    /// The layer (flagstone.toml [layers]) whose slice `range` the experiment occupies.
    pub layer: Option<Name>,
    /// The slice of the layer, [from, to) in percent of its units, up to 3 decimals.
    pub range: Option<Spanned<Vec<Spanned<f64>>>>,
    /// A holdout (flagstone.toml [holdouts]) whose units are kept out of the experiment.
    pub holdout: Option<Name>,
    /// The minimum detectable effect: the smallest relative change of the primary metric
    /// worth detecting, e.g. 0.05 for 5%.
    pub mde: Spanned<f64>,
    /// The two-sided significance level. Default: 0.05.
    pub alpha: Option<Spanned<f64>>,
    /// The probability of detecting an effect of size `mde`. Default: 0.8.
    pub power: Option<Spanned<f64>>,
    /// Units per day that reach the flag's split, before the layer and holdout.
    pub daily_units: Spanned<f64>,
    /// The metric that decides the experiment; `mde` and the plan refer to it.
    pub primary: Spanned<Metric>,
    /// Metrics reported alongside the primary.
    #[serde(default)]
    pub secondary: Vec<Spanned<Metric>>,
    /// Metrics that must not regress by more than their `max_regression`.
    #[serde(default)]
    pub guardrails: Vec<Spanned<Metric>>,
    /// The outcome, once decided. A decided experiment is over: `flagstone stale` reports it
    /// while its flag still splits units.
    pub decision: Option<Spanned<Decision>>,
}

/// `[decision]` of an experiment: what was decided, which variant everyone gets, and when.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Decision {
    /// shipped (a variant other than the control won, and everyone gets it) or abandoned
    /// (everyone keeps the control).
    pub outcome: Spanned<Outcome>,
    /// The variant everyone gets: for shipped, the arm that won (required, not the
    /// control); for abandoned, the control (may be omitted).
    pub variant: Option<Name>,
    /// The day it was decided (a TOML date), on or after `start`.
    pub date: Spanned<Timestamp>,
    /// Why: the result, a link to the analysis.
    pub note: Option<Name>,
}

/// How an experiment was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Shipped,
    Abandoned,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Shipped => "shipped",
            Outcome::Abandoned => "abandoned",
        }
    }
}

impl ExperimentFile {
    /// The variant a decision gives everyone: the shipped arm, or the control.
    pub fn decided_variant(&self) -> Option<&str> {
        let decision = self.decision.as_ref()?;
        Some(match decision.outcome.value {
            Outcome::Shipped => decision.variant.as_ref()?.as_str(),
            Outcome::Abandoned => self.control.as_str(),
        })
    }

    /// The slice of the layer, when the experiment has a layer and a two-number range.
    pub fn slice(&self) -> Option<(f64, f64)> {
        self.layer.as_ref()?;
        match self.range.as_ref()?.as_slice() {
            [from, to] => Some((from.value, to.value)),
            _ => None,
        }
    }
}

/// A metric of an experiment, read from the columns `flagstone analyze` is given.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Metric {
    /// The metric's name: the prefix of its columns.
    pub name: Name,
    /// binomial (a 0/1 conversion), mean (a number per unit) or ratio (Σnumerator /
    /// Σdenominator). May be omitted when flagstone.toml defines the metric.
    pub kind: Option<Spanned<MetricKind>>,
    /// For a ratio: the numerator's column prefix (a defined ratio's numerator).
    pub numerator: Option<Name>,
    /// For a ratio: the denominator's column prefix (a defined ratio's denominator).
    pub denominator: Option<Name>,
    /// Which way is better. Default: higher.
    pub direction: Option<Spanned<Direction>>,
    /// The column prefix of a pre-experiment covariate for CUPED (binomial and mean only).
    pub covariate: Option<Name>,
    /// The primary metric's expected control value: a rate in (0, 1) for binomial, a mean
    /// otherwise.
    pub baseline: Option<Spanned<f64>>,
    /// The primary metric's expected standard deviation per unit (mean and ratio).
    pub stddev: Option<Spanned<f64>>,
    /// For a guardrail: the largest tolerated relative regression, e.g. 0.02.
    pub max_regression: Option<Spanned<f64>>,
}

/// How a metric is computed per variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    Binomial,
    Mean,
    Ratio,
}

impl MetricKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Binomial => "binomial",
            MetricKind::Mean => "mean",
            MetricKind::Ratio => "ratio",
        }
    }
}

/// Which way a metric should move.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Higher,
    Lower,
}

impl ProjectFile {
    /// The logins `who` stands for: the members of a team ("@payments"), or a login itself.
    pub fn people<'a>(&'a self, who: &'a str) -> Vec<&'a str> {
        match who.strip_prefix('@') {
            Some(team) => self
                .teams
                .get(team)
                .into_iter()
                .flatten()
                .map(|m| m.as_str())
                .collect(),
            None => vec![who],
        }
    }
}

/// `[stale]`: when `flagstone stale` calls a flag stale.
#[derive(Clone, Debug, Default, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct StaleConfig {
    /// How long a flag of each kind may live, counted from the commit that added its file.
    #[serde(default)]
    pub lifetimes: Lifetimes,
    /// The kinds reported when every environment serves one variant to everyone (fully
    /// launched, or dead). Default: release, experiment and permission; ops switches and
    /// config flags usually serve one variant by design.
    pub single_variant_kinds: Option<Vec<FlagKind>>,
}

/// Lifetimes by flag kind. Defaults: release "90d", experiment "60d"; ops, permission, config
/// and ai "none".
#[derive(Clone, Debug, Default, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Lifetimes {
    /// Default: "90d".
    pub release: Option<Lifetime>,
    /// Default: "60d".
    pub experiment: Option<Lifetime>,
    /// Default: "none".
    pub ops: Option<Lifetime>,
    /// Default: "none".
    pub permission: Option<Lifetime>,
    /// Default: "none".
    pub config: Option<Lifetime>,
    /// Default: "none".
    pub ai: Option<Lifetime>,
}

/// A lifetime: days ("90d"), weeks ("12w"), or "none" for no limit. Held in days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime(pub Option<u32>);

/// The schema's pattern of a lifetime; deserialization accepts exactly the same strings.
const LIFETIME_PATTERN: &str = "^(none|[1-9][0-9]{0,4}[dw])$";

impl<'de> Deserialize<'de> for Lifetime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text == "none" {
            return Ok(Lifetime(None));
        }
        let invalid = || de::Error::custom(format!("{text:?} is not a lifetime such as \"90d\""));
        let (count, days) = match (text.strip_suffix('d'), text.strip_suffix('w')) {
            (Some(count), _) => (count, 1),
            (_, Some(count)) => (count, 7),
            _ => return Err(invalid()),
        };
        let valid = (1..=5).contains(&count.len())
            && !count.starts_with('0')
            && count.bytes().all(|b| b.is_ascii_digit());
        match count.parse::<u32>() {
            Ok(count) if valid => Ok(Lifetime(Some(count * days))),
            _ => Err(invalid()),
        }
    }
}

impl JsonSchema for Lifetime {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Lifetime".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": LIFETIME_PATTERN,
            "title": "a lifetime such as \"90d\" or \"12w\", or \"none\"",
        })
    }
}

/// `[review]`: the approval policy. A pull request is always judged by its base revision's
/// policy and teams, so it cannot lower the bar for itself.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ReviewPolicy {
    /// Who must approve changes to `[review]` and `[teams]`: "@team"s and logins.
    #[schemars(length(min = 1))]
    pub protected: Spanned<Vec<Name>>,
    /// How many of them must approve such a change. Default: 1.
    #[schemars(range(min = 1, max = 100))]
    pub protected_approvals: Option<Spanned<u32>>,
    /// Whether the author's own approval counts. Default: false.
    pub self_approval: Option<bool>,
    /// Which flags a kill-only change may turn off without approval (the emergency path), so
    /// that turning a feature off is never held up: `true` (the default) for release and
    /// experiment flags, whose off variant is the feature turned off; a list of kinds; or
    /// `false` for none. The off variant of an ops or config flag is often the permissive
    /// value (a check turned off, a higher limit), so those need approval unless listed.
    pub emergency_kill: Option<EmergencyKill>,
    /// Whose request for changes blocks a pull request: "anyone" with write access (the
    /// default), only reviewers "eligible" for a requirement of the change, or "nobody".
    pub changes_requested: Option<ChangesRequested>,
    /// Rules: every rule a change matches must be satisfied. A change no rule matches needs
    /// no approval, so a policy usually ends with a catch-all rule.
    #[serde(default)]
    pub rules: Vec<Spanned<ReviewRule>>,
}

/// `[review] emergency_kill`: whether, or for which kinds of flag, kills need no approval.
#[derive(Clone, Debug, PartialEq, serde::Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EmergencyKill {
    /// true: release and experiment flags; false: none.
    Enabled(bool),
    /// The kinds of flag whose kills need no approval.
    Kinds(Vec<FlagKind>),
}

impl EmergencyKill {
    /// The kinds `true` stands for: flags whose off variant is the feature turned off.
    pub const DEFAULT_KINDS: [FlagKind; 2] = [FlagKind::Release, FlagKind::Experiment];

    pub fn allows(&self, kind: FlagKind) -> bool {
        match self {
            EmergencyKill::Enabled(enabled) => *enabled && Self::DEFAULT_KINDS.contains(&kind),
            EmergencyKill::Kinds(kinds) => kinds.contains(&kind),
        }
    }
}

/// `[review] changes_requested`: whose request for changes blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangesRequested {
    /// Anyone with write access to the repository.
    #[default]
    Anyone,
    /// Only reviewers who could approve a requirement of the change.
    Eligible,
    /// Nobody: requests for changes are shown, and approvals alone decide.
    Nobody,
}

/// One requirement of the review policy and the changes it applies to.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ReviewRule {
    /// Shown in the review report.
    pub name: Name,
    /// The environments whose changes it applies to. Default: all. Segment and project
    /// changes apply to every environment.
    pub environments: Option<Vec<Name>>,
    /// The kinds of change it applies to. Default: all.
    pub changes: Option<Vec<Spanned<ChangeKind>>>,
    /// Applies only to changes that raise a rollout above this percentage.
    #[schemars(range(min = 0.0, max = 100.0))]
    pub rollout_above: Option<Spanned<f64>>,
    /// Applies only to changes whose blast radius is above this percentage of units. Segment
    /// and project changes, which have none of their own, always meet it.
    #[schemars(range(min = 0.0, max = 100.0))]
    pub blast_radius_above: Option<Spanned<f64>>,
    /// How many distinct people must approve. Default: 1.
    #[schemars(range(min = 1, max = 100))]
    pub approvals: Option<Spanned<u32>>,
    /// Who may approve: "owners" (of the changed flag; for a segment, of the flags it
    /// affects; for the project, the protected approvers), "anyone", "@team" or a login.
    /// Every rule but an `evals` rule names them.
    #[schemars(length(min = 1))]
    pub from: Option<Spanned<Vec<Name>>>,
    /// Instead of approvals, eval evidence: each changed variant of an AI configuration flag
    /// (kind "ai") needs an eval report showing the head's payload does not score worse than
    /// the base's (docs/review.md#eval-evidence).
    pub evals: Option<Spanned<EvalsRule>>,
}

/// `[[review.rules]] evals = { … }`: what an eval report must show for a changed AI payload.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct EvalsRule {
    /// Where each changed variant's report is, relative to the repository's directory:
    /// `{flag}` and `{variant}` stand for the flag's key and the variant's name, e.g.
    /// "evals/{flag}/{variant}.csv". Both must appear, so no two variants share a report.
    pub reports: Name,
    /// The tolerated regression: score units (0.02) or a percentage of the baseline mean
    /// ("2%"). Default: 0.
    pub max_regression: Option<Spanned<MaxRegression>>,
    /// The fewest cases a pass needs; fewer make the result inconclusive. Default: 20.
    #[schemars(range(min = 2, max = 100_000_000))]
    pub min_cases: Option<Spanned<u32>>,
    /// Lower scores are better (a latency, a cost, an error rate). Default: false.
    pub lower_is_better: Option<bool>,
    /// The interval is (1 − alpha). Default: 0.05.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub alpha: Option<Spanned<f64>>,
    /// Bootstrap resamples. Default: 2,000, so that the gate stays fast on large eval sets
    /// (a percentile interval needs 1,000 or more; docs/review.md#eval-evidence).
    #[schemars(range(min = 1, max = 10_000_000))]
    pub resamples: Option<Spanned<u32>>,
    /// What an inconclusive result needs: "block" (the default: more cases), or approvals
    /// from named people, e.g. { approvals = 1, from = ["@ai-leads"] }.
    pub inconclusive: Option<Inconclusive>,
}

impl EvalsRule {
    /// The path of the report on `flag`'s `variant`, relative to the repository's directory.
    pub fn report(&self, flag: &str, variant: &str) -> String {
        eval_report(&self.reports, flag, variant)
    }
}

/// The report path `pattern` gives `flag`'s `variant`.
pub fn eval_report(pattern: &str, flag: &str, variant: &str) -> String {
    pattern
        .replace("{flag}", flag)
        .replace("{variant}", variant)
}

/// `max_regression`: a number in score units, or a percentage such as "2%".
#[derive(Clone, Debug, PartialEq, serde::Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum MaxRegression {
    Score(f64),
    /// A number followed by `%`: a percentage of the baseline mean.
    Text(String),
}

impl MaxRegression {
    /// The margin it stands for; `None` when it is negative, too large or not a number.
    pub fn margin(&self) -> Option<Margin> {
        match self {
            MaxRegression::Score(x) if (0.0..=SCORE_LIMIT).contains(x) => {
                Some(Margin::Absolute(*x))
            }
            MaxRegression::Score(_) => None,
            MaxRegression::Text(text) => Margin::parse(text),
        }
    }
}

/// What an inconclusive eval result needs: "block" (the gate stays closed until more cases
/// decide), or approvals that accept it, e.g. { approvals = 1, from = ["@ai-leads"] }.
// Deserialized by hand: an untagged enum would buffer the table and lose the spans inside it.
#[derive(Clone, Debug, JsonSchema)]
#[serde(untagged)]
pub enum Inconclusive {
    /// "block": the gate stays closed until the evidence is conclusive.
    Block(Block),
    /// Approvals that accept the uncertainty.
    Approve(InconclusiveApprovals),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, JsonSchema)]
pub enum Block {
    #[serde(rename = "block")]
    Block,
}

impl<'de> Deserialize<'de> for Inconclusive {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InconclusiveVisitor;
        impl<'de> Visitor<'de> for InconclusiveVisitor {
            type Value = Inconclusive;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#""block" or a table { approvals = N, from = [...] }"#)
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Inconclusive, E> {
                Block::deserialize(value.into_deserializer()).map(Inconclusive::Block)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Inconclusive, A::Error> {
                InconclusiveApprovals::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(Inconclusive::Approve)
            }
        }
        deserializer.deserialize_any(InconclusiveVisitor)
    }
}

#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct InconclusiveApprovals {
    /// How many distinct people must approve. Default: 1.
    #[schemars(range(min = 1, max = 100))]
    pub approvals: Option<Spanned<u32>>,
    /// Who may: "owners" (of the flag), "@team" or a login.
    #[schemars(length(min = 1))]
    pub from: Spanned<Vec<Name>>,
}

/// In a rule's `from`: the owners of what the change touches.
pub const OWNERS: &str = "owners";
/// In a rule's `from`: anyone but the author.
pub const ANYONE: &str = "anyone";

/// A kind of change, as review rules name them: add or remove (a flag; its owners must always
/// approve a removal), kill (`enabled = false`: the emergency path) or enable, rollout (a
/// rule's percentage), targeting (rules, conditions, served variants, splits, prerequisites,
/// schedules, bucketing), variants (or their values), owners (its current owners must always
/// approve), segment, project (environments, attributes, other settings), metadata (a flag's
/// kind, expiry, emergency opt-out, description, tags) or files (test files, experiment
/// settings, other files of the repository); and, for experiments, experiment-start (it begins
/// allocating units), experiment-stop (it stops early), experiment-allocation (its split,
/// layer slice, holdout or environments after its start) or experiment-metrics (its metrics or
/// alpha after its start).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Deserialize,
    serde::Serialize,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Add,
    Remove,
    Kill,
    Enable,
    Rollout,
    Targeting,
    Variants,
    Owners,
    Segment,
    Project,
    Metadata,
    Files,
    #[serde(rename = "experiment-start")]
    ExperimentStart,
    #[serde(rename = "experiment-stop")]
    ExperimentStop,
    #[serde(rename = "experiment-allocation")]
    ExperimentAllocation,
    #[serde(rename = "experiment-metrics")]
    ExperimentMetrics,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Add => "add",
            ChangeKind::Remove => "remove",
            ChangeKind::Kill => "kill",
            ChangeKind::Enable => "enable",
            ChangeKind::Rollout => "rollout",
            ChangeKind::Targeting => "targeting",
            ChangeKind::Variants => "variants",
            ChangeKind::Owners => "owners",
            ChangeKind::Segment => "segment",
            ChangeKind::Project => "project",
            ChangeKind::Metadata => "metadata",
            ChangeKind::Files => "files",
            ChangeKind::ExperimentStart => "experiment-start",
            ChangeKind::ExperimentStop => "experiment-stop",
            ChangeKind::ExperimentAllocation => "experiment-allocation",
            ChangeKind::ExperimentMetrics => "experiment-metrics",
        }
    }
}

/// A declared context attribute.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct AttributeDecl {
    /// The attribute's type; conditions are type-checked against it.
    #[serde(rename = "type")]
    pub ty: Spanned<AttrType>,
    /// The only values the attribute may take; conditions using others are errors.
    pub values: Option<Vec<Spanned<Scalar>>>,
    /// What the attribute means.
    pub description: Option<String>,
}

/// `flags/<key>.toml`: one flag. Its key is the path below `flags/` without `.toml`.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[schemars(title = "flagstone flag (flags/**/*.toml)")]
pub struct FlagFile {
    /// What the flag does, for people reading a review or a dashboard.
    pub description: Name,
    /// Teams ("@payments", declared in flagstone.toml) or users who own the flag.
    #[schemars(length(min = 1))]
    pub owners: Spanned<Vec<Name>>,
    /// What the flag is for; release and experiment flags must say when they expire.
    pub kind: Spanned<FlagKind>,
    /// Free-form labels.
    #[serde(default)]
    pub tags: Vec<Name>,
    /// The date by which the flag should be removed from code.
    pub expires: Option<Spanned<Timestamp>>,
    /// Variant names and their values. Omitted: a boolean flag with `off = false`, `on = true`.
    /// Values are booleans, numbers, strings or tables (JSON payloads); all of one type.
    pub variants: Option<Spanned<Table<Spanned<Payload>>>>,
    /// A JSON Schema file, by path from the repository root, that every variant's value must
    /// satisfy (e.g. "schemas/assistant.json").
    pub payload_schema: Option<Name>,
    /// The variant served when the flag is disabled in an environment that does not name one.
    /// Default: "off".
    pub off_variant: Option<Name>,
    /// The attribute whose value is the bucketing unit. Default: "targeting_key".
    pub bucket_by: Option<Name>,
    /// Seed for bucketing; change it to re-randomise who falls in a rollout. Default: the key.
    pub salt: Option<Name>,
    /// Flags that must serve a given variant before this flag's rules apply.
    #[serde(default)]
    pub prerequisites: Vec<Spanned<Prerequisite>>,
    /// `false`: a kill of this flag always needs approval, whatever the review policy's
    /// `emergency_kill` allows for its kind (say, when its off variant grants something).
    pub emergency_kill: Option<bool>,
    /// Per-environment targeting, by environment name. An environment without an entry
    /// serves the off variant.
    #[serde(default)]
    pub env: Table<Spanned<FlagEnv>>,
}

/// What a flag is for: release (gates a release, removed once rolled out), experiment (serves
/// an experiment's variants), ops (operational switch such as a kill switch), permission
/// (grants a capability), config (remote configuration as variant values) or ai (an AI
/// configuration: tables of prompt, model and parameters as variant values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    Release,
    Experiment,
    Ops,
    Permission,
    Config,
    Ai,
}

impl FlagKind {
    pub fn needs_expiry(self) -> bool {
        matches!(self, FlagKind::Release | FlagKind::Experiment)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FlagKind::Release => "release",
            FlagKind::Experiment => "experiment",
            FlagKind::Ops => "ops",
            FlagKind::Permission => "permission",
            FlagKind::Config => "config",
            FlagKind::Ai => "ai",
        }
    }
}

/// A flag that must serve `variant` (in the same environment) for this flag to apply.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Prerequisite {
    /// The prerequisite flag's key.
    pub flag: Name,
    /// The variant it must serve.
    pub variant: Name,
}

/// A flag's targeting in one environment.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct FlagEnv {
    /// false kills the flag here: every unit gets the off variant. Default: true.
    pub enabled: Option<Spanned<bool>>,
    /// The variant served while the flag is disabled or a prerequisite fails.
    pub off_variant: Option<Name>,
    /// The fallthrough variant, served when no rule matches. Default: the off variant.
    pub serve: Option<Name>,
    // Lists a flag holds per environment and per rule are boxed slices, not vectors: 8 bytes
    // less each, and no spare capacity.
    /// Rules in order; the first whose conditions all hold (and whose rollout includes the
    /// unit) decides the variant.
    #[serde(default)]
    pub rules: Box<[Spanned<Rule>]>,
    /// Timed changes to `enabled` or `serve`, applied at evaluation time, in time order.
    #[serde(default)]
    pub schedule: Box<[Spanned<EnvStep>]>,
}

/// A targeting rule.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Rule {
    /// The rule's name, unique within its environment; shown in evaluation reasons.
    pub name: Name,
    /// Conditions, all of which must hold. Omitted or empty: the rule matches every unit.
    #[serde(rename = "if", default)]
    pub conditions: Box<[Spanned<Condition>]>,
    /// Percentage (0–100, up to 3 decimals) of matching units the rule applies to; the rest
    /// fall through to later rules. Default: 100.
    pub rollout: Option<Spanned<f64>>,
    /// The variant to serve. Exactly one of `serve` and `split`.
    pub serve: Option<Name>,
    // Boxed: most rules serve a variant.
    /// Variant weights (percentages summing to 100) for a weighted split.
    pub split: Option<Box<Spanned<Table<Spanned<f64>>>>>,
    /// Timed changes to this rule's rollout, variant or split, in time order.
    #[serde(default)]
    pub schedule: Box<[Spanned<RuleStep>]>,
}

/// From `at` on, the rule uses the values given here.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RuleStep {
    /// When the step takes effect: a date-time with an offset, e.g. 2026-12-01T09:00:00Z.
    pub at: Spanned<Timestamp>,
    pub rollout: Option<Spanned<f64>>,
    pub serve: Option<Name>,
    pub split: Option<Spanned<Table<Spanned<f64>>>>,
}

/// From `at` on, the environment uses the values given here.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct EnvStep {
    /// When the step takes effect: a date-time with an offset, e.g. 2026-12-01T09:00:00Z.
    pub at: Spanned<Timestamp>,
    pub enabled: Option<Spanned<bool>>,
    pub serve: Option<Name>,
}

/// One condition: an attribute test (`attr` + `op`) or a segment test.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Condition {
    /// The context attribute tested, declared in flagstone.toml.
    pub attr: Option<Name>,
    /// The operator.
    pub op: Option<Spanned<Op>>,
    // Boxed, as is `values`: a condition has one of them or none, and a repository holds many
    // conditions. (Doc comments here are the schema's descriptions.)
    /// The operand of a comparison (gt, semver_gte, before, matches…).
    pub value: Option<Box<Spanned<Scalar>>>,
    /// The operands of a set test (in, starts_with, contains_any, in_cidr…); any may match.
    pub values: Option<Box<Spanned<Vec<Spanned<Scalar>>>>>,
    /// Compare strings case-insensitively (in, starts_with, ends_with, contains and their
    /// negations).
    pub ignore_case: Option<Spanned<bool>>,
    /// Holds when the unit is in this segment.
    pub segment: Option<Name>,
    /// Holds when the unit is not in this segment.
    pub not_segment: Option<Name>,
}

impl Op {
    /// Whether the operator applies to attributes of type `ty`.
    pub fn accepts(self, ty: AttrType) -> bool {
        use Op::*;
        match self {
            Exists | NotExists => true,
            In | NotIn => matches!(ty, AttrType::String | AttrType::Number | AttrType::Boolean),
            StartsWith | NotStartsWith | EndsWith | NotEndsWith | Contains | NotContains
            | Matches | NotMatches => ty == AttrType::String,
            Gt | Gte | Lt | Lte => ty == AttrType::Number,
            SemverEq | SemverGt | SemverGte | SemverLt | SemverLte => ty == AttrType::Semver,
            Before | After => ty == AttrType::Datetime,
            ContainsAny | ContainsAll | ContainsNone => ty == AttrType::StringList,
            InCidr => ty == AttrType::Ip,
        }
    }

    /// Whether `ignore_case` means something for this operator.
    pub fn takes_ignore_case(self) -> bool {
        use Op::*;
        matches!(
            self,
            In | NotIn
                | StartsWith
                | NotStartsWith
                | EndsWith
                | NotEndsWith
                | Contains
                | NotContains
        )
    }
}

/// `segments/<name>.toml`: a reusable audience.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[schemars(title = "flagstone segment (segments/**/*.toml)")]
pub struct SegmentFile {
    /// Who is in the segment, in words.
    pub description: Name,
    /// Units (targeting keys) always in the segment.
    #[serde(default)]
    pub include: Vec<Name>,
    /// Units (targeting keys) never in the segment; exclusion wins over everything.
    #[serde(default)]
    pub exclude: Vec<Name>,
    /// Conditions, all of which must hold; may test other segments. A segment matches a unit
    /// that is included, or that meets every condition when there is at least one.
    #[serde(rename = "if", default)]
    pub conditions: Vec<Spanned<Condition>>,
}

/// `tests/<name>.toml`: evaluation assertions, run by `flagstone test`.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[schemars(title = "flagstone tests (tests/*.toml)")]
pub struct TestFile {
    /// Single evaluations and their expected results.
    #[serde(default)]
    pub cases: Vec<Spanned<TestCase>>,
    /// Share of variants over many synthetic units.
    #[serde(default)]
    pub distributions: Vec<Spanned<Distribution>>,
}

/// Evaluate flags for one context and compare the results.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TestCase {
    pub name: Name,
    /// The environment to evaluate in.
    pub env: Name,
    /// The evaluation context, e.g. { targeting_key = "user-1", country = "US" }.
    pub context: Option<Spanned<Table<Spanned<Payload>>>>,
    /// The evaluation time, for schedules and datetime conditions. Default: the real time.
    pub now: Option<Spanned<Timestamp>>,
    /// Expected variant by flag key.
    #[serde(default)]
    pub variants: Table<Name>,
    /// Expected value by flag key.
    #[serde(default)]
    pub values: Table<Spanned<Payload>>,
}

/// Evaluate one flag for many synthetic units and compare the share of each variant.
#[derive(Clone, Debug, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Distribution {
    pub name: Name,
    pub flag: Name,
    pub env: Name,
    /// Attributes shared by every unit; each unit gets its own targeting key (or `bucket_by`).
    pub context: Option<Spanned<Table<Spanned<Payload>>>>,
    pub now: Option<Spanned<Timestamp>>,
    /// How many units to evaluate. Default: 10000.
    #[schemars(range(min = 1, max = 1_000_000))]
    pub units: Option<Spanned<u32>>,
    /// Expected percentage of units per variant.
    pub expect: Spanned<Table<Spanned<f64>>>,
    /// Allowed deviation in percentage points. Default: 1.
    pub tolerance: Option<Spanned<f64>>,
}

/// A condition operand or allowed attribute value: a string, number, boolean or datetime.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    String(Str),
    Datetime(toml::value::Datetime),
}

impl Scalar {
    pub fn type_name(&self) -> &'static str {
        match self {
            Scalar::Bool(_) => "boolean",
            Scalar::Int(_) | Scalar::Float(_) => "number",
            Scalar::String(_) => "string",
            Scalar::Datetime(_) => "datetime",
        }
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::String(s) => write!(f, "{s:?}"),
            Scalar::Datetime(d) => write!(f, "{d}"),
        }
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number, boolean or datetime")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                i64::try_from(v)
                    .map(Scalar::Int)
                    .map_err(|_| E::custom("integer is too large"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                if v.is_finite() {
                    Ok(Scalar::Float(v))
                } else {
                    Err(E::custom("numbers must be finite"))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::String(Str::new(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar, A::Error> {
                let datetime =
                    toml::value::Datetime::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Scalar::Datetime(datetime))
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

impl JsonSchema for Scalar {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Scalar".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["string", "number", "boolean"] })
    }
}

/// A TOML date or date-time (or a string holding one).
#[derive(Clone, Debug, PartialEq)]
pub struct Timestamp(pub toml::value::Datetime);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Scalar::deserialize(deserializer)? {
            Scalar::Datetime(d) => Ok(Timestamp(d)),
            Scalar::String(s) => s
                .parse()
                .map(Timestamp)
                .map_err(|_| de::Error::custom(format!("{s:?} is not a TOML date or date-time"))),
            other => Err(de::Error::custom(format!(
                "expected a date or date-time, found a {}",
                other.type_name()
            ))),
        }
    }
}

impl Timestamp {
    /// Milliseconds since the Unix epoch, for a date-time with an offset.
    pub fn millis(&self) -> Option<i64> {
        datetime_millis(&self.0)
    }
}

/// Milliseconds since the Unix epoch of a TOML date-time with an offset (seconds may be
/// left out, as TOML 1.1 allows); `None` for local dates and times.
pub fn datetime_millis(datetime: &toml::value::Datetime) -> Option<i64> {
    let (date, time, offset) = (datetime.date?, datetime.time?, datetime.offset?);
    let day = crate::literal::civil_day(
        i64::from(date.year),
        u32::from(date.month),
        u32::from(date.day),
    )?;
    let second = time.second.unwrap_or(0);
    if time.hour > 23 || time.minute > 59 || second > 60 {
        return None;
    }
    let offset_minutes = match offset {
        toml::value::Offset::Z => 0,
        toml::value::Offset::Custom { minutes } => i64::from(minutes),
    };
    let seconds = day * 86_400
        + i64::from(time.hour) * 3600
        + i64::from(time.minute) * 60
        + i64::from(second)
        - offset_minutes * 60;
    Some(seconds * 1000 + i64::from(time.nanosecond.unwrap_or(0) / 1_000_000))
}

impl JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // TOML dates reach the schema as strings; the title names what to write.
        json_schema!({ "type": "string", "title": "a TOML date or date-time" })
    }
}

/// Any TOML value, held as JSON: variant values, test contexts and expected values.
/// TOML datetimes become RFC 3339 strings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Payload(pub serde_json::Value);

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = toml::Value::deserialize(deserializer)?;
        toml_to_json(value).map(Payload).map_err(de::Error::custom)
    }
}

/// Recursive, but bounded: the TOML parser refuses values nested deeper than 80.
fn toml_to_json(value: toml::Value) -> Result<serde_json::Value, &'static str> {
    use serde_json::Value as J;
    Ok(match value {
        toml::Value::String(s) => J::String(s),
        toml::Value::Integer(i) => J::from(i),
        toml::Value::Float(f) => {
            J::Number(serde_json::Number::from_f64(f).ok_or("numbers must be finite")?)
        }
        toml::Value::Boolean(b) => J::Bool(b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(items) => J::Array(
            items
                .into_iter()
                .map(toml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(table) => J::Object(
            table
                .into_iter()
                .map(|(k, v)| Ok((k, toml_to_json(v)?)))
                .collect::<Result<_, &'static str>>()?,
        ),
    })
}

impl JsonSchema for Payload {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Payload".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!(true)
    }
}

/// Deserializes `T` from one parsed file, keeping spans.
pub fn from_tree<T: serde::de::DeserializeOwned>(
    tree: toml::Spanned<toml::de::DeTable<'_>>,
) -> Result<T, toml::de::Error> {
    T::deserialize(tree.into_deserializer())
}

/// `[refs]` in flagstone.toml: how `flagstone refs` finds flag keys in source code.
#[derive(Clone, Debug, Default, serde::Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RefsConfig {
    /// Strings that may stand right before and right after a flag key in code (any of them
    /// on each side). Default: ["\"", "'", "`"], a key inside a string literal.
    pub delimiters: Option<Vec<Name>>,
    /// Alias styles also searched for, as whole words: "camelCase", "PascalCase",
    /// "snake_case", "SCREAMING_SNAKE_CASE", "kebab-case". Default: all but "kebab-case".
    pub aliases: Option<Vec<AliasStyle>>,
    /// Paths not to scan: gitignore-style globs, relative to each scanned path.
    pub exclude: Option<Vec<Name>>,
}

/// A way to write a key as an identifier. The key `checkout/one-page` has the words
/// `checkout`, `one`, `page`: see [`words`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, JsonSchema)]
pub enum AliasStyle {
    /// `checkoutOnePage`
    #[serde(rename = "camelCase")]
    Camel,
    /// `CheckoutOnePage`
    #[serde(rename = "PascalCase")]
    Pascal,
    /// `checkout_one_page`
    #[serde(rename = "snake_case")]
    Snake,
    /// `CHECKOUT_ONE_PAGE`
    #[serde(rename = "SCREAMING_SNAKE_CASE")]
    ScreamingSnake,
    /// `checkout-one-page`
    #[serde(rename = "kebab-case")]
    Kebab,
}

/// How environment, team, variant, flag and segment names are made.
pub const NAME_HELP: &str =
    "names use ASCII letters, digits, `_` and `-`, and start with a letter or digit";

/// The variant names of a flag; a flag without `[variants]` is boolean: off and on.
pub fn variant_names(flag: &FlagFile) -> Vec<&str> {
    match &flag.variants {
        Some(variants) => variants.keys().map(|k| k.as_str()).collect(),
        None => vec!["off", "on"],
    }
}
