//! `flagstone stale`: expired flags, flags over their kind's lifetime, and flags serving one
//! variant everywhere, dated from git history.

use std::path::Path;

use crate::support::{copy_dir, run, shallow_clone};

const NOW: &str = "2026-11-26";

const PROJECT: &str = r#"name = "acme"
environments = ["staging", "production"]

[attributes]
country = { type = "string", values = ["US", "CA"] }

[stale.lifetimes]
experiment = "20w"
ops = "26w"
"#;

/// Writes `text` to `path` below the flags repository `features/` of the work tree.
fn write(work: &Path, path: &str, text: &str) {
    let path = work.join("features").join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Commits the whole work tree on HEAD, at noon UTC of `date`.
fn commit_at(repository: &git2::Repository, date: &str) -> String {
    let seconds = flagstone::literal::parse_date(date).unwrap() * 86_400 + 12 * 3600;
    let mut index = repository.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repository.find_tree(index.write_tree().unwrap()).unwrap();
    let who =
        git2::Signature::new("Test", "test@example.com", &git2::Time::new(seconds, 0)).unwrap();
    let parent = repository.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    let id = repository
        .commit(Some("HEAD"), &who, &who, date, &tree, &parents)
        .unwrap();
    id.to_string()[..7].to_owned()
}

fn release(description: &str, expires: &str, envs: &str) -> String {
    format!(
        "description = \"{description}\"\nowners = [\"mateo\"]\nkind = \"release\"\nexpires = {expires}\n{envs}"
    )
}

const RANKING_PARTIAL: &str = r#"
[env.staging]
serve = "off"

[[env.staging.rules]]
name = "half"
rollout = 50
serve = "on"

[env.production]
serve = "off"

[[env.production.rules]]
name = "us"
if = [{ attr = "country", op = "in", values = ["US"] }]
rollout = 30
serve = "on"
"#;

const RANKING_FULL: &str = r#"
[env.staging]
serve = "off"

[[env.staging.rules]]
name = "half"
rollout = 100
serve = "on"

[env.production]
serve = "on"

[[env.production.rules]]
name = "us"
if = [{ attr = "country", op = "in", values = ["US"] }]
rollout = 100
serve = "on"
"#;

/// The same flag as `RANKING_FULL`, reformatted: keys and tables reordered, inline tables,
/// comments.
const RANKING_REFORMATTED: &str = r#"# Fully rolled out: remove after the holidays.
kind = "release"
owners = ["mateo"]
expires = 2027-06-30
description = "New ranking"

[env.production]
rules = [
  { name = "us", serve = "on", rollout = 100, if = [{ attr = "country", op = "in", values = ["US"] }] },
]
serve = "on"   # everyone else too

[env.staging]
rules = [{ name = "half", serve = "on", rollout = 100 }]
serve = "off"
"#;

fn experiment(description: &str, envs: &str) -> String {
    format!(
        "description = \"{description}\"\nowners = [\"dana\"]\nkind = \"experiment\"\nexpires = 2027-03-01\noff_variant = \"control\"\n\n[variants]\ncontrol = \"none\"\ntreatment = \"banner\"\n{envs}"
    )
}

const SPLIT: &str = r#"
[env.staging]
serve = "control"

[[env.staging.rules]]
name = "split"
split = { control = 50, treatment = 50 }

[env.production]
serve = "control"

[[env.production.rules]]
name = "split"
split = { control = 50, treatment = 50 }
"#;

fn killed(envs: &str) -> String {
    envs.replace(
        "serve = \"control\"\n",
        "enabled = false\nserve = \"control\"\n",
    )
}

/// A repository with four commits (see each step) in `features/` of a git work tree, and the
/// short ids of the commits.
fn history() -> (tempfile::TempDir, Vec<String>) {
    let work = crate::support::tempdir();
    let repository = git2::Repository::init(work.path()).unwrap();
    let w = work.path();
    let mut commits = Vec::new();
    // 2026-03-01: an old release flag and an ops switch, both over their lifetime by now.
    write(w, "flagstone.toml", PROJECT);
    write(
        w,
        "flags/legacy/old-release.toml",
        &release(
            "Old release",
            "2027-12-31",
            "[env.production]\nserve = \"off\"\n[[env.production.rules]]\nname = \"half\"\nrollout = 50\nserve = \"on\"\n",
        ),
    );
    write(
        w,
        "flags/ops/kill.toml",
        "description = \"Kill switch\"\nowners = [\"carol\"]\nkind = \"ops\"\n[env.staging]\nserve = \"on\"\n[env.production]\nserve = \"on\"\n",
    );
    commits.push(commit_at(&repository, "2026-03-01"));
    // 2026-09-01: a partial rollout, an experiment, a flag that expires in October, one
    // with a future schedule step and one whose step to 100% passed on 2026-11-10.
    write(
        w,
        "flags/search/ranking.toml",
        &release("New ranking", "2027-06-30", RANKING_PARTIAL),
    );
    write(w, "flags/growth/banner.toml", &experiment("Banner", SPLIT));
    write(
        w,
        "flags/checkout/partial.toml",
        &release(
            "Partial",
            "2027-06-30",
            "[env.staging]\nserve = \"on\"\n[env.production]\nserve = \"off\"\n[[env.production.rules]]\nname = \"half\"\nrollout = 99.999\nserve = \"on\"\n",
        ),
    );
    write(
        w,
        "flags/billing/expired.toml",
        &release(
            "Expired",
            "2026-10-31",
            "[env.production]\nserve = \"off\"\n[[env.production.rules]]\nname = \"some\"\nrollout = 20\nserve = \"on\"\n",
        ),
    );
    write(
        w,
        "flags/checkout/scheduled.toml",
        &release(
            "Scheduled",
            "2027-06-30",
            "[env.production]\nserve = \"off\"\nschedule = [{ at = 2026-12-01T09:00:00Z, serve = \"on\" }]\n",
        ),
    );
    let stepped = "serve = \"off\"\n[[env.ENV.rules]]\nname = \"gradual\"\nrollout = 10\nserve = \"on\"\nschedule = [{ at = 2026-11-10T09:00:00Z, rollout = 100 }]\n";
    write(
        w,
        "flags/checkout/stepped.toml",
        &release(
            "Stepped",
            "2027-06-30",
            &format!(
                "[env.staging]\n{}[env.production]\n{}",
                stepped.replace("ENV", "staging"),
                stepped.replace("ENV", "production")
            ),
        ),
    );
    commits.push(commit_at(&repository, "2026-09-01"));
    // 2026-10-01: the ranking goes to 100% everywhere; the experiment is killed.
    write(
        w,
        "flags/search/ranking.toml",
        &release("New ranking", "2027-06-30", RANKING_FULL),
    );
    write(
        w,
        "flags/growth/banner.toml",
        &experiment("Banner", &killed(SPLIT)),
    );
    commits.push(commit_at(&repository, "2026-10-01"));
    // 2026-11-01: reformatting and a new description change nothing that is served.
    write(w, "flags/search/ranking.toml", RANKING_REFORMATTED);
    write(
        w,
        "flags/growth/banner.toml",
        &experiment("Banner (stopped)", &killed(SPLIT)),
    );
    commits.push(commit_at(&repository, "2026-11-01"));
    (work, commits)
}

fn stale(dir: &Path, format: &str) -> String {
    let (code, stdout, stderr) = run(
        &[
            "stale", "--dir", "features", "--now", NOW, "--format", format,
        ],
        dir,
    );
    assert_eq!(code, 0, "{stderr}");
    stdout
}

#[test]
fn reports_each_reason_with_dates_from_history() {
    let (work, c) = history();
    let expected = format!(
        "\
expired (1)
  billing/expired  release  mateo  expired on 2026-10-31

over lifetime (2)
  legacy/old-release  release  mateo  added 2026-03-01 (270 days ago, {c0}); release lifetime 90 days
  ops/kill            ops      carol  added 2026-03-01 (270 days ago, {c0}); ops lifetime 182 days

fully launched (2)
  checkout/stepped  release  mateo  serves \"on\" everywhere since 2026-11-10 (16 days ago, {c1})
    staging     on  since 2026-11-10 ({c1})
    production  on  since 2026-11-10 ({c1})
  search/ranking    release  mateo  serves \"on\" everywhere since 2026-10-01 (56 days ago, {c2})
    staging     on  since 2026-10-01 ({c2})
    production  on  since 2026-10-01 ({c2})

dead (1)
  growth/banner  experiment  dana  serves \"control\" everywhere since 2026-10-01 (56 days ago, {c2})
    staging     control  since 2026-10-01 ({c2})
    production  control  since 2026-10-01 ({c2})

6 stale flags: 1 expired, 2 over lifetime, 2 fully launched, 1 dead
",
        c0 = c[0],
        c1 = c[1],
        c2 = c[2],
    );
    assert_eq!(stale(work.path(), "human"), expected);
}

#[test]
fn json_has_a_stable_shape_with_full_commit_ids() {
    let (work, _) = history();
    let report: serde_json::Value = serde_json::from_str(&stale(work.path(), "json")).unwrap();
    let repository = git2::Repository::open(work.path()).unwrap();
    let full = |short: &str| {
        let object = repository.revparse_single(short).unwrap();
        object.id().to_string()
    };
    let (added, since) = (
        full(&commit_of(&repository, 2)),
        full(&commit_of(&repository, 1)),
    );
    assert_eq!(report["history"], "git");
    let keys: Vec<&str> = report["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["flag"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "billing/expired",
            "checkout/stepped",
            "growth/banner",
            "legacy/old-release",
            "ops/kill",
            "search/ranking"
        ]
    );
    let ranking = &report["flags"][5];
    let change = |commit: &str, date: &str| serde_json::json!({ "date": date, "commit": commit });
    let environment = |name: &str| {
        serde_json::json!({
            "environment": name,
            "variant": "on",
            "since": change(&since, "2026-10-01"),
        })
    };
    let expected = serde_json::json!({
        "flag": "search/ranking",
        "kind": "release",
        "owners": ["mateo"],
        "file": "flags/search/ranking.toml",
        "reasons": ["launched"],
        "expires": "2027-06-30",
        "added": change(&added, "2026-09-01"),
        "age_days": 86,
        "lifetime_days": 90,
        "serves": "on",
        "environments": [environment("staging"), environment("production")],
        "since": change(&since, "2026-10-01"),
        "days_since": 56,
    });
    assert_eq!(*ranking, expected);
    let kill = &report["flags"][4];
    assert_eq!(kill["reasons"], serde_json::json!(["over_lifetime"]));
    assert_eq!(kill["lifetime_days"], 182);
    assert_eq!(kill["expires"], serde_json::Value::Null);
    assert_eq!(kill["serves"], serde_json::Value::Null);
}

