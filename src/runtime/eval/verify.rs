//! The loader's last step: every invariant evaluation relies on, checked on the compiled
//! structures whatever encoding they were decoded from. A bundle with a valid hash but
//! hostile content (not built by flagstone, or built by a faulty one) is refused with the
//! reason, never mis-evaluated, made to panic or made slow.

use super::{Condition, Evaluator, Flag, FlagState, Rule, RuleState, SLOTS, Segment, Served};
use crate::bundle::FULL;

/// Caps on a bundle's sizes, so that loading and evaluating it has a known cost.
/// docs/bundle-format.md lists them; `check` reports a repository that exceeds one (FS079).
pub mod limits {
    /// Flags in a bundle.
    pub const FLAGS: usize = 1_000_000;
    /// Segments in a bundle.
    pub const SEGMENTS: usize = 100_000;
    /// Variants of a flag.
    pub const VARIANTS: usize = 1_000;
    /// Prerequisites of a flag.
    pub const PREREQUISITES: usize = 100;
    /// Rules of a flag in one environment.
    pub const RULES: usize = 1_000;
    /// Conditions of a rule or of a segment.
    pub const CONDITIONS: usize = 100;
    /// Schedule steps of a flag or of a rule in one environment.
    pub const STEPS: usize = 1_000;
    /// Operands of one condition.
    pub const OPERANDS: usize = 10_000;
    /// Units in a segment's `include`, and in its `exclude`.
    pub const UNITS: usize = 1_000_000;
    /// Bytes of any name, key, attribute path, unit or operand: the size of the largest file
    /// a repository may hold.
    pub const STRING_BYTES: usize = 1024 * 1024;
}

/// Refuses an evaluator whose structures break an invariant, saying which and where.
pub(super) fn verify(evaluator: &Evaluator) -> Result<(), String> {
    let (flags, segments, table) = (&evaluator.flags, &evaluator.segments, &evaluator.conditions);
    at_most(flags.len(), limits::FLAGS, "flags")?;
    at_most(segments.len(), limits::SEGMENTS, "segments")?;
    for (i, condition) in table.iter().enumerate() {
        verify_condition(condition, segments.len()).map_err(|e| format!("condition {i}: {e}"))?;
    }
    for flag in flags {
        verify_flag(flag, flags, table).map_err(|e| format!("flag `{}`: {e}", flag.key()))?;
    }
    for segment in segments {
        verify_segment(segment, table.len())
            .map_err(|e| format!("segment `{}`: {e}", segment.name))?;
    }
    if let Some(flag) = on_a_cycle(flags.len(), |i, next| {
        flags[i].prerequisites.get(next).map(|p| Some(p.0))
    }) {
        return Err(format!(
            "prerequisites form a cycle through flag `{}`",
            flags[flag].key()
        ));
    }
    if let Some(segment) = on_a_cycle(segments.len(), |i, next| {
        segments[i]
            .conditions
            .get(next)
            .map(|&c| match &table[c as usize] {
                Condition::Segment { index, .. } => Some(*index),
                Condition::Attribute(_) => None,
            })
    }) {
        return Err(format!(
            "segments form a cycle through segment `{}`",
            segments[segment].name
        ));
    }
    Ok(())
}

fn verify_flag(flag: &Flag, flags: &[Flag], table: &[Condition]) -> Result<(), String> {
    string(flag.key(), "the key")?;
    if let Some(path) = &flag.bucket_by {
        string(path.name(), "`bucket_by`")?;
    }
    if flag.variants.is_empty() {
        return Err("no variants".into());
    }
    at_most(flag.variants.len(), limits::VARIANTS, "variants")?;
    for (name, _) in flag.variants.iter() {
        string(name, "a variant name")?;
    }
    let variants = flag.variants.len();
    let variant = |v: usize| {
        if v < variants {
            Ok(())
        } else {
            Err(format!("variant index {v} is out of range"))
        }
    };
    variant(flag.off)?;
    at_most(flag.steps.len(), limits::STEPS, "schedule steps")?;
    in_time_order(&flag.steps)?;
    for FlagState { fallthrough, .. } in
        std::iter::once(&flag.base).chain(flag.steps.iter().map(|s| &s.1))
    {
        variant(*fallthrough)?;
    }
    at_most(
        flag.prerequisites.len(),
        limits::PREREQUISITES,
        "prerequisites",
    )?;
    for &(prerequisite, wanted) in &flag.prerequisites {
        let Some(other) = flags.get(prerequisite) else {
            return Err(format!("prerequisite index {prerequisite} is out of range"));
        };
        if wanted >= other.variants.len() {
            return Err(format!(
                "prerequisite `{}` has no variant index {wanted}",
                other.key()
            ));
        }
    }
    at_most(flag.rules.len(), limits::RULES, "rules")?;
    for rule in &flag.rules {
        verify_rule(flag, rule, &variant, table)
            .map_err(|e| format!("rule `{}`: {e}", flag.rule_name(rule)))?;
    }
    if flag.slots > SLOTS {
        return Err("more attribute slots than evaluation keeps".into());
    }
    if let Some(gate) = &flag.gate {
        variant(gate.control)?;
        if let Some((exclusion, _, percent)) = &gate.holdout {
            string(&exclusion.experiment, "the experiment's name")?;
            string(&exclusion.by, "the holdout's name")?;
            if *percent >= FULL {
                return Err(format!("holdout `{}` holds out every unit", exclusion.by));
            }
        }
        if let Some((exclusion, _, from, to)) = &gate.layer {
            string(&exclusion.experiment, "the experiment's name")?;
            string(&exclusion.by, "the layer's name")?;
            if from >= to || *to > FULL {
                return Err(format!(
                    "layer `{}` has an empty or oversized slice",
                    exclusion.by
                ));
            }
        }
    }
    Ok(())
}

