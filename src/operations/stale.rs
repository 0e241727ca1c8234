//! Stale flags: past their `expires` date, older than their kind's lifetime, or serving one
//! variant to everyone in every environment (fully launched, or dead), with, from git
//! history, since when; and experiments decided or past their end whose flag still splits.
//! The rules are specified in docs/stale.md.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use crate::bundle::{FULL, Flag, Serve};
use crate::check::Checked;
use crate::git::{GitError, ObjectId, Order, Repository};
use crate::literal::{civil_day, format_date};
use crate::model::{ExperimentFile, FlagFile, FlagKind, Lifetime, Outcome, StaleConfig};

const DAY_MILLIS: i64 = 86_400_000;

/// Lifetimes in days when `[stale.lifetimes]` does not set them.
pub const DEFAULT_LIFETIMES: [(FlagKind, Option<u32>); 6] = [
    (FlagKind::Release, Some(90)),
    (FlagKind::Experiment, Some(60)),
    (FlagKind::Ops, None),
    (FlagKind::Permission, None),
    (FlagKind::Config, None),
    (FlagKind::Ai, None),
];

/// The kinds reported for serving one variant when `[stale]` does not name them.
pub const DEFAULT_SINGLE_VARIANT_KINDS: [FlagKind; 3] = [
    FlagKind::Release,
    FlagKind::Experiment,
    FlagKind::Permission,
];

/// The flags that are stale, and where their dates come from.
#[derive(Debug, Serialize)]
pub struct Report {
    pub history: History,
    /// Stale flags, by key.
    pub flags: Vec<StaleFlag>,
    /// Experiments decided, or past their end, whose flag still splits units, by key.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub experiments: Vec<StaleExperiment>,
}

/// An experiment whose flag still splits units between variants in some environment it
/// runs in, though it is decided (the flag should serve the decided variant to everyone) or
/// past its `end` date (nobody decides it, and its units keep getting arms).
#[derive(Debug, Serialize)]
pub struct StaleExperiment {
    pub experiment: String,
    pub flag: String,
    pub owners: Vec<String>,
    /// The experiment's file, relative to the flags repository.
    pub file: String,
    /// Why it is reported: its decision, else its end.
    pub reason: ExperimentReason,
    /// The `end` date, if it has one.
    pub end: Option<String>,
    /// Days from `end` to today, once `end` is past.
    pub days_past_end: Option<i64>,
    /// The decision, if it has one.
    pub decision: Option<StaleDecision>,
    /// The environments whose bundle still serves a split of the flag, in the project's order.
    pub environments: Vec<String>,
}

/// Why an experiment is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExperimentReason {
    /// Decided `shipped` before today.
    Shipped,
    /// Decided `abandoned` before today.
    Abandoned,
    /// Undecided, and `end` is before today.
    PastEnd,
}

impl ExperimentReason {
    pub const ALL: [ExperimentReason; 3] = [
        ExperimentReason::Shipped,
        ExperimentReason::Abandoned,
        ExperimentReason::PastEnd,
    ];
}

/// An experiment's `[decision]`, as `stale` reports it.
#[derive(Debug, Serialize)]
pub struct StaleDecision {
    pub outcome: Outcome,
    /// The variant everyone should get: the shipped arm, or the control.
    pub variant: String,
    /// The decision's date.
    pub date: String,
    /// Days from `date` to today.
    pub days_since: i64,
    pub note: Option<String>,
}

/// Where ages and "since" dates come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum History {
    /// The git history of the repository holding the flags.
    Git,
    /// A shallow clone's history: dates are no earlier than its oldest commit.
    Shallow,
    /// Not in a git repository: no ages, dates or lifetimes.
    None,
}

