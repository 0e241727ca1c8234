//! The evaluator: load a bundle, verifying its content hash, and evaluate flags for a context
//! in process. Evaluation is pure and allocates nothing unless asked to explain itself.
//!
//! ```
//! # fn demo(bytes: &[u8], hash: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use flagstone::eval::Evaluator;
//! let flags = Evaluator::load(bytes, hash)?;
//! let context = serde_json::json!({"targeting_key": "user-1", "country": "US"});
//! let result = flags.evaluate("checkout/one-page", &context, 1_780_000_000_000)?;
//! println!("{} = {} ({:?})", result.variant, result.value, result.reason);
//! # Ok(()) }
//! ```

pub mod bucket;
mod condition;
mod lower;
mod verify;
pub mod watch;

use std::cell::{Cell, OnceCell};
use std::fmt;
use std::hash::Hasher;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::bundle::{self, Bundle, FULL};
use crate::fast_hash::{FastMap, FxHasher};
use bucket::Unit;
use condition::{AttributeTest, Path};
pub use verify::limits;

/// Why a bundle was refused.
#[derive(Clone, Debug)]
pub enum LoadError {
    /// The bytes do not hash to the expected content hash.
    HashMismatch { expected: String, actual: String },
    /// The bytes are not a bundle of a format this evaluator reads.
    Invalid(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::HashMismatch { expected, actual } => write!(
                f,
                "the bundle's content hash is {actual}, not the expected {expected}: it was altered or truncated"
            ),
            LoadError::Invalid(why) => write!(f, "not a valid bundle: {why}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// The flag asked for is not in the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFlag(pub String);

impl fmt::Display for UnknownFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown flag `{}`", self.0)
    }
}

impl std::error::Error for UnknownFlag {}

/// A flag's evaluation: the variant served, its value, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation<'b> {
    pub variant: &'b str,
    pub value: &'b Value,
    pub reason: Reason<'b>,
}

/// Why a variant was served.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason<'b> {
    /// The flag is off in this environment: the off variant.
    Disabled,
    /// A rule matched.
    Rule {
        rule_index: usize,
        rule_name: &'b str,
    },
    /// No rule matched: the fallthrough variant.
    Fallthrough,
    /// A prerequisite flag did not serve its required variant: the off variant.
    PrerequisiteFailed { prerequisite: &'b str },
    /// The context is not a JSON object: the off variant.
    Error { message: &'static str },
    /// A rule's split would have served a variant, but the flag's experiment excludes the
    /// unit (held out, or outside its slice of the layer): the experiment's control.
    Excluded {
        rule_index: usize,
        rule_name: &'b str,
        /// Built with the evaluator, so the reason stays small and evaluation allocates
        /// nothing.
        #[serde(flatten)]
        exclusion: &'b Exclusion,
    },
}

/// Which experiment excluded a unit, and by what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exclusion {
    pub experiment: String,
    pub gate: GateKind,
    /// The holdout's or layer's name.
    pub by: String,
}

/// What excluded a unit from an experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateKind {
    Holdout,
    Layer,
}

impl GateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GateKind::Holdout => "holdout",
            GateKind::Layer => "layer",
        }
    }
}

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Disabled => f.write_str("disabled"),
            Reason::Rule {
                rule_index,
                rule_name,
            } => write!(f, "rule {rule_index} \"{rule_name}\""),
            Reason::Fallthrough => f.write_str("fallthrough"),
            Reason::PrerequisiteFailed { prerequisite } => {
                write!(f, "prerequisite `{prerequisite}` not met")
            }
            Reason::Error { message } => write!(f, "error: {message}"),
            Reason::Excluded {
                rule_index,
                rule_name,
                exclusion,
            } => write!(
                f,
                "rule {rule_index} \"{rule_name}\", excluded from experiment `{}` by {} `{}`",
                exclusion.experiment,
                exclusion.gate.as_str(),
                exclusion.by
            ),
        }
    }
}

/// What happened to one rule, for `--explain`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleTrace {
    pub rule_index: usize,
    pub rule_name: String,
    pub matched: bool,
    /// The index of the first condition that did not hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_condition: Option<usize>,
    /// The unit's rollout bucket (0–99,999) and the threshold it must be under.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u32>,
    /// Set when the rule needed a bucketing unit and the context had none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_unit: Option<String>,
}