fn verify_rule(
    flag: &Flag,
    rule: &Rule,
    variant: &dyn Fn(usize) -> Result<(), String>,
    table: &[Condition],
) -> Result<(), String> {
    string(flag.rule_name(rule), "the name")?;
    let uses = flag.conditions(rule);
    at_most(uses.len(), limits::CONDITIONS, "conditions")?;
    for used in uses {
        match (table.get(used.condition as usize), used.slot) {
            (None, _) => return Err(format!("no condition {}", used.condition)),
            (Some(_), None) => {}
            (Some(Condition::Attribute(_)), Some(slot)) if usize::from(slot) < flag.slots => {}
            (Some(_), Some(_)) => return Err("an attribute slot is out of range".into()),
        }
    }
    at_most(rule.steps.len(), limits::STEPS, "schedule steps")?;
    in_time_order(&rule.steps)?;
    for RuleState { rollout, serve } in
        std::iter::once(&rule.base).chain(rule.steps.iter().map(|s| &s.1))
    {
        if *rollout > FULL {
            return Err(format!("rollout {rollout} exceeds {FULL}"));
        }
        match serve {
            Served::Variant(v) => variant(*v)?,
            Served::Split(weights, total) => {
                at_most(weights.len(), limits::VARIANTS, "split weights")?;
                let mut previous = 0;
                for &(v, cumulative) in weights {
                    variant(v)?;
                    if cumulative < previous {
                        return Err("split weights overflow".into());
                    }
                    previous = cumulative;
                }
                // Any positive total buckets (bucketing.md); `build` writes 100000.
                if weights.is_empty() || *total != previous || *total == 0 {
                    return Err("a split needs a positive total weight".into());
                }
            }
        }
    }
    Ok(())
}

fn verify_segment(segment: &Segment, table: usize) -> Result<(), String> {
    string(&segment.name, "the name")?;
    at_most(segment.conditions.len(), limits::CONDITIONS, "conditions")?;
    if let Some(c) = segment.conditions.iter().find(|&&c| c as usize >= table) {
        return Err(format!("no condition {c}"));
    }
    for (list, units) in [("include", &segment.include), ("exclude", &segment.exclude)] {
        at_most(units.len(), limits::UNITS, list)?;
        for unit in units {
            string(unit, &format!("a unit in `{list}`"))?;
        }
        // Order (membership is a binary search) is checked as the lists are decoded:
        // `sorted_keys` in the parent module, the only way a segment is made.
    }
    Ok(())
}

fn verify_condition(condition: &Condition, segments: usize) -> Result<(), String> {
    match condition {
        Condition::Segment { index, .. } if *index >= segments => {
            Err(format!("segment index {index} is out of range"))
        }
        Condition::Segment { .. } => Ok(()),
        Condition::Attribute(test) => test.verify(),
    }
}

fn in_time_order<T>(steps: &[(i64, T)]) -> Result<(), String> {
    if steps.windows(2).all(|w| w[0].0 <= w[1].0) {
        Ok(())
    } else {
        Err("schedule steps are not in time order".into())
    }
}

pub(super) fn at_most(count: usize, cap: usize, what: &str) -> Result<(), String> {
    if count > cap {
        return Err(format!("{count} {what}, more than the limit of {cap}"));
    }
    Ok(())
}

pub(super) fn string(text: &str, what: &str) -> Result<(), String> {
    if text.len() > limits::STRING_BYTES {
        return Err(format!(
            "{what} is {} bytes long, more than the limit of {}",
            text.len(),
            limits::STRING_BYTES
        ));
    }
    Ok(())
}

/// A node on a cycle of the graph, if it has one. `edge(node, i)` is the node's `i`th
/// outgoing item: `None` past the last, `Some(None)` for an item that is not an edge.
/// Depth-first with an explicit stack: a long chain cannot exhaust the thread's stack.
fn on_a_cycle(nodes: usize, edge: impl Fn(usize, usize) -> Option<Option<usize>>) -> Option<usize> {
    const NEW: u8 = 0;
    const OPEN: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; nodes];
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in 0..nodes {
        if state[root] != NEW {
            continue;
        }
        state[root] = OPEN;
        stack.push((root, 0));
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            match edge(node, *next) {
                None => {
                    state[node] = DONE;
                    stack.pop();
                }
                Some(target) => {
                    *next += 1;
                    match target.map(|t| (t, state[t])) {
                        Some((target, NEW)) => {
                            state[target] = OPEN;
                            stack.push((target, 0));
                        }
                        Some((target, OPEN)) => return Some(target),
                        _ => {}
                    }
                }
            }
        }
    }
    None
}