#[derive(Debug, Serialize)]
pub struct StaleFlag {
    pub flag: String,
    pub kind: FlagKind,
    pub owners: Vec<String>,
    /// The flag's file, relative to the flags repository.
    pub file: String,
    /// Why it is stale, in the order expired, over_lifetime, launched, dead.
    pub reasons: Vec<Reason>,
    /// The `expires` date.
    pub expires: Option<String>,
    /// The commit that added the flag's file.
    pub added: Option<Change>,
    /// Days since `added`.
    pub age_days: Option<i64>,
    /// The lifetime of the flag's kind, in days.
    pub lifetime_days: Option<u32>,
    /// The variant every environment serves to everyone (launched or dead).
    pub serves: Option<String>,
    /// Each environment's variant and since when it serves it (launched or dead), in the
    /// project's order.
    pub environments: Vec<EnvironmentState>,
    /// The latest of the environments' `since`.
    pub since: Option<Change>,
    /// Days since `since`.
    pub days_since: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// `expires` is before today.
    Expired,
    /// Older than its kind's lifetime.
    OverLifetime,
    /// Every environment serves the same variant, not the off variant, to everyone.
    Launched,
    /// Every environment serves the off variant to everyone.
    Dead,
}

impl Reason {
    pub const ALL: [Reason; 4] = [
        Reason::Expired,
        Reason::OverLifetime,
        Reason::Launched,
        Reason::Dead,
    ];

    /// Its name in reports.
    pub fn label(self) -> &'static str {
        match self {
            Reason::Expired => "expired",
            Reason::OverLifetime => "over lifetime",
            Reason::Launched => "fully launched",
            Reason::Dead => "dead",
        }
    }
}

#[derive(Debug, Serialize)]
pub struct EnvironmentState {
    pub environment: String,
    pub variant: String,
    /// The change after which the environment serves only `variant`.
    pub since: Option<Change>,
}

/// A change to the flag: a commit, or the work tree's uncommitted changes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Change {
    /// `YYYY-MM-DD`, UTC: the commit's time, or today for uncommitted changes.
    pub date: String,
    /// The full commit id; `None` for uncommitted changes.
    pub commit: Option<String>,
}

/// The git repository holding the flags repository, and its directory in the work tree.
#[derive(Clone, Copy)]
struct Git<'a> {
    repository: &'a Repository,
    /// The flags repository's directory, relative to the work tree's root (empty: the root).
    dir: &'a Path,
}

/// The lifetime of a kind of flag, in days, under `[stale]`.
pub fn lifetime(config: Option<&StaleConfig>, kind: FlagKind) -> Option<u32> {
    let set = config.and_then(|c| {
        let l = &c.lifetimes;
        match kind {
            FlagKind::Release => l.release,
            FlagKind::Experiment => l.experiment,
            FlagKind::Ops => l.ops,
            FlagKind::Permission => l.permission,
            FlagKind::Config => l.config,
            FlagKind::Ai => l.ai,
        }
    });
    let default = DEFAULT_LIFETIMES.iter().find(|(k, _)| *k == kind);
    set.map_or(default.and_then(|(_, days)| *days), |Lifetime(days)| days)
}

