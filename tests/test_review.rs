//! `flagstone review`: the base revision's policy, teams and owners judge a pull request,
//! and the adversarial cases a policy must withstand.
//!
//! flags.example's policy: every change needs one of its owners; a production rollout above
//! 50% needs two of the owners and @platform; a production blast radius above 10% needs one
//! of @platform; [teams] and [review] need @platform (carol, farid). checkout/one-page is
//! owned by @payments (alice, bob) and alice.

use serde_json::Value;

use crate::support::{commit, copy_dir, root, run};

/// A git repository holding flags.example (without its tests, which rename and removal
/// cases would break) at `flags/`, committed once: the base.
pub(crate) struct Pr {
    pub(crate) work: tempfile::TempDir,
    repository: git2::Repository,
    pub(crate) base: String,
    /// The review's `--now`.
    now: &'static str,
}

impl Pr {
    pub(crate) fn new() -> Pr {
        let work = crate::support::tempdir();
        copy_dir(&root().join("flags.example"), &work.path().join("flags"));
        std::fs::remove_dir_all(work.path().join("flags/tests")).unwrap();
        let repository = git2::Repository::init(work.path()).unwrap();
        let base = commit(&repository, "base").to_string();
        Pr {
            work,
            repository,
            base,
            now: "2026-11-26",
        }
    }

    pub(crate) fn path(&self, file: &str) -> std::path::PathBuf {
        self.work.path().join("flags").join(file)
    }

    /// Replaces the first `from` in `file` with `to`.
    pub(crate) fn edit(&self, file: &str, from: &str, to: &str) -> &Pr {
        let text = std::fs::read_to_string(self.path(file)).unwrap();
        assert!(text.contains(from), "{file} has no {from:?}");
        std::fs::write(self.path(file), text.replacen(from, to, 1)).unwrap();
        self
    }

    /// Commits the work tree and returns the commit's id.
    pub(crate) fn commit(&self) -> String {
        commit(&self.repository, "head").to_string()
    }

    /// Runs `review` against the head commit with these reviews (JSON text), as JSON.
    pub(crate) fn review(&self, author: &str, reviews: &str) -> (i32, String, String) {
        self.review_with(author, reviews, &["--format", "json"])
    }

    /// Runs `review` against the head commit with these reviews and options besides.
    pub(crate) fn review_with(
        &self,
        author: &str,
        reviews: &str,
        options: &[&str],
    ) -> (i32, String, String) {
        let file = self.work.path().join("reviews.json");
        std::fs::write(&file, reviews).unwrap();
        let mut args = vec![
            "review",
            "--dir",
            "flags",
            "--base",
            &self.base,
            "--reviews",
            file.to_str().unwrap(),
            "--author",
            author,
            "--now",
            self.now,
        ];
        args.extend_from_slice(options);
        run(&args, self.work.path())
    }

    pub(crate) fn review_json(&self, author: &str, reviews: &str) -> (i32, Value) {
        let (code, stdout, stderr) = self.review(author, reviews);
        assert_ne!(code, 2, "{stderr}");
        (code, serde_json::from_str(&stdout).unwrap())
    }
}

/// A GitHub review: `[login, state, commit]`.
pub(crate) fn reviews(list: &[(&str, &str, &str)]) -> String {
    let reviews: Vec<Value> = list
        .iter()
        .enumerate()
        .map(|(i, (login, state, commit))| {
            serde_json::json!({
                "id": i + 1,
                "user": { "login": login, "type": "User" },
                "body": "",
                "state": state,
                "author_association": "MEMBER",
                "commit_id": commit,
                "submitted_at": format!("2026-11-26T10:{i:02}:00Z"),
            })
        })
        .collect();
    serde_json::to_string_pretty(&reviews).unwrap()
}

/// Each requirement as "change | rule | satisfied by | missing".
fn requirements(report: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for change in report["changes"].as_array().unwrap() {
        for r in change["requirements"].as_array().unwrap() {
            let by: Vec<&str> = r["satisfied_by"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap())
                .collect();
            out.push(format!(
                "{} | {} | {} | {}",
                change["change"].as_str().unwrap(),
                r["rule"].as_str().unwrap(),
                by.join(" "),
                r["missing"]
            ));
        }
    }
    out
}

