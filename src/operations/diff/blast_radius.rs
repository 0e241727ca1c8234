//! The blast radius of a change: the share of units served a different value. Exact, from
//! bucket arithmetic, when only one rule's rollout moves; otherwise estimated by evaluating
//! both sides on the synthetic units of [`population`](super::population) at the comparison
//! time and every later schedule step, with a Wilson upper bound.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::{Environment, population};
use crate::bundle::{self, Bundle, FULL};
use crate::eval::{Evaluator, Reason};

/// The share of units whose served value changes.
#[derive(Debug, Serialize)]
pub struct BlastRadius {
    /// Percent, 0–100.
    pub percent: f64,
    /// The upper end of its 95% confidence interval (Wilson); `percent` when exact. Review
    /// thresholds compare this: an estimate counts as above a threshold unless its upper
    /// bound is below it.
    pub upper: f64,
    /// true: exact, from bucket arithmetic; false: estimated by sampling.
    pub exact: bool,
    /// Of which units the share is taken, in words.
    pub of: String,
    /// The times evaluated (the comparison time, then later schedule steps); empty when exact.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub at: Vec<String>,
}

/// The units every estimate of one comparison evaluates, made from what the compared flags
/// (and the flags they need) and every segment test: the same units whether both versions
/// were built whole or only the flags that may differ.
pub(super) fn units(
    environments: &[Environment<'_>],
    base: &[Bundle],
    head: &[Bundle],
    declared: &BTreeMap<String, Vec<Value>>,
) -> Vec<Value> {
    let mut sources: BTreeSet<&str> = environments.iter().flat_map(|e| e.keys()).collect();
    let mut pending: Vec<&str> = sources.iter().copied().collect();
    while let Some(key) = pending.pop() {
        for bundle in base.iter().chain(head) {
            for p in bundle
                .flags
                .get(key)
                .into_iter()
                .flat_map(|f| &f.prerequisites)
            {
                if sources.insert(&p.flag) {
                    pending.push(&p.flag);
                }
            }
        }
    }
    let all: Vec<&Bundle> = base.iter().chain(head).collect();
    let attributes = head.first().or(base.first()).map(|b| &b.attributes);
    population::units(
        &all,
        &sources,
        attributes.unwrap_or(&BTreeMap::new()),
        declared,
    )
}

impl Environment<'_> {
    fn evaluators(&self) -> (Option<&Evaluator>, Option<&Evaluator>) {
        let compile = |bundle: &Bundle| Evaluator::from_bundle(bundle.clone()).ok();
        let base = self
            .base_evaluator
            .get_or_init(|| self.base.and_then(compile))
            .as_ref();
        let head = self
            .head_evaluator
            .get_or_init(|| compile(self.head))
            .as_ref();
        (base, head)
    }

    /// Evaluates both sides for every unit at every time that matters to `key`: the share of
    /// units served a different value at some time, and the highest rollout (thousandths)
    /// through which a unit newly gets a value other than the flag's off variant's: the
    /// serving rule's rollout at that time, 100% for the fallthrough.
    pub(super) fn sample(
        &self,
        key: &str,
        units: &[Value],
        now: i64,
    ) -> (BlastRadius, Option<u32>) {
        let (base, head) = self.evaluators();
        let times = self.times(key, now);
        let before = self.base.and_then(|b| b.flags.get(key));
        let after = self.head.flags.get(key);
        // Moving to the off variant widens nothing; any other value a unit newly gets does.
        let off = before
            .or(after)
            .and_then(|f| f.variants.get(&f.off_variant));
        let mut differ = 0u32;
        let mut widened: Option<u32> = None;
        // Off at every time in the head (killed, or through a killed prerequisite): every unit
        // gets the off value there, so only the base needs evaluating, and nothing widens.
        let total = units.len();
        let head_off = after
            .filter(|_| self.head_off.contains(key))
            .and_then(|a| a.variants.get(&a.off_variant));
        let units = match head_off {
            Some(value) => {
                differ = units
                    .iter()
                    .filter(|context| {
                        times.iter().any(|&at| {
                            let b = base.and_then(|e| e.evaluate(key, context, at).ok());
                            b.map(|e| e.value) != Some(value)
                        })
                    })
                    .count() as u32;
                &[][..]
            }
            None => units,
        };
        for context in units {
            let mut differs = false;
            for &at in &times {
                let b = base.and_then(|e| e.evaluate(key, context, at).ok());
                let h = head.and_then(|e| e.evaluate(key, context, at).ok());
                if b.as_ref().map(|e| e.value) == h.as_ref().map(|e| e.value) {
                    continue;
                }
                differs = true;
                let Some(h) = h.filter(|h| Some(h.value) != off) else {
                    continue;
                };
                let rule = match h.reason {
                    Reason::Rule { rule_index, .. } | Reason::Excluded { rule_index, .. } => {
                        after.and_then(|a| a.rules.get(rule_index))
                    }
                    _ => None,
                };
                let through = rule.map_or(FULL, |rule| rollout_at(rule, at));
                widened = widened.max(Some(through));
            }
            differ += u32::from(differs);
        }
        let n = total.max(1) as f64;
        let radius = BlastRadius {
            percent: f64::from(differ) * 100.0 / n,
            upper: wilson_upper(f64::from(differ), n) * 100.0,
            exact: false,
            of: format!(
                "{total} synthetic units drawn from the declared values and the conditions' operands"
            ),
            at: times
                .iter()
                .map(|&t| crate::literal::format_timestamp(t))
                .collect(),
        };
        (radius, widened)
    }

    /// `now`, and every later time a schedule step of the flag or of its prerequisites
    /// (directly or through others) names, on either side.
    fn times(&self, key: &str, now: i64) -> Vec<i64> {
        let mut times = BTreeSet::from([now]);
        let mut seen = BTreeSet::new();
        let mut pending = vec![key];
        while let Some(key) = pending.pop() {
            if !seen.insert(key) {
                continue;
            }
            for bundle in self.base.into_iter().chain([self.head]) {
                let Some(flag) = bundle.flags.get(key) else {
                    continue;
                };
                let steps = flag.schedule.iter().map(|s| s.at);
                let rule_steps = flag
                    .rules
                    .iter()
                    .flat_map(|r| r.schedule.iter().map(|s| s.at));
                times.extend(steps.chain(rule_steps).filter(|&at| at > now));
                pending.extend(flag.prerequisites.iter().map(|p| p.flag.as_str()));
            }
        }
        times.into_iter().collect()
    }
}

