//! Semantic differences between two versions of a repository, per flag and environment, with
//! the blast radius of each changed flag: the share of units whose served variant changes.
//!
//! Both sides are compared as bundles, which hold behaviour only: reformatting, reordering or
//! moving text is no change.

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Value, json};

use crate::bundle::{self, Bundle, FULL, Serve};
use crate::eval::Evaluator;
use crate::load::{Loaded, Repo};
use crate::model::ChangeKind;
use crate::op::AttrType;

/// Units sampled to estimate a blast radius that bucket arithmetic does not give.
pub const SAMPLE_UNITS: u32 = 2_000;

/// Everything that differs between two versions.
#[derive(Debug, Serialize)]
pub struct Diff {
    /// Changed flags, by key.
    pub flags: Vec<FlagDiff>,
    /// Changed segments, with the flags whose evaluation they affect.
    pub segments: Vec<SegmentDiff>,
    /// Changed project name, environments and declared attributes.
    pub project: Vec<String>,
    /// Changed teams, one line each.
    pub teams: Vec<String>,
    /// The `[review]` policy's change, as a line diff; `None` when it is the same.
    pub policy: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct FlagDiff {
    pub flag: String,
    pub status: Status,
    /// Environments whose behaviour changed, in the project's order.
    pub environments: Vec<EnvironmentDiff>,
    /// The owners before and after, when they changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owners: Option<[Vec<String>; 2]>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Added,
    Removed,
    Changed,
}

#[derive(Debug, Serialize)]
pub struct EnvironmentDiff {
    pub environment: String,
    /// What changed, one line each.
    pub changes: Vec<String>,
    /// The kinds of those changes, as review rules name them.
    pub kinds: BTreeSet<ChangeKind>,
    /// The highest rollout percentage the change sets, when it raises one (or adds the flag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout_to: Option<f64>,
    pub blast_radius: BlastRadius,
}

/// The share of units whose served variant changes.
#[derive(Debug, Serialize)]
pub struct BlastRadius {
    /// Percent, 0–100.
    pub percent: f64,
    /// true: exact, from bucket arithmetic; false: estimated by sampling.
    pub exact: bool,
    /// Of which units the share is taken, in words.
    pub of: String,
}

#[derive(Debug, Serialize)]
pub struct SegmentDiff {
    pub segment: String,
    pub status: Status,
    /// Flags with a rule or segment condition on it, directly or through another segment.
    pub affected_flags: Vec<String>,
}

/// The flags whose behaviour may differ between two versions: those whose file differs or
/// exists on one side only, and those that test a segment whose file differs, directly or
/// through other segments. `None` when the project file differs, which may change any flag.
/// Bundles of these flags ([`bundle::build_only`]) are all [`diff`] needs.
pub fn flags_to_compare<'r>(base: &'r Repo, head: &'r Repo) -> Option<BTreeSet<&'r str>> {
    let source = |repo: &'r Repo, file: usize| repo.files[file].text.as_str();
    let project = |repo: &'r Repo| repo.project.as_ref().map(|p| source(repo, p.file));
    if project(base) != project(head) {
        return None;
    }
    fn differing<'r, T>(
        base: &'r BTreeMap<String, Loaded<T>>,
        head: &'r BTreeMap<String, Loaded<T>>,
        source: impl Fn(bool, usize) -> &'r str,
    ) -> BTreeSet<&'r str> {
        let names: BTreeSet<&str> = base.keys().chain(head.keys()).map(String::as_str).collect();
        names
            .into_iter()
            .filter(|name| {
                let b = base.get(*name).map(|l| source(false, l.file));
                let h = head.get(*name).map(|l| source(true, l.file));
                b != h
            })
            .collect()
    }
    let side = |is_head: bool, file: usize| source(if is_head { head } else { base }, file);
    let mut flags = differing(&base.flags, &head.flags, side);
    // An experiment gates its flag's splits: a changed experiment changes its flag.
    let experiments = differing(&base.experiments, &head.experiments, side);
    for name in experiments {
        for repo in [base, head] {
            let flag = repo.experiments.get(name).and_then(|l| l.doc.as_ref());
            flags.extend(flag.map(|e| e.flag.as_str()));
        }
    }
    let segments = differing(&base.segments, &head.segments, side);
    if !segments.is_empty() {
        flags.extend(base.flags_testing(segments.clone()));
        flags.extend(head.flags_testing(segments));
    }
    Some(flags)
}