impl fmt::Display for RuleTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {} \"{}\": ", self.rule_index, self.rule_name)?;
        match (self.matched, self.bucket, self.threshold) {
            (true, Some(bucket), Some(threshold)) => {
                write!(f, "matched: bucket {bucket} < {threshold}")
            }
            (true, _, _) => f.write_str("matched"),
            (false, Some(bucket), Some(threshold)) => {
                write!(f, "outside the rollout: bucket {bucket} ≥ {threshold}")
            }
            (false, _, _) => match (&self.failed_condition, &self.missing_unit) {
                (Some(condition), _) => write!(f, "condition {condition} does not hold"),
                (None, Some(attribute)) => {
                    write!(f, "no bucketing unit: the context has no `{attribute}`")
                }
                (None, None) => f.write_str("did not match"),
            },
        }
    }
}

/// An evaluation with the trace of every rule considered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation<'b> {
    #[serde(flatten)]
    pub evaluation: Evaluation<'b>,
    pub trace: Vec<RuleTrace>,
}

/// A loaded, verified bundle.
#[derive(Debug)]
pub struct Evaluator {
    hash: String,
    project: String,
    environment: String,
    flags: Vec<Flag>,
    index: KeyIndex,
    segments: Vec<Segment>,
    /// The bundle's condition table, compiled: rules and segments refer to it by index.
    conditions: Vec<Condition>,
    /// The default bucketing attribute, shared by every flag that does not name another.
    targeting_key: Path,
}

/// Flag indices by key: an open-addressing table (linear probing, at most half full) of
/// indices into the flags, which hold the keys, so that no key is stored twice.
#[derive(Debug)]
struct KeyIndex {
    slots: Box<[u32]>,
}

impl KeyIndex {
    const EMPTY: u32 = u32::MAX;

    /// Indexes keys known to be distinct (a bundle's flags are sorted without repeats).
    fn new<'k>(keys: impl ExactSizeIterator<Item = &'k str>) -> KeyIndex {
        let capacity = (keys.len() * 2).next_power_of_two().max(2);
        let mut slots = vec![Self::EMPTY; capacity].into_boxed_slice();
        let mask = capacity - 1;
        for (index, key) in keys.enumerate() {
            let mut slot = Self::home(key) & mask;
            while slots[slot] != Self::EMPTY {
                slot = (slot + 1) & mask;
            }
            // Indices fit: `verify` caps the number of flags far below u32::MAX.
            slots[slot] = index as u32;
        }
        KeyIndex { slots }
    }

    fn home(key: &str) -> usize {
        let mut hasher = FxHasher::default();
        hasher.write(key.as_bytes());
        // The high bits are the best mixed.
        (hasher.finish() >> 32) as usize
    }

    fn get(&self, key: &str, flags: &[Flag]) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let mut slot = Self::home(key) & mask;
        loop {
            match self.slots[slot] {
                Self::EMPTY => return None,
                index if flags[index as usize].key() == key => return Some(index as usize),
                _ => slot = (slot + 1) & mask,
            }
        }
    }
}

#[derive(Debug)]
struct Flag {
    /// The key, then each rule's name: one allocation for all of a flag's names.
    names: Box<str>,
    key_len: u32,
    /// Shared by every flag with the default variants.
    variants: Arc<[(Box<str>, Value)]>,
    off: usize,
    /// The bucketing attribute; `None` for the default, `targeting_key`.
    bucket_by: Option<Box<Path>>,
    /// How many attribute slots its rules use (see [`Attributes`]).
    slots: usize,
    /// The bucketing keys' prefixes: `"{salt}/rollout/"` and `"{salt}/split/"`.
    rollout_prefix: bucket::Prefix,
    split_prefix: bucket::Prefix,
    prerequisites: Vec<(usize, usize)>,
    rules: Box<[Rule]>,
    /// Every rule's conditions, in rule order; each rule names its range.
    uses: Box<[Use]>,
    /// The flag's state from each schedule step on; before the first, the base state.
    base: FlagState,
    steps: Vec<(i64, FlagState)>,
    // Boxed: most flags have none, and a smaller `Flag` keeps evaluation fast.
    gate: Option<Box<Gate>>,
}

