//! The review gate under attack: each test is a pull request written to merge a change
//! without the approvals it needs, or to turn something on through the emergency path, and
//! checks that `review` holds it.
//!
//! The repository: @web owns two release flags (web/new-nav, web/legacy-checkout) and
//! web/new-checkout, which needs legacy-checkout = "off"; @ops owns ops/rate-limit, a config
//! flag whose off variant is the permissive limit, and ops/audit-log, an ops flag; @growth
//! owns growth/banner. Every change needs one of its owners; a production change that widens
//! a variant above 50% needs @platform; [teams], [review] and the repository's settings need
//! @platform.

use serde_json::{Value, json};

use crate::support::run;

const PROJECT: &str = r#"name = "gate"
environments = ["staging", "production"]

[attributes]
country = { type = "string", values = ["US", "CA", "DE", "FR"] }
plan = { type = "string", values = ["free", "pro", "enterprise"] }
seats = { type = "number" }

[teams]
web = ["wendy", "will"]
ops = ["otto", "olga"]
growth = ["gus", "gia"]
platform = ["pat", "pia"]

[review]
protected = ["@platform"]

[[review.rules]]
name = "owners approve"
from = ["owners"]

[[review.rules]]
name = "wide production rollout"
environments = ["production"]
rollout_above = 50
from = ["@platform"]
"#;

const NEW_NAV: &str = r#"description = "New navigation"
owners = ["@web"]
kind = "release"
expires = 2030-01-01

[env.staging]
serve = "on"

[env.production]
serve = "off"

[[env.production.rules]]
name = "paying"
if = [{ segment = "paying" }]
rollout = 10
serve = "on"
"#;

const LEGACY: &str = r#"description = "Legacy checkout"
owners = ["@web"]
kind = "release"
expires = 2030-01-01

[env.staging]
serve = "on"

[env.production]
serve = "on"
"#;

const NEW_CHECKOUT: &str = r#"description = "New checkout, for units the legacy checkout no longer serves"
owners = ["@web"]
kind = "release"
expires = 2030-01-01
prerequisites = [{ flag = "web/legacy-checkout", variant = "off" }]

[env.staging]
serve = "on"

[env.production]
serve = "on"
"#;

const RATE_LIMIT: &str = r#"description = "Requests per minute"
owners = ["@ops"]
kind = "config"
off_variant = "loose"

[variants]
strict = 100
loose = 10000

[env.staging]
serve = "strict"

[env.production]
serve = "strict"
"#;

const AUDIT_LOG: &str = r#"description = "Audit logging"
owners = ["@ops"]
kind = "ops"

[env.staging]
serve = "on"

[env.production]
serve = "on"
"#;

const BANNER: &str = r#"description = "Promotional banner"
owners = ["@growth"]
kind = "release"
expires = 2030-01-01

[variants]
off = { text = "" }
on = { text = "Spring sale" }

[env.staging]
serve = "off"

[env.production]
serve = "off"

[[env.production.rules]]
name = "paying"
if = [{ segment = "paying" }]
serve = "on"
"#;

const PAYING: &str = r#"description = "Paying customers"
if = [{ attr = "plan", op = "in", values = ["pro", "enterprise"] }]
"#;

/// A pull request on the repository above: a git repository with the flags at its root,
/// the base committed.
struct Gate {
    work: tempfile::TempDir,
    /// For the reviews and commits files, outside the repository.
    side: tempfile::TempDir,
    repository: git2::Repository,
    base: String,
}

