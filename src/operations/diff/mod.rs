//! Semantic differences between two versions of a repository, per flag and environment, with
//! the blast radius of each changed flag: the share of units whose served value changes.
//!
//! Both sides are compared as bundles, which hold behaviour only: reformatting, reordering or
//! moving text is no change. A flag whose own entry is the same on both sides still changes
//! when a prerequisite or a segment it tests changes: it is compared too, and reported as
//! changing "through" them. Served values are compared, not variant names, at the comparison
//! time and at every later time a schedule step of either side names. The blast radius is
//! `blast_radius`'s, on the synthetic units of `population`.

mod blast_radius;
mod population;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde::Serialize;
use serde_json::Value;

use crate::bundle::{self, Bundle, FULL, Serve};
use crate::eval::Evaluator;
use crate::format::percent_of_thousandths;
use crate::load::{Loaded, Repo};
use crate::model::{ChangeKind, ExperimentFile};
use crate::op::AttrType;

pub use blast_radius::{BlastRadius, blast_radius_on};
pub use population::UNITS as SAMPLE_UNITS;

/// Everything that differs between two versions.
#[derive(Debug, Serialize)]
pub struct Diff {
    /// Changed flags, by key.
    pub flags: Vec<FlagDiff>,
    /// Changed segments, with the flags whose evaluation they affect.
    pub segments: Vec<SegmentDiff>,
    /// Changed project name, environments, declared attributes and other project settings.
    pub project: Vec<String>,
    /// Changed teams, one line each.
    pub teams: Vec<String>,
    /// The `[review]` policy's change, as a line diff; `None` when it is the same.
    pub policy: Option<String>,
    /// Changed files that hold no flag behaviour but matter to review: test files,
    /// experiment settings, other files of the repository, and the git settings and
    /// workflows that decide how the repository is checked out and checked.
    pub files: Vec<FileChange>,
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
    /// Changes to what the flag file says about the flag (kind, expiry, opting out of the
    /// emergency path, description, tags): no unit is served differently, but review and
    /// `stale` read them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<String>,
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
    /// What changed, one entry each; payload diffs and added rules span several lines.
    pub changes: Vec<String>,
    /// The kinds of those changes, as review rules name them.
    pub kinds: BTreeSet<ChangeKind>,
    /// The highest rollout percentage the change widens a variant's audience through: a
    /// raised rule, a new rule or flag, or a sampled unit that newly gets a variant (the
    /// rollout of the rule that serves it, 100 for the fallthrough).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout_to: Option<f64>,
    pub blast_radius: BlastRadius,
    /// For a kill: the variant every unit now gets, and its value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub off: Option<OffVariant>,
}

/// The off variant a kill serves.
#[derive(Debug, Serialize)]
pub struct OffVariant {
    pub variant: String,
    pub value: Value,
}

#[derive(Debug, Serialize)]
pub struct SegmentDiff {
    pub segment: String,
    pub status: Status,
    /// Flags with a rule or segment condition on it, directly or through another segment.
    pub affected_flags: Vec<String>,
}

/// A changed file that holds no flag behaviour.
#[derive(Debug, Serialize)]
pub struct FileChange {
    /// Path relative to the git work tree's root.
    pub path: String,
    pub status: Status,
    pub kind: FileKind,
    /// What the file is about: the flags a test file names, an experiment's flag.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    /// An experiment file's owners, before and after.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub owners: Vec<String>,
    /// For an experiment file: what changed in when it allocates units, how many and what
    /// it measures, one line each, with the kinds review rules name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub kinds: BTreeSet<ChangeKind>,
}

/// What kind of file changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// `tests/*.toml`: what `flagstone test` asserts.
    Test,
    /// `experiments/**.toml`: metrics, dates and settings (its gate on the flag is compared
    /// as behaviour).
    Experiment,
    /// Another file of the flags repository, such as experiment results.
    Other,
    /// `.gitattributes`, `.gitmodules`, `CODEOWNERS` or `.github/**`: how the repository is
    /// checked out, who owns what, and the workflows that run the check.
    Protected,
}