const ONE_PAGE: &str = "flags/checkout/one-page.toml";
const STAGING: &str = "[env.staging]\nserve = \"off\"\n";
const STAGING_ON: &str = "[env.staging]\nserve = \"on\"\n";

/// A staging-only change to checkout/one-page: only "owners approve" applies.
fn staging_change(pr: &Pr) -> String {
    pr.edit(ONE_PAGE, STAGING, STAGING_ON);
    pr.commit()
}

#[test]
fn an_owner_approval_on_the_head_commit_approves() {
    let pr = Pr::new();
    let head = staging_change(&pr);
    let (code, report) = pr.review_json("alice", &reviews(&[("Bob", "APPROVED", &head)]));
    assert_eq!((code, report["verdict"].as_str()), (0, Some("approved")));
    assert_eq!(report["head_sha"], head);
    assert_eq!(
        requirements(&report),
        [
            // It needs checkout/one-page = on: whom one-page serves decides whom it serves.
            "flag `checkout/express-pay` in staging | owners approve | bob | 0",
            "flag `checkout/one-page` in staging | owners approve | bob | 0"
        ]
    );
}

#[test]
fn self_approval_does_not_count() {
    let pr = Pr::new();
    let head = staging_change(&pr);
    let (code, report) = pr.review_json("alice", &reviews(&[("alice", "APPROVED", &head)]));
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("approvals_missing"))
    );
    assert_eq!(report["approved_by"], serde_json::json!([]));
    let requirement = &report["changes"][0]["requirements"][0];
    // alice owns the flag, but as the author she is not eligible.
    assert_eq!(requirement["eligible"], serde_json::json!(["bob"]));
    assert_eq!(requirement["missing"], 1);
}

#[test]
fn self_approval_counts_when_the_policy_says_so() {
    let mut pr = Pr::new();
    pr.edit(
        "flagstone.toml",
        "emergency_kill = true",
        "emergency_kill = true\nself_approval = true",
    );
    pr.base = pr.commit();
    let head = staging_change(&pr);
    let (code, report) = pr.review_json("alice", &reviews(&[("alice", "APPROVED", &head)]));
    assert_eq!((code, report["verdict"].as_str()), (0, Some("approved")));
}

#[test]
fn an_approval_followed_by_a_new_commit_is_stale() {
    let pr = Pr::new();
    let approved = staging_change(&pr);
    pr.edit(
        ONE_PAGE,
        "{ segment = \"beta\" }",
        "{ segment = \"enterprise\" }",
    );
    pr.commit();
    let (code, report) = pr.review_json("alice", &reviews(&[("bob", "APPROVED", &approved)]));
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("approvals_missing"))
    );
    assert_eq!(report["stale"], serde_json::json!(["bob"]));
    assert_eq!(
        requirements(&report),
        [
            "flag `checkout/express-pay` in staging | owners approve |  | 1",
            "flag `checkout/one-page` in staging | owners approve |  | 1"
        ]
    );
}

#[test]
fn an_approval_by_someone_who_is_not_an_owner_does_not_count() {
    let pr = Pr::new();
    let head = staging_change(&pr);
    let (code, report) = pr.review_json("alice", &reviews(&[("dana", "APPROVED", &head)]));
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("approvals_missing"))
    );
    assert_eq!(report["approved_by"], serde_json::json!(["dana"]));
    assert_eq!(
        requirements(&report),
        [
            "flag `checkout/express-pay` in staging | owners approve |  | 1",
            "flag `checkout/one-page` in staging | owners approve |  | 1"
        ]
    );
}

#[test]
fn adding_an_accomplice_to_the_owning_team_does_not_make_them_an_owner() {
    let pr = Pr::new();
    pr.edit(
        "flagstone.toml",
        "payments = [\"alice\", \"bob\"]",
        "payments = [\"alice\", \"bob\", \"dana\", \"eli\"]",
    );
    let head = staging_change(&pr);
    let (code, report) = pr.review_json("dana", &reviews(&[("eli", "APPROVED", &head)]));
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("approvals_missing"))
    );
    assert_eq!(
        requirements(&report),
        [
            "teams and review policy | the teams, the review policy and the repository's settings are protected |  | 1",
            "flag `checkout/express-pay` in staging | owners approve |  | 1",
            "flag `checkout/one-page` in staging | owners approve |  | 1",
        ]
    );
    assert_eq!(
        report["changes"][0]["details"],
        serde_json::json!(["team `payments`: +dana, +eli",])
    );
}