impl Gate {
    fn new() -> Gate {
        let work = crate::support::tempdir();
        for (path, text) in [
            ("flagstone.toml", PROJECT),
            ("flags/web/new-nav.toml", NEW_NAV),
            ("flags/web/legacy-checkout.toml", LEGACY),
            ("flags/web/new-checkout.toml", NEW_CHECKOUT),
            ("flags/ops/rate-limit.toml", RATE_LIMIT),
            ("flags/ops/audit-log.toml", AUDIT_LOG),
            ("flags/growth/banner.toml", BANNER),
            ("segments/paying.toml", PAYING),
            ("tests/web.toml", TESTS),
        ] {
            let path = work.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let repository = git2::Repository::init(work.path()).unwrap();
        let base = crate::support::commit(&repository, "base").to_string();
        Gate {
            work,
            side: crate::support::tempdir(),
            repository,
            base,
        }
    }

    fn write(&self, path: &str, text: &str) -> &Gate {
        let path = self.work.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    /// Replaces the first `from` in `path` with `to`.
    fn edit(&self, path: &str, from: &str, to: &str) -> &Gate {
        let text = std::fs::read_to_string(self.work.path().join(path)).unwrap();
        assert!(text.contains(from), "{path} has no {from:?}");
        self.write(path, &text.replacen(from, to, 1))
    }

    fn commit(&self) -> String {
        crate::support::commit(&self.repository, "head").to_string()
    }

    /// `review` of the head commit with these reviews and extra arguments: exit code and
    /// the JSON report.
    fn review(&self, author: &str, reviews: &[Value], extra: &[&str]) -> (i32, Value) {
        let (code, stdout, stderr) = self.review_as(author, reviews, extra, "json");
        assert_ne!(code, 2, "{stderr}");
        (code, serde_json::from_str(&stdout).unwrap())
    }

    fn review_as(
        &self,
        author: &str,
        reviews: &[Value],
        extra: &[&str],
        format: &str,
    ) -> (i32, String, String) {
        let file = self.side.path().join("reviews.json");
        std::fs::write(&file, serde_json::to_string(reviews).unwrap()).unwrap();
        let file = file.to_str().unwrap().to_owned();
        let mut args = vec![
            "review",
            "--dir",
            ".",
            "--base",
            &self.base,
            "--reviews",
            &file,
            "--author",
            author,
            "--now",
            "2026-12-01",
            "--format",
            format,
        ];
        args.extend(extra);
        run(&args, self.work.path())
    }

    /// `diff --format json` of the base and the head commit.
    fn diff(&self) -> Value {
        let args = [
            "diff",
            "--dir",
            ".",
            "--base",
            &self.base,
            "--head",
            "HEAD",
            "--now",
            "2026-12-01",
            "--format",
            "json",
        ];
        let (code, stdout, stderr) = run(&args, self.work.path());
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str(&stdout).unwrap()
    }

    fn head(&self) -> String {
        self.repository
            .head()
            .unwrap()
            .peel_to_commit()
            .unwrap()
            .id()
            .to_string()
    }
}

const TESTS: &str = r#"[[cases]]
name = "paying customers see the new navigation in staging"
env = "staging"
context = { targeting_key = "u1", plan = "pro" }
variants = { "web/new-nav" = "on" }
"#;

/// An approval of `commit` by a member of the repository.
fn approval(login: &str, commit: &str) -> Value {
    review(login, "APPROVED", commit, "MEMBER")
}

fn review(login: &str, state: &str, commit: &str, association: &str) -> Value {
    json!({
        "user": { "login": login, "type": "User" },
        "state": state,
        "author_association": association,
        "commit_id": commit,
        "submitted_at": "2026-12-01T10:00:00Z",
    })
}

/// Each change as "change: kinds".
fn changes(report: &Value) -> Vec<String> {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let kinds: Vec<&str> = c["kinds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap())
                .collect();
            format!("{}: {}", c["change"].as_str().unwrap(), kinds.join(" "))
        })
        .collect()
}

/// Each requirement as "change | rule | eligible | missing".
fn requirements(report: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for change in report["changes"].as_array().unwrap() {
        for r in change["requirements"].as_array().unwrap() {
            let eligible = match r["eligible"].as_array() {
                Some(list) => list
                    .iter()
                    .map(|l| l.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(" "),
                None => "anyone".to_owned(),
            };
            out.push(format!(
                "{} | {} | {} | {}",
                change["change"].as_str().unwrap(),
                r["rule"].as_str().unwrap(),
                eligible,
                r["missing"]
            ));
        }
    }
    out
}

#[test]
fn a_release_flag_killed_alone_is_an_emergency_and_shows_what_units_now_get() {
    let gate = Gate::new();
    gate.edit(
        "flags/web/new-nav.toml",
        "[env.production]\n",
        "[env.production]\nenabled = false\n",
    );
    gate.commit();
    let (code, report) = gate.review("wendy", &[], &[]);
    assert_eq!((code, report["verdict"].as_str()), (0, Some("emergency")));
    assert_eq!(changes(&report), ["flag `web/new-nav` in production: kill"]);
    let details = &report["changes"][0]["details"];
    assert_eq!(details[0], "killed: every unit gets the off variant");
    assert_eq!(details[1], "every unit now gets `off` = false");
    assert!(
        details[2].as_str().unwrap().starts_with("blast radius: "),
        "{details}"
    );
}

/// The off variant of a config flag is its permissive value: "killing" the rate limit
/// raises it a hundredfold. The default policy lets kills of release and experiment flags
/// through only.
#[test]
fn killing_a_config_flag_whose_off_variant_is_permissive_needs_approval() {
    let gate = Gate::new();
    gate.edit(
        "flags/ops/rate-limit.toml",
        "[env.production]\n",
        "[env.production]\nenabled = false\n",
    );
    let head = gate.commit();
    let (code, report) = gate.review("otto", &[], &[]);
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("approvals_missing"))
    );
    let change = &report["changes"][0];
    assert_eq!(change["kinds"], json!(["kill"]));
    assert_eq!(
        change["emergency_refused"],
        "the policy does not let a kill turn config flags off without approval (`ops/rate-limit` is one; see [review] emergency_kill)"
    );
    assert!(
        change["details"]
            .as_array()
            .unwrap()
            .contains(&json!("every unit now gets `loose` = 10000")),
        "{change}"
    );
    // Its owners can approve it as any change.
    let (code, report) = gate.review("otto", &[approval("olga", &head)], &[]);
    assert_eq!((code, report["verdict"].as_str()), (0, Some("approved")));
}