/// One checked version of a repository, and its bundles: of every flag, or of those
/// [`flags_to_compare`] chose.
#[derive(Clone, Copy)]
pub struct Version<'a> {
    pub repo: &'a Repo,
    pub bundles: &'a [Bundle],
}

/// Compares two versions: behaviour from their bundles, environment by environment (in the
/// head's order), and owners, teams and the review policy from their files. `now` is the time
/// schedules are evaluated at for blast radius estimates.
pub fn diff(base: Version<'_>, head: Version<'_>, now: i64) -> Diff {
    let mut diff = behaviour(base.bundles, head.bundles, now);
    for segment in &mut diff.segments {
        // A removed segment is tested by no flag of the head (it checks): name the base's.
        let side = if segment.status == Status::Removed {
            base
        } else {
            head
        };
        let name = BTreeSet::from([segment.segment.as_str()]);
        let flags = side.repo.flags_testing(name);
        segment.affected_flags = flags.into_iter().map(str::to_owned).collect();
    }
    let owners = |repo: &Repo, key: &str| -> Option<Vec<String>> {
        let flag = repo.flags.get(key)?.doc.as_ref()?;
        let mut owners: Vec<String> = flag.owners.iter().map(|o| o.value.clone()).collect();
        owners.sort();
        owners.dedup();
        Some(owners)
    };
    for (key, _) in base
        .repo
        .flags
        .iter()
        .filter(|(k, _)| head.repo.flags.contains_key(*k))
    {
        let (before, after) = (owners(base.repo, key), owners(head.repo, key));
        let (Some(before), Some(after)) = (before, after) else {
            continue;
        };
        if before == after {
            continue;
        }
        let at = diff
            .flags
            .partition_point(|f| f.flag.as_str() < key.as_str());
        if diff.flags.get(at).is_none_or(|f| f.flag != *key) {
            diff.flags.insert(
                at,
                FlagDiff {
                    flag: key.clone(),
                    status: Status::Changed,
                    environments: Vec::new(),
                    owners: None,
                },
            );
        }
        diff.flags[at].owners = Some([before, after]);
    }
    let (base_project, head_project) = (project_table(base.repo), project_table(head.repo));
    let section = |t: &toml::Table, name: &str| t.get(name).cloned();
    let (base_teams, head_teams) = (
        teams(section(&base_project, "teams")),
        teams(section(&head_project, "teams")),
    );
    let names: BTreeSet<&String> = base_teams.keys().chain(head_teams.keys()).collect();
    for name in names {
        let (before, after) = (base_teams.get(name), head_teams.get(name));
        let line = match (before, after) {
            (None, Some(members)) => format!("team `{name}` added: {}", members.join(", ")),
            (Some(_), None) => format!("team `{name}` removed"),
            (Some(b), Some(a)) if b != a => {
                let added = a.iter().filter(|m| !b.contains(m)).map(|m| format!("+{m}"));
                let removed = b.iter().filter(|m| !a.contains(m)).map(|m| format!("-{m}"));
                let members: Vec<String> = added.chain(removed).collect();
                format!("team `{name}`: {}", members.join(", "))
            }
            _ => continue,
        };
        diff.teams.push(line);
    }
    let (base_policy, head_policy) = (
        section(&base_project, "review"),
        section(&head_project, "review"),
    );
    if base_policy != head_policy {
        let text = |policy: Option<toml::Value>| {
            let mut table = toml::Table::new();
            if let Some(policy) = policy {
                table.insert("review".to_owned(), policy);
            }
            toml::to_string_pretty(&table).unwrap_or_default()
        };
        diff.policy = Some(text_diff(&text(base_policy), &text(head_policy)));
    }
    diff
}