/// The blast radius of `flag` between two bundles of one environment, on the given units
/// (instead of the synthetic ones), at `now` and every later schedule step: for checking the
/// estimate against a population whose answer is known.
pub fn blast_radius_on(
    base: &Bundle,
    head: &Bundle,
    flag: &str,
    units: &[Value],
    now: i64,
) -> BlastRadius {
    Environment::new(Some(base), head)
        .sample(flag, units, now)
        .0
}

/// A rule's rollout at `at`, its schedule applied.
fn rollout_at(rule: &bundle::Rule, at: i64) -> u32 {
    rule.schedule
        .iter()
        .filter(|s| s.at <= at)
        .filter_map(|s| s.rollout)
        .next_back()
        .unwrap_or(rule.rollout)
}

/// The upper end of the 95% Wilson score interval of `k` successes in `n` trials.
fn wilson_upper(k: f64, n: f64) -> f64 {
    const Z: f64 = 1.959_963_984_540_054;
    let p = k / n;
    let z2 = Z * Z;
    let centre = p + z2 / (2.0 * n);
    let spread = Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre + spread) / (1.0 + z2 / n)).min(1.0)
}

/// The exact blast radius when the only change is one rule's rollout moving over a single
/// served variant: the units between the two thresholds, of those that match the rule.
pub(super) fn exact(before: &bundle::Flag, after: &bundle::Flag) -> Option<BlastRadius> {
    if before.rules.len() != after.rules.len() {
        return None;
    }
    let differing: Vec<usize> = (0..before.rules.len())
        .filter(|&i| before.rules[i] != after.rules[i])
        .collect();
    let [i] = differing[..] else { return None };
    let (b, a) = (&before.rules[i], &after.rules[i]);
    let mut patched = before.clone();
    patched.rules[i] = a.clone();
    let only_rollout = patched == *after
        && b.name == a.name
        && b.conditions == a.conditions
        && b.serve == a.serve
        && b.schedule.is_empty()
        && a.schedule.is_empty();
    if !only_rollout {
        return None;
    }
    let moved = b.rollout.abs_diff(a.rollout);
    let share = f64::from(moved) / f64::from(FULL) * 100.0;
    Some(BlastRadius {
        percent: share,
        upper: share,
        exact: true,
        of: format!(
            "units that reach rule `{}` and match its conditions; they move between it and the rules after it",
            a.name
        ),
        at: Vec::new(),
    })
}