#[test]
fn a_policy_can_let_kills_of_ops_flags_through_and_a_flag_can_opt_out() {
    let mut gate = Gate::new();
    gate.edit(
        "flagstone.toml",
        "protected = [\"@platform\"]\n",
        "protected = [\"@platform\"]\nemergency_kill = [\"release\", \"ops\"]\n",
    );
    gate.edit(
        "flags/web/legacy-checkout.toml",
        "kind = \"release\"\n",
        "kind = \"release\"\nemergency_kill = false\n",
    );
    gate.base = gate.commit();
    gate.edit(
        "flags/ops/audit-log.toml",
        "[env.production]\n",
        "[env.production]\nenabled = false\n",
    );
    gate.commit();
    let (code, report) = gate.review("otto", &[], &[]);
    assert_eq!((code, report["verdict"].as_str()), (0, Some("emergency")));

    gate.edit(
        "flags/web/legacy-checkout.toml",
        "[env.staging]\n",
        "[env.staging]\nenabled = false\n",
    );
    gate.commit();
    let (code, report) = gate.review("otto", &[], &[]);
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("approvals_missing"))
    );
    let refused: Vec<&Value> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["emergency_refused"])
        .filter(|r| !r.is_null())
        .collect();
    assert_eq!(
        refused,
        [&json!(
            "`web/legacy-checkout` opts out of the emergency path (emergency_kill = false)"
        )]
    );
}

/// web/new-checkout serves "on" only to units the legacy checkout serves "off": killing the
/// legacy checkout turns the new one on for everyone.
#[test]
fn a_kill_that_turns_a_dependent_flag_on_is_no_emergency() {
    let gate = Gate::new();
    gate.edit(
        "flags/web/legacy-checkout.toml",
        "[env.production]\n",
        "[env.production]\nenabled = false\n",
    );
    gate.commit();
    let (code, report) = gate.review("wendy", &[], &[]);
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("approvals_missing"))
    );
    assert_eq!(
        changes(&report),
        [
            "flag `web/legacy-checkout` in production: kill",
            "flag `web/new-checkout` in production: targeting",
        ]
    );
    let dependent = &report["changes"][1];
    assert_eq!(
        dependent["details"][0],
        "changes through prerequisite `web/legacy-checkout`"
    );
    assert!(
        dependent["details"][1]
            .as_str()
            .unwrap()
            .starts_with("blast radius: 100.0% (estimated"),
        "{dependent}"
    );
    // It now reaches everyone: the wide-rollout rule applies.
    assert!(
        requirements(&report).contains(
            &"flag `web/new-checkout` in production | wide production rollout | pat pia | 1"
                .to_owned()
        ),
        "{report}"
    );
}

/// A kill whose dependents move to their off variant only stays an emergency, and says
/// which flags it turns off.
#[test]
fn a_kill_that_turns_dependents_off_is_an_emergency_that_lists_them() {
    let mut gate = Gate::new();
    gate.edit(
        "flags/web/new-checkout.toml",
        "variant = \"off\"",
        "variant = \"on\"",
    );
    // A step that changes what it serves, but does not enable it: killed, it stays off.
    gate.edit(
        "flags/web/legacy-checkout.toml",
        "[env.production]\nserve = \"on\"\n",
        "[env.production]\nserve = \"on\"\nschedule = [{ at = 2026-12-05T00:00:00Z, serve = \"off\" }]\n",
    );
    gate.base = gate.commit();
    gate.edit(
        "flags/web/legacy-checkout.toml",
        "[env.production]\n",
        "[env.production]\nenabled = false\n",
    );
    gate.commit();
    let (code, report) = gate.review("wendy", &[], &[]);
    assert_eq!((code, report["verdict"].as_str()), (0, Some("emergency")));
    assert_eq!(
        changes(&report),
        [
            "flag `web/legacy-checkout` in production: kill",
            "flag `web/new-checkout` in production: kill",
        ]
    );
    assert_eq!(
        report["changes"][1]["details"][0],
        "turned off through prerequisite `web/legacy-checkout`: every unit gets the off variant"
    );
}

/// Relabelling the rate limit as a release flag in the pull request that kills it does not
/// open the emergency path: the base's kind judges.
#[test]
fn relabelling_a_flag_s_kind_does_not_open_the_emergency_path() {
    let gate = Gate::new();
    gate.edit(
        "flags/ops/rate-limit.toml",
        "kind = \"config\"\n",
        "kind = \"release\"\nexpires = 2030-01-01\n",
    );
    gate.edit(
        "flags/ops/rate-limit.toml",
        "[env.production]\n",
        "[env.production]\nenabled = false\n",
    );
    gate.commit();
    let (code, report) = gate.review("otto", &[], &[]);
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("approvals_missing"))
    );
    assert_eq!(
        changes(&report),
        [
            "flag `ops/rate-limit` metadata: metadata",
            "flag `ops/rate-limit` in production: kill",
        ]
    );
    assert_eq!(
        report["changes"][0]["details"],
        json!(["kind: config → release", "expires: none → 2030-01-01"])
    );
}

