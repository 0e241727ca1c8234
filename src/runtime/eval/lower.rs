//! Lowering: a decoded bundle turned into the evaluator's structures. The condition table is
//! lowered once, then flags on every core, with every index checked and resolved and the
//! attribute slots assigned; `verify` then checks what was built. It runs once per load;
//! evaluation, in the parent module, never reaches it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;
use serde_json::value::RawValue;

use super::condition::{AttributeTest, Path};
use super::{
    Condition, Evaluator, Exclusion, Flag, FlagState, Gate, GateKind, KeyIndex, LoadError, Rule,
    RuleState, SLOTS, Segment, Served, Use, bucket, limits, verify,
};
use crate::bundle::{self, FULL, wire};
use crate::fast_hash::FastMap;
use crate::op::AttrType;

/// A lowered flag, and its prerequisites still to resolve.
type LoweredFlag<'a> = (Flag, Vec<(Cow<'a, str>, Cow<'a, str>)>);

/// A bundle whose flags are left unparsed, so they can be parsed in parallel.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBundle<'a> {
    attributes: BTreeMap<String, AttrType>,
    conditions: Vec<bundle::Condition>,
    environment: String,
    #[serde(borrow)]
    flags: wire::Sorted<'a, &'a RawValue>,
    format: u32,
    project: String,
    segments: wire::Sorted<'a, wire::Segment>,
}

/// Parses and lowers verified bytes.
pub(super) fn decode(bytes: &[u8], hash: String) -> Result<Evaluator, LoadError> {
    let raw: RawBundle<'_> = serde_json::from_slice(bytes).map_err(|e| {
        // Bytes of another format fail on some key first: say which format they are.
        LoadError::Invalid(unsupported_format(bytes).unwrap_or_else(|| e.to_string()))
    })?;
    lower(raw, hash).map_err(LoadError::Invalid)
}

/// The error for bytes of a format other than the current one, if they say which.
fn unsupported_format(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Version {
        format: Value,
    }
    let format = serde_json::from_slice::<Version>(bytes).ok()?.format;
    (format != bundle::FORMAT).then(|| unsupported(&format))
}

fn unsupported(format: &dyn fmt::Display) -> String {
    format!(
        "bundle format {format} is not format {}, the only one this evaluator reads: build the bundle again with a flagstone of the same version",
        bundle::FORMAT
    )
}