#[test]
fn a_policy_lowered_in_the_same_pull_request_still_applies() {
    let pr = Pr::new();
    // Drop the rules for wide production rollouts, and roll out to 60% in production.
    let policy = std::fs::read_to_string(pr.path("flagstone.toml")).unwrap();
    let cut = policy.find("[[review.rules]]\nname = \"wide").unwrap();
    std::fs::write(pr.path("flagstone.toml"), &policy[..cut]).unwrap();
    pr.edit(ONE_PAGE, "rollout = 25", "rollout = 60");
    let head = pr.commit();
    let (code, report) = pr.review_json("alice", &reviews(&[("bob", "APPROVED", &head)]));
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("approvals_missing"))
    );
    assert_eq!(
        requirements(&report),
        [
            "teams and review policy | the teams, the review policy and the repository's settings are protected |  | 1",
            "flag `checkout/express-pay` in production | owners approve | bob | 0",
            "flag `checkout/one-page` in production | owners approve | bob | 0",
            "flag `checkout/one-page` in production | wide production rollout | bob | 1",
            "flag `checkout/one-page` in production | large production blast radius |  | 1",
        ]
    );
    // With @platform's two approvals the same pull request passes.
    let (code, report) = pr.review_json(
        "alice",
        &reviews(&[
            ("bob", "APPROVED", &head),
            ("carol", "APPROVED", &head),
            ("farid", "APPROVED", &head),
        ]),
    );
    assert_eq!((code, report["verdict"].as_str()), (0, Some("approved")));
}

#[test]
fn renaming_a_flag_file_needs_the_owners_of_the_old_flag() {
    let pr = Pr::new();
    let (old, new) = (
        pr.path("flags/billing/invoice-renderer.toml"),
        pr.path("flags/billing/invoice-renderer-2.toml"),
    );
    let text = std::fs::read_to_string(&old).unwrap();
    let text = text.replace("owners = [\"@payments\", \"bob\"]", "owners = [\"dana\"]");
    std::fs::write(&new, text).unwrap();
    std::fs::remove_file(&old).unwrap();
    let head = pr.commit();
    // dana names herself the owner of the "new" flag; eli (not an owner of anything) approves.
    let (code, report) = pr.review_json("dana", &reviews(&[("eli", "APPROVED", &head)]));
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("approvals_missing"))
    );
    let removal: Vec<String> = requirements(&report)
        .into_iter()
        .filter(|r| r.contains("removing a flag"))
        .collect();
    assert_eq!(
        removal,
        [
            "flag `billing/invoice-renderer` in development | removing a flag needs its owners |  | 1",
            "flag `billing/invoice-renderer` in staging | removing a flag needs its owners |  | 1",
            "flag `billing/invoice-renderer` in production | removing a flag needs its owners |  | 1",
        ]
    );
    let removal = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["requirements"].as_array().unwrap())
        .find(|r| r["rule"] == "removing a flag needs its owners")
        .unwrap();
    assert_eq!(removal["eligible"], serde_json::json!(["alice", "bob"]));
}

#[test]
fn deleting_a_flag_needs_its_owners() {
    let pr = Pr::new();
    std::fs::remove_file(pr.path("flags/billing/invoice-renderer.toml")).unwrap();
    let head = pr.commit();
    let (code, report) = pr.review_json("dana", &reviews(&[("eli", "APPROVED", &head)]));
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("approvals_missing"))
    );
    // Its owners, and @platform for the production blast radius of 100%.
    let list = reviews(&[("alice", "APPROVED", &head), ("carol", "APPROVED", &head)]);
    let (code, report) = pr.review_json("dana", &list);
    assert_eq!(
        (code, report["verdict"].as_str()),
        (0, Some("approved")),
        "{report}"
    );
    let kinds: Vec<&Value> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["kinds"])
        .collect();
    assert_eq!(kinds, [&serde_json::json!(["remove"]); 3]);
}