/// Killing a flag that already serves its off variant to everyone changes nothing served:
/// it is not an emergency kill.
#[test]
fn a_kill_that_changes_nothing_served_is_not_a_kill() {
    let gate = Gate::new();
    gate.edit(
        "flags/growth/banner.toml",
        "[env.staging]\n",
        "[env.staging]\nenabled = false\n",
    );
    gate.commit();
    let (code, report) = gate.review("gus", &[], &[]);
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("approvals_missing"))
    );
    assert_eq!(
        changes(&report),
        ["flag `growth/banner` in staging: targeting"]
    );
}

/// The variants keep their names; the value the "on" units get changes.
#[test]
fn a_payload_edit_is_a_change_of_what_units_get() {
    let gate = Gate::new();
    gate.edit(
        "flags/growth/banner.toml",
        "on = { text = \"Spring sale\" }",
        "on = { text = \"Everything free, click here\" }",
    );
    gate.commit();
    let (code, report) = gate.review("gus", &[], &[]);
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("approvals_missing"))
    );
    assert_eq!(
        changes(&report),
        [
            "flag `growth/banner` in staging: variants",
            "flag `growth/banner` in production: variants",
        ]
    );
    let production = &report["changes"][1];
    assert_eq!(
        production["details"][0],
        "variant `on` value:\n@@ -1,3 +1,3 @@\n {\n-  \"text\": \"Spring sale\"\n+  \"text\": \"Everything free, click here\"\n }\n"
    );
    // Staging serves "off" to everyone: the edit changes nothing served there.
    let staging = &report["changes"][0]["details"][1];
    assert!(
        staging.as_str().unwrap().starts_with("blast radius: 0.0%"),
        "{staging}"
    );
    // The markdown shows the payload diff in full.
    let (_, markdown, _) = gate.review_as("gus", &[], &[], "markdown");
    assert!(
        markdown.contains("<details><summary>flag <code>growth/banner</code> in production&#58; variant <code>on</code> value&#58;</summary>\n\n```diff\n@@ -1,3 +1,3 @@\n {\n-  \"text\": \"Spring sale\"\n+  \"text\": \"Everything free, click here\"\n }\n```\n\n</details>"),
        "{markdown}"
    );
}

/// A schedule that takes a 10% rollout to 100% next week is a rollout to 100%.
#[test]
fn a_schedule_that_reaches_everyone_later_counts_as_that_rollout() {
    let gate = Gate::new();
    gate.edit(
        "flags/web/new-nav.toml",
        "rollout = 10\n",
        "rollout = 10\nschedule = [{ at = 2026-12-08T09:00:00Z, rollout = 100 }]\n",
    );
    gate.commit();
    let (code, report) = gate.review("will", &[], &[]);
    assert_eq!(code, 1);
    let production = &report["changes"][0];
    assert_eq!(production["change"], "flag `web/new-nav` in production");
    assert_eq!(
        requirements(&report),
        [
            // The author, will, cannot approve.
            "flag `web/new-nav` in production | owners approve | wendy | 1",
            "flag `web/new-nav` in production | wide production rollout | pat pia | 1",
        ]
    );
    let radius = production["details"].as_array().unwrap().last().unwrap();
    assert!(
        radius.as_str().unwrap().contains("% (estimated"),
        "{radius}"
    );
}

/// A killed flag re-enabled by a schedule step tomorrow is an enable, with everything it
/// then serves.
#[test]
fn a_schedule_that_turns_a_killed_flag_back_on_tomorrow_is_an_enable() {
    let mut gate = Gate::new();
    gate.edit(
        "flags/web/legacy-checkout.toml",
        "[env.production]\n",
        "[env.production]\nenabled = false\n",
    );
    gate.base = gate.commit();
    gate.edit(
        "flags/web/legacy-checkout.toml",
        "[env.production]\nenabled = false\n",
        "[env.production]\nenabled = false\nschedule = [{ at = 2026-12-02T00:00:00Z, enabled = true }]\n",
    );
    gate.commit();
    let (code, report) = gate.review("wendy", &[], &[]);
    assert_eq!(code, 1);
    let kinds = changes(&report);
    assert!(
        kinds.contains(&"flag `web/legacy-checkout` in production: enable targeting".to_owned()),
        "{kinds:?}"
    );
}

/// Widening who a 60% rule reaches is a wide rollout, though no percentage moved.
#[test]
fn widening_the_audience_of_a_wide_rule_is_a_wide_rollout() {
    let mut gate = Gate::new();
    gate.edit("flags/web/new-nav.toml", "rollout = 10", "rollout = 60");
    gate.base = gate.commit();
    gate.edit(
        "segments/paying.toml",
        "values = [\"pro\", \"enterprise\"]",
        "values = [\"pro\", \"enterprise\", \"free\"]",
    );
    gate.commit();
    let (code, report) = gate.review("will", &[], &[]);
    assert_eq!(code, 1);
    let requirements = requirements(&report);
    assert!(
        requirements.contains(
            &"flag `web/new-nav` in production | wide production rollout | pat pia | 1".to_owned()
        ),
        "{requirements:?}"
    );
}

