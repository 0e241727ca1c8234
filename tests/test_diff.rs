//! `flagstone diff` between git revisions: semantic changes and blast radius.

use crate::support::{commit, copy_dir, root, run};

/// A git repository holding flags.example at `flags/`, committed once.
fn repository() -> (tempfile::TempDir, git2::Repository) {
    let work = crate::support::tempdir();
    copy_dir(&root().join("flags.example"), &work.path().join("flags"));
    let repository = git2::Repository::init(work.path()).unwrap();
    commit(&repository, "flags");
    (work, repository)
}

fn edit(dir: &std::path::Path, file: &str, from: &str, to: &str) {
    let path = dir.join("flags").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

fn diff_json(dir: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let args = [
        &[
            "diff",
            "--dir",
            "flags",
            "--now",
            "2026-11-26",
            "--format",
            "json",
        ][..],
        extra,
    ]
    .concat();
    let (code, stdout, stderr) = run(&args, dir);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn reformatting_and_reordering_change_nothing() {
    let (work, _repository) = repository();
    let path = work.path().join("flags/flags/checkout/one-page.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    // Swap two top-level keys and add a comment, with CRLF line endings.
    let (d, o) = (
        lines
            .iter()
            .position(|l| l.starts_with("description"))
            .unwrap(),
        lines.iter().position(|l| l.starts_with("owners")).unwrap(),
    );
    lines.swap(d, o);
    let reformatted = format!("# a comment\r\n{}\r\n", lines.join("\r\n"));
    std::fs::write(&path, reformatted).unwrap();
    let (code, stdout, _) = run(
        &["diff", "--dir", "flags", "--now", "2026-11-26"],
        work.path(),
    );
    assert_eq!((code, stdout.as_str()), (0, "0 flags changed\n"));
}

#[test]
fn a_rollout_change_has_an_exact_blast_radius() {
    let (work, _repository) = repository();
    edit(
        work.path(),
        "flags/checkout/one-page.toml",
        "rollout = 25",
        "rollout = 30",
    );
    let diff = diff_json(work.path(), &[]);
    let flags = diff["flags"].as_array().unwrap();
    // checkout/express-pay needs checkout/one-page = on, so it may change too.
    assert_eq!(flags.len(), 2);
    assert_eq!(flags[0]["flag"], "checkout/express-pay");
    assert_eq!(
        flags[0]["environments"][0]["changes"],
        serde_json::json!(["changes through prerequisite `checkout/one-page`"])
    );
    let flags = &flags[1..];
    assert_eq!(flags[0]["flag"], "checkout/one-page");
    assert_eq!(flags[0]["status"], "changed");
    let envs = flags[0]["environments"].as_array().unwrap();
    assert_eq!(envs.len(), 1);
    assert_eq!(envs[0]["environment"], "production");
    assert_eq!(
        envs[0]["changes"][0],
        "rule `north-america-gradual` rollout 25% → 30%"
    );
    assert_eq!(envs[0]["blast_radius"]["percent"], 5.0);
    assert_eq!(envs[0]["blast_radius"]["exact"], true);
}

#[test]
fn a_kill_is_named_and_its_blast_radius_estimated() {
    let (work, _repository) = repository();
    edit(
        work.path(),
        "flags/billing/payment-service-v2.toml",
        "[env.production]\n",
        "[env.production]\nenabled = false\n",
    );
    let diff = diff_json(work.path(), &[]);
    let env = &diff["flags"][0]["environments"][0];
    assert_eq!(env["environment"], "production");
    assert_eq!(env["changes"][0], "killed: every unit gets the off variant");
    assert_eq!(env["blast_radius"]["exact"], false);
    // Estimated by sampling contexts, few of which are new self-serve sign-ups.
    assert_eq!(env["blast_radius"]["exact"], false);
    let percent = env["blast_radius"]["percent"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&percent), "{percent}");
}

#[test]
fn revisions_compare_additions_removals_payloads_and_order() {
    let work = crate::support::tempdir();
    let flags = work.path().join("flags");
    let write = |path: &str, text: &str| {
        let path = flags.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "flagstone.toml",
        "name = \"acme\"\nenvironments = [\"production\"]\n",
    );
    write(
        "flags/old.toml",
        "description = \"Old\"\nowners = [\"a\"]\nkind = \"ops\"\n",
    );
    let model = |temperature: &str, rules: &str| {
        format!(
            "description = \"Model\"\nowners = [\"a\"]\nkind = \"config\"\noff_variant = \"small\"\n\
             [variants]\nsmall = {{ model = \"s\", temperature = {temperature} }}\nlarge = {{ model = \"l\" }}\n\
             [env.production]\nserve = \"small\"\n{rules}"
        )
    };
    let first = "[[env.production.rules]]\nname = \"a\"\nrollout = 10\nserve = \"large\"\n";
    let second = "[[env.production.rules]]\nname = \"b\"\nrollout = 20\nserve = \"large\"\n";
    write(
        "flags/model.toml",
        &model("0.2", &format!("{first}{second}")),
    );
    let repository = git2::Repository::init(work.path()).unwrap();
    let base = commit(&repository, "flags").to_string();
    std::fs::remove_file(flags.join("flags/old.toml")).unwrap();
    write(
        "flags/new.toml",
        "description = \"New\"\nowners = [\"a\"]\nkind = \"ops\"\n",
    );
    write(
        "flags/model.toml",
        &model("0.3", &format!("{second}{first}")),
    );
    commit(&repository, "changes");
    let diff = diff_json(work.path(), &["--base", &base, "--head", "HEAD"]);
    let flag = |key: &str| {
        diff["flags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["flag"] == key)
            .cloned()
            .unwrap_or_else(|| panic!("{key} is not in {diff}"))
    };
    assert_eq!(flag("new")["status"], "added");
    assert_eq!(flag("old")["status"], "removed");
    let model = flag("model");
    assert_eq!(model["status"], "changed");
    let changes = &model["environments"][0]["changes"];
    assert_eq!(
        changes[0],
        "variant `small` value:\n@@ -1,4 +1,4 @@\n {\n   \"model\": \"s\",\n-  \"temperature\": 0.2\n+  \"temperature\": 0.3\n }\n"
    );
    assert_eq!(changes[1], "rules reordered: a, b → b, a");
    assert_eq!(model["environments"][0]["blast_radius"]["exact"], false);
}

#[test]
fn a_missing_base_revision_is_named() {
    let (work, _repository) = repository();
    let missing = "0123456789abcdef0123456789abcdef01234567";
    let (code, stdout, stderr) = run(
        &[
            "diff",
            "--dir",
            "flags",
            "--base",
            missing,
            "--now",
            "2026-11-26",
        ],
        work.path(),
    );
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(
        stderr.contains(&format!("cannot read revision `{missing}`")),
        "{stderr}"
    );
}

/// Comparing only the flags whose files differ (and what they depend on) finds exactly what
/// comparing every flag finds, including flags reached through a changed segment.
#[test]
fn comparing_only_changed_flags_matches_comparing_all() {
    use flagstone::{build, bundle, check, diff, load};
    let work = crate::support::tempdir();
    copy_dir(&root().join("flags.example"), work.path());
    let base = load::load(&root().join("flags.example")).unwrap();
    let segment = work.path().join("segments/eu.toml");
    let text = std::fs::read_to_string(&segment).unwrap();
    std::fs::write(&segment, text.replace("\"AT\", ", "")).unwrap();
    let flag = work.path().join("flags/checkout/express-pay.toml");
    let text = std::fs::read_to_string(&flag).unwrap();
    assert!(text.contains("prerequisites"));
    std::fs::write(
        &flag,
        text.replacen("serve = ", "serve =  ", 1) + "\n# edited\n",
    )
    .unwrap();
    let head = load::load(work.path()).unwrap();
    let options = crate::support::options();
    let (base_report, head_report) = (check::check(&base, &options), check::check(&head, &options));
    let (b, h) = (
        base_report.checked().unwrap(),
        head_report.checked().unwrap(),
    );
    let keys = diff::flags_to_compare(&base, &head).expect("the project file is the same");
    assert!(keys.contains("checkout/express-pay") && keys.contains("search/semantic-search"));
    let now = options.now_millis;
    let compare = |base_bundles: &[bundle::Bundle], head_bundles: &[bundle::Bundle]| {
        let side = |repo, bundles| diff::Version { repo, bundles };
        diff::diff(side(&base, base_bundles), side(&head, head_bundles), now)
    };
    let all = compare(&build::all(b), &build::all(h));
    let only = compare(&build::only(b, &keys), &build::only(h, &keys));
    let json = |d: &diff::Diff| serde_json::to_string_pretty(d).unwrap();
    assert_eq!(json(&only), json(&all));
    let [eu] = &all.segments[..] else {
        panic!("{}", json(&all))
    };
    assert_eq!(eu.segment, "eu");
    // Through eu-beta, which tests eu.
    assert!(
        eu.affected_flags
            .contains(&"search/semantic-search".to_owned())
    );
}

#[test]
fn schedule_changes_are_spelled_out_and_a_scheduled_raise_is_a_rollout() {
    let (work, _repository) = repository();
    edit(
        work.path(),
        "flags/dashboard/new-navigation.toml",
        "  { at = 2027-02-08T09:00:00Z, rollout = 100 },\n",
        "",
    );
    edit(
        work.path(),
        "flags/checkout/one-page.toml",
        "[env.production]\n",
        "[env.production]\nschedule = [{ at = 2027-03-01T12:00:00Z, serve = \"on\" }]\n",
    );
    let diff = diff_json(work.path(), &[]);
    let change = |flag: &str| {
        let flags = diff["flags"].as_array().unwrap();
        let flag = flags.iter().find(|f| f["flag"] == flag).unwrap();
        flag["environments"][0].clone()
    };
    let navigation = change("dashboard/new-navigation");
    assert_eq!(
        navigation["changes"],
        serde_json::json!([
            "rule `progressive` schedule: at 2027-01-11T09:00:00.000Z 25%; at 2027-01-25T09:00:00.000Z 50%; at 2027-02-08T09:00:00.000Z 100% → at 2027-01-11T09:00:00.000Z 25%; at 2027-01-25T09:00:00.000Z 50%"
        ])
    );
    assert_eq!(navigation["kinds"], serde_json::json!(["rollout"]));
    // Removing the step to 100% raises nothing.
    assert!(navigation.get("rollout_to").is_none(), "{navigation}");
    let one_page = change("checkout/one-page");
    assert_eq!(
        one_page["changes"],
        serde_json::json!(["schedule: none → at 2027-03-01T12:00:00.000Z serves `on`"])
    );
    // Adding the step back is a raise to 100%, which review rules see.
    let (work, _repository) = repository();
    edit(
        work.path(),
        "flags/dashboard/new-navigation.toml",
        "  { at = 2027-02-08T09:00:00Z, rollout = 100 },\n",
        "",
    );
    let repository = git2::Repository::open(work.path()).unwrap();
    commit(&repository, "without the last step");
    edit(
        work.path(),
        "flags/dashboard/new-navigation.toml",
        "  { at = 2027-01-25T09:00:00Z, rollout = 50 },\n",
        "  { at = 2027-01-25T09:00:00Z, rollout = 50 },\n  { at = 2027-02-08T09:00:00Z, rollout = 100 },\n",
    );
    let diff = diff_json(work.path(), &[]);
    assert_eq!(diff["flags"][0]["environments"][0]["rollout_to"], 100.0);
}

#[test]
fn a_changed_experiment_slice_is_a_behaviour_change_of_its_flag() {
    let (work, _repository) = repository();
    edit(
        work.path(),
        "experiments/growth/onboarding-checklist.toml",
        "range = [0, 60]",
        "range = [0, 50]",
    );
    let diff = diff_json(work.path(), &[]);
    let flags = diff["flags"].as_array().unwrap();
    assert_eq!(flags.len(), 1, "{diff}");
    assert_eq!(flags[0]["flag"], "growth/onboarding-checklist");
    let env = &flags[0]["environments"][0];
    assert_eq!(env["environment"], "production");
    assert_eq!(
        env["changes"][0],
        "experiment: `growth/onboarding-checklist` (control `control`, holdout `growth-2027` 5%, layer `acquisition` [0%, 60%)) → `growth/onboarding-checklist` (control `control`, holdout `growth-2027` 5%, layer `acquisition` [0%, 50%))"
    );
    // Estimated by sampling contexts, few of which are new self-serve sign-ups.
    assert_eq!(env["blast_radius"]["exact"], false);
    let percent = env["blast_radius"]["percent"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&percent), "{percent}");
}

/// Bundles of one environment before and after an edit of a small repository: a flag that
/// serves "on" to paying customers in the US.
fn bundle_pair(flag: &str, edited: &str) -> (flagstone::bundle::Bundle, flagstone::bundle::Bundle) {
    let build = |flag: &str| {
        let dir = crate::support::repo(&[
            ("flagstone.toml", PROJECT_WITH_PLAN.as_bytes()),
            ("flags/f.toml", flag.as_bytes()),
        ]);
        let repo = flagstone::load::load(dir.path()).unwrap();
        let report = flagstone::check::check(&repo, &crate::support::options());
        let bundles = flagstone::build::all(report.checked().expect("it checks"));
        bundles
            .into_iter()
            .find(|b| b.environment == "production")
            .unwrap()
    };
    (build(flag), build(edited))
}

const PROJECT_WITH_PLAN: &str = r#"name = "acme"
environments = ["production"]

[attributes]
country = { type = "string", values = ["US", "CA", "DE"] }
plan = { type = "string", values = ["free", "pro"] }
"#;

const FLAG: &str = r#"description = "f"
owners = ["alice"]
kind = "ops"

[env.production]
serve = "off"

[[env.production.rules]]
name = "us"
if = [{ attr = "country", op = "in", values = ["US"] }]
serve = "on"
"#;

/// A population whose answer is counted by hand: 1,000 units, of which every third is in the
/// US and every fifth on the pro plan.
fn known_population() -> Vec<serde_json::Value> {
    (0..1000)
        .map(|i| {
            serde_json::json!({
                "targeting_key": format!("u{i}"),
                "country": if i % 3 == 0 { "US" } else { "DE" },
                "plan": if i % 5 == 0 { "pro" } else { "free" },
            })
        })
        .collect()
}

#[test]
fn an_estimated_blast_radius_is_the_exact_share_of_a_known_population() {
    let now = 1_796_083_200_000;
    let units = known_population();
    // Narrowing the rule to US units on the pro plan: the US units on the free plan (every
    // third unit but not every fifth: 334 − 67 = 267) lose "on".
    let narrowed = FLAG.replace(
        "if = [{ attr = \"country\", op = \"in\", values = [\"US\"] }]",
        "if = [{ attr = \"country\", op = \"in\", values = [\"US\"] }, { attr = \"plan\", op = \"in\", values = [\"pro\"] }]",
    );
    let (base, head) = bundle_pair(FLAG, &narrowed);
    let radius = flagstone::diff::blast_radius_on(&base, &head, "f", &units, now);
    assert_eq!((radius.percent, radius.exact), (26.7, false));
    assert!(
        radius.upper > 26.7 && radius.upper < 30.0,
        "{}",
        radius.upper
    );

    // Serving "on" to everyone by default changes the 666 units outside the US.
    let (base, head) = bundle_pair(FLAG, &FLAG.replace("serve = \"off\"", "serve = \"on\""));
    let radius = flagstone::diff::blast_radius_on(&base, &head, "f", &units, now);
    assert_eq!(radius.percent, 66.6);

    // A change that serves nothing differently.
    let (base, head) = bundle_pair(FLAG, &FLAG.replace("name = \"us\"", "name = \"usa\""));
    let radius = flagstone::diff::blast_radius_on(&base, &head, "f", &units, now);
    assert_eq!(radius.percent, 0.0);
    assert!(
        (radius.upper - 0.382_675_848_6).abs() < 1e-9,
        "{}",
        radius.upper
    );
}

/// The synthetic units see a half-rollout for what it is: about half of everyone (the
/// standard error of 2,000 units is 1.1 points).
#[test]
fn the_synthetic_estimate_of_a_half_rollout_is_about_half() {
    let (work, repository) = repository();
    let flag = "flags/flags/ops/plain.toml";
    let text = "description = \"plain\"\nowners = [\"alice\"]\nkind = \"ops\"\n\n[env.production]\nserve = \"off\"\n";
    std::fs::create_dir_all(work.path().join("flags/flags/ops")).unwrap();
    std::fs::write(work.path().join(flag), text).unwrap();
    commit(&repository, "plain");
    let half = format!(
        "{text}\n[[env.production.rules]]\nname = \"half\"\nrollout = 50\nserve = \"on\"\n"
    );
    std::fs::write(work.path().join(flag), half).unwrap();
    let diff = diff_json(work.path(), &[]);
    let flag = &diff["flags"][0];
    assert_eq!(flag["flag"], "ops/plain");
    let radius = &flag["environments"][0]["blast_radius"];
    let percent = radius["percent"].as_f64().unwrap();
    assert!((46.0..54.0).contains(&percent), "{radius}");
    assert_eq!(radius["exact"], false);
}

/// Past its `expires` date a flag still builds, but a change to it must extend the date or
/// remove the flag; a kill alone is never held up, and other flags' expiry blocks nothing.
#[test]
fn a_change_to_an_expired_flag_is_an_error_unless_it_only_kills() {
    let after_expiry = "2027-05-01";
    let (work, _repository) = repository();
    edit(
        work.path(),
        "flags/checkout/one-page.toml",
        "rollout = 25",
        "rollout = 30",
    );
    let args = ["diff", "--dir", "flags", "--now", after_expiry];
    let (code, stdout, _) = run(&args, work.path());
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(
        stdout,
        "FS051(expired)

  × the flag expired on 2027-04-30
   ╭─[flags/checkout/one-page.toml:5:11]
 4 │ kind = \"release\"
 5 │ expires = 2027-04-30
   ·           ──────────
 6 │ tags = [\"checkout\", \"conversion\"]
   ╰────
  help: the change touches this flag: extend `expires`, or remove the flag from code and from this
        repository

✗ 20 flags, 6 segments, 3 test files, 2 experiments checked: 1 error, 0 warnings
"
    );
    // Before the date the same change is fine, and so is, after it, a change to a flag that
    // has not expired.
    assert_eq!(
        run(
            &["diff", "--dir", "flags", "--now", "2027-04-30"],
            work.path()
        )
        .0,
        0
    );
    let (work, _repository) = repository();
    edit(
        work.path(),
        "flags/ai/assistant.toml",
        "expires = 2027-07-31",
        "expires = 2027-08-31",
    );
    assert_eq!(run(&args, work.path()).0, 0);
    // A kill of the expired flag passes.
    let (work, _repository) = repository();
    let kill = [
        "kill",
        "checkout/one-page",
        "--dir",
        "flags",
        "--env",
        "production",
        "--now",
        after_expiry,
    ];
    let (code, stdout, _) = run(&kill, work.path());
    assert_eq!(code, 0, "{stdout}");
    let (code, stdout, stderr) = run(&args, work.path());
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("checkout/one-page (changed)\n  production:\n    - killed: "),
        "{stdout}"
    );
}

/// After an experiment's start, changing its slice and its alpha are named as the experiment
/// kinds, in the file's entry and in its flag's, in every format.
#[test]
fn experiment_changes_after_the_start_are_named_in_every_format() {
    let (work, _repository) = repository();
    let file = "experiments/growth/onboarding-checklist.toml";
    edit(work.path(), file, "range = [0, 60]", "range = [0, 50]");
    edit(work.path(), file, "alpha = 0.05", "alpha = 0.1");
    let args = |format: &str| -> Vec<String> {
        [
            "diff",
            "--dir",
            "flags",
            "--now",
            "2026-12-05",
            "--format",
            format,
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let run_in = |format: &str| {
        let args = args(format);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stdout, stderr) = run(&args, work.path());
        assert_eq!(code, 0, "{stderr}");
        stdout
    };
    let json: serde_json::Value = serde_json::from_str(&run_in("json")).unwrap();
    assert_eq!(
        json["files"][0]["kinds"],
        serde_json::json!(["experiment-allocation", "experiment-metrics"])
    );
    assert_eq!(
        json["flags"][0]["environments"][0]["kinds"],
        serde_json::json!(["targeting", "experiment-allocation"])
    );
    let human = run_in("human");
    assert!(
        human.starts_with(
            "experiment settings flags/experiments/growth/onboarding-checklist.toml (changed)\n  - experiment-allocation: `range` [0, 60] → [0, 50]\n  - experiment-metrics: `alpha` 0.05 → 0.1\n"
        ),
        "{human}"
    );
    assert!(
        human.contains("    - experiment-allocation: experiment `growth/onboarding-checklist` splits these units and has started\n"),
        "{human}"
    );
    let markdown = run_in("markdown");
    assert!(
        markdown.contains("\n  - experiment-metrics\\: <code>alpha</code> 0.05 → 0.1\n"),
        "{markdown}"
    );
    // Before the start, the same edits are the design: no experiment kinds.
    let before = diff_json(work.path(), &[]);
    assert!(before["files"][0].get("kinds").is_none(), "{before}");
}

/// Recording a decision before the end stops the experiment; once decided, serving the decided
/// variant and removing the experiment file act on the decision: neither stops the experiment
/// nor changes its allocation.
#[test]
fn a_decision_stops_the_experiment_and_frees_its_split() {
    let (work, repository) = repository();
    let file = "experiments/growth/onboarding-checklist.toml";
    let path = work.path().join("flags").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let decision =
        "\n[decision]\noutcome = \"shipped\"\nvariant = \"checklist\"\ndate = 2026-12-28\n";
    std::fs::write(&path, format!("{text}{decision}")).unwrap();
    let args = |now| ["diff", "--dir", "flags", "--now", now, "--format", "json"];
    let (code, stdout, stderr) = run(&args("2026-12-28"), work.path());
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        json["files"][0]["kinds"],
        serde_json::json!(["experiment-stop"]),
        "{json}"
    );
    assert!(
        stdout.contains("experiment-stop: decided while running"),
        "{stdout}"
    );
    commit(&repository, "decided");
    std::fs::remove_file(&path).unwrap();
    for _ in ["staging", "production"] {
        edit(
            work.path(),
            "flags/growth/onboarding-checklist.toml",
            "split = { control = 50, checklist = 25, guided-tour = 25 }",
            "serve = \"checklist\"",
        );
    }
    let (code, stdout, stderr) = run(&args("2026-12-29"), work.path());
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        json["flags"][0]["flag"], "growth/onboarding-checklist",
        "{json}"
    );
    assert_eq!(
        json["flags"][0]["environments"].as_array().map(Vec::len),
        Some(2),
        "{json}"
    );
    assert!(!stdout.contains("experiment-"), "{stdout}");
}