#[test]
fn changing_a_flags_owners_needs_its_current_owners() {
    let pr = Pr::new();
    pr.edit(
        ONE_PAGE,
        "owners = [\"@payments\", \"alice\"]",
        "owners = [\"dana\"]",
    );
    let head = pr.commit();
    let (code, report) = pr.review_json("dana", &reviews(&[("eli", "APPROVED", &head)]));
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("approvals_missing"))
    );
    assert_eq!(
        requirements(&report),
        [
            "owners of flag `checkout/one-page` | changing a flag's owners needs its current owners |  | 1"
        ]
    );
    assert_eq!(
        report["changes"][0]["details"],
        serde_json::json!(["@payments alice → dana"])
    );
}

#[test]
fn a_kill_alone_is_an_emergency_that_needs_no_approval() {
    let pr = Pr::new();
    pr.edit(
        ONE_PAGE,
        "[env.production]\n",
        "[env.production]\nenabled = false\n",
    );
    pr.commit();
    let (code, report) = pr.review_json("alice", "[]");
    assert_eq!((code, report["verdict"].as_str()), (0, Some("emergency")));
    assert_eq!(report["approval_required"], false);
    assert_eq!(requirements(&report), Vec::<String>::new());
    let (code, markdown, _) = pr.review_with("alice", "[]", &["--format", "markdown"]);
    assert_eq!(code, 0);
    assert!(
        markdown.starts_with(
            "### flagstone review: EMERGENCY CHANGE: only kills flags, merging without approval\n\n> [!CAUTION]\n"
        ),
        "{markdown}"
    );
}

#[test]
fn a_kill_combined_with_another_change_is_no_emergency() {
    let pr = Pr::new();
    pr.edit(
        ONE_PAGE,
        "[env.production]\n",
        "[env.production]\nenabled = false\n",
    );
    pr.edit(ONE_PAGE, STAGING, STAGING_ON);
    pr.commit();
    let (code, report) = pr.review_json("alice", "[]");
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("approvals_missing"))
    );
    assert_eq!(report["approval_required"], true);
    let kinds: Vec<&Value> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["kinds"])
        .collect();
    assert_eq!(
        kinds,
        [
            // checkout/express-pay needs checkout/one-page = on: it changes with it, and is
            // turned off where one-page is killed.
            &serde_json::json!(["targeting"]),
            &serde_json::json!(["kill"]),
            &serde_json::json!(["targeting"]),
            &serde_json::json!(["kill"])
        ]
    );
}

#[test]
fn changes_requested_after_an_approval_blocks() {
    let pr = Pr::new();
    let head = staging_change(&pr);
    let list = reviews(&[
        ("bob", "APPROVED", &head),
        ("bob", "COMMENTED", &head),
        ("BOB", "CHANGES_REQUESTED", &head),
    ]);
    let (code, report) = pr.review_json("alice", &list);
    assert_eq!((code, report["verdict"].as_str()), (1, Some("blocked")));
    assert_eq!(report["changes_requested"], serde_json::json!(["bob"]));
    let requirement = &report["changes"][0]["requirements"][0];
    assert_eq!(requirement["blocked_by"], serde_json::json!(["bob"]));
    // A comment after an approval leaves the approval standing, as on GitHub.
    let list = reviews(&[("bob", "APPROVED", &head), ("bob", "COMMENTED", &head)]);
    assert_eq!(pr.review_json("alice", &list).1["verdict"], "approved");
    // A dismissed review counts for nothing.
    let list = reviews(&[("bob", "APPROVED", &head), ("bob", "DISMISSED", &head)]);
    assert_eq!(
        pr.review_json("alice", &list).1["verdict"],
        "approvals_missing"
    );
}

#[test]
fn paginated_reviews_are_read_page_after_page() {
    let pr = Pr::new();
    let head = staging_change(&pr);
    let pages = format!(
        "{}\n{}",
        reviews(&[("dana", "APPROVED", &head)]),
        reviews(&[("bob", "APPROVED", &head)]).replace("10:00", "11:00")
    );
    let (code, report) = pr.review_json("alice", &pages);
    assert_eq!((code, report["verdict"].as_str()), (0, Some("approved")));
    assert_eq!(report["approved_by"], serde_json::json!(["bob", "dana"]));
}

