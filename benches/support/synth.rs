//! Synthetic flags repositories for benchmarks: `flags` flags in 100 areas, 3 environments,
//! 50 segments; every flag has, in every environment, a segment rule, an attribute rule and a
//! percentage rollout. Deterministic: the same size gives the same files.
//!
//! [`Shape::Review`] adds what `review` has to judge, leaving the plain repository (which the
//! `check`, `build`, `test`, `diff`, `stale` and `refs` benchmarks use) unchanged: a `[review]`
//! policy, a three-step production rollout schedule on one flag in five, a prerequisite on
//! one flag in four (from flag 100 on; the first 200 flags are the ones depended on, up to
//! three deep), and JSON payload variants on one flag in ten. [`Shape::ReviewHead`] is the
//! same repository with 100 flags changed (see [`review_changes`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

pub const ENVIRONMENTS: [&str; 3] = ["development", "staging", "production"];
pub const SEGMENTS: usize = 50;

/// What a synthetic repository holds besides the plain flags.
// The check and eval benchmarks include this file too, and write only plain repositories.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Plain,
    /// Review policy, schedules, prerequisites and payloads: a pull request's base.
    Review,
    /// [`Shape::Review`] with the 100 changes of [`review_changes`]: its head.
    ReviewHead,
}

// The synth_repo example calls `write_shaped_repo` instead.
#[allow(dead_code)]
pub fn write_repo(dir: &Path, flags: usize) -> std::io::Result<()> {
    write_shaped_repo(dir, flags, Shape::Plain)
}

pub fn write_shaped_repo(dir: &Path, flags: usize, shape: Shape) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("flags"))?;
    std::fs::create_dir_all(dir.join("segments"))?;
    let mut project = project();
    if shape != Shape::Plain {
        project.push_str(REVIEW_POLICY);
    }
    std::fs::write(dir.join("flagstone.toml"), project)?;
    for s in 0..SEGMENTS {
        std::fs::write(
            dir.join(format!("segments/segment-{s:02}.toml")),
            segment(s),
        )?;
    }
    let changes = match shape {
        Shape::ReviewHead => review_changes(flags),
        _ => BTreeMap::new(),
    };
    for f in 0..flags {
        let area = dir.join(format!("flags/area-{:02}", f % 100));
        std::fs::create_dir_all(&area)?;
        let text = match shape {
            Shape::Plain => flag(f),
            _ => review_flag(f, changes.get(&f).copied()),
        };
        std::fs::write(area.join(format!("flag-{f:05}.toml")), text)?;
    }
    Ok(())
}

