//! Semantic checks at their edges, beyond the one fixture per code.

use crate::support::{PROJECT, findings, repo};

fn flag_repo(flag: &str) -> tempfile::TempDir {
    repo(&[
        ("flagstone.toml", PROJECT),
        ("flags/f.toml", flag.as_bytes()),
    ])
}

const HEAD: &str = "description = \"d\"\nowners = [\"alice\"]\nkind = \"ops\"\n";

#[test]
fn an_inherited_off_variant_is_reported_once() {
    let flag = format!(
        "{HEAD}off_variant = \"of\"\n[env.staging]\nserve = \"on\"\n[env.production]\nserve = \"on\"\n"
    );
    assert_eq!(
        findings(flag_repo(&flag).path()),
        ["FS032 flags/f.toml:4:15"]
    );
}

#[test]
fn a_schedule_is_past_only_when_its_latest_step_is() {
    // Out of order, but one step is still ahead: no FS054.
    let flag = format!(
        "{HEAD}[[env.production.rules]]\nname = \"r\"\nserve = \"on\"\nrollout = 5\nschedule = [\n  {{ at = 2026-12-08T00:00:00Z, rollout = 50 }},\n  {{ at = 2026-11-01T00:00:00Z, rollout = 25 }},\n]\n"
    );
    assert_eq!(
        findings(flag_repo(&flag).path()),
        ["FS053 flags/f.toml:10:10"]
    );
    // A step without an offset does not stop the others from being checked.
    let flag = format!(
        "{HEAD}[[env.production.rules]]\nname = \"r\"\nserve = \"on\"\nschedule = [\n  {{ at = 2026-12-08T00:00:00, rollout = 50 }},\n  {{ at = 2026-11-01T00:00:00Z, rollout = 25 }},\n  {{ at = 2026-10-01T00:00:00Z, rollout = 75 }},\n]\n"
    );
    assert_eq!(
        findings(flag_repo(&flag).path()),
        ["FS026 flags/f.toml:8:10", "FS053 flags/f.toml:10:10"]
    );
}

#[test]
fn allowed_values_respect_ignore_case() {
    let rule = |extra: &str| {
        format!(
            "{HEAD}[[env.production.rules]]\nname = \"r\"\nserve = \"on\"\nif = [{{ attr = \"country\", op = \"in\", values = [\"us\"]{extra} }}]\n"
        )
    };
    assert_eq!(
        findings(flag_repo(&rule("")).path()),
        ["FS022 flags/f.toml:7:48"]
    );
    assert!(findings(flag_repo(&rule(", ignore_case = true")).path()).is_empty());
}

#[test]
fn a_missing_key_is_reported_at_its_own_table() {
    let flag = format!(
        "{HEAD}\n[[env.production.rules]]\nname = \"a\"\nserve = \"on\"\n\n[[env.production.rules]]\nserve = \"on\"\n"
    );
    assert_eq!(
        findings(flag_repo(&flag).path()),
        ["FS011 flags/f.toml:9:1"]
    );
}

#[test]
fn symbolic_links_are_reported_not_followed() {
    let dir = flag_repo(HEAD);
    std::os::unix::fs::symlink(
        dir.path().join("flags/f.toml"),
        dir.path().join("flags/link.toml"),
    )
    .unwrap();
    assert_eq!(findings(dir.path()), ["FS005 flags/link.toml:1:1"]);
}