/// The project file as a plain TOML table: what its text says, without spans or layout.
fn project_table(repo: &Repo) -> toml::Table {
    repo.project
        .as_ref()
        .and_then(|p| repo.files[p.file].text.parse().ok())
        .unwrap_or_default()
}

/// Teams and their members, sorted and without repeats.
fn teams(section: Option<toml::Value>) -> BTreeMap<String, Vec<String>> {
    let Some(toml::Value::Table(teams)) = section else {
        return BTreeMap::new();
    };
    teams
        .into_iter()
        .map(|(name, members)| {
            let mut members: Vec<String> = members
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m.as_str().map(str::to_owned))
                .collect();
            members.sort();
            members.dedup();
            (name, members)
        })
        .collect()
}

/// Compares behaviour: the bundles of two versions.
fn behaviour(base: &[Bundle], head: &[Bundle], now: i64) -> Diff {
    let base_by_env: BTreeMap<&str, &Bundle> =
        base.iter().map(|b| (b.environment.as_str(), b)).collect();
    let head_by_env: BTreeMap<&str, &Bundle> =
        head.iter().map(|b| (b.environment.as_str(), b)).collect();
    let mut project = Vec::new();
    for env in base_by_env.keys().filter(|e| !head_by_env.contains_key(*e)) {
        project.push(format!("environment `{env}` removed"));
    }
    for env in head_by_env.keys().filter(|e| !base_by_env.contains_key(*e)) {
        project.push(format!("environment `{env}` added"));
    }
    if let (Some(b), Some(h)) = (base.first(), head.first()) {
        if b.project != h.project {
            project.push(format!("name `{}` → `{}`", b.project, h.project));
        }
        if b.attributes != h.attributes {
            project.push(describe_attributes(&b.attributes, &h.attributes));
        }
    }

    // Compiled at most once per environment and side, when an estimate first needs them.
    let lazy = |bundles: &[Bundle]| -> BTreeMap<String, OnceCell<Option<Evaluator>>> {
        bundles
            .iter()
            .map(|b| (b.environment.clone(), OnceCell::new()))
            .collect()
    };
    let (base_evaluators, head_evaluators) = (lazy(base), lazy(head));
    let units = OnceCell::new();
    let keys: BTreeSet<&str> = base
        .iter()
        .chain(head)
        .flat_map(|b| b.flags.keys().map(String::as_str))
        .collect();
    let mut flags = Vec::new();
    for key in keys {
        let mut environments = Vec::new();
        for h in head {
            let b = base_by_env.get(h.environment.as_str());
            let before = b.and_then(|b| b.flags.get(key));
            let after = h.flags.get(key);
            let sides = Sides {
                before: b.map(|b| (*b, &base_evaluators[&b.environment])),
                after: (h, &head_evaluators[&h.environment]),
                attributes: &h.attributes,
                units: &units,
                base,
                head,
            };
            if let Some(env) = compare_flag(key, &h.environment, before, after, &sides, now) {
                environments.push(env);
            }
        }
        let in_base = base.iter().any(|b| b.flags.contains_key(key));
        let in_head = head.iter().any(|b| b.flags.contains_key(key));
        let status = match (in_base, in_head) {
            (false, _) => Status::Added,
            (_, false) => Status::Removed,
            _ => Status::Changed,
        };
        if !environments.is_empty() || status != Status::Changed {
            flags.push(FlagDiff {
                flag: key.to_owned(),
                status,
                environments,
                owners: None,
            });
        }
    }
    Diff {
        flags,
        segments: segments(base, head),
        project,
        teams: Vec::new(),
        policy: None,
    }
}

fn describe_attributes(
    before: &BTreeMap<String, AttrType>,
    after: &BTreeMap<String, AttrType>,
) -> String {
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let changed: Vec<String> = names
        .into_iter()
        .filter(|n| before.get(*n) != after.get(*n))
        .map(|n| match (before.get(n), after.get(n)) {
            (None, Some(t)) => format!("+{n} ({})", t.as_str()),
            (Some(_), None) => format!("-{n}"),
            (_, t) => format!("{n} → {}", t.map_or("?", |t| t.as_str())),
        })
        .collect();
    format!("attributes: {}", changed.join(", "))
}