/// A segment two teams' flags test: each team must approve for its own flag; one team's
/// approval is not pooled into the other's.
#[test]
fn a_segment_change_needs_the_owners_of_each_affected_flag() {
    let gate = Gate::new();
    gate.edit(
        "segments/paying.toml",
        "values = [\"pro\", \"enterprise\"]",
        "values = [\"pro\", \"enterprise\", \"free\"]",
    );
    let head = gate.commit();
    let (code, report) = gate.review("pat", &[approval("wendy", &head)], &[]);
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("approvals_missing"))
    );
    assert_eq!(
        requirements(&report),
        [
            "segment `paying` | owners approve (flag `growth/banner`) | gia gus | 1",
            "segment `paying` | owners approve (flag `web/new-nav`) | wendy will | 0",
            "flag `growth/banner` in production | owners approve | gia gus | 1",
            // The banner now reaches free plans too, on a rule that serves everyone it
            // matches.
            "flag `growth/banner` in production | wide production rollout | pia | 1",
            "flag `web/new-nav` in production | owners approve | wendy will | 0",
        ]
    );
    let list = [
        approval("wendy", &head),
        approval("gus", &head),
        approval("pia", &head),
    ];
    let (code, report) = gate.review("pat", &list, &[]);
    assert_eq!((code, report["verdict"].as_str()), (0, Some("approved")));
}

/// Tests assert what the flags do; experiments and their results are evidence. Changing
/// them changes what is checked.
#[test]
fn test_files_and_other_repository_files_need_their_owners() {
    let gate = Gate::new();
    gate.edit("tests/web.toml", "\"on\"", "\"off\"");
    gate.write("results/banner.csv", "variant,users\non,10\n");
    let head = gate.commit();
    let (code, report) = gate.review("pat", &[], &[]);
    assert_eq!(code, 1);
    assert_eq!(
        requirements(&report),
        [
            "file `tests/web.toml` | owners approve | wendy will | 1",
            // Nobody owns the results: the protected approvers, but for the author.
            "file `results/banner.csv` | owners approve | pia | 1",
        ]
    );
    assert_eq!(
        report["changes"][0]["details"],
        json!([
            "test file changed: it changes what `flagstone test` asserts",
            "about web/new-nav"
        ])
    );
    assert_eq!(report["changes"][1]["details"], json!(["added"]));
    let list = [approval("will", &head), approval("pia", &head)];
    let (code, report) = gate.review("pat", &list, &[]);
    assert_eq!((code, report["verdict"].as_str()), (0, Some("approved")));
}

/// A rollout raised to exactly the threshold is not above it.
#[test]
fn a_rollout_to_the_threshold_is_not_above_it() {
    let gate = Gate::new();
    gate.edit("flags/web/new-nav.toml", "rollout = 10", "rollout = 50");
    gate.commit();
    let (code, report) = gate.review("pat", &[], &[]);
    assert_eq!(code, 1);
    assert_eq!(
        requirements(&report),
        ["flag `web/new-nav` in production | owners approve | wendy will | 1"]
    );
    assert_eq!(report["changes"][0]["kinds"], json!(["rollout"]));
}

/// What decides how the flags are checked out, who owns them and which workflow checks
/// them is guarded like the policy itself.
#[test]
fn gitattributes_codeowners_and_workflows_need_the_protected_approvers() {
    let gate = Gate::new();
    gate.write(".gitattributes", "*.md text\n");
    gate.write(".github/CODEOWNERS", "* @acme/web\n");
    gate.write(".github/workflows/flags.yml", "on: push\n");
    gate.write("README.md", "not a flag file\n");
    gate.commit();
    let (code, report) = gate.review("wendy", &[], &[]);
    assert_eq!(code, 1);
    let protected = "the teams, the review policy and the repository's settings are protected";
    assert_eq!(
        requirements(&report),
        [
            format!("file `.gitattributes` | {protected} | pat pia | 1"),
            format!("file `.github/CODEOWNERS` | {protected} | pat pia | 1"),
            format!("file `.github/workflows/flags.yml` | {protected} | pat pia | 1"),
            "file `README.md` | owners approve | pat pia | 1".to_owned(),
        ]
    );
}