#[test]
fn test_contexts_are_checked_entry_by_entry() {
    let tests = b"[[cases]]
name = \"c\"
env = \"production\"
context = { targeting_key = 42, country = \"DE\", org = { id = 7 }, \"a.b\" = 1, colour = \"red\" }
variants = { \"f\" = \"on\" }
";
    let dir = repo(&[
        ("flagstone.toml", PROJECT),
        ("flags/f.toml", HEAD.as_bytes()),
        ("tests/t.toml", tests),
    ]);
    // An integer key is fine; "DE" is not allowed; org.id and colour are not declared; a
    // dotted key is not an attribute name.
    assert_eq!(
        findings(dir.path()),
        [
            "FS022 tests/t.toml:4:43",
            "FS020 tests/t.toml:4:49",
            "FS029 tests/t.toml:4:67",
            "FS020 tests/t.toml:4:78",
        ]
    );
}

#[test]
fn the_review_policy_names_declared_teams_and_environments() {
    let base = std::str::from_utf8(PROJECT).unwrap();
    let project = format!(
        "{base}[teams]\nplatform = [\"carol\"]\n[review]\nprotected = [\"owners\", \"@platfrom\"]\nrules = [\n  {{ name = \"a\", from = [\"@nobody\"] }},\n  {{ name = \"a\", environments = [\"prod\"], from = [\"owners\"] }},\n]\n"
    );
    let dir = repo(&[("flagstone.toml", project.as_bytes())]);
    assert_eq!(
        findings(dir.path()),
        [
            "FS013 flagstone.toml:9:14",
            "FS034 flagstone.toml:9:24",
            "FS034 flagstone.toml:11:25",
            "FS048 flagstone.toml:12:12",
            "FS033 flagstone.toml:12:33",
        ]
    );
    // A change kind the policy does not know is a schema error, with the nearest name.
    let project = format!(
        "{base}[review]\nprotected = [\"carol\"]\nrules = [{{ name = \"b\", changes = [\"rolout\"], from = [\"anyone\"] }}]\n"
    );
    let dir = repo(&[("flagstone.toml", project.as_bytes())]);
    assert_eq!(findings(dir.path()), ["FS013 flagstone.toml:8:35"]);
}

/// Owners, team members, `protected` and `from` are GitHub logins or "@team"s (FS072), and
/// team names are team slugs (FS047); a bad name is shown escaped in the message.
#[test]
fn people_are_github_logins_and_teams_are_slugs() {
    let base = std::str::from_utf8(PROJECT).unwrap();
    let longest = "a".repeat(39);
    let too_long = "a".repeat(40);
    let project = format!(
        "{base}[teams]\n\
         core_team = [\"mona-lisa_acme\", \"acme_admin\", \"a\", \"{longest}\", \"X-1-y\"]\n\
         \"bad--team\" = [\"alice\"]\n\
         platform = [\"@core_team\", \"a--b\", \"-a\", \"a-\", \"{too_long}\", \"\", \"x\u{202e}y\", \"a_b_c\", \"a_\", \"a_123456789\"]\n\
         [review]\n\
         protected = [\"@core_team\", \"carol\", \"carol\\n\"]\n\
         rules = [{{ name = \"r\", from = [\"owners\", \"anyone\", \"@org/platform\", \"o|x\", \"@bad--team\", \"@missing\"] }}]\n"
    );
    let flag = "description = \"d\"\nowners = [\"@core_team\", \"anyone\", \"dependabot[bot]\", \"@\", \"a`b\"]\nkind = \"ops\"\n";
    let dir = repo(&[
        ("flagstone.toml", project.as_bytes()),
        ("flags/f.toml", flag.as_bytes()),
    ]);
    assert_eq!(
        findings(dir.path()),
        [
            "FS047 flagstone.toml:8:1",
            "FS072 flagstone.toml:9:13",
            "FS072 flagstone.toml:9:27",
            "FS072 flagstone.toml:9:35",
            "FS072 flagstone.toml:9:41",
            "FS072 flagstone.toml:9:47",
            "FS072 flagstone.toml:9:91",
            "FS072 flagstone.toml:9:95",
            "FS076 flagstone.toml:9:97",
            "FS072 flagstone.toml:9:102",
            "FS072 flagstone.toml:9:111",
            "FS072 flagstone.toml:9:117",
            "FS072 flagstone.toml:11:37",
            "FS076 flagstone.toml:11:43",
            "FS072 flagstone.toml:12:52",
            "FS072 flagstone.toml:12:69",
            "FS034 flagstone.toml:12:90",
            "FS072 flags/f.toml:2:35",
            "FS072 flags/f.toml:2:54",
            "FS072 flags/f.toml:2:59",
        ]
    );
    let loaded = flagstone::load::load(dir.path()).unwrap();
    let report = flagstone::check::check(&loaded, &crate::support::options());
    let messages: Vec<&str> = report
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    for shown in [
        "`x\\u{202e}y` is not a valid GitHub login",
        "`carol\\n` is not a valid GitHub login",
        "`a\\u{60}b` is not a valid GitHub login",
        "`@org/platform` is not a valid team name",
        "team member `@core_team` is not a GitHub login",
    ] {
        assert!(messages.contains(&shown), "{shown:?} not in {messages:#?}");
    }
}

/// The findings of an experiment on flag `f`, which splits `control` and `treatment` in
/// production and has a third variant, `other`, that the split does not serve: `CODE
/// line:column message (help)`.
fn experiment_findings(flag_production: &str, decision: &str) -> Vec<String> {
    let flag = format!(
        "description = \"d\"\nowners = [\"alice\"]\nkind = \"experiment\"\nexpires = 2027-06-01\noff_variant = \"control\"\n\n[variants]\ncontrol = \"a\"\ntreatment = \"b\"\nother = \"c\"\n\n[env.production]\n{flag_production}"
    );
    // Two days are far too few for the plan: FS071 unless decided.
    let experiment = format!(
        "flag = \"f\"\ncontrol = \"control\"\nhypothesis = \"h\"\nowners = [\"alice\"]\nstart = 2026-12-01\nend = 2026-12-02\nenvironments = [\"production\"]\nmde = 0.05\ndaily_units = 1000\n\n[primary]\nname = \"converted\"\nkind = \"binomial\"\nbaseline = 0.3\n{decision}"
    );
    let dir = repo(&[
        ("flagstone.toml", PROJECT),
        ("flags/f.toml", flag.as_bytes()),
        ("experiments/e.toml", experiment.as_bytes()),
    ]);
    let loaded = flagstone::load::load(dir.path()).unwrap();
    let report = flagstone::check::check(&loaded, &crate::support::options());
    report
        .diagnostics
        .iter()
        .map(|d| {
            let p = flagstone::cli::render::position(&loaded, d);
            let help = d.help.as_deref().unwrap_or_default();
            let at = format!("{}:{}", p.start.line, p.start.column);
            format!("{} {at} {} ({help})", d.code.as_str(), d.message)
        })
        .collect()
}

#[test]
fn a_decision_names_an_arm_and_a_day_on_or_after_the_start() {
    const SPLIT: &str =
        "[[env.production.rules]]\nname = \"all\"\nsplit = { control = 50, treatment = 50 }\n";
    let findings = |decision: &str| experiment_findings(SPLIT, decision);
    // Undecided, the experiment is too short for its plan; decided, that no longer matters.
    let undecided = findings("");
    assert_eq!(undecided.len(), 1, "{undecided:?}");
    assert!(undecided[0].starts_with("FS071 6:7 "), "{undecided:?}");
    for fine in [
        "[decision]\noutcome = \"shipped\"\nvariant = \"treatment\"\ndate = 2026-12-01\nnote = \"+6% activation\"\n",
        "[decision]\noutcome = \"abandoned\"\ndate = 2026-12-20\n",
        "[decision]\noutcome = \"abandoned\"\nvariant = \"control\"\ndate = 2026-12-20\n",
    ] {
        assert_eq!(findings(fine), Vec::<String>::new(), "{fine}");
    }
    let cases = [
        (
            "[decision]\noutcome = \"shipped\"\ndate = 2026-12-20\n",
            "FS011 16:11 a shipped experiment's `[decision]` names no `variant` (add `variant = \"...\"`: the arm that won, which everyone gets)",
        ),
        (
            "[decision]\noutcome = \"shipped\"\nvariant = \"control\"\ndate = 2026-12-20\n",
            "FS013 17:11 a shipped experiment ships another variant than the control `control` (when everyone keeps the control, write `outcome = \"abandoned\"`)",
        ),
        (
            "[decision]\noutcome = \"shipped\"\nvariant = \"other\"\ndate = 2026-12-20\n",
            "FS032 17:11 `other` is not an arm of the experiment: flag `f` splits `control`, `treatment` (ship the arm that won: one the split serves)",
        ),
        (
            "[decision]\noutcome = \"shipped\"\nvariant = \"treatmnet\"\ndate = 2026-12-20\n",
            "FS032 17:11 flag `f` has no variant `treatmnet` (did you mean `treatment`?)",
        ),
        (
            "[decision]\noutcome = \"abandoned\"\nvariant = \"treatment\"\ndate = 2026-12-20\n",
            "FS013 17:11 an abandoned experiment keeps the control `control`, not `treatment` (remove `variant`, or write `outcome = \"shipped\"` to ship `treatment`)",
        ),
        (
            "[decision]\noutcome = \"abandoned\"\ndate = 2026-11-30\n",
            "FS070 17:8 the experiment is decided on 2026-11-30 before it starts on 2026-12-01 (`date` is the day it was decided, on or after `start`)",
        ),
        (
            "[decision]\noutcome = \"abandoned\"\ndate = 2026-12-20T10:00:00Z\n",
            "FS026 17:8 `date` must be a date, not a date-time: found 2026-12-20T10:00:00Z (write a TOML date such as 2027-02-01)",
        ),
    ];
    for (decision, expected) in cases {
        assert_eq!(findings(decision), [expected], "{decision}");
    }
    let unknown = findings("[decision]\noutcome = \"won\"\ndate = 2026-12-20\n");
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert!(unknown[0].starts_with("FS013 16:11 "), "{unknown:?}");
}

#[test]
fn a_decided_experiment_whose_split_is_gone_is_removed() {
    let decision =
        "[decision]\noutcome = \"shipped\"\nvariant = \"treatment\"\ndate = 2026-12-20\n";
    assert_eq!(
        experiment_findings("serve = \"treatment\"\n", decision),
        [
            "FS064 7:17 flag `f` serves no split of `control` and another variant in `production` (the experiment is decided: remove the experiment file)"
        ]
    );
}