impl Flag {
    fn key(&self) -> &str {
        &self.names[..self.key_len as usize]
    }

    fn rule_name(&self, rule: &Rule) -> &str {
        &self.names[rule.name.0 as usize..rule.name.1 as usize]
    }

    fn conditions(&self, rule: &Rule) -> &[Use] {
        &self.uses[rule.uses.0 as usize..rule.uses.1 as usize]
    }
}

/// A rule's use of a condition of the bundle's table, and the flag's slot for its attribute.
#[derive(Debug, Clone, Copy)]
struct Use {
    condition: u32,
    slot: Option<u8>,
}

/// An experiment's gate on a flag's splits.
#[derive(Debug)]
struct Gate {
    /// The experiment's key.
    experiment: Box<str>,
    control: usize,
    /// The holdout's exclusion, its `"{salt}/holdout/"` prefix and its share.
    holdout: Option<(Exclusion, bucket::Prefix, u32)>,
    /// The layer's exclusion, its `"{salt}/layer/"` prefix and the slice [from, to).
    layer: Option<(Exclusion, bucket::Prefix, u32, u32)>,
}

impl Gate {
    /// What excludes `unit` from the experiment, if anything: the holdout first.
    fn excludes(&self, unit: &[u8]) -> Option<&Exclusion> {
        if let Some((exclusion, prefix, percent)) = &self.holdout
            && prefix.bucket(unit, FULL) < *percent
        {
            return Some(exclusion);
        }
        if let Some((exclusion, prefix, from, to)) = &self.layer {
            let bucket = prefix.bucket(unit, FULL);
            if bucket < *from || bucket >= *to {
                return Some(exclusion);
            }
        }
        None
    }
}

#[derive(Debug, Clone, Copy)]
struct FlagState {
    enabled: bool,
    fallthrough: usize,
}

#[derive(Debug)]
struct Rule {
    /// Its name's range in the flag's `names`, and its conditions' range in the flag's `uses`.
    name: (u32, u32),
    uses: (u32, u32),
    base: RuleState,
    steps: Vec<(i64, RuleState)>,
}

#[derive(Debug, Clone)]
struct RuleState {
    rollout: u32,
    serve: Served,
}

#[derive(Debug, Clone)]
enum Served {
    Variant(usize),
    /// (variant, cumulative weight), and the total weight.
    Split(Vec<(usize, u32)>, u32),
}

#[derive(Clone, Debug)]
enum Condition {
    Attribute(AttributeTest),
    Segment { index: usize, negate: bool },
}

#[derive(Debug)]
struct Segment {
    name: String,
    include: Vec<String>,
    exclude: Vec<String>,
    /// Indices into the condition table.
    conditions: Box<[u32]>,
}

/// What a rule did for a unit.
enum RuleOutcome {
    /// With the unit's rollout bucket (for a partial rollout) and split bucket (for a split).
    Matched {
        rollout: Option<u32>,
        split: Option<u32>,
    },
    ConditionFailed(usize),
    OutOfRollout {
        bucket: u32,
    },
    NoUnit,
}

impl Evaluator {
    /// Loads bundle bytes, refusing them unless they hash to `expected_hash` and are a bundle
    /// of the current format whose every reference resolves.
    pub fn load(bytes: &[u8], expected_hash: &str) -> Result<Evaluator, LoadError> {
        let actual = bundle::content_hash(bytes);
        if !actual.eq_ignore_ascii_case(expected_hash) {
            return Err(LoadError::HashMismatch {
                expected: expected_hash.to_owned(),
                actual,
            });
        }
        lower::decode(bytes, actual)
    }

    /// Compiles a bundle already in memory (for instance one just built) through its canonical
    /// bytes, exactly as it would load from a file.
    pub fn from_bundle(bundle: Bundle) -> Result<Evaluator, LoadError> {
        let bytes = bundle
            .encode()
            .map_err(|e| LoadError::Invalid(e.to_string()))?;
        let hash = bundle::content_hash(&bytes);
        lower::decode(&bytes, hash)
    }