/// The flags whose behaviour may differ between two versions: those whose file differs or
/// exists on one side only, those that test a segment whose file differs (directly or through
/// other segments), and every flag that depends on one of them through prerequisites. `None`
/// when the project file differs, which may change any flag. Bundles of these flags
/// ([`crate::build::only`]) are all [`diff`] needs.
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
    // Flags that need a changed flag, directly or through others, on either side.
    let mut dependents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for repo in [base, head] {
        for (key, loaded) in &repo.flags {
            for prerequisite in loaded.doc.iter().flat_map(|d| &d.prerequisites) {
                let needed = prerequisite.flag.as_str();
                dependents.entry(needed).or_default().push(key.as_str());
            }
        }
    }
    let mut pending: Vec<&str> = flags.iter().copied().collect();
    while let Some(key) = pending.pop() {
        for &dependent in dependents.get(key).into_iter().flatten() {
            if flags.insert(dependent) {
                pending.push(dependent);
            }
        }
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
/// head's order); owners, metadata, teams, the review policy, other project settings, test
/// files and experiment settings from their files. `now` is the time the comparison is made
/// at: schedules are evaluated then and at every later step.
pub fn diff(base: Version<'_>, head: Version<'_>, now: i64) -> Diff {
    let mut diff = behaviour(base.bundles, head.bundles, &declared_values(head.repo), now);
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
        let mut owners: Vec<String> = flag.owners.iter().map(|o| o.as_str().to_owned()).collect();
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
        flag_entry(&mut diff, key).owners = Some([before, after]);
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
    // Settings that are neither behaviour nor review: [stale], [refs], declared values.
    let covered = ["name", "environments", "teams", "review"];
    let sections: BTreeSet<&String> = base_project.keys().chain(head_project.keys()).collect();
    for name in sections
        .into_iter()
        .filter(|n| !covered.contains(&n.as_str()))
    {
        if base_project.get(name) != head_project.get(name) {
            diff.project.push(format!("`[{name}]` changed"));
        }
    }
    metadata(&mut diff, base.repo, head.repo);
    diff.files = data_files(base.repo, head.repo, now);
    started_splits(&mut diff, base.repo, now);
    diff
}

/// Whether an experiment allocates units on `today` (days since 1970-01-01): it has started,
/// not ended and is not decided. A start that is not a plain date counts as started.
fn running(experiment: &ExperimentFile, today: i64) -> bool {
    started(experiment, today)
        && experiment.decision.is_none()
        && experiment
            .end
            .as_ref()
            .and_then(|e| crate::experiment::day(&e.value))
            .is_none_or(|end| today <= end)
}

fn started(experiment: &ExperimentFile, today: i64) -> bool {
    crate::experiment::day(&experiment.start.value).is_none_or(|start| start <= today)
}

/// Marks a change of how a flag serves units, in an environment a started experiment of the
/// base runs it in, as a change of that experiment's allocation. A kill alone is not: it
/// stops the experiment, which the emergency path allows. Nor is a change once the
/// experiment is decided: serving the decided variant is what the decision asks for.
fn started_splits(diff: &mut Diff, base: &Repo, now: i64) {
    let today = now.div_euclid(DAY_MILLIS);
    for flag in &mut diff.flags {
        let experiments = base
            .experiments
            .iter()
            .filter_map(|(name, e)| Some((name, e.doc.as_ref()?)))
            .filter(|(_, e)| e.flag.as_str() == flag.flag && started(e, today))
            .filter(|(_, e)| e.decision.is_none());
        for (name, experiment) in experiments {
            for env in &mut flag.environments {
                let runs = experiment
                    .environments
                    .iter()
                    .any(|e| e.as_str() == env.environment);
                let splits = [
                    ChangeKind::Rollout,
                    ChangeKind::Targeting,
                    ChangeKind::Variants,
                ];
                if runs && splits.iter().any(|k| env.kinds.contains(k)) {
                    env.kinds.insert(ChangeKind::ExperimentAllocation);
                    env.changes.push(format!(
                        "experiment-allocation: experiment `{name}` splits these units and has started"
                    ));
                }
            }
        }
    }
}

/// One day in milliseconds.
const DAY_MILLIS: i64 = 86_400_000;

/// What changed in an experiment file, `before` and `after` (document and table), as review
/// rules name it: a start, a stop, and, once started, its allocation and its metrics.
fn experiment_changes(
    before: Option<(&ExperimentFile, &toml::Table)>,
    after: Option<(&ExperimentFile, &toml::Table)>,
    today: i64,
) -> (BTreeSet<ChangeKind>, Vec<String>) {
    let mut kinds = BTreeSet::new();
    let mut lines = Vec::new();
    let show = |table: Option<&toml::Table>, key: &str| {
        table
            .and_then(|t| t.get(key))
            .map_or("none".to_owned(), toml::Value::to_string)
    };
    let (b, a) = (before.map(|(d, _)| d), after.map(|(d, _)| d));
    let (bt, at) = (before.map(|(_, t)| t), after.map(|(_, t)| t));
    let dates = |kind: ChangeKind, what: &str, lines: &mut Vec<String>| {
        lines.push(format!(
            "{}: {what} (start {} → {}, end {} → {})",
            kind.as_str(),
            show(bt, "start"),
            show(at, "start"),
            show(bt, "end"),
            show(at, "end")
        ));
    };
    let was_running = b.is_some_and(|e| running(e, today));
    if a.is_some_and(|e| started(e, today)) && !b.is_some_and(|e| started(e, today)) {
        kinds.insert(ChangeKind::ExperimentStart);
        dates(
            ChangeKind::ExperimentStart,
            "it begins allocating units",
            &mut lines,
        );
    }
    let end = |e: &ExperimentFile| {
        e.end
            .as_ref()
            .and_then(|e| crate::experiment::day(&e.value))
    };
    let stops = match (b, a) {
        (Some(_), None) => true,
        (Some(b), Some(a)) => {
            !running(a, today) || end(a).is_some_and(|ea| end(b).is_none_or(|eb| ea < eb))
        }
        _ => false,
    };
    if was_running && stops {
        kinds.insert(ChangeKind::ExperimentStop);
        let what = match a {
            None => "removed while running",
            Some(a) if a.decision.is_some() => "decided while running",
            Some(_) => "it stops allocating units sooner",
        };
        dates(ChangeKind::ExperimentStop, what, &mut lines);
    }
    // Before the start, allocation and metrics are the design, edited freely.
    if b.is_some_and(|e| started(e, today)) || (b.is_some() && a.is_some_and(|e| started(e, today)))
    {
        for (kind, keys) in [
            (
                ChangeKind::ExperimentAllocation,
                &[
                    "flag",
                    "control",
                    "environments",
                    "layer",
                    "range",
                    "holdout",
                ][..],
            ),
            (
                ChangeKind::ExperimentMetrics,
                &["primary", "secondary", "guardrails", "alpha"][..],
            ),
        ] {
            for key in keys {
                let (x, y) = (show(bt, key), show(at, key));
                if at.is_some() && x != y {
                    kinds.insert(kind);
                    lines.push(format!("{}: `{key}` {x} → {y}", kind.as_str()));
                }
            }
        }
    }
    (kinds, lines)
}

/// The flag's entry in `diff`, added (in key order) when its behaviour did not change.
fn flag_entry<'d>(diff: &'d mut Diff, key: &str) -> &'d mut FlagDiff {
    let at = diff.flags.partition_point(|f| f.flag.as_str() < key);
    if diff.flags.get(at).is_none_or(|f| f.flag != key) {
        let entry = FlagDiff {
            flag: key.to_owned(),
            status: Status::Changed,
            environments: Vec::new(),
            owners: None,
            metadata: Vec::new(),
        };
        diff.flags.insert(at, entry);
    }
    &mut diff.flags[at]
}