/// Finds the stale flags of a checked repository, read from `dir`, at `now` (milliseconds
/// since the Unix epoch), reading ages and dates from git history when `dir` is in a git
/// repository.
pub fn stale(checked: Checked<'_>, dir: &Path, now: i64) -> Result<Report, GitError> {
    let repository = Repository::discover(dir).ok();
    let relative = repository.as_ref().map(|r| r.relative(dir)).transpose()?;
    let git = repository
        .as_ref()
        .zip(relative.as_deref())
        .map(|(repository, dir)| Git { repository, dir });
    let repo = checked.repo();
    let project = repo
        .project
        .as_ref()
        .and_then(|p| p.doc.as_ref())
        .expect("checked repositories have a project");
    let config = project.stale.as_ref();
    let single_kinds = config
        .and_then(|c| c.single_variant_kinds.clone())
        .unwrap_or(DEFAULT_SINGLE_VARIANT_KINDS.to_vec());
    let today = now.div_euclid(DAY_MILLIS);
    let flags: Vec<(&str, &FlagFile, &str)> = repo
        .flags
        .iter()
        .map(|(key, loaded)| {
            let doc = loaded.doc.as_ref().expect("checked flags load");
            (key.as_str(), doc, repo.files[loaded.file].text.as_str())
        })
        .collect();
    let single_keys: BTreeSet<&str> = flags
        .iter()
        .filter(|(_, flag, _)| single_kinds.contains(&flag.kind))
        .map(|(key, _, _)| *key)
        .collect();
    // Experiments decided or past their end: their flags' splits are read from the bundles
    // too.
    let concluded: Vec<(&str, &ExperimentFile, ExperimentReason)> = repo
        .experiments
        .iter()
        .filter_map(|(key, loaded)| {
            let doc = loaded.doc.as_ref()?;
            Some((key.as_str(), doc, over(doc, today)?))
        })
        .collect();
    let mut built = single_keys.clone();
    built.extend(concluded.iter().map(|(_, e, _)| e.flag.as_str()));
    let bundles = crate::build::only(checked, &built);
    let mut findings: Vec<Finding<'_>> = Vec::new();
    for &(key, flag, text) in &flags {
        let expired = flag
            .expires
            .as_ref()
            .and_then(|e| e.0.date)
            .and_then(|d| civil_day(i64::from(d.year), d.month.into(), d.day.into()))
            .is_some_and(|day| day < today);
        let single = if single_keys.contains(key) {
            single_variant(bundles.iter().map(|b| &b.flags[key]), now)
        } else {
            None
        };
        let lifetime = lifetime(config, flag.kind.value);
        if expired || lifetime.is_some() || single.is_some() {
            findings.push(Finding {
                key,
                flag,
                path: &repo.files[repo.flags[key].file].path,
                text,
                expired,
                lifetime,
                single,
            });
        }
    }
    let environments: Vec<&str> = project.environments.iter().map(|e| e.as_str()).collect();
    let (history, dates) = match git {
        Some(git) => {
            let shallow = git.repository.is_shallow();
            let dates = history(git, &findings, &environments)?;
            let kind = if shallow {
                History::Shallow
            } else {
                History::Git
            };
            (kind, Some(dates))
        }
        None => (History::None, None),
    };
    let change = |origin: &Origin| origin.change(now);
    let days = |origin: &Origin| today - origin.millis(now).div_euclid(DAY_MILLIS);
    let mut stale = Vec::new();
    for (i, finding) in findings.iter().enumerate() {
        let dates = dates.as_ref().map(|d| &d[i]);
        let added = dates.and_then(|d| d.added.as_ref());
        let age = added.map(days);
        let mut reasons = Vec::new();
        if finding.expired {
            reasons.push(Reason::Expired);
        }
        if let (Some(age), Some(lifetime)) = (age, finding.lifetime)
            && age > i64::from(lifetime)
        {
            reasons.push(Reason::OverLifetime);
        }
        let mut states = Vec::new();
        let mut since: Option<Origin> = None;
        if let Some(single) = &finding.single {
            reasons.push(if single.dead {
                Reason::Dead
            } else {
                Reason::Launched
            });
            for (e, environment) in environments.iter().enumerate() {
                // A schedule step that took effect after the change is when it began.
                let origin = dates
                    .and_then(|d| d.since[e].clone())
                    .map(|origin| origin.not_before(single.last_step[e]));
                if let Some(origin) = &origin
                    && since
                        .as_ref()
                        .is_none_or(|s| s.millis(now) < origin.millis(now))
                {
                    since = Some(origin.clone());
                }
                states.push(EnvironmentState {
                    environment: environment.to_string(),
                    variant: single.variant.to_owned(),
                    since: origin.as_ref().map(change),
                });
            }
        }
        if reasons.is_empty() {
            continue;
        }
        let flag = finding.flag;
        stale.push(StaleFlag {
            flag: finding.key.to_owned(),
            kind: flag.kind.value,
            owners: flag.owners.iter().map(|o| o.as_str().to_owned()).collect(),
            file: finding.path.to_owned(),
            reasons,
            expires: flag
                .expires
                .as_ref()
                .and_then(|e| e.0.date)
                .map(|d| d.to_string()),
            added: added.map(change),
            age_days: age,
            lifetime_days: finding.lifetime,
            serves: finding.single.as_ref().map(|s| s.variant.to_owned()),
            environments: states,
            days_since: since.as_ref().map(days),
            since: since.as_ref().map(change),
        });
    }
    let mut experiments = Vec::new();
    for (key, experiment, reason) in concluded {
        let flag = experiment.flag.as_str();
        let splitting: Vec<String> = bundles
            .iter()
            .filter(|b| {
                experiment
                    .environments
                    .iter()
                    .any(|e| e.as_str() == b.environment)
            })
            .filter(|b| b.flags.get(flag).is_some_and(|f| splits(f, now)))
            .map(|b| b.environment.clone())
            .collect();
        if splitting.is_empty() {
            continue;
        }
        let end = (experiment.end.as_ref()).and_then(|end| crate::experiment::day(end));
        let decision = experiment.decision.as_ref().and_then(|decision| {
            let day = crate::experiment::day(&decision.date)?;
            Some(StaleDecision {
                outcome: decision.outcome.value,
                variant: experiment.decided_variant()?.to_owned(),
                date: format_date(day),
                days_since: today - day,
                note: decision.note.as_ref().map(|n| n.as_str().to_owned()),
            })
        });
        experiments.push(StaleExperiment {
            experiment: key.to_owned(),
            flag: flag.to_owned(),
            owners: experiment
                .owners
                .iter()
                .map(|o| o.as_str().to_owned())
                .collect(),
            file: repo.files[repo.experiments[key].file].path.clone(),
            reason,
            end: end.map(format_date),
            days_past_end: end.filter(|end| *end < today).map(|end| today - end),
            decision,
            environments: splitting,
        });
    }
    Ok(Report {
        history,
        flags: stale,
        experiments,
    })
}