#[test]
fn malformed_or_empty_reviews_files_are_errors() {
    let pr = Pr::new();
    staging_change(&pr);
    let cases = [
        ("", "is empty; an empty list of reviews is `[]`"),
        ("  \n", "is empty; an empty list of reviews is `[]`"),
        (
            "{\"message\": \"Bad credentials\"}",
            "invalid type: map, expected a sequence at line 1 column 0",
        ),
        (
            "[{\"user\": {\"login\": \"bob\"}}]",
            "missing field `state` at line 1 column 27",
        ),
        (
            "[{\"state\": \"APPROVED\"",
            "EOF while parsing an object at line 1 column 21",
        ),
    ];
    for (text, message) in cases {
        let (code, stdout, stderr) = pr.review("alice", text);
        assert_eq!((code, stdout.as_str()), (2, ""), "{text:?}: {stderr}");
        assert!(stderr.starts_with("error: reviews file "), "{stderr}");
        assert!(stderr.contains(message), "{text:?}: {stderr}");
    }
}

#[test]
fn a_missing_base_commit_is_named() {
    let pr = Pr::new();
    staging_change(&pr);
    let file = pr.work.path().join("reviews.json");
    std::fs::write(&file, "[]").unwrap();
    let missing = "0123456789abcdef0123456789abcdef01234567";
    let args = [
        "review",
        "--dir",
        "flags",
        "--base",
        missing,
        "--reviews",
        file.to_str().unwrap(),
        "--author",
        "alice",
        "--now",
        "2026-11-26",
    ];
    let (code, stdout, stderr) = run(&args, pr.work.path());
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(stderr.contains(missing), "{stderr}");
}

#[test]
fn a_head_sha_that_is_not_the_head_is_refused() {
    let pr = Pr::new();
    staging_change(&pr);
    let file = pr.work.path().join("reviews.json");
    std::fs::write(&file, "[]").unwrap();
    let base = pr.base.clone();
    let args = [
        "review",
        "--dir",
        "flags",
        "--base",
        &base,
        "--head",
        "HEAD",
        "--head-sha",
        &base,
        "--reviews",
        file.to_str().unwrap(),
        "--author",
        "alice",
        "--now",
        "2026-11-26",
    ];
    let (code, _, stderr) = run(&args, pr.work.path());
    assert_eq!(code, 2);
    assert!(
        stderr.contains("is not the commit --head `HEAD` names"),
        "{stderr}"
    );
}

#[test]
fn no_changes_need_no_review() {
    let pr = Pr::new();
    pr.edit(ONE_PAGE, "owners", "# reformatted\nowners");
    pr.commit();
    let (code, report) = pr.review_json("alice", "[]");
    assert_eq!((code, report["verdict"].as_str()), (0, Some("no_changes")));
}

#[test]
fn a_policy_tightened_on_the_base_branch_judges_older_pull_requests() {
    let pr = Pr::new();
    let head = staging_change(&pr);
    // Merged into the base branch after the pull request branched off.
    pr.edit(
        "flagstone.toml",
        "[[review.rules]]\nname = \"owners approve\"",
        "[[review.rules]]\nname = \"security signs off\"\nfrom = [\"@security\"]\n\n[[review.rules]]\nname = \"owners approve\"",
    );
    let tip = pr.commit();
    let file = pr.work.path().join("reviews.json");
    std::fs::write(&file, reviews(&[("bob", "APPROVED", &head)])).unwrap();
    let review = |policy: &[&str]| {
        let args = [
            &[
                "review",
                "--dir",
                "flags",
                "--base",
                &pr.base,
                "--head",
                &head,
                "--reviews",
                file.to_str().unwrap(),
                "--author",
                "alice",
                "--now",
                "2026-11-26",
                "--format",
                "json",
            ][..],
            policy,
        ]
        .concat();
        let (code, stdout, stderr) = run(&args, pr.work.path());
        assert_ne!(code, 2, "{stderr}");
        serde_json::from_str::<Value>(&stdout).unwrap()
    };
    assert_eq!(review(&[])["verdict"], "approved");
    let report = review(&["--policy", &tip]);
    assert_eq!(report["verdict"], "approvals_missing");
    assert_eq!(
        requirements(&report),
        [
            "flag `checkout/express-pay` in staging | security signs off |  | 1",
            "flag `checkout/express-pay` in staging | owners approve | bob | 0",
            "flag `checkout/one-page` in staging | security signs off |  | 1",
            "flag `checkout/one-page` in staging | owners approve | bob | 0",
        ]
    );
}