/// Records what flag files say besides behaviour and owners, where it changed.
fn metadata(diff: &mut Diff, base: &Repo, head: &Repo) {
    for (key, loaded) in &base.flags {
        let before = loaded.doc.as_ref();
        let after = head.flags.get(key).and_then(|l| l.doc.as_ref());
        let (Some(b), Some(a)) = (before, after) else {
            continue;
        };
        let mut lines = Vec::new();
        let mut compare = |what: &str, before: String, after: String| {
            if before != after {
                lines.push(format!("{what}: {before} → {after}"));
            }
        };
        compare(
            "kind",
            b.kind.as_str().to_owned(),
            a.kind.as_str().to_owned(),
        );
        let expires = |f: &crate::model::FlagFile| {
            f.expires
                .as_ref()
                .map_or("none".to_owned(), |e| e.value.0.to_string())
        };
        compare("expires", expires(b), expires(a));
        let emergency = |f: &crate::model::FlagFile| match f.emergency_kill {
            Some(false) => "opted out".to_owned(),
            _ => "as the policy says".to_owned(),
        };
        compare("emergency kill", emergency(b), emergency(a));
        compare(
            "description",
            format!("{:?}", b.description.value),
            format!("{:?}", a.description.value),
        );
        let tags = |f: &crate::model::FlagFile| {
            let tags: Vec<&str> = f.tags.iter().map(|t| t.value.as_str()).collect();
            tags.join(", ")
        };
        compare("tags", tags(b), tags(a));
        if lines.is_empty() {
            continue;
        }
        flag_entry(diff, key).metadata = lines;
    }
}