/// Why an experiment is over at `today`, if it is: decided before today (the decision wins),
/// else undecided with its `end` before today. A decision dated today leaves the day to act
/// on it, as `end` does.
fn over(experiment: &ExperimentFile, today: i64) -> Option<ExperimentReason> {
    if let Some(decision) = &experiment.decision {
        let day = crate::experiment::day(&decision.date)?;
        return (day < today).then_some(match decision.outcome.value {
            Outcome::Shipped => ExperimentReason::Shipped,
            Outcome::Abandoned => ExperimentReason::Abandoned,
        });
    }
    let end = crate::experiment::day(&experiment.end.as_ref()?.value)?;
    (end < today).then_some(ExperimentReason::PastEnd)
}

/// Whether `flag` splits units between two variants or more at `now`: enabled, with a rule
/// that serves some units (a rollout above 0%) a split with two positive weights. Conditions
/// are not evaluated, as for [`reachable`].
fn splits(flag: &Flag, now: i64) -> bool {
    let passed = |at: i64| at <= now;
    let enabled = (flag.schedule.iter().rev())
        .filter(|s| passed(s.at))
        .find_map(|s| s.enabled)
        .unwrap_or(flag.enabled);
    enabled
        && flag.rules.iter().any(|rule| {
            let steps = rule.schedule.iter().rev().filter(|s| passed(s.at));
            let rollout = steps
                .clone()
                .find_map(|s| s.rollout)
                .unwrap_or(rule.rollout);
            let serve = steps
                .clone()
                .find_map(|s| s.serve.as_ref())
                .unwrap_or(&rule.serve);
            rollout > 0
                && matches!(serve, Serve::Split(weights)
                    if weights.iter().filter(|w| w.weight > 0).count() >= 2)
        })
}

/// A flag that may be stale, with what is known before reading history.
struct Finding<'r> {
    key: &'r str,
    flag: &'r FlagFile,
    /// The flag's file, relative to the flags repository.
    path: &'r str,
    /// The file's text in the work tree.
    text: &'r str,
    /// Whether `expires` is before today.
    expired: bool,
    lifetime: Option<u32>,
    single: Option<Single<'r>>,
}

/// A flag that serves one variant to everyone in every environment.
struct Single<'b> {
    variant: &'b str,
    /// Whether that is the off variant everywhere.
    dead: bool,
    /// Per environment, the time of the last schedule step, which took effect already.
    last_step: Vec<Option<i64>>,
}

/// The variant every environment's flag serves to everyone at `now`, if it is one and the
/// same, and no schedule step is still to come.
fn single_variant<'b>(envs: impl Iterator<Item = &'b Flag>, now: i64) -> Option<Single<'b>> {
    let mut single: Option<Single<'b>> = None;
    for flag in envs {
        let reachable = reachable(flag, now)?;
        let [variant] = reachable.as_slice() else {
            return None;
        };
        let off = *variant == flag.off_variant;
        let steps = flag.schedule.iter().map(|s| s.at);
        let last_step = steps
            .chain(
                flag.rules
                    .iter()
                    .flat_map(|r| r.schedule.iter().map(|s| s.at)),
            )
            .max();
        match &mut single {
            None => {
                single = Some(Single {
                    variant,
                    dead: off,
                    last_step: vec![last_step],
                });
            }
            Some(s) if s.variant == *variant => {
                s.dead &= off;
                s.last_step.push(last_step);
            }
            Some(_) => return None,
        }
    }
    single
}