    /// The bundle's content hash.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    pub fn project(&self) -> &str {
        &self.project
    }

    pub fn environment(&self) -> &str {
        &self.environment
    }

    /// The flag keys, sorted.
    pub fn flag_keys(&self) -> impl Iterator<Item = &str> {
        self.flags.iter().map(Flag::key)
    }

    /// The variant names of a flag.
    pub fn variants(&self, flag: &str) -> Option<impl Iterator<Item = &str>> {
        let flag = &self.flags[self.index.get(flag, &self.flags)?];
        Some(flag.variants.iter().map(|(name, _)| &**name))
    }

    /// The attribute that gives a flag's bucketing unit.
    pub fn bucket_by(&self, flag: &str) -> Option<&str> {
        let flag = &self.flags[self.index.get(flag, &self.flags)?];
        Some(self.bucketing_path(flag).name())
    }

    /// A flag's bucketing unit in `context`: the value of its `bucket_by` attribute, if that
    /// is a string or an integer.
    pub fn unit<'c>(&self, flag: &str, context: &'c Value) -> Option<Unit<'c>> {
        let flag = &self.flags[self.index.get(flag, &self.flags)?];
        self.bucketing_path(flag).lookup(context).and_then(Unit::of)
    }

    /// The context's targeting key, if it is a string or an integer.
    pub fn targeting_key<'c>(&self, context: &'c Value) -> Option<Unit<'c>> {
        self.targeting_key.lookup(context).and_then(Unit::of)
    }

    /// The experiment gating a flag's splits in this bundle, if it has one.
    pub fn experiment(&self, flag: &str) -> Option<&str> {
        let flag = &self.flags[self.index.get(flag, &self.flags)?];
        flag.gate.as_deref().map(|gate| &*gate.experiment)
    }

    /// Whether a flag serves the same variant to every context: it has no rules and no
    /// prerequisites (its schedule may still change it over time).
    pub fn is_static(&self, flag: &str) -> Option<bool> {
        let flag = &self.flags[self.index.get(flag, &self.flags)?];
        Some(flag.rules.is_empty() && flag.prerequisites.is_empty())
    }

    /// Whether rule `rule_index` of a flag picks by the unit's bucket at `now_millis`: it
    /// rolls out to part of its units, or splits them between variants.
    pub fn rule_buckets(&self, flag: &str, rule_index: usize, now_millis: i64) -> bool {
        let Some(flag) = self.index.get(flag, &self.flags).map(|i| &self.flags[i]) else {
            return false;
        };
        flag.rules.get(rule_index).is_some_and(|rule| {
            let state = current(&rule.base, &rule.steps, now_millis);
            state.rollout < FULL || matches!(state.serve, Served::Split(..))
        })
    }

    /// The attribute path a flag buckets by.
    fn bucketing_path<'s>(&'s self, flag: &'s Flag) -> &'s Path {
        flag.bucket_by.as_deref().unwrap_or(&self.targeting_key)
    }

    /// Evaluates `flag` for `context` (a JSON object) at `now_millis` (milliseconds since the
    /// Unix epoch, for schedules).
    pub fn evaluate(
        &self,
        flag: &str,
        context: &Value,
        now_millis: i64,
    ) -> Result<Evaluation<'_>, UnknownFlag> {
        let index = self
            .index
            .get(flag, &self.flags)
            .ok_or_else(|| UnknownFlag(flag.to_owned()))?;
        Ok(self.evaluate_index(index, context, now_millis, &mut None))
    }

    /// Evaluates `flag` and records what every rule did.
    pub fn explain(
        &self,
        flag: &str,
        context: &Value,
        now_millis: i64,
    ) -> Result<Explanation<'_>, UnknownFlag> {
        let index = self
            .index
            .get(flag, &self.flags)
            .ok_or_else(|| UnknownFlag(flag.to_owned()))?;
        let mut trace = Some(Vec::new());
        let evaluation = self.evaluate_index(index, context, now_millis, &mut trace);
        Ok(Explanation {
            evaluation,
            trace: trace.unwrap_or_default(),
        })
    }

    fn evaluate_index(
        &self,
        index: usize,
        context: &Value,
        now: i64,
        trace: &mut Option<Vec<RuleTrace>>,
    ) -> Evaluation<'_> {
        let flag = &self.flags[index];
        let serve = |variant: usize, reason| Evaluation {
            variant: &flag.variants[variant].0,
            value: &flag.variants[variant].1,
            reason,
        };
        if !context.is_object() {
            let message = "the context is not a JSON object";
            return serve(flag.off, Reason::Error { message });
        }
        let state = current(&flag.base, &flag.steps, now);
        if !state.enabled {
            return serve(flag.off, Reason::Disabled);
        }
        // What prerequisites and segments evaluate to, set up only for a flag that has some.
        let mut scratch = None;
        for &(prerequisite, variant) in &flag.prerequisites {
            if self.served(prerequisite, context, now, &mut scratch) != variant {
                let prerequisite = self.flags[prerequisite].key();
                return serve(flag.off, Reason::PrerequisiteFailed { prerequisite });
            }
        }
        if flag.rules.is_empty() {
            // Nothing to decide (a flag fully rolled out, or not yet targeted): skip setting
            // up what rules need.
            return serve(state.fallthrough, Reason::Fallthrough);
        }
        let (variant, reason) = self.decide(flag, state, context, now, &mut scratch, trace);
        serve(variant, reason)
    }

    /// The variant a prerequisite flag serves. Depth-first over the prerequisite graph with
    /// an explicit stack, so that no chain of prerequisites can exhaust the thread's stack,
    /// and through the memo, so that each flag is evaluated at most once however many flags
    /// require it.
    fn served<'c>(
        &self,
        start: usize,
        context: &'c Value,
        now: i64,
        scratch: &mut Option<Scratch<'c>>,
    ) -> usize {
        if let Some(variant) = memo(scratch).flags.get(start) {
            return variant;
        }
        if let Some(variant) = self.enter_flag(start, context, now, scratch) {
            return variant;
        }
        // (flag, its next prerequisite to check); a flag is pushed once all it can decide
        // without its prerequisites is decided.
        let mut stack = Stack::new((start, 0));
        while let Some(&mut (index, ref mut next)) = stack.last_mut() {
            let flag = &self.flags[index];
            let variant = match flag.prerequisites.get(*next) {
                Some(&(prerequisite, wanted)) => match memo(scratch).flags.get(prerequisite) {
                    Some(served) if served == wanted => {
                        *next += 1;
                        continue;
                    }
                    Some(_) => flag.off,
                    None => {
                        if self
                            .enter_flag(prerequisite, context, now, scratch)
                            .is_none()
                        {
                            stack.push((prerequisite, 0));
                        }
                        continue;
                    }
                },
                None => {
                    let state = current(&flag.base, &flag.steps, now);
                    self.decide(flag, state, context, now, scratch, &mut None).0
                }
            };
            memo(scratch).flags.insert(index, variant);
            stack.pop();
        }
        memo(scratch)
            .flags
            .get(start)
            .unwrap_or(self.flags[start].off)
    }

    /// Decides a flag that needs no prerequisite (it is off, or has none), recording it;
    /// `None` when its prerequisites are still to evaluate.
    fn enter_flag<'c>(
        &self,
        index: usize,
        context: &'c Value,
        now: i64,
        scratch: &mut Option<Scratch<'c>>,
    ) -> Option<usize> {
        let flag = &self.flags[index];
        let state = current(&flag.base, &flag.steps, now);
        let variant = if !state.enabled {
            flag.off
        } else if flag.prerequisites.is_empty() {
            self.decide(flag, state, context, now, scratch, &mut None).0
        } else {
            return None;
        };
        memo(scratch).flags.insert(index, variant);
        Some(variant)
    }

    /// A flag's rules, once it is enabled and its prerequisites are met: the variant and why.
    // Inlined: returned through memory, the reason costs a store-forwarding stall (20 ns).
    #[inline(always)]
    fn decide<'s, 'c>(
        &'s self,
        flag: &'s Flag,
        state: &FlagState,
        context: &'c Value,
        now: i64,
        scratch: &mut Option<Scratch<'c>>,
        trace: &mut Option<Vec<RuleTrace>>,
    ) -> (usize, Reason<'s>) {
        // Looked up once, and only if a rule buckets.
        let unit = OnceCell::new();
        let attributes = Attributes::new(context);
        for (rule_index, rule) in flag.rules.iter().enumerate() {
            let rule_state = current(&rule.base, &rule.steps, now);
            let outcome = self.rule(flag, rule, rule_state, &attributes, &unit, scratch);
            if let Some(trace) = trace {
                trace.push(self.rule_trace(flag, rule_index, rule, rule_state, &outcome));
            }
            if let RuleOutcome::Matched { split, .. } = outcome {
                let rule_name = flag.rule_name(rule);
                let variant = match &rule_state.serve {
                    Served::Variant(v) => *v,
                    Served::Split(weights, _) => {
                        // A split has bucketed the unit, so it is known here.
                        if let (Some(gate), Some(Some(unit))) = (&flag.gate, unit.get())
                            && let Some(exclusion) = gate.excludes(unit.bytes())
                        {
                            return (
                                gate.control,
                                Reason::Excluded {
                                    rule_index,
                                    rule_name,
                                    exclusion,
                                },
                            );
                        }
                        let bucket = split.expect("splits are bucketed");
                        weights
                            .iter()
                            .find(|(_, cumulative)| bucket < *cumulative)
                            .map_or(weights[weights.len() - 1].0, |(v, _)| *v)
                    }
                };
                return (
                    variant,
                    Reason::Rule {
                        rule_index,
                        rule_name,
                    },
                );
            }
        }
        (state.fallthrough, Reason::Fallthrough)
    }

    fn rule<'c>(
        &self,
        flag: &Flag,
        rule: &Rule,
        state: &RuleState,
        attributes: &Attributes<'c>,
        unit: &OnceCell<Option<Unit<'c>>>,
        scratch: &mut Option<Scratch<'c>>,
    ) -> RuleOutcome {
        let context = attributes.context;
        if let Some(failed) = flag
            .conditions(rule)
            .iter()
            .position(|u| !self.condition(u, attributes, scratch))
        {
            return RuleOutcome::ConditionFailed(failed);
        }
        let split_total = match &state.serve {
            Served::Split(_, total) => Some(*total),
            Served::Variant(_) => None,
        };
        if state.rollout >= FULL && split_total.is_none() {
            return RuleOutcome::Matched {
                rollout: None,
                split: None,
            };
        }
        let unit =
            unit.get_or_init(|| self.bucketing_path(flag).lookup(context).and_then(Unit::of));
        let Some(unit) = unit else {
            return RuleOutcome::NoUnit;
        };
        let rollout =
            (state.rollout < FULL).then(|| flag.rollout_prefix.bucket(unit.bytes(), FULL));
        if let Some(bucket) = rollout
            && bucket >= state.rollout
        {
            return RuleOutcome::OutOfRollout { bucket };
        }
        let split = split_total.map(|total| flag.split_prefix.bucket(unit.bytes(), total));
        RuleOutcome::Matched { rollout, split }
    }

    // Kept out of line, with the only call of `holds` inlined in it: with `holds` out of line
    // instead, ten rules of three conditions took 15% longer.
    #[inline(never)]
    fn condition<'c>(
        &self,
        used: &Use,
        attributes: &Attributes<'c>,
        scratch: &mut Option<Scratch<'c>>,
    ) -> bool {
        match &self.conditions[used.condition as usize] {
            Condition::Attribute(test) => test.holds(attributes.get(test, used.slot)),
            Condition::Segment { index, negate } => {
                self.in_segment(*index, attributes.context, scratch) != *negate
            }
        }
    }

    /// A unit is in a segment when not excluded, and included or meeting every condition
    /// (when there is at least one). Segments refer to segments: like prerequisites, they
    /// are walked with an explicit stack and each is decided at most once per evaluation.
    fn in_segment<'c>(
        &self,
        start: usize,
        context: &'c Value,
        scratch: &mut Option<Scratch<'c>>,
    ) -> bool {
        if let Some(member) = memo(scratch).segments.get(start) {
            return member != 0;
        }
        if let Some(member) = self.enter_segment(start, context, scratch) {
            return member;
        }
        let attributes = Attributes::new(context);
        // (segment, its next condition to test).
        let mut stack = Stack::new((start, 0));
        while let Some(&mut (index, ref mut next)) = stack.last_mut() {
            let condition = self.segments[index].conditions.get(*next);
            let member = match condition.map(|&c| &self.conditions[c as usize]) {
                None => true,
                Some(Condition::Attribute(test)) => {
                    // Segments' conditions have no attribute slots.
                    if test.holds(attributes.get(test, None)) {
                        *next += 1;
                        continue;
                    }
                    false
                }
                Some(&Condition::Segment {
                    index: inner,
                    negate,
                }) => match memo(scratch).segments.get(inner) {
                    Some(member) if (member != 0) != negate => {
                        *next += 1;
                        continue;
                    }
                    Some(_) => false,
                    None => {
                        if self.enter_segment(inner, context, scratch).is_none() {
                            stack.push((inner, 0));
                        }
                        continue;
                    }
                },
            };
            memo(scratch).segments.insert(index, usize::from(member));
            stack.pop();
        }
        memo(scratch).segments.get(start) == Some(1)
    }

    /// Decides a segment by its lists alone, recording it; `None` when its conditions are
    /// still to test.
    fn enter_segment<'c>(
        &self,
        index: usize,
        context: &'c Value,
        scratch: &mut Option<Scratch<'c>>,
    ) -> Option<bool> {
        let segment = &self.segments[index];
        let scratch = scratch.get_or_insert_with(Scratch::default);
        let unit = scratch
            .unit
            .get_or_init(|| context.get(crate::bundle::TARGETING_KEY).and_then(Unit::of));
        let listed = |list: &[String]| {
            unit.as_ref().is_some_and(|u| {
                list.binary_search_by(|item| item.as_bytes().cmp(u.bytes()))
                    .is_ok()
            })
        };
        let member = if listed(&segment.exclude) {
            false
        } else if listed(&segment.include) {
            true
        } else if segment.conditions.is_empty() {
            false
        } else {
            return None;
        };
        scratch.segments.insert(index, usize::from(member));
        Some(member)
    }
}