/// Test files and experiment settings that changed (their text, not only their meaning:
/// both say what is asserted and measured).
fn data_files(base: &Repo, head: &Repo, now: i64) -> Vec<FileChange> {
    let mut files = Vec::new();
    let texts = |repo: &Repo, paths: Vec<usize>| -> BTreeMap<String, usize> {
        paths
            .into_iter()
            .map(|f| (repo.files[f].path.clone(), f))
            .collect()
    };
    let tests = |repo: &Repo| texts(repo, repo.tests.iter().map(|t| t.file).collect());
    let experiments =
        |repo: &Repo| texts(repo, repo.experiments.values().map(|e| e.file).collect());
    for (kind, b, a) in [
        (FileKind::Test, tests(base), tests(head)),
        (FileKind::Experiment, experiments(base), experiments(head)),
    ] {
        let paths: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
        for path in paths {
            let before = b.get(path).map(|&f| base.files[f].text.as_str());
            let after = a.get(path).map(|&f| head.files[f].text.as_str());
            let status = match (before, after) {
                (None, _) => Status::Added,
                (_, None) => Status::Removed,
                (Some(x), Some(y)) if x != y => Status::Changed,
                _ => continue,
            };
            let mut flags = BTreeSet::new();
            let mut owners = BTreeSet::new();
            for (repo, files) in [(base, &b), (head, &a)] {
                let Some(&file) = files.get(path) else {
                    continue;
                };
                match kind {
                    FileKind::Test => {
                        let doc = repo.tests.iter().find(|t| t.file == file);
                        if let Some(test) = doc.and_then(|t| t.doc.as_ref()) {
                            for case in &test.cases {
                                flags.extend(case.variants.keys().map(|k| k.as_str().to_owned()));
                                flags.extend(case.values.keys().map(|k| k.as_str().to_owned()));
                            }
                            flags.extend(
                                test.distributions
                                    .iter()
                                    .map(|d| d.flag.as_str().to_owned()),
                            );
                        }
                    }
                    _ => {
                        let doc = repo.experiments.values().find(|e| e.file == file);
                        if let Some(experiment) = doc.and_then(|e| e.doc.as_ref()) {
                            flags.insert(experiment.flag.as_str().to_owned());
                            owners.extend(experiment.owners.iter().map(|o| o.as_str().to_owned()));
                        }
                    }
                }
            }
            let (kinds, changes) = match kind {
                FileKind::Experiment => {
                    fn side<'r>(
                        repo: &'r Repo,
                        file: Option<&usize>,
                    ) -> Option<(&'r ExperimentFile, toml::Table)> {
                        let file = *file?;
                        let doc = repo.experiments.values().find(|e| e.file == file)?;
                        let table = repo.files[file].text.parse().ok()?;
                        Some((doc.doc.as_ref()?, table))
                    }
                    let (before, after) = (side(base, b.get(path)), side(head, a.get(path)));
                    experiment_changes(
                        before.as_ref().map(|(d, t)| (*d, t)),
                        after.as_ref().map(|(d, t)| (*d, t)),
                        now.div_euclid(DAY_MILLIS),
                    )
                }
                _ => (BTreeSet::new(), Vec::new()),
            };
            files.push(FileChange {
                path: path.clone(),
                status,
                kind,
                flags: flags.into_iter().collect(),
                owners: owners.into_iter().collect(),
                changes,
                kinds,
            });
        }
    }
    files
}