/// Lowers a bundle's parts: the condition table once, then flags on every core.
fn lower(raw: RawBundle<'_>, hash: String) -> Result<Evaluator, String> {
    if raw.format != bundle::FORMAT {
        return Err(unsupported(&raw.format));
    }
    // The flag index holds u32 indices: refuse oversized bundles before building it. Every
    // other limit is `verify`'s.
    verify::at_most(raw.flags.0.len(), limits::FLAGS, "flags")?;
    let segment_index: FastMap<&str, usize> = raw
        .segments
        .0
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (&**k, i))
        .collect();
    // Each distinct condition is lowered once; rules and segments refer to it by index.
    let conditions = raw
        .conditions
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            lower_condition(c, &raw.attributes, &segment_index)
                .map_err(|e| format!("condition {i}: {e}"))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let lowering = Lowering {
        table: &conditions,
        ranks: attribute_ranks(&conditions),
        default_variants: wire::default_variants()
            .into_iter()
            .map(|(name, value)| (name.into_boxed_str(), value))
            .collect(),
    };
    let segments = raw
        .segments
        .0
        .into_iter()
        .map(|(name, s)| {
            let in_segment = |e: String| format!("segment `{name}`: {e}");
            Ok(Segment {
                conditions: lowering.table_indices(&s.c).map_err(in_segment)?,
                include: sorted_keys(s.include, "in").map_err(in_segment)?,
                exclude: sorted_keys(s.ex, "ex").map_err(in_segment)?,
                name: name.into_owned(),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let count = raw.flags.0.len();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = raw.flags.0.len().div_ceil(threads).max(256);
    let mut chunks: Vec<Vec<(Cow<'_, str>, &RawValue)>> = Vec::new();
    let mut flags = raw.flags.0.into_iter().peekable();
    while flags.peek().is_some() {
        chunks.push(flags.by_ref().take(chunk).collect());
    }
    let lowered: Vec<Result<Vec<LoweredFlag>, String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let lowering = &lowering;
                scope.spawn(move || {
                    let mut scratch = Scratchpad::default();
                    chunk
                        .into_iter()
                        .map(|(key, raw)| {
                            let flag = serde_json::from_str(raw.get())
                                .map_err(|e| e.to_string())
                                .and_then(|flag| lowering.flag(&key, flag, &mut scratch));
                            flag.map_err(|e| format!("flag `{key}`: {e}"))
                        })
                        .collect()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("lowering a flag does not panic"))
            .collect()
    });
    let mut flags = Vec::with_capacity(count);
    let mut pending = Vec::with_capacity(count);
    for chunk in lowered {
        for (flag, prerequisites) in chunk? {
            flags.push(flag);
            pending.push(prerequisites);
        }
    }
    let index = KeyIndex::new(flags.iter().map(Flag::key));
    // Prerequisites name variants of other flags: resolve them now that all are lowered.
    for (i, prerequisites) in pending.into_iter().enumerate() {
        let resolved = prerequisites
            .iter()
            .map(|(key, name)| {
                let unknown = || {
                    let flag = flags[i].key();
                    format!("flag `{flag}`: unknown prerequisite `{key}` = `{name}`")
                };
                let flag = index.get(key, &flags).ok_or_else(unknown)?;
                let variant = flags[flag]
                    .variants
                    .iter()
                    .position(|(n, _)| **n == **name)
                    .ok_or_else(unknown)?;
                Ok((flag, variant))
            })
            .collect::<Result<Vec<_>, String>>()?;
        flags[i].prerequisites = resolved;
    }
    let evaluator = Evaluator {
        hash,
        project: raw.project,
        environment: raw.environment,
        flags,
        index,
        segments,
        conditions,
        targeting_key: Path::new(bundle::TARGETING_KEY),
    };
    verify::verify(&evaluator)?;
    Ok(evaluator)
}

/// A segment's targeting keys, which it searches by bisection: they must be sorted.
fn sorted_keys(keys: Vec<String>, list: &str) -> Result<Vec<String>, String> {
    if keys.windows(2).all(|w| w[0] < w[1]) {
        Ok(keys)
    } else {
        Err(format!("`{list}` is not sorted without repeats"))
    }
}

/// Lowers one entry of the condition table.
fn lower_condition(
    c: bundle::Condition,
    attributes: &BTreeMap<String, AttrType>,
    segments: &FastMap<&str, usize>,
) -> Result<Condition, String> {
    match (c.segment, c.attr, c.op) {
        (Some(segment), None, None) if c.values.is_empty() && !c.ignore_case => {
            Ok(Condition::Segment {
                index: *segments
                    .get(segment.as_str())
                    .ok_or_else(|| format!("unknown segment `{segment}`"))?,
                negate: c.negate,
            })
        }
        (None, Some(attr), Some(op)) if !c.negate => {
            let ty = if attr == crate::bundle::TARGETING_KEY {
                AttrType::String
            } else {
                *attributes
                    .get(&attr)
                    .ok_or_else(|| format!("undeclared attribute `{attr}`"))?
            };
            AttributeTest::compile(&attr, ty, op, c.values, c.ignore_case).map(Condition::Attribute)
        }
        _ => Err("a condition has either `segment` (and `negate`), or `attr` and `op`".into()),
    }
}

/// Turns bundle data into evaluation structures, resolving indices.
struct Lowering<'a> {
    /// The bundle's lowered condition table.
    table: &'a [Condition],
    /// Each condition's attribute's rank among the table's attribute names in name order
    /// ([`NO_RANK`] for a segment condition): what slots are assigned by.
    ranks: Vec<u32>,
    /// The variants of a flag without `v`.
    default_variants: Arc<[(Box<str>, Value)]>,
}

const NO_RANK: u32 = u32::MAX;

/// The rank of each condition's attribute name among the table's distinct names.
fn attribute_ranks(table: &[Condition]) -> Vec<u32> {
    fn name(c: &Condition) -> Option<&str> {
        match c {
            Condition::Attribute(test) => Some(test.path.name()),
            Condition::Segment { .. } => None,
        }
    }
    let mut names: Vec<&str> = table.iter().filter_map(name).collect();
    names.sort_unstable();
    names.dedup();
    table
        .iter()
        .map(|c| {
            name(c)
                .and_then(|n| names.binary_search(&n).ok())
                .map_or(NO_RANK, |rank| rank as u32)
        })
        .collect()
}

/// Buffers a lowering thread reuses from flag to flag.
#[derive(Default)]
struct Scratchpad {
    bytes: Vec<u8>,
    ranks: Vec<u32>,
}

/// MurmurHash3's state after `"{salt}/{kind}/"`, assembled in `scratch` rather than in a new
/// string for each flag.
fn prefix(scratch: &mut Vec<u8>, salt: &str, kind: &str) -> bucket::Prefix {
    scratch.clear();
    scratch.extend_from_slice(salt.as_bytes());
    scratch.push(b'/');
    scratch.extend_from_slice(kind.as_bytes());
    scratch.push(b'/');
    bucket::Prefix::new(scratch)
}

/// An offset into a flag's names or uses, which are held as u32.
fn offset(n: usize) -> Result<u32, String> {
    u32::try_from(n).map_err(|_| "the flag's rules are too large".to_owned())
}

impl Lowering<'_> {
    /// Lowers a flag; its prerequisites are returned to be resolved once every flag is.
    fn flag<'a>(
        &self,
        key: &str,
        flag: wire::Flag<'a>,
        scratch: &mut Scratchpad,
    ) -> Result<LoweredFlag<'a>, String> {
        let variants: Arc<[(Box<str>, Value)]> = match flag.v {
            Some(variants) => variants
                .0
                .into_iter()
                .map(|(name, value)| (name.into(), value.into_owned()))
                .collect(),
            None => Arc::clone(&self.default_variants),
        };
        let variant = |index: u32| {
            let index = index as usize;
            if index < variants.len() {
                Ok(index)
            } else {
                Err(format!(
                    "no variant {index}: the flag has {}",
                    variants.len()
                ))
            }
        };
        let mut names =
            String::with_capacity(key.len() + flag.r.iter().map(|r| r.n.len()).sum::<usize>());
        names.push_str(key);
        let mut uses = Vec::with_capacity(flag.r.iter().map(|r| r.c.len()).sum());
        let mut rules = Vec::with_capacity(flag.r.len());
        for rule in &flag.r {
            let serve = |serve: &wire::Serve| self.serve(serve, &variant, variants.len());
            let base = RuleState {
                rollout: check_share(rule.r)?,
                serve: serve(&rule.s)?,
            };
            let mut steps = Vec::with_capacity(rule.t.len());
            let mut state = base.clone();
            for step in &rule.t {
                if let Some(rollout) = step.r {
                    state.rollout = check_share(rollout)?;
                }
                if let Some(s) = &step.s {
                    state.serve = serve(s)?;
                }
                steps.push((step.at, state.clone()));
            }
            let name_start = offset(names.len())?;
            names.push_str(&rule.n);
            let uses_start = offset(uses.len())?;
            for &condition in &rule.c {
                self.check_index(condition)?;
                uses.push(Use {
                    condition,
                    slot: None,
                });
            }
            rules.push(Rule {
                name: (name_start, offset(names.len())?),
                uses: (uses_start, offset(uses.len())?),
                base,
                steps,
            });
        }
        let off = variant(flag.o)?;
        let base = FlagState {
            enabled: flag.e,
            fallthrough: flag.f.map_or(Ok(off), variant)?,
        };
        let mut steps = Vec::with_capacity(flag.t.len());
        let mut state = base;
        for step in &flag.t {
            if let Some(enabled) = step.e {
                state.enabled = enabled;
            }
            if let Some(fallthrough) = step.f {
                state.fallthrough = variant(fallthrough)?;
            }
            steps.push((step.at, state));
        }
        if !steps.windows(2).all(|w| w[0].0 <= w[1].0)
            || !rules
                .iter()
                .all(|r| r.steps.windows(2).all(|w| w[0].0 <= w[1].0))
        {
            return Err("schedule steps are not in time order".into());
        }
        let slots = assign_slots(&mut uses, &self.ranks, &mut scratch.ranks);
        let gate = flag
            .x
            .map(|e| lower_gate(e, &variant).map(Box::new))
            .transpose()?;
        let salt = flag.s.as_deref().unwrap_or(key);
        let rollout_prefix = prefix(&mut scratch.bytes, salt, "rollout");
        let split_prefix = prefix(&mut scratch.bytes, salt, "split");
        let bucket_by = flag
            .b
            .filter(|b| b != wire::DEFAULT_BUCKET_BY)
            .map(|b| Box::new(Path::new(&b)));
        let lowered = Flag {
            key_len: offset(key.len())?,
            names: names.into_boxed_str(),
            off,
            bucket_by,
            slots,
            rollout_prefix,
            split_prefix,
            prerequisites: Vec::new(),
            rules: rules.into_boxed_slice(),
            uses: uses.into_boxed_slice(),
            base,
            steps,
            variants,
            gate,
        };
        Ok((lowered, flag.p))
    }

    fn serve(
        &self,
        serve: &wire::Serve,
        variant: &dyn Fn(u32) -> Result<usize, String>,
        variants: usize,
    ) -> Result<Served, String> {
        match serve {
            wire::Serve::Variant(index) => Ok(Served::Variant(variant(*index)?)),
            wire::Serve::Split(weights) => {
                if weights.len() != variants {
                    return Err(format!(
                        "a split has {} weights for {variants} variants",
                        weights.len()
                    ));
                }
                let mut cumulative = 0u32;
                let mut out = Vec::with_capacity(weights.len());
                // A variant of weight 0 is never chosen: only the others take part.
                for (v, &weight) in weights.iter().enumerate().filter(|(_, w)| **w > 0) {
                    cumulative = cumulative
                        .checked_add(weight)
                        .ok_or("split weights overflow")?;
                    out.push((v, cumulative));
                }
                if cumulative == 0 {
                    return Err("a split needs a positive total weight".into());
                }
                Ok(Served::Split(out, cumulative))
            }
        }
    }

    fn check_index(&self, index: u32) -> Result<(), String> {
        if (index as usize) < self.table.len() {
            Ok(())
        } else {
            Err(format!(
                "no condition {index}: the table has {}",
                self.table.len()
            ))
        }
    }

    fn table_indices(&self, indices: &[u32]) -> Result<Box<[u32]>, String> {
        for &index in indices {
            self.check_index(index)?;
        }
        Ok(indices.into())
    }
}

