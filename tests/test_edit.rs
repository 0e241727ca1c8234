//! `kill`, `restore`, `rollout` and `promote`: edits that keep comments and formatting, are
//! checked before they are written, and never leave a file half-written or wrongly edited.

use crate::support::{PROJECT, commit, repo, run};

const FLAG: &str = "# Checkout, one page.
description = \"d\"
owners = [\"alice\"]
kind = \"ops\"

[env.staging]
serve = \"on\"   # everyone in staging

# Production: a gradual rollout.
[env.production]
serve = \"off\"
schedule = [
  { at = 2026-01-01T00:00:00Z, enabled = true },
  { at = 2027-06-01T00:00:00Z, enabled = true, serve = \"on\" },
]

[[env.production.rules]]
name = \"canada\"
if = [{ attr = \"country\", op = \"in\", values = [\"CA\"] }]
serve = \"on\"

[[env.production.rules]]
name = \"gradual\"
rollout = 25 # raised weekly
serve = \"on\"
";

const PATH: &str = "flags/checkout.toml";

fn flags() -> tempfile::TempDir {
    repo(&[("flagstone.toml", PROJECT), (PATH, FLAG.as_bytes())])
}

/// Runs an edit command on the repository at `dir`.
fn edit(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let dir_arg = dir.to_str().unwrap();
    let args = [args, &["--dir", dir_arg, "--now", "2026-11-26"]].concat();
    run(&args, dir)
}

fn text(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join(PATH)).unwrap()
}

#[test]
fn kill_edits_in_place_and_wins_over_the_schedule() {
    let dir = flags();
    let (code, stdout, stderr) = edit(dir.path(), &["kill", "checkout", "--env", "production"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "note: the schedule step at 2026-01-01T00:00:00Z would enable the flag again: it is removed
note: the schedule step at 2027-06-01T00:00:00Z would enable the flag again: it no longer does (its other changes stay)
--- a/flags/checkout.toml
+++ b/flags/checkout.toml
@@ -8,10 +8,10 @@
 
 # Production: a gradual rollout.
 [env.production]
+enabled = false
 serve = \"off\"
 schedule = [
-  { at = 2026-01-01T00:00:00Z, enabled = true },
-  { at = 2027-06-01T00:00:00Z, enabled = true, serve = \"on\" },
+  { at = 2027-06-01T00:00:00Z, serve = \"on\" },
 ]
 
 [[env.production.rules]]
checkout: kill in production: every unit gets the off variant; wrote flags/checkout.toml
"
    );
    // After the remaining step, the flag is still off.
    let context = "{\"targeting_key\":\"u1\",\"country\":\"CA\"}";
    let dir_arg = dir.path().to_str().unwrap();
    let args = [
        "eval",
        "checkout",
        "--env",
        "production",
        "--dir",
        dir_arg,
        "--context",
        context,
        "--now",
        "2027-07-01",
    ];
    let (code, stdout, _) = run(&args, dir.path());
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("checkout = false  (variant off; disabled"),
        "{stdout}"
    );
    // Killing again changes nothing.
    let killed = text(dir.path());
    let (code, stdout, _) = edit(dir.path(), &["kill", "checkout", "--env", "production"]);
    assert_eq!(
        (code, stdout.as_str()),
        (
            0,
            "note: the flag is killed in production already\nno change: flags/checkout.toml is untouched\n"
        )
    );
    assert_eq!(text(dir.path()), killed);
}

#[test]
fn restore_undoes_a_kill_of_a_flag_without_schedule() {
    let dir = flags();
    let (code, _, stderr) = edit(dir.path(), &["kill", "checkout", "--env", "staging"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        text(dir.path())
            .contains("[env.staging]\nenabled = false\nserve = \"on\"   # everyone in staging\n")
    );
    let (code, _, stderr) = edit(dir.path(), &["restore", "checkout", "--env", "staging"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(text(dir.path()), FLAG);
    let (code, stdout, _) = edit(dir.path(), &["restore", "checkout", "--env", "staging"]);
    assert_eq!(
        (code, stdout.as_str()),
        (
            0,
            "note: the flag is not killed in staging\nno change: flags/checkout.toml is untouched\n"
        )
    );
}

#[test]
fn rollout_keeps_the_comment_and_finds_the_only_rule_with_a_rollout() {
    let dir = flags();
    let (code, stdout, stderr) = edit(
        dir.path(),
        &[
            "rollout",
            "checkout",
            "--env",
            "production",
            "--percent",
            "50",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.ends_with(
            "checkout: rule `gradual` rollout 25% → 50% in production; wrote flags/checkout.toml\n"
        ),
        "{stdout}"
    );
    assert_eq!(
        text(dir.path()),
        FLAG.replace("rollout = 25 #", "rollout = 50 #")
    );
    let (code, _, _) = edit(
        dir.path(),
        &[
            "rollout",
            "checkout",
            "--env",
            "production",
            "--percent",
            "12.5",
        ],
    );
    assert_eq!(code, 0);
    assert!(text(dir.path()).contains("rollout = 12.5 # raised weekly\n"));
}

#[test]
fn bad_edits_are_refused_and_leave_the_file_untouched() {
    let dir = flags();
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "rollout",
                "checkout",
                "--env",
                "production",
                "--percent",
                "150",
            ],
            "error: flags/checkout.toml: a rollout is a percentage from 0 to 100 with at most 3 decimals, not 150; the file is untouched\n",
        ),
        (
            &[
                "rollout",
                "checkout",
                "--env",
                "production",
                "--percent",
                "-1",
            ],
            "error: flags/checkout.toml: a rollout is a percentage from 0 to 100 with at most 3 decimals, not -1; the file is untouched\n",
        ),
        (
            &[
                "rollout",
                "checkout",
                "--env",
                "production",
                "--rule",
                "gradul",
                "--percent",
                "5",
            ],
            "error: flags/checkout.toml: production has no rule `gradul`; did you mean `gradual`?; the file is untouched\n",
        ),
        (
            &["rollout", "checkout", "--env", "staging", "--percent", "5"],
            "error: flags/checkout.toml: the flag has no rules in staging; the file is untouched\n",
        ),
        (
            &["kill", "checkout", "--env", "prod"],
            "error: there is no environment `prod`; did you mean `production`?\n",
        ),
        (
            &["kill", "checkot", "--env", "production"],
            "error: there is no flag `checkot`; did you mean `checkout`?\n",
        ),
        (
            &[
                "promote",
                "checkout",
                "--from-env",
                "production",
                "--to-env",
                "production",
            ],
            "error: flags/checkout.toml: cannot promote production to itself; the file is untouched\n",
        ),
    ];
    for (args, message) in cases {
        let (code, stdout, stderr) = edit(dir.path(), args);
        assert_eq!(
            (code, stdout.as_str(), stderr.as_str()),
            (2, "", *message),
            "{args:?}"
        );
        assert_eq!(text(dir.path()), FLAG);
    }
}

#[test]
fn an_edit_that_would_break_the_repository_is_refused() {
    // Raising the first rule to 100% would leave the second unreachable.
    let flag = "description = \"d\"\nowners = [\"alice\"]\nkind = \"ops\"\n[env.production]\nserve = \"off\"\n[[env.production.rules]]\nname = \"everyone\"\nrollout = 50\nserve = \"on\"\n[[env.production.rules]]\nname = \"canada\"\nif = [{ attr = \"country\", op = \"in\", values = [\"CA\"] }]\nserve = \"on\"\n";
    let dir = repo(&[("flagstone.toml", PROJECT), (PATH, flag.as_bytes())]);
    let args = [
        "rollout",
        "checkout",
        "--env",
        "production",
        "--rule",
        "everyone",
        "--percent",
        "100",
    ];
    let (code, stdout, _) = edit(dir.path(), &args);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("FS043"), "{stdout}");
    assert!(
        stdout.ends_with("refused: the edit would make the repository invalid (above); flags/checkout.toml is untouched\n"),
        "{stdout}"
    );
    assert_eq!(text(dir.path()), flag);
}

#[test]
fn a_file_with_syntax_errors_is_refused_but_other_broken_files_do_not_block_a_kill() {
    let broken = format!("{FLAG}\n[env.staging\n");
    let dir = repo(&[
        ("flagstone.toml", PROJECT),
        (PATH, broken.as_bytes()),
        ("flags/other.toml", FLAG.as_bytes()),
        ("flags/unrelated.toml", b"description = \n"),
    ]);
    let (code, stdout, stderr) = edit(dir.path(), &["kill", "checkout", "--env", "staging"]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(
        stderr.starts_with("error: flags/checkout.toml: the file is not valid TOML: "),
        "{stderr}"
    );
    assert!(stderr.ends_with("; the file is untouched\n"), "{stderr}");
    assert_eq!(text(dir.path()), broken);
    // flags/unrelated.toml is broken too, but a kill elsewhere goes through.
    let (code, stdout, _) = edit(dir.path(), &["kill", "other", "--env", "staging"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.ends_with(
        "other: kill in staging: every unit gets the off variant; wrote flags/other.toml\n"
    ));
}

#[test]
fn promote_copies_the_targeting_and_dry_run_writes_nothing() {
    let dir = flags();
    let args = [
        "promote",
        "checkout",
        "--from-env",
        "staging",
        "--to-env",
        "production",
    ];
    let (code, stdout, stderr) = edit(dir.path(), &[&args[..], &["--dry-run"]].concat());
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.ends_with(
        "dry run: checkout: promote staging to production; flags/checkout.toml is untouched\n"
    ));
    assert_eq!(text(dir.path()), FLAG);
    let (code, _, stderr) = edit(dir.path(), &args);
    assert_eq!(code, 0, "{stderr}");
    let promoted = text(dir.path());
    assert!(
        promoted.ends_with("[env.staging]\nserve = \"on\"   # everyone in staging\n\n[env.production]\nserve = \"on\"   # everyone in staging\n"),
        "{promoted}"
    );
    // Promoting again: the same targeting, no change.
    let (code, stdout, _) = edit(dir.path(), &args);
    assert_eq!(
        (code, stdout.as_str()),
        (
            0,
            "note: production already has the same targeting as staging\nno change: flags/checkout.toml is untouched\n"
        )
    );
}

#[test]
fn commit_commits_the_edited_file_alone() {
    let dir = flags();
    let repository = git2::Repository::init(dir.path()).unwrap();
    let mut config = repository.config().unwrap();
    config.set_str("user.name", "Ops").unwrap();
    config.set_str("user.email", "ops@example.com").unwrap();
    commit(&repository, "flags");
    // Staged elsewhere: stays staged, not committed.
    std::fs::write(dir.path().join("notes.txt"), "wip").unwrap();
    let mut index = repository.index().unwrap();
    index.add_path(std::path::Path::new("notes.txt")).unwrap();
    index.write().unwrap();
    let (code, stdout, stderr) = edit(
        dir.path(),
        &["kill", "checkout", "--env", "staging", "--commit"],
    );
    assert_eq!(code, 0, "{stderr}");
    let head = repository.head().unwrap().peel_to_commit().unwrap();
    assert_eq!(
        head.message().unwrap(),
        "checkout: kill in staging: every unit gets the off variant"
    );
    assert!(stdout.ends_with(&format!(
        "committed {}: checkout: kill in staging: every unit gets the off variant\n",
        head.id()
    )));
    // The identity git configuration gives.
    assert_eq!(head.author().name().ok(), Some("Ops"));
    assert_eq!(head.committer().email().ok(), Some("ops@example.com"));
    let tree = head.tree().unwrap();
    assert!(tree.get_path(std::path::Path::new("notes.txt")).is_err());
    let blob = repository
        .find_blob(tree.get_path(std::path::Path::new(PATH)).unwrap().id())
        .unwrap();
    assert_eq!(
        std::str::from_utf8(blob.content()).unwrap(),
        text(dir.path())
    );
    let status = repository.status_file(std::path::Path::new(PATH)).unwrap();
    assert!(status.is_empty(), "{status:?}");
    // With uncommitted changes in the flag's file, --commit refuses.
    std::fs::write(dir.path().join(PATH), text(dir.path()) + "# local\n").unwrap();
    let before = text(dir.path());
    let (code, _, stderr) = edit(
        dir.path(),
        &["kill", "checkout", "--env", "production", "--commit"],
    );
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: flags/checkout.toml has uncommitted changes\nhelp: commit them first, or edit without --commit\n"
    );
    assert_eq!(text(dir.path()), before);
}

/// `--commit` takes its identity as git does: the GIT_AUTHOR_* and GIT_COMMITTER_* variables
/// win over the configuration, dates included.
#[test]
fn commit_takes_git_s_identity_from_the_environment() {
    let dir = flags();
    let repository = git2::Repository::init(dir.path()).unwrap();
    let mut config = repository.config().unwrap();
    config.set_str("user.name", "Config").unwrap();
    config.set_str("user.email", "config@example.com").unwrap();
    commit(&repository, "flags");
    let output = crate::support::flagstone()
        .args([
            "kill",
            "checkout",
            "--env",
            "staging",
            "--commit",
            "--now",
            "2026-11-26",
        ])
        .current_dir(dir.path())
        .env("GIT_AUTHOR_NAME", "Ana On-Call")
        .env("GIT_AUTHOR_EMAIL", "ana@example.com")
        .env("GIT_AUTHOR_DATE", "2026-11-26T03:04:05+01:00")
        .env("GIT_COMMITTER_NAME", "Release Bot")
        .env("GIT_COMMITTER_EMAIL", "bot@example.com")
        .env("GIT_COMMITTER_DATE", "@1764126245 -0500")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let head = repository.head().unwrap().peel_to_commit().unwrap();
    let (author, committer) = (head.author(), head.committer());
    assert_eq!(
        (author.name().ok(), author.email().ok()),
        (Some("Ana On-Call"), Some("ana@example.com"))
    );
    assert_eq!(
        (author.when().seconds(), author.when().offset_minutes()),
        (1_795_658_645, 60)
    );
    assert_eq!(
        (committer.name().ok(), committer.email().ok()),
        (Some("Release Bot"), Some("bot@example.com"))
    );
    assert_eq!(
        (
            committer.when().seconds(),
            committer.when().offset_minutes()
        ),
        (1_764_126_245, -300)
    );
}