/// `flagstone kill --commit` makes exactly the change the review policy lets through as an
/// emergency.
#[test]
fn a_kill_committed_by_flagstone_kill_is_an_emergency() {
    let pr = Pr::new();
    let mut config = pr.repository.config().unwrap();
    config.set_str("user.name", "On-call").unwrap();
    config.set_str("user.email", "oncall@example.com").unwrap();
    let args = [
        "kill",
        "checkout/one-page",
        "--env",
        "production",
        "--dir",
        "flags",
        "--commit",
        "--now",
        "2026-11-26",
    ];
    let (code, stdout, stderr) = run(&args, pr.work.path());
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("committed "), "{stdout}");
    let (code, report) = pr.review_json("oncall", "[]");
    assert_eq!((code, report["verdict"].as_str()), (0, Some("emergency")));
}

/// Without `[review]`, a safe default judges: every change needs one of its owners, and what
/// has no owners (the project) a member of a declared team; never anyone. `owners` keywords
/// mean nothing inside a flag's owners.
#[test]
fn without_a_policy_project_changes_need_a_team_member_and_owner_names_are_literal() {
    let mut pr = Pr::new();
    let project = std::fs::read_to_string(pr.path("flagstone.toml")).unwrap();
    let policy = project.find("\n# Who must approve which change").unwrap();
    std::fs::write(pr.path("flagstone.toml"), &project[..policy + 1]).unwrap();
    pr.edit(
        ONE_PAGE,
        "owners = [\"@payments\", \"alice\"]",
        "owners = [\"anyone\"]",
    );
    pr.base = pr.commit();
    pr.edit(
        "flagstone.toml",
        "[attributes]\n",
        "[attributes]\nteam_size = { type = \"number\" }\n",
    );
    pr.edit(ONE_PAGE, STAGING, STAGING_ON);
    let head = pr.commit();
    // zed is in no team: before, "anyone" let them approve the project's change.
    let (code, report) = pr.review_json("alice", &reviews(&[("zed", "APPROVED", &head)]));
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("approvals_missing"))
    );
    assert_eq!(
        requirements(&report),
        [
            "project | owners approve every change (no [review] policy) |  | 1",
            "project | the teams, the review policy and the repository's settings are protected |  | 1",
            "flag `checkout/express-pay` in staging | owners approve every change (no [review] policy) |  | 1",
            "flag `checkout/one-page` in staging | owners approve every change (no [review] policy) |  | 1",
        ]
    );
    let list = reviews(&[
        ("carol", "APPROVED", &head),
        ("bob", "APPROVED", &head),
        ("anyone", "APPROVED", &head),
    ]);
    assert_eq!(pr.review_json("alice", &list).1["verdict"], "approved");
}

/// An experiment's settings say what is measured and when it is decided: changing them needs
/// the experiment's and its flag's owners, though no unit is served differently.
#[test]
fn changing_an_experiment_s_settings_needs_its_owners() {
    let pr = Pr::new();
    pr.edit(
        "experiments/growth/onboarding-checklist.toml",
        "hypothesis = \"A checklist",
        "hypothesis = \"Surely a checklist",
    );
    pr.commit();
    let (code, report) = pr.review_json("alice", "[]");
    assert_eq!(code, 1);
    assert_eq!(
        requirements(&report),
        [
            "file `flags/experiments/growth/onboarding-checklist.toml` | owners approve |  | 1",
            "file `flags/experiments/growth/onboarding-checklist.toml` | a change to an experiment or its flag's split needs the experiment's owners (experiment `growth/onboarding-checklist`) |  | 1",
        ]
    );
    let change = &report["changes"][0];
    assert_eq!(
        change["details"],
        serde_json::json!([
            "experiment settings changed",
            "about growth/onboarding-checklist"
        ])
    );
    assert_eq!(change["kinds"], serde_json::json!(["files"]));
    for requirement in change["requirements"].as_array().unwrap() {
        assert_eq!(requirement["eligible"], serde_json::json!(["dana", "eli"]));
    }
}

const CHECKLIST: &str = "experiments/growth/onboarding-checklist.toml";
const CHECKLIST_FLAG: &str = "flags/growth/onboarding-checklist.toml";
const KIM_ONLY: &str = "a change to an experiment or its flag's split needs the experiment's owners (experiment `growth/onboarding-checklist`)";