/// The variants some unit can get from `flag` at `now`, sorted; `None` while a schedule step
/// is still to come (the flag is about to change).
fn reachable(flag: &Flag, now: i64) -> Option<Vec<&str>> {
    let rule_steps = flag
        .rules
        .iter()
        .flat_map(|r| r.schedule.iter().map(|s| s.at));
    if flag
        .schedule
        .iter()
        .map(|s| s.at)
        .chain(rule_steps)
        .any(|at| at > now)
    {
        return None;
    }
    // Every step has taken effect: the last one to set a value decides it.
    let enabled = (flag.schedule.iter().rev())
        .find_map(|s| s.enabled)
        .unwrap_or(flag.enabled);
    if !enabled {
        return Some(vec![flag.off_variant.as_str()]);
    }
    let fallthrough = (flag.schedule.iter().rev())
        .find_map(|s| s.fallthrough.as_ref())
        .unwrap_or(&flag.fallthrough);
    let mut variants = BTreeSet::new();
    // A prerequisite may fail, which serves the off variant.
    if !flag.prerequisites.is_empty() {
        variants.insert(flag.off_variant.as_str());
    }
    for rule in &flag.rules {
        let steps = rule.schedule.iter().rev();
        let rollout = steps
            .clone()
            .find_map(|s| s.rollout)
            .unwrap_or(rule.rollout);
        let serve = steps
            .clone()
            .find_map(|s| s.serve.as_ref())
            .unwrap_or(&rule.serve);
        if rollout == 0 {
            continue;
        }
        match serve {
            Serve::Variant(variant) => {
                variants.insert(variant.as_str());
                // Everyone matches it: later rules and the fallthrough are out of reach. A
                // split or a partial rollout needs a bucketing unit, which a context may lack.
                if rollout == FULL && rule.conditions.is_empty() {
                    return Some(variants.into_iter().collect());
                }
            }
            Serve::Split(weights) => variants.extend(
                weights
                    .iter()
                    .filter(|w| w.weight > 0)
                    .map(|w| w.variant.as_str()),
            ),
        }
    }
    variants.insert(fallthrough.as_str());
    Some(variants.into_iter().collect())
}

/// Where a version of a flag comes from.
#[derive(Clone, Debug)]
enum Origin {
    /// A commit, and when its change took effect, in milliseconds since the Unix epoch: the
    /// commit's time, or a later schedule step's.
    Commit(ObjectId, i64),
    /// The work tree's uncommitted changes: now.
    WorkTree,
}

impl Origin {
    fn millis(&self, now: i64) -> i64 {
        match self {
            Origin::Commit(_, millis) => *millis,
            Origin::WorkTree => now,
        }
    }

    fn change(&self, now: i64) -> Change {
        Change {
            date: format_date(self.millis(now).div_euclid(DAY_MILLIS)),
            commit: match self {
                Origin::Commit(id, _) => Some(id.to_string()),
                Origin::WorkTree => None,
            },
        }
    }

    /// The change as it took effect, when a schedule step at `step` came after it.
    fn not_before(self, step: Option<i64>) -> Origin {
        match (self, step) {
            (Origin::Commit(id, millis), Some(step)) => Origin::Commit(id, millis.max(step)),
            (origin, _) => origin,
        }
    }
}

/// What history tells about one finding.
#[derive(Debug, Default)]
struct Dates {
    /// The change that added the flag's file.
    added: Option<Origin>,
    /// Per environment (of a single-variant flag), the change after which its block is as
    /// it is now.
    since: Vec<Option<Origin>>,
}

/// The keys of a flag file that do not change what it serves: comparing a block leaves them
/// out, with the other environments.
const METADATA_KEYS: [&str; 5] = ["description", "owners", "kind", "tags", "expires"];

/// A flag file's text parsed as TOML; `None` when it is not valid.
fn parse(text: &str) -> Option<toml::Table> {
    text.parse().ok()
}