/// The changed files of the git repository that the flags do not hold but that decide how
/// they are checked out and checked (`.gitattributes`, `.gitmodules`, `CODEOWNERS`,
/// `.github/**`), and the files of the flags repository `dir` that no kind of flagstone file
/// covers (experiment results, say), from the paths that differ between two versions.
pub fn other_files(paths: &[(String, Status)], dir: &str) -> Vec<FileChange> {
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{}/", dir.trim_end_matches('/'))
    };
    let mut files = Vec::new();
    for (path, status) in paths {
        let name = path.rsplit('/').next().unwrap_or(path);
        let protected = matches!(name, ".gitattributes" | ".gitmodules" | "CODEOWNERS")
            || path.starts_with(".github/");
        let kind = if protected {
            FileKind::Protected
        } else if let Some(inner) = path.strip_prefix(&prefix) {
            let top = inner.split('/').next().unwrap_or_default();
            let known = inner == crate::load::PROJECT_FILE
                || matches!(top, "flags" | "segments" | "experiments")
                || (top == "tests" && inner.matches('/').count() == 1);
            if known {
                continue;
            }
            FileKind::Other
        } else {
            continue;
        };
        files.push(FileChange {
            path: path.clone(),
            status: *status,
            kind,
            flags: Vec::new(),
            owners: Vec::new(),
            changes: Vec::new(),
            kinds: BTreeSet::new(),
        });
    }
    files
}

/// Each declared attribute's `values`, as JSON.
fn declared_values(repo: &Repo) -> BTreeMap<String, Vec<Value>> {
    use crate::model::Scalar;
    let Some(project) = repo.project.as_ref().and_then(|p| p.doc.as_ref()) else {
        return BTreeMap::new();
    };
    project
        .attributes
        .iter()
        .filter_map(|(name, decl)| {
            let values = decl.values.as_ref()?;
            let values = values
                .iter()
                .map(|v| match &v.value {
                    Scalar::Bool(b) => Value::from(*b),
                    Scalar::Int(i) => Value::from(*i),
                    Scalar::Float(f) => Value::from(*f),
                    Scalar::String(s) => Value::from(s.as_str()),
                    Scalar::Datetime(d) => Value::from(d.to_string()),
                })
                .collect();
            Some((name.as_str().to_owned(), values))
        })
        .collect()
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

/// Compares behaviour: the bundles of two versions, environment by environment in the head's
/// order. `declared` holds the declared values of attributes, for the synthetic units.
fn behaviour(
    base: &[Bundle],
    head: &[Bundle],
    declared: &BTreeMap<String, Vec<Value>>,
    now: i64,
) -> Diff {
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

    let environments: Vec<Environment<'_>> = head
        .iter()
        .map(|h| Environment::new(base_by_env.get(h.environment.as_str()).copied(), h))
        .collect();
    // Made on first use, once for every estimate.
    let units = OnceLock::new();
    let make_units = || blast_radius::units(&environments, base, head, declared);
    // Environments are independent: one thread each, their results in the head's order.
    let compared: Vec<Vec<(&str, EnvironmentDiff)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = environments
            .iter()
            .map(|environment| {
                let (units, make_units) = (&units, &make_units);
                scope.spawn(move || {
                    environment
                        .keys()
                        .filter_map(|key| {
                            Some((key, environment.compare(key, units, make_units, now)?))
                        })
                        .collect()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("comparing does not panic"))
            .collect()
    });
    let mut by_flag: BTreeMap<&str, Vec<EnvironmentDiff>> = BTreeMap::new();
    for (key, env) in compared.into_iter().flatten() {
        by_flag.entry(key).or_default().push(env);
    }
    let keys: BTreeSet<&str> = base
        .iter()
        .chain(head)
        .flat_map(|b| b.flags.keys().map(String::as_str))
        .collect();
    let mut flags = Vec::new();
    for key in keys {
        let environments = by_flag.remove(key).unwrap_or_default();
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
                metadata: Vec::new(),
            });
        }
    }
    Diff {
        flags,
        segments: segments(base, head),
        project,
        teams: Vec::new(),
        policy: None,
        files: Vec::new(),
    }
}