/// What one evaluation has learnt: the variants prerequisite flags served and segment
/// memberships, each decided once; and the context's targeting key, for segments' lists.
#[derive(Default)]
struct Scratch<'c> {
    unit: OnceCell<Option<Unit<'c>>>,
    flags: Memo,
    segments: Memo,
}

/// The scratch, set up on first use: most flags have no prerequisites and test no segments.
fn memo<'s, 'c>(scratch: &'s mut Option<Scratch<'c>>) -> &'s mut Scratch<'c> {
    scratch.get_or_insert_with(Scratch::default)
}

/// How many entries memos and stacks hold inline. Flags rarely have more than a few
/// prerequisites, or rules more than a few segments: those evaluations allocate nothing.
const INLINE: usize = 8;

/// A map from flag or segment index to what it evaluated to: a few entries searched in
/// place, then a hash map (which allocates only when first used).
#[derive(Default)]
struct Memo {
    len: usize,
    keys: [u32; INLINE],
    values: [u32; INLINE],
    spill: FastMap<u32, u32>,
}

impl Memo {
    fn get(&self, key: usize) -> Option<usize> {
        // Indices fit: `verify` caps the number of flags and of segments.
        let key = key as u32;
        if let Some(i) = self.keys[..self.len].iter().position(|k| *k == key) {
            return Some(self.values[i] as usize);
        }
        if self.spill.is_empty() {
            return None;
        }
        self.spill.get(&key).map(|v| *v as usize)
    }