/// The policy of docs/review.md, with the synthetic teams.
const REVIEW_POLICY: &str = "
[review]
protected = [\"@team-0\"]

[[review.rules]]
name = \"owners approve\"
from = [\"owners\"]

[[review.rules]]
name = \"wide production rollout\"
environments = [\"production\"]
rollout_above = 50
approvals = 2
from = [\"owners\", \"@team-0\"]

[[review.rules]]
name = \"large production blast radius\"
environments = [\"production\"]
blast_radius_above = 10
from = [\"@team-0\"]
";

/// How the head of the review benchmark changes a flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// `enabled = false` in production, on a flag others name as a prerequisite.
    Kill,
    /// The production rollout rule's percentage, raised halfway to 100.
    Rollout,
    /// The production country condition gains a country.
    Widen,
    /// The `on` variant's payload changes a value.
    Payload,
    /// The production schedule's second step goes higher and its last step a week later.
    Schedule,
}

fn key(f: usize) -> String {
    format!("area-{:02}/flag-{f:05}", f % 100)
}

/// The flag that flag `f` names as a prerequisite, if any: one flag in four from flag 100 on.
/// Flags 100–199 depend on the flag 100 below; later ones on one of the first 200, so chains
/// are up to three deep and each of the first 200 flags has about a dozen dependents.
fn prerequisite(f: usize) -> Option<usize> {
    match f {
        _ if f % 4 != 1 || f < 100 => None,
        100..200 => Some(f - 100),
        _ => Some((f / 4) % 200),
    }
}

fn has_schedule(f: usize) -> bool {
    f % 5 == 2
}

fn has_payload(f: usize) -> bool {
    f % 10 == 3
}

/// The production rollout of flag `f` (in the plain shape too).
fn production_rollout(f: usize) -> usize {
    (f * 7 + 2 * 13) % 101
}

/// The 100 flags the review benchmark's head changes (for 10,000 flags; fewer in smaller
/// repositories): 15 kills of flags that others depend on, then, walking the repository from
/// flag 1,000 in steps of 97, 10 payload changes, 15 schedule changes, 30 rollout raises and
/// 30 widened conditions, each flag taking the first kind that fits it.
pub fn review_changes(flags: usize) -> BTreeMap<usize, Change> {
    let mut changes: BTreeMap<usize, Change> = (0..15)
        .map(|k| k * 13)
        .filter(|&f| f < flags)
        .map(|f| (f, Change::Kill))
        .collect();
    let mut wanted = [
        (Change::Payload, 10),
        (Change::Schedule, 15),
        (Change::Rollout, 30),
        (Change::Widen, 30),
    ];
    for i in 0..flags {
        let f = (1000 + 97 * i) % flags;
        if changes.contains_key(&f) {
            continue;
        }
        let fits = |change: Change| match change {
            Change::Payload => has_payload(f),
            Change::Schedule => has_schedule(f),
            Change::Rollout => !has_schedule(f) && production_rollout(f) < 100,
            Change::Widen | Change::Kill => true,
        };
        if let Some((change, left)) = wanted.iter_mut().find(|(c, left)| *left > 0 && fits(*c)) {
            *left -= 1;
            changes.insert(f, *change);
        }
        if wanted.iter().all(|(_, left)| *left == 0) {
            break;
        }
    }
    changes
}

/// A flag of the review shapes: the plain flag's rules, plus its prerequisite, payload
/// variants and production schedule, with `change` applied.
fn review_flag(f: usize, change: Option<Change>) -> String {
    let mut out = format!(
        "description = \"Synthetic flag {f}\"\nowners = [\"@team-{}\"]\nkind = \"release\"\nexpires = 2099-01-01\ntags = [\"area-{:02}\"]\n",
        f % 10,
        f % 100
    );
    if let Some(p) = prerequisite(f) {
        let _ = writeln!(
            out,
            "prerequisites = [{{ flag = \"{}\", variant = \"on\" }}]",
            key(p)
        );
    }
    if has_payload(f) {
        let items = if change == Some(Change::Payload) {
            25
        } else {
            20
        };
        let _ = write!(
            out,
            "\n[variants]\noff = {{ layout = \"classic\", items = 10, badge = false }}\non = {{ layout = \"compact\", items = {items}, badge = true }}\n"
        );
    }
    for (e, env) in ENVIRONMENTS.iter().enumerate() {
        let production = *env == "production";
        let change = change.filter(|_| production);
        let enabled = match change {
            Some(Change::Kill) => "enabled = false\n",
            _ => "",
        };
        let countries = match change {
            Some(Change::Widen) => "\"US\", \"CA\", \"DE\"",
            _ => "\"US\", \"CA\"",
        };
        let mut rollout = (f * 7 + e * 13) % 101;
        if change == Some(Change::Rollout) {
            rollout = (rollout + 101) / 2;
        }
        let _ = write!(
            out,
            "\n[env.{env}]\n{enabled}serve = \"off\"\n\n\
             [[env.{env}.rules]]\nname = \"segment\"\nif = [{{ segment = \"segment-{:02}\" }}]\nserve = \"on\"\n\n\
             [[env.{env}.rules]]\nname = \"countries\"\nif = [{{ attr = \"country\", op = \"in\", values = [{countries}] }}, {{ attr = \"app_version\", op = \"semver_gte\", value = \"2.{}.0\" }}]\nserve = \"on\"\n\n\
             [[env.{env}.rules]]\nname = \"gradual\"\nrollout = {rollout}\nserve = \"on\"\n",
            (f + e) % SEGMENTS,
            f % 10,
        );
        if production && has_schedule(f) {
            let (second, last) = match change {
                Some(Change::Schedule) => (75, "2026-12-22"),
                _ => (50, "2026-12-15"),
            };
            let _ = writeln!(
                out,
                "schedule = [\n  {{ at = 2026-12-01T09:00:00Z, rollout = 25 }},\n  {{ at = 2026-12-08T09:00:00Z, rollout = {second} }},\n  {{ at = {last}T09:00:00Z, rollout = 100 }},\n]"
            );
        }
    }
    out
}

fn project() -> String {
    let mut out = String::from(
        "name = \"synthetic\"\nenvironments = [\"development\", \"staging\", \"production\"]\n\n[attributes]\n",
    );
    out.push_str(
        "country = { type = \"string\", values = [\"US\", \"CA\", \"DE\", \"FR\", \"JP\"] }\n",
    );
    out.push_str("plan = { type = \"string\", values = [\"free\", \"pro\", \"enterprise\"] }\n");
    out.push_str("app_version = { type = \"semver\" }\nseats = { type = \"number\" }\n");
    out.push_str("email = { type = \"string\" }\n\"org.id\" = { type = \"string\" }\n\n[teams]\n");
    for t in 0..10 {
        let _ = writeln!(out, "team-{t} = [\"user-{t}a\", \"user-{t}b\"]");
    }
    out
}

fn segment(s: usize) -> String {
    format!(
        "description = \"Synthetic segment {s}\"\ninclude = [\"unit-{s}\", \"unit-{}\"]\nif = [{{ attr = \"seats\", op = \"gte\", value = {} }}]\n",
        s + 1000,
        s * 10
    )
}

fn flag(f: usize) -> String {
    let mut out = format!(
        "description = \"Synthetic flag {f}\"\nowners = [\"@team-{}\"]\nkind = \"release\"\nexpires = 2099-01-01\ntags = [\"area-{:02}\"]\n",
        f % 10,
        f % 100
    );
    for (e, env) in ENVIRONMENTS.iter().enumerate() {
        let _ = write!(
            out,
            "\n[env.{env}]\nserve = \"off\"\n\n\
             [[env.{env}.rules]]\nname = \"segment\"\nif = [{{ segment = \"segment-{:02}\" }}]\nserve = \"on\"\n\n\
             [[env.{env}.rules]]\nname = \"countries\"\nif = [{{ attr = \"country\", op = \"in\", values = [\"US\", \"CA\"] }}, {{ attr = \"app_version\", op = \"semver_gte\", value = \"2.{}.0\" }}]\nserve = \"on\"\n\n\
             [[env.{env}.rules]]\nname = \"gradual\"\nrollout = {}\nserve = \"on\"\n",
            (f + e) % SEGMENTS,
            f % 10,
            (f * 7 + e * 13) % 101
        );
    }
    out
}

// The check benchmark includes this file too, and writes no tests.
#[allow(dead_code)]
/// Writes `tests/bench.toml` with `cases` cases over the first flags of a repository written
/// by [`write_repo`]: each unit is in its flag's production segment, so it gets "on".
pub fn write_tests(dir: &Path, flags: usize, cases: usize) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("tests"))?;
    let mut out = String::new();
    for c in 0..cases {
        let f = c % flags;
        let segment = (f + 2) % SEGMENTS;
        let _ = write!(
            out,
            "[[cases]]\nname = \"case {c}\"\nenv = \"production\"\ncontext = {{ targeting_key = \"unit-{segment}\", country = \"DE\" }}\nvariants = {{ \"area-{:02}/flag-{f:05}\" = \"on\" }}\n\n",
            f % 100
        );
    }
    std::fs::write(dir.join("tests/bench.toml"), out)
}