/// A bundle, and its evaluator once compiled.
type Side<'a> = (&'a Bundle, &'a OnceCell<Option<Evaluator>>);

/// One environment on both sides, and what synthetic units are made of.
struct Sides<'a> {
    before: Option<Side<'a>>,
    after: Side<'a>,
    attributes: &'a BTreeMap<String, AttrType>,
    /// Every operand conditions compare each attribute with, gathered on first use.
    /// The synthetic units every estimate samples, made on first use.
    units: &'a OnceCell<Vec<Value>>,
    base: &'a [Bundle],
    head: &'a [Bundle],
}

fn evaluator<'a>((bundle, cell): Side<'a>) -> Option<&'a Evaluator> {
    cell.get_or_init(|| Evaluator::from_bundle(bundle.clone()).ok())
        .as_ref()
}

/// The changes to one flag in one environment, or `None` when it behaves the same.
fn compare_flag(
    key: &str,
    environment: &str,
    before: Option<&bundle::Flag>,
    after: Option<&bundle::Flag>,
    sides: &Sides<'_>,
    now: i64,
) -> Option<EnvironmentDiff> {
    let mut changes = Changes::default();
    match (before, after) {
        (None, None) => return None,
        (None, Some(a)) => {
            changes.push(ChangeKind::Add, "added".to_owned());
            changes.rollout_to = a.rules.iter().map(|r| r.rollout).max();
        }
        (Some(_), None) => changes.push(ChangeKind::Remove, "removed".to_owned()),
        (Some(b), Some(a)) if b == a => return None,
        (Some(b), Some(a)) => flag_changes(b, a, &mut changes),
    }
    let blast_radius = match (before, after) {
        (Some(b), Some(a)) => exact_radius(b, a),
        _ => None,
    }
    .unwrap_or_else(|| estimate_radius(key, sides, now));
    Some(EnvironmentDiff {
        environment: environment.to_owned(),
        changes: changes.lines,
        kinds: changes.kinds,
        rollout_to: changes
            .rollout_to
            .map(|t| f64::from(t) / f64::from(FULL) * 100.0),
        blast_radius,
    })
}

/// What changed in one environment, as lines and as kinds.
#[derive(Default)]
struct Changes {
    lines: Vec<String>,
    kinds: BTreeSet<ChangeKind>,
    /// The highest rollout raised to, in thousandths.
    rollout_to: Option<u32>,
}

impl Changes {
    fn push(&mut self, kind: ChangeKind, line: String) {
        self.kinds.insert(kind);
        self.lines.push(line);
    }

    /// Records `what` when its before and after differ.
    fn compare(
        &mut self,
        kind: ChangeKind,
        what: &str,
        before: &dyn std::fmt::Debug,
        after: &dyn std::fmt::Debug,
    ) {
        let (before, after) = (format!("{before:?}"), format!("{after:?}"));
        if before != after {
            self.push(kind, format!("{what}: {before} → {after}"));
        }
    }
}