    fn insert(&mut self, key: usize, value: usize) {
        let (key, value) = (key as u32, value as u32);
        if self.len < INLINE {
            self.keys[self.len] = key;
            self.values[self.len] = value;
            self.len += 1;
        } else {
            self.spill.insert(key, value);
        }
    }
}

/// A depth-first search's stack of (node, next edge): inline, then on the heap.
struct Stack {
    len: usize,
    inline: [(usize, usize); INLINE],
    spill: Vec<(usize, usize)>,
}

impl Stack {
    fn new(first: (usize, usize)) -> Self {
        let mut inline = [(0, 0); INLINE];
        inline[0] = first;
        Stack {
            len: 1,
            inline,
            spill: Vec::new(),
        }
    }

    fn push(&mut self, frame: (usize, usize)) {
        if self.len < INLINE {
            self.inline[self.len] = frame;
        } else {
            self.spill.push(frame);
        }
        self.len += 1;
    }

    fn last_mut(&mut self) -> Option<&mut (usize, usize)> {
        match self.len {
            0 => None,
            n if n <= INLINE => Some(&mut self.inline[n - 1]),
            _ => self.spill.last_mut(),
        }
    }

    fn pop(&mut self) {
        if self.len > INLINE {
            self.spill.pop();
        }
        self.len = self.len.saturating_sub(1);
    }
}