/// One environment on both sides: which flags may be served differently, and why.
struct Environment<'a> {
    base: Option<&'a Bundle>,
    head: &'a Bundle,
    /// Each side's evaluator, built when a blast radius is first sampled.
    base_evaluator: OnceLock<Option<Evaluator>>,
    head_evaluator: OnceLock<Option<Evaluator>>,
    /// Flags whose own entry differs, or that depend on what differs: with the prerequisites
    /// and segments they change through ("prerequisite `x`", "segment `y`").
    affected: BTreeMap<&'a str, Vec<String>>,
    /// Flags that serve their off variant to every unit at every time, on each side.
    base_off: BTreeSet<&'a str>,
    head_off: BTreeSet<&'a str>,
}

impl<'a> Environment<'a> {
    fn new(base: Option<&'a Bundle>, head: &'a Bundle) -> Environment<'a> {
        let sides: Vec<&Bundle> = base.into_iter().chain([head]).collect();
        let flag = |b: Option<&'a Bundle>, key: &str| b.and_then(|b| b.flags.get(key));
        let segment = |b: Option<&'a Bundle>, name: &str| b.and_then(|b| b.segments.get(name));
        // Segments that differ, or that test one that does.
        let mut changed_segments: BTreeSet<&str> = sides
            .iter()
            .flat_map(|b| b.segments.keys().map(String::as_str))
            .filter(|name| segment(base, name) != segment(Some(head), name))
            .collect();
        let mut testers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for bundle in &sides {
            for (name, s) in &bundle.segments {
                for tested in s.conditions.iter().filter_map(|c| c.segment.as_deref()) {
                    testers.entry(tested).or_default().push(name);
                }
            }
        }
        let mut pending: Vec<&str> = changed_segments.iter().copied().collect();
        while let Some(name) = pending.pop() {
            for &tester in testers.get(name).into_iter().flatten() {
                if changed_segments.insert(tester) {
                    pending.push(tester);
                }
            }
        }
        let mut affected: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        let mut dependents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for bundle in &sides {
            for (key, f) in &bundle.flags {
                if flag(base, key) != flag(Some(head), key) {
                    affected.entry(key).or_default();
                }
                let tested = f
                    .rules
                    .iter()
                    .flat_map(|r| &r.conditions)
                    .filter_map(|c| c.segment.as_deref())
                    .filter(|s| changed_segments.contains(s));
                for name in tested {
                    let cause = format!("segment `{name}`");
                    let causes = affected.entry(key).or_default();
                    if !causes.contains(&cause) {
                        causes.push(cause);
                    }
                }
                for prerequisite in &f.prerequisites {
                    dependents.entry(&prerequisite.flag).or_default().push(key);
                }
            }
        }
        let mut pending: Vec<&str> = affected.keys().copied().collect();
        while let Some(key) = pending.pop() {
            for &dependent in dependents.get(key).into_iter().flatten() {
                let cause = format!("prerequisite `{key}`");
                let new = !affected.contains_key(dependent);
                let causes = affected.entry(dependent).or_default();
                if !causes.contains(&cause) {
                    causes.push(cause);
                }
                if new {
                    pending.push(dependent);
                }
            }
        }
        Environment {
            base,
            head,
            base_evaluator: OnceLock::new(),
            head_evaluator: OnceLock::new(),
            affected,
            base_off: base.map(always_off).unwrap_or_default(),
            head_off: always_off(head),
        }
    }

    fn keys(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.affected.keys().copied()
    }

    /// The changes to one flag, or `None` when it is served the same.
    fn compare(
        &self,
        key: &str,
        units: &OnceLock<Vec<Value>>,
        make_units: &(dyn Fn() -> Vec<Value> + Sync),
        now: i64,
    ) -> Option<EnvironmentDiff> {
        let before = self.base.and_then(|b| b.flags.get(key));
        let after = self.head.flags.get(key);
        let causes = self.affected.get(key)?;
        let own = before != after;
        let mut changes = Changes::default();
        match (before, after) {
            (None, Some(a)) => {
                changes.push(ChangeKind::Add, "added".to_owned());
                changes.rollout_to = a.rules.iter().map(highest_rollout).max();
                if a.enabled && a.fallthrough != a.off_variant {
                    changes.rollout_to = Some(FULL);
                }
            }
            (Some(_), None) => changes.push(ChangeKind::Remove, "removed".to_owned()),
            // Equal entries have no changes to describe.
            (Some(b), Some(a)) => flag_changes(b, a, &mut changes),
            // A key comes from one side or the other.
            (None, None) => {}
        }
        let kill = match (before, after) {
            (Some(b), Some(a)) if own => only_kills(b, a),
            _ => false,
        };
        // Off at every time now, through a prerequisite that is: it moves to its off variant
        // only, since its own entry is the same.
        let turned_off = !own && self.head_off.contains(key) && !self.base_off.contains(key);
        for cause in causes {
            let line = if turned_off && cause.starts_with("prerequisite") {
                format!("turned off through {cause}: every unit gets the off variant")
            } else {
                format!("changes through {cause}")
            };
            changes.lines.push(line);
        }
        let exact = match (before, after) {
            (Some(b), Some(a)) if causes.is_empty() => blast_radius::exact(b, a),
            _ => None,
        };
        let (blast_radius, widened) = match exact {
            Some(exact) => (exact, None),
            None => {
                let units = units.get_or_init(make_units);
                self.sample(key, units, now)
            }
        };
        changes.rollout_to = changes.rollout_to.max(widened);
        let changed = blast_radius.percent > 0.0;
        let mut off = None;
        if kill || turned_off {
            changes.kinds.clear();
            if changed {
                changes.kinds.insert(ChangeKind::Kill);
                off = after.map(|flag| OffVariant {
                    variant: flag.off_variant.clone(),
                    value: flag
                        .variants
                        .get(&flag.off_variant)
                        .cloned()
                        .unwrap_or_default(),
                });
            } else {
                changes.push(
                    ChangeKind::Targeting,
                    "turned off, but no sampled unit is served differently: not a kill".to_owned(),
                );
            }
        } else if !own {
            for cause in causes {
                if cause.starts_with("segment") {
                    changes.kinds.insert(ChangeKind::Segment);
                } else {
                    changes.kinds.insert(ChangeKind::Targeting);
                }
            }
            if self.base_off.contains(key) && !self.head_off.contains(key) {
                changes.kinds.insert(ChangeKind::Enable);
            }
        }
        Some(EnvironmentDiff {
            environment: self.head.environment.clone(),
            changes: changes.lines,
            kinds: changes.kinds,
            rollout_to: changes
                .rollout_to
                .map(|t| f64::from(t) / f64::from(FULL) * 100.0),
            blast_radius,
            off,
        })
    }
}