/// An accomplice who pushed a commit to the pull request cannot approve it, whether GitHub's
/// list of commits names them or their commit's no-reply address does.
#[test]
fn whoever_wrote_or_committed_a_commit_cannot_approve_it() {
    let gate = Gate::new();
    gate.edit(
        "flags/web/new-nav.toml",
        "[env.staging]\nserve = \"on\"",
        "[env.staging]\nserve = \"off\"",
    );
    let head = gate.commit();
    let commits = gate.side.path().join("commits.json");
    let list = json!([
        { "sha": head, "author": { "login": "wendy" }, "committer": { "login": "web-flow" } },
        { "sha": head, "author": { "login": "Will" }, "committer": null },
    ]);
    std::fs::write(&commits, list.to_string()).unwrap();
    let reviews = [approval("will", &head)];
    let (code, report) = gate.review("wendy", &reviews, &["--commits", commits.to_str().unwrap()]);
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("approvals_missing"))
    );
    assert_eq!(report["committers"], json!(["web-flow", "will"]));
    assert_eq!(
        report["ignored"],
        json!(["will: wrote or committed the pull request"])
    );

    // A commit by will's no-reply address, with no list of commits.
    let author = git2::Signature::now("Will", "4242+will@users.noreply.github.com").unwrap();
    let tree = gate
        .repository
        .find_commit(git2::Oid::from_str(&head).unwrap())
        .unwrap();
    let parent = tree.clone();
    let id = gate
        .repository
        .commit(
            Some("HEAD"),
            &author,
            &author,
            "by will",
            &tree.tree().unwrap(),
            &[&parent],
        )
        .unwrap()
        .to_string();
    let (code, report) = gate.review("wendy", &[approval("will", &id)], &[]);
    assert_eq!(code, 1);
    assert_eq!(report["committers"], json!(["will"]));
}

/// Reviews from people without write access, and from bots, never count; a request for
/// changes from anyone with write access blocks, unless the policy says otherwise.
#[test]
fn only_people_with_write_access_approve_and_their_requests_for_changes_block() {
    let mut gate = Gate::new();
    gate.edit(
        "flags/web/new-nav.toml",
        "[env.staging]\nserve = \"on\"",
        "[env.staging]\nserve = \"off\"",
    );
    let head = gate.commit();
    let outsider = review("will", "APPROVED", &head, "CONTRIBUTOR");
    let bot = json!({
        "user": { "login": "wendy-bot[bot]", "type": "Bot" },
        "state": "APPROVED",
        "author_association": "MEMBER",
        "commit_id": head,
        "submitted_at": "2026-12-01T10:00:00Z",
    });
    // A bot account by its type alone, and by its login alone.
    let typed_bot = json!({
        "user": { "login": "release-robot", "type": "Bot" },
        "state": "APPROVED",
        "author_association": "MEMBER",
        "commit_id": head,
        "submitted_at": "2026-12-01T10:00:00Z",
    });
    let named_bot = json!({
        "user": { "login": "deploys[bot]", "type": "User" },
        "state": "APPROVED",
        "author_association": "COLLABORATOR",
        "commit_id": head,
        "submitted_at": "2026-12-01T10:00:00Z",
    });
    let (code, report) = gate.review("pat", &[outsider, bot, typed_bot, named_bot], &[]);
    assert_eq!(code, 1);
    assert_eq!(
        report["ignored"],
        json!([
            "deploys[bot]: no write access, or a bot",
            "release-robot: no write access, or a bot",
            "wendy-bot[bot]: no write access, or a bot",
            "will: no write access, or a bot"
        ])
    );

    // otto owns nothing here, but has write access: his request for changes blocks.
    let reviews = [
        approval("will", &head),
        review("otto", "CHANGES_REQUESTED", &head, "COLLABORATOR"),
    ];
    let (code, report) = gate.review("pat", &reviews, &[]);
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("blocked")),
        "{report}"
    );
    gate.edit(
        "flagstone.toml",
        "protected = [\"@platform\"]\n",
        "protected = [\"@platform\"]\nchanges_requested = \"eligible\"\n",
    );
    gate.base = gate.commit();
    gate.edit(
        "flags/web/new-nav.toml",
        "[env.staging]\nserve = \"off\"",
        "[env.staging]\nserve = \"on\"",
    );
    let head = gate.commit();
    let reviews = [
        approval("will", &head),
        review("otto", "CHANGES_REQUESTED", &head, "COLLABORATOR"),
    ];
    let (code, report) = gate.review("pat", &reviews, &[]);
    assert_eq!((code, report["verdict"].as_str()), (0, Some("approved")));
    assert_eq!(report["changes_requested"], json!(["otto"]));
}

/// Names, rule names and values reach the Markdown summary as text: no HTML, no table
/// break-out, no mention.
#[test]
fn free_text_cannot_inject_markdown_into_the_summary() {
    let gate = Gate::new();
    gate.edit(
        "flags/web/new-nav.toml",
        "name = \"paying\"",
        "name = \"paying | <img src=x onerror=alert(1)> @wendy [x](https://evil.example)\"",
    );
    gate.commit();
    let (code, markdown, stderr) = gate.review_as("will", &[], &[], "markdown");
    assert_eq!(code, 1, "{stderr}");
    assert!(!markdown.contains("<img"), "{markdown}");
    assert!(!markdown.contains("@wendy"), "{markdown}");
    assert!(!markdown.contains("](https"), "{markdown}");
    assert!(
        markdown.contains(
            "rule <code>paying &#124; &lt;img src=x onerror=alert(1)&gt; &#64;wendy &#91;x&#93;(https&#58;//evil.example)</code> added"
        ),
        "{markdown}"
    );
    // Every table row keeps its four cells.
    for row in markdown.lines().filter(|l| l.starts_with("| ")) {
        assert_eq!(row.matches(" | ").count(), 3, "{row}");
    }
}