/// The short id of the commit `back` first parents before HEAD.
fn commit_of(repository: &git2::Repository, back: usize) -> String {
    let mut commit = repository.head().unwrap().peel_to_commit().unwrap();
    for _ in 0..back {
        commit = commit.parent(0).unwrap();
    }
    commit.id().to_string()[..7].to_owned()
}

#[test]
fn markdown_is_one_table_row_per_flag() {
    let (work, c) = history();
    let expected = format!(
        "\
### flagstone stale: 6 stale flags

| flag | kind | owners | stale because |
|---|---|---|---|
| `billing/expired` | release | mateo | expired on 2026-10-31 |
| `checkout/stepped` | release | mateo | fully launched\\: serves \"on\" everywhere since 2026-11-10 (16 days ago, {c1}) |
| `growth/banner` | experiment | dana | dead\\: serves \"control\" everywhere since 2026-10-01 (56 days ago, {c2}) |
| `legacy/old-release` | release | mateo | over lifetime\\: added 2026-03-01 (270 days ago, {c0}); release lifetime 90 days |
| `ops/kill` | ops | carol | over lifetime\\: added 2026-03-01 (270 days ago, {c0}); ops lifetime 182 days |
| `search/ranking` | release | mateo | fully launched\\: serves \"on\" everywhere since 2026-10-01 (56 days ago, {c2}) |
",
        c0 = c[0],
        c1 = c[1],
        c2 = c[2],
    );
    assert_eq!(stale(work.path(), "markdown"), expected);
}