/// What decides what a flag serves in `env`: the file without its metadata and without the
/// other environments. Comparing these values, not text, ignores formatting and order.
fn block(file: &toml::Table, env: &str) -> toml::Table {
    let mut block = file.clone();
    for key in METADATA_KEYS {
        block.remove(key);
    }
    if let Some(toml::Value::Table(envs)) = block.get_mut("env") {
        envs.retain(|name, _| name == env);
    }
    block
}

/// Reads, from the work tree against HEAD and then HEAD's first-parent history, when each
/// finding's file was added and, for single-variant flags, when each environment's block
/// last changed. A rename counts as adding the file.
fn history(
    git: Git<'_>,
    findings: &[Finding<'_>],
    environments: &[&str],
) -> Result<Vec<Dates>, GitError> {
    let repository = git.repository;
    let mut walk = Walk {
        repository,
        environments,
        dates: findings.iter().map(|_| Dates::default()).collect(),
        pending: BTreeMap::new(),
    };
    for (i, finding) in findings.iter().enumerate() {
        let blocks: Vec<Option<toml::Table>> = match &finding.single {
            Some(_) => {
                let now = parse(finding.text).expect("checked flag files parse");
                environments.iter().map(|e| Some(block(&now, e))).collect()
            }
            None => Vec::new(),
        };
        walk.dates[i].since = vec![None; blocks.len()];
        walk.pending.insert(finding.path, (i, blocks));
    }
    let Some(mut commits) = repository.history(Order::FirstParent)? else {
        walk.settle_all(&Origin::WorkTree);
        return Ok(walk.dates);
    };
    let Some(head) = commits.next().transpose()? else {
        walk.settle_all(&Origin::WorkTree);
        return Ok(walk.dates);
    };
    let flags = git.dir.join("flags");
    // The work tree against HEAD.
    let mut tree = head.subtree(&flags)?;
    let mut at_head = Vec::new();
    if let Some(tree) = &tree {
        tree.changed_since(None, "flags/", &mut at_head)?;
    }
    let at_head: BTreeMap<String, ObjectId> = at_head
        .into_iter()
        .map(|(path, _, id)| (path, id))
        .collect();
    let mut uncommitted = Vec::new();
    for (path, (i, _)) in &walk.pending {
        let text = findings[*i].text.as_bytes();
        let committed = at_head.get(*path).copied();
        if committed.is_none() || committed != crate::git::hash_blob(text) {
            uncommitted.push((*path, committed));
        }
    }
    for (path, before) in uncommitted {
        walk.changed(path, before, &Origin::WorkTree)?;
    }
    let mut commit = head;
    while !walk.pending.is_empty() {
        let origin = Origin::Commit(commit.id(), commit.seconds() * 1000);
        // In a shallow clone the oldest commit's parent is missing: history ends there.
        let parent = commits.next().transpose()?;
        let parent_tree = match &parent {
            Some(parent) => parent.subtree(&flags)?,
            None => None,
        };
        let mut changed = Vec::new();
        if let Some(tree) = &tree {
            tree.changed_since(parent_tree.as_ref(), "flags/", &mut changed)?;
        }
        for (path, before, _) in changed {
            walk.changed(&path, before, &origin)?;
        }
        let Some(parent) = parent else {
            // What is still followed has been as it is since the first commit.
            walk.settle_all(&origin);
            break;
        };
        commit = parent;
        tree = parent_tree;
    }
    Ok(walk.dates)
}

/// History being read, newest change first.
struct Walk<'a> {
    repository: &'a Repository,
    environments: &'a [&'a str],
    dates: Vec<Dates>,
    /// The files still followed, by path: the finding, and per environment its block now
    /// until the change that made it so is found.
    pending: BTreeMap<&'a str, (usize, Vec<Option<toml::Table>>)>,
}