/// How many distinct attributes of a flag's rules are looked up once per evaluation; any
/// beyond are looked up at each use.
const SLOTS: usize = 8;

/// A context's attribute values, each looked up at most once per evaluation.
struct Attributes<'c> {
    context: &'c Value,
    values: [Cell<Option<&'c Value>>; SLOTS],
    /// Bit `i` is set once `values[i]` holds the lookup's result.
    known: Cell<u8>,
}

impl<'c> Attributes<'c> {
    fn new(context: &'c Value) -> Self {
        Attributes {
            context,
            values: Default::default(),
            known: Cell::new(0),
        }
    }

    /// The value `test` tests, from its slot when it has one: every test given a slot tests
    /// that slot's attribute, so the first to need it looks it up.
    fn get(&self, test: &AttributeTest, slot: Option<u8>) -> Option<&'c Value> {
        let Some(slot) = slot else {
            return test.path.lookup(self.context);
        };
        let bit = 1u8 << slot;
        if self.known.get() & bit == 0 {
            self.values[usize::from(slot)].set(test.path.lookup(self.context));
            self.known.set(self.known.get() | bit);
        }
        self.values[usize::from(slot)].get()
    }
}

/// Sets a dotted attribute path ("org.id") in a context object, creating nested objects:
/// the inverse of how conditions look attributes up.
pub fn set_path(context: &mut Value, path: &str, value: Value) {
    let mut target = context;
    let mut keys = path.split('.').peekable();
    while let Some(key) = keys.next() {
        let Value::Object(map) = target else { return };
        if keys.peek().is_none() {
            map.insert(key.to_owned(), value);
            return;
        }
        target = map
            .entry(key.to_owned())
            .or_insert_with(|| Value::Object(Default::default()));
    }
}