#[test]
fn reformatting_changes_nothing_and_needs_no_approval() {
    let gate = Gate::new();
    let text = format!("# reformatted\r\n{}", NEW_NAV.replace('\n', "\r\n"));
    gate.write("flags/web/new-nav.toml", &text);
    gate.commit();
    let (code, report) = gate.review("will", &[], &[]);
    assert_eq!((code, report["verdict"].as_str()), (0, Some("no_changes")));
    assert_eq!(gate.head().len(), 40);
}

/// What the flag files and the project say besides behaviour, in one pull request: owners,
/// an opt-out of the emergency path, teams added and removed, a segment removed. Each is
/// reported once, flags in key order.
#[test]
fn owners_metadata_teams_and_a_removed_segment_are_each_reported() {
    let gate = Gate::new();
    gate.edit(
        "flags/web/new-nav.toml",
        "owners = [\"@web\"]",
        "owners = [\"@web\", \"pat\"]",
    );
    gate.edit("flags/web/new-nav.toml", "rollout = 10", "rollout = 20");
    gate.edit(
        "flags/ops/rate-limit.toml",
        "kind = \"config\"\n",
        "kind = \"config\"\nemergency_kill = false\n",
    );
    gate.edit(
        "flags/ops/rate-limit.toml",
        "[env.staging]\nserve = \"strict\"",
        "[env.staging]\nserve = \"loose\"",
    );
    gate.edit(
        "flags/growth/banner.toml",
        "owners = [\"@growth\"]",
        "owners = [\"@web\"]",
    );
    gate.edit("flagstone.toml", "growth = [\"gus\", \"gia\"]\n", "");
    gate.edit("flagstone.toml", "[teams]\n", "[teams]\nsre = [\"sam\"]\n");
    // The segment goes, and the rules that tested it.
    gate.edit(
        "flags/web/new-nav.toml",
        "if = [{ segment = \"paying\" }]",
        "if = [{ attr = \"plan\", op = \"in\", values = [\"pro\", \"enterprise\"] }]",
    );
    gate.edit(
        "flags/growth/banner.toml",
        "if = [{ segment = \"paying\" }]",
        "if = [{ attr = \"plan\", op = \"in\", values = [\"pro\"] }]",
    );
    std::fs::remove_file(gate.work.path().join("segments/paying.toml")).unwrap();
    gate.commit();
    let diff = gate.diff();
    let flags: Vec<(&str, &Value, &Value)> = diff["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["flag"].as_str().unwrap(), &f["owners"], &f["metadata"]))
        .collect();
    assert_eq!(
        flags,
        [
            (
                "growth/banner",
                &json!([["@growth"], ["@web"]]),
                &Value::Null
            ),
            (
                "ops/rate-limit",
                &Value::Null,
                &json!(["emergency kill: as the policy says → opted out"])
            ),
            (
                "web/new-nav",
                &json!([["@web"], ["@web", "pat"]]),
                &Value::Null
            ),
        ]
    );
    assert_eq!(
        diff["teams"],
        json!(["team `growth` removed", "team `sre` added: sam"])
    );
    assert_eq!(
        diff["segments"],
        json!([{
            "segment": "paying",
            "status": "removed",
            "affected_flags": ["growth/banner", "web/new-nav"]
        }])
    );
}

/// A regular expression names no value a unit could have: only the declared values show
/// the units it matches.
#[test]
fn declared_values_reach_the_synthetic_units() {
    let gate = Gate::new();
    gate.edit(
        "flags/web/new-nav.toml",
        "[env.staging]\nserve = \"on\"\n",
        "[env.staging]\nserve = \"on\"\n\n[[env.staging.rules]]\nname = \"not-in-france\"\nif = [{ attr = \"country\", op = \"matches\", value = \"^F\" }]\nserve = \"off\"\n",
    );
    gate.commit();
    let diff = gate.diff();
    let radius = &diff["flags"][0]["environments"][0]["blast_radius"];
    let percent = radius["percent"].as_f64().unwrap();
    assert!(percent > 2.0 && percent < 30.0, "{radius}");
}

/// Test files added and removed are reported as such.
#[test]
fn test_files_added_and_removed_are_reported() {
    let gate = Gate::new();
    std::fs::remove_file(gate.work.path().join("tests/web.toml")).unwrap();
    gate.write(
        "tests/banner.toml",
        &TESTS
            .replace("web/new-nav", "growth/banner")
            .replace("\"on\"", "\"off\""),
    );
    gate.commit();
    let diff = gate.diff();
    assert_eq!(
        diff["files"],
        json!([
            { "path": "tests/banner.toml", "status": "added", "kind": "test", "flags": ["growth/banner"] },
            { "path": "tests/web.toml", "status": "removed", "kind": "test", "flags": ["web/new-nav"] },
        ])
    );
}

const NEW_FLAG: &str = r#"description = "Brand new"
owners = ["@web"]
kind = "release"
expires = 2030-01-01

[env.staging]
serve = "on"

[env.production]
serve = "off"

[[env.production.rules]]
name = "some"
rollout = 10
serve = "on"
"#;

/// A new flag widens who gets "on" as far as it serves it: a 10% rule is a 10% rollout, a
/// fallthrough is everyone.
#[test]
fn a_new_flag_is_a_rollout_as_wide_as_what_it_serves() {
    let gate = Gate::new();
    gate.write("flags/web/brand-new.toml", NEW_FLAG);
    gate.commit();
    let (code, report) = gate.review("pat", &[], &[]);
    assert_eq!(code, 1);
    assert_eq!(
        requirements(&report),
        [
            "flag `web/brand-new` in staging | owners approve | wendy will | 1",
            "flag `web/brand-new` in production | owners approve | wendy will | 1",
        ]
    );
    assert_eq!(report["changes"][1]["kinds"], json!(["add"]));
    assert_eq!(report["changes"][1]["details"][0], "added");

    gate.write(
        "flags/web/brand-new.toml",
        &NEW_FLAG.replace(
            "[env.production]\nserve = \"off\"",
            "[env.production]\nserve = \"on\"",
        ),
    );
    gate.commit();
    let (_, report) = gate.review("pat", &[], &[]);
    assert!(
        requirements(&report).contains(
            &"flag `web/brand-new` in production | wide production rollout | pia | 1".to_owned()
        ),
        "{report}"
    );
}

/// A flag off in both versions that needs a changed flag changes through it, and is no kill.
#[test]
fn a_flag_off_on_both_sides_changes_only_through_its_prerequisite() {
    let mut gate = Gate::new();
    gate.edit(
        "flags/web/new-checkout.toml",
        "[env.staging]\n",
        "[env.staging]\nenabled = false\n",
    );
    gate.base = gate.commit();
    gate.edit(
        "flags/web/legacy-checkout.toml",
        "[env.staging]\nserve = \"on\"",
        "[env.staging]\nserve = \"off\"",
    );
    gate.commit();
    let (_, report) = gate.review("pat", &[], &[]);
    let dependent = &report["changes"][1];
    assert_eq!(dependent["change"], "flag `web/new-checkout` in staging");
    assert_eq!(dependent["kinds"], json!(["targeting"]));
    let details = dependent["details"].as_array().unwrap();
    assert_eq!(
        details[0],
        "changes through prerequisite `web/legacy-checkout`"
    );
    assert_eq!(details.len(), 2, "{details:?}");
}

/// Restoring a killed flag enables it, and the flags that need it on.
#[test]
fn restoring_a_prerequisite_enables_its_dependents() {
    let mut gate = Gate::new();
    gate.edit(
        "flags/web/new-checkout.toml",
        "variant = \"off\"",
        "variant = \"on\"",
    );
    gate.edit(
        "flags/web/legacy-checkout.toml",
        "[env.production]\n",
        "[env.production]\nenabled = false\n",
    );
    gate.base = gate.commit();
    gate.edit(
        "flags/web/legacy-checkout.toml",
        "[env.production]\nenabled = false\n",
        "[env.production]\n",
    );
    gate.commit();
    let (_, report) = gate.review("pat", &[], &[]);
    assert_eq!(
        changes(&report),
        [
            "flag `web/legacy-checkout` in production: enable",
            "flag `web/new-checkout` in production: enable targeting",
        ]
    );
}

/// A rollout change is exact only when nothing else the flag depends on changed.
#[test]
fn a_rollout_change_with_a_segment_change_is_estimated() {
    let gate = Gate::new();
    gate.edit("flags/web/new-nav.toml", "rollout = 10", "rollout = 20");
    gate.edit(
        "segments/paying.toml",
        "values = [\"pro\", \"enterprise\"]",
        "values = [\"enterprise\"]",
    );
    gate.commit();
    let diff = gate.diff();
    let nav = diff["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["flag"] == "web/new-nav")
        .unwrap();
    assert_eq!(nav["environments"][0]["blast_radius"]["exact"], false);
    assert_eq!(
        nav["environments"][0]["changes"],
        json!([
            "rule `paying` rollout 10% → 20%",
            "changes through segment `paying`"
        ])
    );
}

/// A step next week that serves everyone "on" changes nothing today, and everything then.
#[test]
fn a_future_schedule_step_is_judged_as_what_it_will_serve() {
    let gate = Gate::new();
    gate.edit(
        "flags/web/new-nav.toml",
        "[env.production]\nserve = \"off\"\n",
        "[env.production]\nserve = \"off\"\nschedule = [{ at = 2026-12-08T00:00:00Z, serve = \"on\" }]\n",
    );
    gate.commit();
    let diff = gate.diff();
    let production = &diff["flags"][0]["environments"][0];
    assert_eq!(
        production["blast_radius"]["at"],
        json!(["2026-12-01T00:00:00.000Z", "2026-12-08T00:00:00.000Z"])
    );
    // Everyone but the paying units the rule already serves "on" (about 10% of them).
    let percent = production["blast_radius"]["percent"].as_f64().unwrap();
    assert!(percent > 80.0, "{production}");
    assert_eq!(production["rollout_to"], 100.0);
}