impl Walk<'_> {
    /// Records what `origin` changed in the file at `path`, whose previous version is the
    /// blob `before` (`None`: `origin` added the file).
    fn changed(
        &mut self,
        path: &str,
        before: Option<ObjectId>,
        origin: &Origin,
    ) -> Result<(), GitError> {
        let Some(before) = before else {
            if let Some((i, blocks)) = self.pending.remove(path) {
                settle(&mut self.dates[i], &blocks, origin);
            }
            return Ok(());
        };
        let Some((i, blocks)) = self.pending.get_mut(path) else {
            return Ok(());
        };
        if blocks.iter().all(Option::is_none) {
            return Ok(());
        }
        let blob = self.repository.blob(before)?;
        let old = std::str::from_utf8(&blob).ok().and_then(parse);
        for (e, env) in self.environments.iter().enumerate() {
            let same = match (&blocks[e], &old) {
                (None, _) => continue,
                (Some(now), Some(old)) => block(old, env) == *now,
                (Some(_), None) => false,
            };
            if !same {
                self.dates[*i].since[e] = Some(origin.clone());
                blocks[e] = None;
            }
        }
        Ok(())
    }

    /// Every file still followed has been as it is since `origin`, which added it.
    fn settle_all(&mut self, origin: &Origin) {
        for (i, blocks) in std::mem::take(&mut self.pending).into_values() {
            settle(&mut self.dates[i], &blocks, origin);
        }
    }
}

/// `origin` added a flag's file: its age, and the since of every environment not yet known.
fn settle(dates: &mut Dates, blocks: &[Option<toml::Table>], origin: &Origin) {
    dates.added = Some(origin.clone());
    for (since, block) in dates.since.iter_mut().zip(blocks) {
        if block.is_some() {
            *since = Some(origin.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A boolean flag with `fields` over the defaults of an enabled flag without rules.
    fn flag(fields: serde_json::Value) -> Flag {
        let mut flag = serde_json::json!({
            "bucket_by": "targeting_key", "enabled": true, "fallthrough": "off",
            "off_variant": "off", "prerequisites": [], "rules": [], "salt": "f",
            "schedule": [], "variants": { "off": false, "on": true },
        });
        for (key, value) in fields.as_object().unwrap() {
            flag[key] = value.clone();
        }
        serde_json::from_value(flag).unwrap()
    }

    fn rule(conditions: usize, rollout: u32, serve: serde_json::Value) -> serde_json::Value {
        let condition = serde_json::json!({ "segment": "staff" });
        serde_json::json!({
            "conditions": vec![condition; conditions], "name": "r", "rollout": rollout,
            "schedule": [], "serve": serve,
        })
    }

    #[test]
    fn reachable_variants() {
        let on = serde_json::json!({ "variant": "on" });
        let split = serde_json::json!({ "split": [
            { "variant": "off", "weight": 0 }, { "variant": "on", "weight": 100_000 }
        ] });
        let cases = [
            (
                serde_json::json!({ "enabled": false, "fallthrough": "on" }),
                vec!["off"],
            ),
            (
                serde_json::json!({ "fallthrough": "on", "rules": [rule(1, FULL, on.clone())] }),
                vec!["on"],
            ),
            (
                serde_json::json!({ "rules": [rule(0, FULL, on.clone())] }),
                vec!["on"],
            ),
            (
                serde_json::json!({ "rules": [rule(0, 99_999, on.clone())] }),
                vec!["off", "on"],
            ),
            (
                serde_json::json!({ "rules": [rule(0, 0, on.clone())] }),
                vec!["off"],
            ),
            (
                serde_json::json!({ "rules": [rule(0, FULL, split)] }),
                vec!["off", "on"],
            ),
            (
                serde_json::json!({ "fallthrough": "on", "prerequisites": [{ "flag": "p", "variant": "on" }] }),
                vec!["off", "on"],
            ),
            (
                serde_json::json!({ "schedule": [{ "at": 10, "fallthrough": "on" }, { "at": 20, "enabled": false }] }),
                vec!["off"],
            ),
        ];
        for (fields, expected) in cases {
            let flag = flag(fields.clone());
            assert_eq!(reachable(&flag, 100), Some(expected), "{fields}");
        }
        let mut stepped = rule(0, 5_000, on);
        stepped["schedule"] = serde_json::json!([{ "at": 50, "rollout": FULL }]);
        let flag = flag(serde_json::json!({ "rules": [stepped] }));
        assert_eq!(reachable(&flag, 100), Some(vec!["on"]));
        assert_eq!(reachable(&flag, 49), None, "a step still to come");
    }
}