/// The state in force at `now`: the last step at or before it, or the base.
fn current<'s, T>(base: &'s T, steps: &'s [(i64, T)], now: i64) -> &'s T {
    let reached = steps.partition_point(|(at, _)| *at <= now);
    match reached {
        0 => base,
        n => &steps[n - 1].1,
    }
}

impl Evaluator {
    fn rule_trace(
        &self,
        flag: &Flag,
        rule_index: usize,
        rule: &Rule,
        state: &RuleState,
        outcome: &RuleOutcome,
    ) -> RuleTrace {
        let mut trace = RuleTrace {
            rule_index,
            rule_name: flag.rule_name(rule).to_owned(),
            matched: false,
            failed_condition: None,
            bucket: None,
            threshold: None,
            missing_unit: None,
        };
        let threshold = (state.rollout < FULL).then_some(state.rollout);
        match outcome {
            RuleOutcome::Matched { rollout, .. } => {
                trace.matched = true;
                trace.bucket = *rollout;
                trace.threshold = threshold;
            }
            RuleOutcome::ConditionFailed(i) => trace.failed_condition = Some(*i),
            RuleOutcome::OutOfRollout { bucket } => {
                trace.bucket = Some(*bucket);
                trace.threshold = threshold;
            }
            RuleOutcome::NoUnit => {
                trace.missing_unit = Some(self.bucketing_path(flag).name().to_owned());
            }
        }
        trace
    }
}