/// Flags that serve their off variant to every unit at every time: disabled with no step
/// that enables them, or needing a variant other than the off variant of such a flag.
fn always_off(bundle: &Bundle) -> BTreeSet<&str> {
    let mut off: BTreeSet<&str> = bundle
        .flags
        .iter()
        .filter(|(_, f)| !f.enabled && f.schedule.iter().all(|s| s.enabled != Some(true)))
        .map(|(k, _)| k.as_str())
        .collect();
    let mut dependents: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for (key, flag) in &bundle.flags {
        for p in &flag.prerequisites {
            dependents
                .entry(&p.flag)
                .or_default()
                .push((key, &p.variant));
        }
    }
    let mut pending: Vec<&str> = off.iter().copied().collect();
    while let Some(key) = pending.pop() {
        let off_variant = bundle.flags[key].off_variant.as_str();
        for &(dependent, needs) in dependents.get(key).into_iter().flatten() {
            if needs != off_variant && off.insert(dependent) {
                pending.push(dependent);
            }
        }
    }
    off
}

/// Whether `after` is `before` killed and nothing else: disabled, with no step that enables
/// it again, and only schedule steps removed.
fn only_kills(before: &bundle::Flag, after: &bundle::Flag) -> bool {
    if after.enabled || after.schedule.iter().any(|s| s.enabled == Some(true)) {
        return false;
    }
    if !after.schedule.iter().all(|s| before.schedule.contains(s)) {
        return false;
    }
    let mut killed = before.clone();
    killed.enabled = false;
    killed.schedule = after.schedule.clone();
    killed == *after
}

