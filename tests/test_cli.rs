//! The `check` command end to end: exit statuses and every output format, byte for byte.

use crate::support::{PROJECT, assert_file, repo, root, run};

const CHECKOUT: &[u8] = b"description = \"Checkout\"
owners = [\"alice\"]
kind = \"release\"
expires = 2026-12-01

[[env.production.rules]]
name = \"us\"
if = [{ attr = \"country\", op = \"in\", values = [\"UK\"] }]
serve = \"on\"
";

fn snapshot(name: &str, text: &str) {
    assert_file(&root().join("tests/snapshots/check").join(name), text);
}

#[test]
fn every_format_renders_the_same_findings() {
    let dir = repo(&[
        ("flagstone.toml", PROJECT),
        ("flags/checkout.toml", CHECKOUT),
    ]);
    for (format, file) in [
        ("human", "check.human.txt"),
        ("json", "check.json"),
        ("github", "check.github.txt"),
    ] {
        let (code, stdout, stderr) = run(
            &["check", "--now", "2026-11-26", "--format", format],
            dir.path(),
        );
        assert_eq!((code, stderr.as_str()), (1, ""), "{format}");
        snapshot(file, &stdout);
    }
}

#[test]
fn github_annotations_name_paths_from_the_workspace_and_write_a_job_summary() {
    let workspace = repo(&[
        ("flags/flagstone.toml", PROJECT),
        ("flags/flags/checkout.toml", CHECKOUT),
    ]);
    let summary = workspace.path().join("summary.md");
    let output = crate::support::flagstone()
        .args([
            "check",
            "--dir",
            "./flags/",
            "--now",
            "2026-11-26",
            "--format",
            "github",
        ])
        .current_dir(workspace.path())
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.starts_with("::warning file=flags/flags/checkout.toml,line=4,"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n::error file=flags/flags/checkout.toml,line=8,"),
        "{stdout}"
    );
    snapshot(
        "check.summary.md",
        &std::fs::read_to_string(summary).unwrap(),
    );
}

#[test]
fn warnings_alone_exit_zero() {
    let warning_only = String::from_utf8(CHECKOUT.to_vec())
        .unwrap()
        .replace("\"UK\"", "\"US\"");
    let dir = repo(&[
        ("flagstone.toml", PROJECT),
        ("flags/checkout.toml", warning_only.as_bytes()),
    ]);
    let (code, stdout, _) = run(&["check", "--now", "2026-11-26"], dir.path());
    assert_eq!(code, 0);
    assert!(
        stdout.ends_with("! 1 flag, 0 segments, 0 test files checked: 0 errors, 1 warning\n"),
        "{stdout}"
    );
    // After the expiry date the flag is still built: expiry is a warning, so that a
    // repository never stops building (or killing) on a date alone.
    let after_expiry = ["check", "--now", "2026-12-02T00:00:00Z", "--format", "json"];
    let (code, stdout, _) = run(&after_expiry, dir.path());
    assert_eq!(code, 0, "{stdout}");
    let expired =
        "\"code\": \"FS051\",\n      \"name\": \"expired\",\n      \"severity\": \"warning\"";
    assert!(stdout.contains(expired), "{stdout}");
    assert!(
        stdout.contains("\"message\": \"the flag expired on 2026-12-01\""),
        "{stdout}"
    );
    // A team that wants it to fail says so, by name or by number.
    for deny in ["expired", "FS051", "fs051"] {
        let (code, stdout, _) = run(&[&after_expiry[..], &["--deny", deny]].concat(), dir.path());
        assert_eq!(code, 1, "--deny {deny}: {stdout}");
        assert!(
            stdout.contains(&expired.replace("warning", "error")),
            "{stdout}"
        );
    }
    let (code, _, stderr) = run(
        &["check", "--now", "2026-11-26", "--deny", "expird"],
        dir.path(),
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`expird` is not a diagnostic code: see docs/diagnostics.md"),
        "{stderr}"
    );
}