#[test]
fn uncommitted_changes_date_from_today_at_the_root_of_a_repository() {
    let (history, _) = history();
    let work = crate::support::tempdir();
    copy_dir(&history.path().join("features"), work.path());
    let repository = git2::Repository::init(work.path()).unwrap();
    let c = commit_at(&repository, "2026-06-01");
    // The partial rollout reaches 100% in the work tree, and a new flag is dead at once.
    let partial = work.path().join("flags/checkout/partial.toml");
    let text = std::fs::read_to_string(&partial).unwrap();
    std::fs::write(&partial, text.replace("rollout = 99.999", "rollout = 100")).unwrap();
    std::fs::write(
        work.path().join("flags/checkout/new.toml"),
        release("New", "2027-06-30", ""),
    )
    .unwrap();
    let (code, stdout, stderr) = run(&["stale", "--now", NOW], work.path());
    assert_eq!(code, 0, "{stderr}");
    let launched = stdout
        .split("\n\n")
        .find(|group| group.starts_with("fully launched"))
        .unwrap();
    assert_eq!(
        launched,
        format!(
            "\
fully launched (3)
  checkout/partial  release  mateo  serves \"on\" everywhere since uncommitted changes
    staging     on  since 2026-06-01 ({c})
    production  on  since uncommitted changes
  checkout/stepped  release  mateo  serves \"on\" everywhere since 2026-11-10 (16 days ago, {c})
    staging     on  since 2026-11-10 ({c})
    production  on  since 2026-11-10 ({c})
  search/ranking    release  mateo  serves \"on\" everywhere since 2026-06-01 (178 days ago, {c})
    staging     on  since 2026-06-01 ({c})
    production  on  since 2026-06-01 ({c})"
        )
    );
    assert!(
        stdout.contains("dead (2)\n  checkout/new   release     mateo  serves \"off\" everywhere since uncommitted changes\n"),
        "{stdout}"
    );
}