fn flag_changes(b: &bundle::Flag, a: &bundle::Flag, changes: &mut Changes) {
    use ChangeKind::{Targeting, Variants};
    match (b.enabled, a.enabled) {
        (true, false) => changes.push(
            ChangeKind::Kill,
            "killed: every unit gets the off variant".to_owned(),
        ),
        (false, true) => changes.push(ChangeKind::Enable, "enabled".to_owned()),
        _ => {}
    }
    changes.compare(Targeting, "off variant", &b.off_variant, &a.off_variant);
    changes.compare(Targeting, "fallthrough", &b.fallthrough, &a.fallthrough);
    changes.compare(Targeting, "bucket_by", &b.bucket_by, &a.bucket_by);
    let salt = "salt (units re-randomised)";
    changes.compare(Targeting, salt, &b.salt, &a.salt);
    let (bp, ap) = (prerequisites(b), prerequisites(a));
    changes.compare(Targeting, "prerequisites", &bp, &ap);
    if b.schedule != a.schedule {
        let (before, after) = (flag_schedule(&b.schedule), flag_schedule(&a.schedule));
        changes.push(Targeting, format!("schedule: {before} → {after}"));
        if a.schedule
            .iter()
            .any(|s| s.enabled == Some(true) && !b.schedule.contains(s))
        {
            changes.kinds.insert(ChangeKind::Enable);
        }
    }
    for (name, value) in &a.variants {
        match b.variants.get(name) {
            None => changes.push(Variants, format!("variant `{name}` added")),
            Some(old) if old != value => changes.push(
                Variants,
                format!("variant `{name}` value:\n{}", line_diff(old, value)),
            ),
            Some(_) => {}
        }
    }
    for name in b.variants.keys().filter(|n| !a.variants.contains_key(*n)) {
        changes.push(Variants, format!("variant `{name}` removed"));
    }
    if b.experiment != a.experiment {
        let (before, after) = (experiment(&b.experiment), experiment(&a.experiment));
        changes.push(Targeting, format!("experiment: {before} → {after}"));
    }
    rule_changes(&b.rules, &a.rules, changes);
}

/// An experiment gate in words: who it serves control to.
fn experiment(gate: &Option<bundle::Experiment>) -> String {
    let Some(gate) = gate else {
        return "none".to_owned();
    };
    let percent = |t: u32| f64::from(t) / f64::from(FULL) * 100.0;
    let mut parts = vec![format!("control `{}`", gate.control)];
    if let Some(h) = &gate.holdout {
        parts.push(format!("holdout `{}` {}%", h.name, percent(h.percent)));
    }
    if let Some(l) = &gate.layer {
        parts.push(format!(
            "layer `{}` [{}%, {}%)",
            l.name,
            percent(l.from),
            percent(l.to)
        ));
    }
    format!("`{}` ({})", gate.name, parts.join(", "))
}

fn prerequisites(flag: &bundle::Flag) -> Vec<String> {
    flag.prerequisites
        .iter()
        .map(|p| format!("{} = {}", p.flag, p.variant))
        .collect()
}

/// A unified line diff of two JSON values, pretty-printed.
fn line_diff(before: &Value, after: &Value) -> String {
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
    text_diff(&pretty(before), &pretty(after))
}

fn text_diff(before: &str, after: &str) -> String {
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(2)
        .to_string()
}

fn rule_changes(before: &[bundle::Rule], after: &[bundle::Rule], changes: &mut Changes) {
    use ChangeKind::{Rollout, Targeting};
    let names =
        |rules: &[bundle::Rule]| -> Vec<String> { rules.iter().map(|r| r.name.clone()).collect() };
    let (old, new) = (names(before), names(after));
    for rule in after {
        let Some(prior) = before.iter().find(|r| r.name == rule.name) else {
            changes.push(Targeting, format!("rule `{}` added", rule.name));
            if rule.rollout > 0 {
                changes.rollout_to = changes.rollout_to.max(Some(rule.rollout));
            }
            continue;
        };
        if prior.rollout != rule.rollout {
            changes.push(
                Rollout,
                format!(
                    "rule `{}` rollout {} → {}",
                    rule.name,
                    percent(prior.rollout),
                    percent(rule.rollout)
                ),
            );
            if rule.rollout > prior.rollout {
                changes.rollout_to = changes.rollout_to.max(Some(rule.rollout));
            }
        }
        if prior.serve != rule.serve {
            changes.push(
                Targeting,
                format!(
                    "rule `{}` serves {} → {}",
                    rule.name,
                    serve(&prior.serve),
                    serve(&rule.serve)
                ),
            );
        }
        if prior.conditions != rule.conditions {
            changes.push(
                Targeting,
                format!("rule `{}` conditions changed", rule.name),
            );
        }
        if prior.schedule != rule.schedule {
            let (before, after) = (
                rule_schedule(&prior.schedule),
                rule_schedule(&rule.schedule),
            );
            let kind = if rule.schedule.iter().any(|s| s.rollout.is_some()) {
                Rollout
            } else {
                Targeting
            };
            changes.push(
                kind,
                format!("rule `{}` schedule: {before} → {after}", rule.name),
            );
            // A step that will raise the rollout later is a rollout raised by this change.
            let highest = |r: &bundle::Rule| {
                r.schedule
                    .iter()
                    .filter_map(|s| s.rollout)
                    .fold(r.rollout, u32::max)
            };
            if highest(rule) > highest(prior) {
                changes.rollout_to = changes.rollout_to.max(Some(highest(rule)));
            }
        }
    }
    for name in old.iter().filter(|n| !new.contains(n)) {
        changes.push(Targeting, format!("rule `{name}` removed"));
    }
    let kept_old: Vec<&String> = old.iter().filter(|n| new.contains(n)).collect();
    let kept_new: Vec<&String> = new.iter().filter(|n| old.contains(n)).collect();
    if kept_old != kept_new {
        changes.push(
            Targeting,
            format!("rules reordered: {} → {}", join(&kept_old), join(&kept_new)),
        );
    }
}