/// Gives each attribute that the rules test more than once a slot, up to [`SLOTS`], in name
/// order, so it is looked up once per evaluation; returns how many slots there are.
/// `ranks` is a buffer to reuse.
fn assign_slots(uses: &mut [Use], rank_of: &[u32], ranks: &mut Vec<u32>) -> usize {
    let rank = |u: &Use| rank_of[u.condition as usize];
    ranks.clear();
    ranks.extend(uses.iter().map(rank).filter(|&r| r != NO_RANK));
    ranks.sort_unstable();
    let mut shared = [NO_RANK; SLOTS];
    let mut count = 0;
    for pair in ranks.windows(2) {
        if count == SLOTS {
            break;
        }
        if pair[0] == pair[1] && (count == 0 || shared[count - 1] != pair[0]) {
            shared[count] = pair[0];
            count += 1;
        }
    }
    if count > 0 {
        for u in uses.iter_mut() {
            let r = rank(u);
            // At most SLOTS (8) positions: they fit in a u8.
            u.slot = shared[..count]
                .iter()
                .position(|&s| s == r)
                .map(|p| p as u8);
        }
    }
    count
}

fn lower_gate(
    experiment: wire::Experiment,
    variant: &dyn Fn(u32) -> Result<usize, String>,
) -> Result<Gate, String> {
    let prefix = |salt: &str, kind: &str| prefix(&mut Vec::new(), salt, kind);
    let exclusion = |gate, by| Exclusion {
        experiment: experiment.name.clone(),
        gate,
        by,
    };
    let holdout = match experiment.holdout {
        Some(h) if h.percent >= FULL => {
            return Err(format!("holdout `{}` holds out every unit", h.name));
        }
        Some(h) => Some((
            exclusion(GateKind::Holdout, h.name),
            prefix(&h.salt, "holdout"),
            h.percent,
        )),
        None => None,
    };
    let layer = match experiment.layer {
        Some(l) if l.from >= l.to || l.to > FULL => {
            return Err(format!(
                "layer `{}` has an empty or oversized slice",
                l.name
            ));
        }
        Some(l) => Some((
            exclusion(GateKind::Layer, l.name),
            prefix(&l.salt, "layer"),
            l.from,
            l.to,
        )),
        None => None,
    };
    Ok(Gate {
        experiment: experiment.name.into(),
        control: variant(experiment.control)?,
        holdout,
        layer,
    })
}

fn check_share(thousandths: u32) -> Result<u32, String> {
    if thousandths > FULL {
        return Err(format!("rollout {thousandths} exceeds {FULL}"));
    }
    Ok(thousandths)
}