#[test]
fn outside_git_there_are_no_dates_and_no_lifetimes() {
    let (history, _) = history();
    let work = crate::support::tempdir();
    copy_dir(&history.path().join("features"), work.path());
    let (code, stdout, stderr) = run(&["stale", "--now", NOW, "--fail-on-stale"], work.path());
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        stdout,
        "\
expired (1)
  billing/expired  release  mateo  expired on 2026-10-31

fully launched (2)
  checkout/stepped  release  mateo  serves \"on\" everywhere
    staging     on
    production  on
  search/ranking    release  mateo  serves \"on\" everywhere
    staging     on
    production  on

dead (1)
  growth/banner  experiment  dana  serves \"control\" everywhere
    staging     control
    production  control

4 stale flags: 1 expired, 2 fully launched, 1 dead
not in a git repository: no ages or dates, and lifetimes are not applied
"
    );
}

#[test]
fn lifetimes_and_kinds_are_configurable_and_checked() {
    let (history, _) = history();
    let work = crate::support::tempdir();
    copy_dir(&history.path().join("features"), work.path());
    let project = work.path().join("flagstone.toml");
    let configured = PROJECT.replace(
        "[stale.lifetimes]",
        "[stale]\nsingle_variant_kinds = [\"experiment\"]\n\n[stale.lifetimes]",
    );
    std::fs::write(&project, &configured).unwrap();
    let (code, stdout, stderr) = run(&["stale", "--now", NOW], work.path());
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.contains("fully launched"), "{stdout}");
    assert!(stdout.contains("dead (1)\n  growth/banner"), "{stdout}");
    std::fs::write(&project, PROJECT.replace("\"20w\"", "\"20 weeks\"")).unwrap();
    let (code, stdout, _) = run(&["check", "--now", NOW], work.path());
    assert_eq!(code, 1);
    assert!(
        stdout.contains("× `stale.lifetimes.experiment` must be a lifetime such as \"90d\" or")
            && stdout.contains("╭─[flagstone.toml:8:14]"),
        "{stdout}"
    );
    for (lifetime, valid) in [
        ("none", true),
        ("99999w", true),
        ("0d", false),
        ("100000d", false),
        ("7", false),
        ("1é", false),
    ] {
        std::fs::write(
            &project,
            PROJECT.replace("\"20w\"", &format!("{lifetime:?}")),
        )
        .unwrap();
        let (code, _, _) = run(&["stale", "--now", NOW], work.path());
        assert_eq!(code == 0, valid, "{lifetime}");
    }
}

/// A shallow clone (as CI checkouts often are) dates from the oldest commit it has, and says so.
#[test]
fn a_shallow_clone_dates_from_its_oldest_commit() {
    let (source, _) = history();
    let clone = crate::support::tempdir();
    let work = shallow_clone(source.path(), clone.path(), 2);
    let report: serde_json::Value = serde_json::from_str(&stale(&work, "json")).unwrap();
    assert_eq!(report["history"], "shallow");
    let flags = report["flags"].as_array().unwrap();
    let old = flags.iter().find(|f| f["flag"] == "legacy/old-release");
    assert!(old.is_none(), "its age starts at the clone's oldest commit");
    let ranking = flags
        .iter()
        .find(|f| f["flag"] == "search/ranking")
        .unwrap();
    assert_eq!(ranking["added"]["date"], "2026-10-01");
    assert_eq!(ranking["since"]["date"], "2026-10-01");
    let human = stale(&work, "human");
    assert!(
        human.ends_with(
            "\na shallow clone: ages and dates stop at its oldest commit; fetch more history\n"
        ),
        "{human}"
    );
}