/// The highest rollout a rule reaches, now or through its schedule.
fn highest_rollout(rule: &bundle::Rule) -> u32 {
    rule.schedule
        .iter()
        .filter_map(|s| s.rollout)
        .fold(rule.rollout, u32::max)
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
            changes.push(
                Targeting,
                format!("rule `{}` added:\n{}", rule.name, describe_rule(rule)),
            );
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
                    percent_of_thousandths(prior.rollout),
                    percent_of_thousandths(rule.rollout)
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
                format!(
                    "rule `{}` conditions changed:\n- if {}\n+ if {}",
                    rule.name,
                    conditions(&prior.conditions),
                    conditions(&rule.conditions)
                ),
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
            what.push(percent_of_thousandths(rollout));
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

fn serve(serve: &Serve) -> String {
    match serve {
        Serve::Variant(v) => format!("`{v}`"),
        Serve::Split(weights) => {
            let parts: Vec<String> = weights
                .iter()
                .map(|w| format!("{} {}", w.variant, percent_of_thousandths(w.weight)))
                .collect();
            format!("split ({})", parts.join(", "))
        }
    }
}

/// A rule in words: its conditions, rollout, served variant or split, and schedule.
fn describe_rule(rule: &bundle::Rule) -> String {
    let mut text = format!(
        "if {}\nserves {} to {} of matching units",
        conditions(&rule.conditions),
        serve(&rule.serve),
        percent_of_thousandths(rule.rollout)
    );
    if !rule.schedule.is_empty() {
        text.push_str(&format!("\nschedule: {}", rule_schedule(&rule.schedule)));
    }
    text
}

/// Conditions in words, ANDed.
fn conditions(conditions: &[bundle::Condition]) -> String {
    if conditions.is_empty() {
        return "always".to_owned();
    }
    let parts: Vec<String> = conditions
        .iter()
        .map(|c| match (&c.segment, &c.attr) {
            (Some(segment), _) if c.negate => format!("not in segment `{segment}`"),
            (Some(segment), _) => format!("in segment `{segment}`"),
            (None, attr) => {
                let values: Vec<String> = c.values.iter().map(Value::to_string).collect();
                let op = c.op.map_or("?", |op| op.as_str());
                let case = if c.ignore_case {
                    " (ignoring case)"
                } else {
                    ""
                };
                format!(
                    "{} {op} [{}]{case}",
                    attr.as_deref().unwrap_or("?"),
                    values.join(", ")
                )
            }
        })
        .collect();
    parts.join(" and ")
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