/// A base where the onboarding experiment is owned by kim alone, whom no flag names: the
/// experiment's owners are told apart from its flag's (dana, eli).
fn kims_experiment() -> Pr {
    let mut pr = Pr::new();
    pr.edit(
        CHECKLIST,
        "owners = [\"@growth\", \"dana\"]",
        "owners = [\"kim\"]",
    );
    pr.base = pr.commit();
    pr
}

/// The requirements of `rule` as "change | satisfied by | missing", with who is eligible.
fn experiment_requirements(report: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for change in report["changes"].as_array().unwrap() {
        for r in change["requirements"].as_array().unwrap() {
            if r["rule"] != KIM_ONLY {
                continue;
            }
            out.push(format!(
                "{} | {} | {}",
                change["change"].as_str().unwrap(),
                r["eligible"],
                r["missing"]
            ));
        }
    }
    out
}

/// Who approves is read from the base: a pull request that names other owners for the
/// experiment still needs one of the base's.
#[test]
fn re_owning_an_experiment_needs_its_base_owners() {
    let pr = kims_experiment();
    pr.edit(CHECKLIST, "owners = [\"kim\"]", "owners = [\"dana\"]");
    let head = pr.commit();
    let (code, report) = pr.review_json("alice", &reviews(&[("dana", "APPROVED", &head)]));
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("approvals_missing"))
    );
    assert_eq!(
        experiment_requirements(&report),
        [r#"file `flags/experiments/growth/onboarding-checklist.toml` | ["kim"] | 1"#]
    );
    let (code, report) = pr.review_json("alice", &reviews(&[("kim", "APPROVED", &head)]));
    assert_eq!((code, report["verdict"].as_str()), (0, Some("approved")));
}

/// Gives the checklist variants of growth/onboarding-checklist's split 80% instead of 50%, in
/// every environment that splits it (staging and production).
fn widen_checklist_split(pr: &Pr) {
    let from = "split = { control = 50, checklist = 25, guided-tour = 25 }";
    let to = "split = { control = 20, checklist = 40, guided-tour = 40 }";
    let text = std::fs::read_to_string(pr.path(CHECKLIST_FLAG)).unwrap();
    assert_eq!(
        text.matches(from).count(),
        2,
        "staging and production split it"
    );
    std::fs::write(pr.path(CHECKLIST_FLAG), text.replace(from, to)).unwrap();
}

/// Renaming an experiment's file is its removal and a new experiment on the same flag: both
/// need the base's owners.
#[test]
fn renaming_an_experiment_file_needs_its_base_owners() {
    let pr = kims_experiment();
    let text = std::fs::read_to_string(pr.path(CHECKLIST)).unwrap();
    let text = text.replace("owners = [\"kim\"]", "owners = [\"dana\"]");
    std::fs::write(pr.path("experiments/growth/checklist-v3.toml"), text).unwrap();
    std::fs::remove_file(pr.path(CHECKLIST)).unwrap();
    let head = pr.commit();
    let (code, report) = pr.review_json("alice", &reviews(&[("dana", "APPROVED", &head)]));
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("approvals_missing"))
    );
    assert_eq!(
        experiment_requirements(&report),
        [
            r#"file `flags/experiments/growth/checklist-v3.toml` | ["kim"] | 1"#,
            r#"file `flags/experiments/growth/onboarding-checklist.toml` | ["kim"] | 1"#,
            // The experiment's key gates the flag's split: the rename changes who gets what.
            r#"flag `growth/onboarding-checklist` in production | ["kim"] | 1"#,
        ]
    );
}

/// Deleting the experiment in the pull request that changes its flag's split does not take
/// the split out of the experiment owners' reach.
#[test]
fn deleting_an_experiment_and_changing_its_split_needs_its_base_owners() {
    let pr = kims_experiment();
    std::fs::remove_file(pr.path(CHECKLIST)).unwrap();
    widen_checklist_split(&pr);
    let head = pr.commit();
    let (code, report) = pr.review_json("alice", &reviews(&[("dana", "APPROVED", &head)]));
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("approvals_missing"))
    );
    // Production only: the experiment does not run in staging.
    assert_eq!(
        experiment_requirements(&report),
        [
            r#"file `flags/experiments/growth/onboarding-checklist.toml` | ["kim"] | 1"#,
            r#"flag `growth/onboarding-checklist` in production | ["kim"] | 1"#,
        ]
    );
}