/// An experiment past its end whose flag still splits units where it runs is reported, in
/// every format, and fails `--fail-on-stale`; before its end it is not.
#[test]
fn experiments_past_their_end_that_still_split_are_reported() {
    let work = example_without_tests();
    // After the pricing experiment's end (2026-12-21), before the onboarding one's.
    let args = ["stale", "--now", "2026-12-30", "--fail-on-stale"];
    let (code, stdout, stderr) = run(&args, work.path());
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        stdout,
        "\
experiments past their end (1)
  growth/pricing-page-headline  @growth eli  ended on 2026-12-21 (9 days ago); growth/pricing-page-headline still splits in production

no stale flags; 1 experiment past its end
not in a git repository: no ages or dates, and lifetimes are not applied
"
    );
    let (_, markdown, _) = run(
        &[&args[..3], &["--format", "markdown"]].concat(),
        work.path(),
    );
    assert!(
        markdown.contains("| <code>growth/pricing-page-headline</code> | &#64;growth eli | ended on 2026-12-21 (9 days ago); growth/pricing-page-headline still splits in production |"),
        "{markdown}"
    );
    let (_, json, _) = run(&[&args[..3], &["--format", "json"]].concat(), work.path());
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        json["experiments"],
        serde_json::json!([{
            "experiment": "growth/pricing-page-headline",
            "flag": "growth/pricing-page-headline",
            "owners": ["@growth", "eli"],
            "file": "experiments/growth/pricing-page-headline.toml",
            "reason": "past_end",
            "end": "2026-12-21",
            "days_past_end": 9,
            "decision": null,
            "environments": ["production"],
        }])
    );
    // Before the end: nothing.
    let (code, stdout, _) = run(&["stale", "--now", "2026-12-20"], work.path());
    assert_eq!(code, 0);
    assert!(!stdout.contains("experiments past their end"), "{stdout}");
}

/// Appends a `[decision]` to an experiment of the example.
/// flags.example without its tests, which decided experiments' cleanups would break.
fn example_without_tests() -> tempfile::TempDir {
    let work = crate::support::tempdir();
    copy_dir(&crate::support::root().join("flags.example"), work.path());
    std::fs::remove_dir_all(work.path().join("tests")).unwrap();
    work
}

/// `stale --fail-on-stale` at `now` passes and names no experiment.
fn assert_no_experiment_reported(work: &Path, now: &str) {
    let (code, stdout, stderr) = run(&["stale", "--now", now, "--fail-on-stale"], work);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stdout.contains("experiment"), "{stdout}");
}

fn decide(work: &Path, experiment: &str, decision: &str) {
    let path = work.join(format!("experiments/growth/{experiment}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}\n[decision]\n{decision}")).unwrap();
}