fn flag_schedule(steps: &[bundle::FlagStep]) -> String {
    schedule(steps.iter().map(|step| {
        let mut what = Vec::new();
        match step.enabled {
            Some(true) => what.push("enabled".to_owned()),
            Some(false) => what.push("killed".to_owned()),
            None => {}
        }
        if let Some(variant) = &step.fallthrough {
            what.push(format!("serves `{variant}`"));
        }
        (step.at, what)
    }))
}

fn rule_schedule(steps: &[bundle::RuleStep]) -> String {
    schedule(steps.iter().map(|step| {
        let mut what = Vec::new();
        if let Some(rollout) = step.rollout {
            what.push(percent(rollout));
        }
        if let Some(s) = &step.serve {
            what.push(format!("serves {}", serve(s)));
        }
        (step.at, what)
    }))
}

/// Steps as "at TIME what, …; at TIME …", or "none".
fn schedule(steps: impl Iterator<Item = (i64, Vec<String>)>) -> String {
    let steps: Vec<String> = steps
        .map(|(at, what)| {
            let at = crate::literal::format_timestamp(at);
            format!("at {at} {}", what.join(", "))
        })
        .collect();
    if steps.is_empty() {
        "none".to_owned()
    } else {
        steps.join("; ")
    }
}

fn join(names: &[&String]) -> String {
    names
        .iter()
        .map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn percent(thousandths: u32) -> String {
    format!("{}%", f64::from(thousandths) / 1000.0)
}

fn serve(serve: &Serve) -> String {
    match serve {
        Serve::Variant(v) => format!("`{v}`"),
        Serve::Split(weights) => {
            let parts: Vec<String> = weights
                .iter()
                .map(|w| format!("{} {}", w.variant, percent(w.weight)))
                .collect();
            format!("split ({})", parts.join(", "))
        }
    }
}

/// The exact blast radius when the only change is one rule's rollout moving over a single
/// served variant: the units between the two thresholds, of those that match the rule.
fn exact_radius(before: &bundle::Flag, after: &bundle::Flag) -> Option<BlastRadius> {
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
    Some(BlastRadius {
        percent: f64::from(moved) / f64::from(FULL) * 100.0,
        exact: true,
        of: format!(
            "units that reach rule `{}` and match its conditions; they move between it and the rules after it",
            a.name
        ),
    })
}

/// Estimates the blast radius by evaluating both versions for synthetic units whose
/// attributes are drawn from the values the compared flags, the segments and the declarations
/// mention. Every flag is estimated on the same units.
fn estimate_radius<'a>(key: &str, sides: &Sides<'a>, now: i64) -> BlastRadius {
    let (before, after) = (sides.before.and_then(evaluator), evaluator(sides.after));
    let units = sides.units.get_or_init(|| {
        let values = attribute_values(sides.base.iter().chain(sides.head));
        let mut random = Random(0x9E37_79B9_7F4A_7C15);
        (0..SAMPLE_UNITS)
            .map(|i| synthetic_context(i, sides.attributes, &values, &mut random))
            .collect()
    });
    let variant = |e: Option<&'a Evaluator>, context: &Value| -> Option<&'a str> {
        e.and_then(|e| e.evaluate(key, context, now).ok())
            .map(|r| r.variant)
    };
    let differ = units
        .iter()
        .filter(|context| variant(before, context) != variant(after, context))
        .count() as u32;
    BlastRadius {
        percent: f64::from(differ) * 100.0 / f64::from(SAMPLE_UNITS),
        exact: false,
        of: format!(
            "{SAMPLE_UNITS} synthetic units with attribute values drawn from the declarations and conditions"
        ),
    }
}