/// Pointing another experiment at the flag changes its split: the owners of the experiment
/// the base runs on it approve.
#[test]
fn moving_the_flag_to_another_experiment_needs_the_base_experiment_s_owners() {
    let pr = kims_experiment();
    std::fs::remove_file(pr.path(CHECKLIST)).unwrap();
    pr.edit(
        "experiments/growth/pricing-page-headline.toml",
        "flag = \"growth/pricing-page-headline\"",
        "flag = \"growth/onboarding-checklist\"",
    );
    let head = pr.commit();
    let (code, report) = pr.review_json("alice", &reviews(&[("eli", "APPROVED", &head)]));
    assert_ne!(report["verdict"], "approved");
    let required = experiment_requirements(&report);
    assert!(
        required.contains(
            &r#"file `flags/experiments/growth/pricing-page-headline.toml` | ["kim"] | 1"#
                .to_owned()
        ),
        "{code} {required:?}"
    );
}

/// The experiment kinds: a start, and, after the start, allocation and metrics changes, which
/// rules can single out; before the start they are ordinary edits.
#[test]
fn review_rules_target_experiment_changes_after_their_start() {
    let mut pr = Pr::new();
    pr.edit(
        "flagstone.toml",
        "[[review.rules]]\n",
        "[[review.rules]]\nname = \"running experiments\"\nchanges = [\"experiment-metrics\", \"experiment-allocation\", \"experiment-stop\"]\nfrom = [\"@platform\"]\n\n[[review.rules]]\n",
    );
    pr.base = pr.commit();
    pr.edit(CHECKLIST, "alpha = 0.05", "alpha = 0.1");
    pr.edit(CHECKLIST, "range = [0, 60]", "range = [0, 50]");
    pr.edit(CHECKLIST, "end = 2027-01-12", "end = 2026-12-10");
    let head = pr.commit();
    let kinds = |report: &Value| report["changes"][0]["kinds"].clone();
    // Before the start: ordinary edits.
    let (_, report) = pr.review_json("alice", &reviews(&[("dana", "APPROVED", &head)]));
    assert_eq!(kinds(&report), serde_json::json!(["files"]));
    assert_eq!(report["verdict"], "approved");
    pr.now = "2026-12-05";
    let (code, report) = pr.review_json("alice", &reviews(&[("dana", "APPROVED", &head)]));
    assert_eq!(
        kinds(&report),
        serde_json::json!([
            "files",
            "experiment-stop",
            "experiment-allocation",
            "experiment-metrics"
        ])
    );
    assert_eq!(
        report["changes"][0]["details"],
        serde_json::json!([
            "experiment settings changed",
            "about growth/onboarding-checklist",
            "experiment-stop: it stops allocating units sooner (start 2026-12-01 → 2026-12-01, end 2027-01-12 → 2026-12-10)",
            "experiment-allocation: `range` [0, 60] → [0, 50]",
            "experiment-metrics: `alpha` 0.05 → 0.1",
        ])
    );
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("approvals_missing"))
    );
    assert!(
        requirements(&report).contains(
            &"file `flags/experiments/growth/onboarding-checklist.toml` | running experiments |  | 1"
                .to_owned()
        ),
        "{report}"
    );
}

/// A start moved to today begins allocating units; so does a new experiment that starts now.
#[test]
fn moving_an_experiment_s_start_to_today_is_a_start() {
    let pr = Pr::new();
    pr.edit(CHECKLIST, "start = 2026-12-01", "start = 2026-11-26");
    pr.commit();
    let (_, report) = pr.review_json("alice", "[]");
    assert_eq!(
        report["changes"][0]["kinds"],
        serde_json::json!(["files", "experiment-start"])
    );
}

/// After the start, a change of the flag's split in an environment the experiment runs in is
/// an allocation change too.
#[test]
fn a_split_change_after_the_start_is_an_allocation_change() {
    let mut pr = Pr::new();
    widen_checklist_split(&pr);
    pr.commit();
    pr.now = "2026-12-05";
    let (_, report) = pr.review_json("alice", "[]");
    let kinds: Vec<String> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{} {}", c["change"].as_str().unwrap(), c["kinds"]))
        .collect();
    assert_eq!(
        kinds,
        [
            r#"flag `growth/onboarding-checklist` in staging ["targeting"]"#,
            r#"flag `growth/onboarding-checklist` in production ["targeting","experiment-allocation"]"#,
        ]
    );
}