/// A decided experiment whose flag still splits is reported from the day after its decision,
/// for what it decided and not as past its end, in every format, and fails
/// `--fail-on-stale`.
#[test]
fn decided_experiments_that_still_split_are_reported() {
    let work = example_without_tests();
    // Past the pricing experiment's end (2026-12-21), decided the day after.
    decide(
        work.path(),
        "pricing-page-headline",
        "outcome = \"shipped\"\nvariant = \"outcome\"\ndate = 2026-12-22\nnote = \"+11% sign-ups\"\n",
    );
    // Stopped before its end (2027-01-12).
    decide(
        work.path(),
        "onboarding-checklist",
        "outcome = \"abandoned\"\ndate = 2026-12-29\n",
    );
    let args = ["stale", "--now", "2026-12-30", "--fail-on-stale"];
    let (code, stdout, stderr) = run(&args, work.path());
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        stdout,
        "\
shipped experiments still splitting (1)
  growth/pricing-page-headline  @growth eli  shipped \"outcome\" on 2026-12-22 (8 days ago); growth/pricing-page-headline still splits in production: serve \"outcome\" to everyone and remove the experiment file

abandoned experiments still splitting (1)
  growth/onboarding-checklist  @growth dana  abandoned on 2026-12-29 (1 day ago); growth/onboarding-checklist still splits in production: serve \"control\" to everyone and remove the experiment file

no stale flags; 1 shipped experiment still splitting, 1 abandoned experiment still splitting
not in a git repository: no ages or dates, and lifetimes are not applied
"
    );
    let (_, markdown, _) = run(
        &[&args[..3], &["--format", "markdown"]].concat(),
        work.path(),
    );
    assert_eq!(
        markdown,
        "\
### flagstone stale: no stale flags

**shipped experiments still splitting**

| experiment | owners | why |
|---|---|---|
| <code>growth/pricing-page-headline</code> | &#64;growth eli | shipped \"outcome\" on 2026-12-22 (8 days ago); growth/pricing-page-headline still splits in production\\: serve \"outcome\" to everyone and remove the experiment file |

**abandoned experiments still splitting**

| experiment | owners | why |
|---|---|---|
| <code>growth/onboarding-checklist</code> | &#64;growth dana | abandoned on 2026-12-29 (1 day ago); growth/onboarding-checklist still splits in production\\: serve \"control\" to everyone and remove the experiment file |

_not in a git repository: no ages or dates, and lifetimes are not applied._
"
    );
    let (_, json, _) = run(&[&args[..3], &["--format", "json"]].concat(), work.path());
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        json["experiments"],
        serde_json::json!([
            {
                "experiment": "growth/onboarding-checklist",
                "flag": "growth/onboarding-checklist",
                "owners": ["@growth", "dana"],
                "file": "experiments/growth/onboarding-checklist.toml",
                "reason": "abandoned",
                "end": "2027-01-12",
                "days_past_end": null,
                "decision": {
                    "outcome": "abandoned",
                    "variant": "control",
                    "date": "2026-12-29",
                    "days_since": 1,
                    "note": null,
                },
                "environments": ["production"],
            },
            {
                "experiment": "growth/pricing-page-headline",
                "flag": "growth/pricing-page-headline",
                "owners": ["@growth", "eli"],
                "file": "experiments/growth/pricing-page-headline.toml",
                "reason": "shipped",
                "end": "2026-12-21",
                "days_past_end": 9,
                "decision": {
                    "outcome": "shipped",
                    "variant": "outcome",
                    "date": "2026-12-22",
                    "days_since": 8,
                    "note": "+11% sign-ups",
                },
                "environments": ["production"],
            },
        ])
    );
    // On the day of a decision there is still time to act on it: neither is reported, and
    // the decided pricing experiment is not reported as past its end either.
    assert_no_experiment_reported(work.path(), "2026-12-22");
}

/// Following the advice: the flag serves the shipped variant to everyone and the experiment
/// file goes; nothing is left to report about the experiment.
#[test]
fn a_shipped_experiment_acted_on_is_no_longer_reported() {
    let work = example_without_tests();
    decide(
        work.path(),
        "pricing-page-headline",
        "outcome = \"shipped\"\nvariant = \"outcome\"\ndate = 2026-12-22\n",
    );
    crate::support::rewrite(
        &work.path().join("flags/growth/pricing-page-headline.toml"),
        |text| {
            text.replace(
                "split = { control = 34, outcome = 33, social-proof = 33 }",
                "serve = \"outcome\"",
            )
        },
    );
    let args = ["check", "--now", "2026-12-30"];
    let (code, stdout, _) = run(&args, work.path());
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("help: the experiment is decided: remove the experiment file"),
        "{stdout}"
    );
    std::fs::remove_file(
        work.path()
            .join("experiments/growth/pricing-page-headline.toml"),
    )
    .unwrap();
    assert_no_experiment_reported(work.path(), "2026-12-30");
}

/// A decision is a record: while the flag still splits, `plan` and `analyze` read the
/// experiment as before.
#[test]
fn plan_and_analyze_still_read_a_decided_experiment() {
    let work = crate::support::tempdir();
    copy_dir(&crate::support::root().join("flags.example"), work.path());
    decide(
        work.path(),
        "onboarding-checklist",
        "outcome = \"abandoned\"\ndate = 2027-01-20\n",
    );
    let experiment = "growth/onboarding-checklist";
    let (code, stdout, stderr) = run(&["plan", experiment], work.path());
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("duration     27 days\n"), "{stdout}");
    let summary = "results/onboarding-checklist.csv";
    let (code, stdout, stderr) = run(&["analyze", experiment, "--summary", summary], work.path());
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("Sample ratio check: p = 0.1786, no mismatch\n"),
        "{stdout}"
    );
}