/// Every operand the bundles' conditions compare each attribute with.
fn attribute_values<'b>(bundles: impl Iterator<Item = &'b Bundle>) -> BTreeMap<String, Vec<Value>> {
    let mut values: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for bundle in bundles {
        let conditions = bundle
            .flags
            .values()
            .flat_map(|f| f.rules.iter().flat_map(|r| &r.conditions))
            .chain(bundle.segments.values().flat_map(|s| &s.conditions));
        for condition in conditions {
            if let Some(attr) = &condition.attr {
                let known = values.entry(attr.clone()).or_default();
                for v in &condition.values {
                    if !known.contains(v) {
                        known.push(v.clone());
                    }
                }
            }
        }
    }
    values
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

    fn pick<'v>(&mut self, values: &'v [Value]) -> Option<&'v Value> {
        (!values.is_empty()).then(|| &values[(self.next() % values.len() as u64) as usize])
    }
}

fn synthetic_context(
    unit: u32,
    attributes: &BTreeMap<String, AttrType>,
    values: &BTreeMap<String, Vec<Value>>,
    random: &mut Random,
) -> Value {
    let mut context = json!({ bundle::TARGETING_KEY: format!("unit-{unit}") });
    for (name, ty) in attributes {
        // Sometimes absent, as real contexts often are.
        if random.next().is_multiple_of(5) {
            continue;
        }
        let known = values.get(name).map(Vec::as_slice).unwrap_or_default();
        let value = match ty {
            AttrType::Boolean => Value::Bool(random.next().is_multiple_of(2)),
            AttrType::Number => match random.pick(known).and_then(Value::as_f64) {
                Some(x) => json!(x + (random.next() % 3) as f64 - 1.0),
                None => json!(random.next() % 1000),
            },
            AttrType::StringList => {
                let items: Vec<Value> = known
                    .iter()
                    .filter(|_| random.next().is_multiple_of(2))
                    .cloned()
                    .collect();
                Value::Array(items)
            }
            AttrType::Datetime => json!("2026-01-01T00:00:00Z"),
            _ => random
                .pick(known)
                .cloned()
                .unwrap_or_else(|| json!(format!("value-{}", random.next() % 100))),
        };
        crate::eval::set_path(&mut context, name, value);
    }
    context
}

/// Segments that changed (`diff` adds the flags they affect).
fn segments(base: &[Bundle], head: &[Bundle]) -> Vec<SegmentDiff> {
    let (Some(b), Some(h)) = (base.last(), head.last()) else {
        return Vec::new();
    };
    let names: BTreeSet<&String> = b.segments.keys().chain(h.segments.keys()).collect();
    let mut out = Vec::new();
    for name in names {
        let status = match (b.segments.get(name), h.segments.get(name)) {
            (None, Some(_)) => Status::Added,
            (Some(_), None) => Status::Removed,
            (Some(x), Some(y)) if x != y => Status::Changed,
            _ => continue,
        };
        out.push(SegmentDiff {
            segment: name.clone(),
            status,
            // Filled in from the files by `diff`.
            affected_flags: Vec::new(),
        });
    }
    out
}
