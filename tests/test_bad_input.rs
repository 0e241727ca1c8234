//! Broken files give located findings, never a panic, and never hide the other files'.

use crate::support::{NOW, PROJECT, assert_file, findings, repo, root, run};

/// A valid flag with one semantic error, to show that the other files are still checked.
const GOOD_FLAG_WITH_TYPO: &[u8] = b"description = \"d\"
owners = [\"alice\"]
kind = \"ops\"

[[env.production.rules]]
name = \"us\"
if = [{ attr = \"contry\", op = \"in\", values = [\"US\"] }]
serve = \"on\"
";

#[test]
fn every_broken_file_is_located_and_the_rest_still_checked() {
    let huge = vec![b'#'; 10 * 1024 * 1024];
    let deep = format!("x = {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let dotted = format!("{} = 1\n", vec!["a"; 10_000].join("."));
    let duplicates: String = (0..30)
        .map(|i| format!("description = \"{i}\"\n"))
        .collect();
    let dir = repo(&[
        ("flagstone.toml", PROJECT),
        ("flags/a-good.toml", GOOD_FLAG_WITH_TYPO),
        ("flags/binary.toml", b"\x00\x01\x02\xff\xfe\x00"),
        ("flags/deep.toml", deep.as_bytes()),
        ("flags/dotted.toml", dotted.as_bytes()),
        ("flags/duplicates.toml", duplicates.as_bytes()),
        ("flags/empty.toml", b""),
        ("flags/huge.toml", &huge),
        ("flags/latin1.toml", b"description = \"caf\xe9\"\n"),
        (
            "flags/truncated.toml",
            b"description = \"x\"\n[env.production\n",
        ),
    ]);
    let found = findings(dir.path());
    let mut expected = vec![
        "FS020 flags/a-good.toml:7:16",
        "FS001 flags/binary.toml:1:4",
        "FS002 flags/deep.toml:1:85",
        "FS002 flags/dotted.toml:1:1",
    ];
    // Each repeated key is reported where it repeats, up to a cap; the count of the rest
    // concerns the whole file, so it comes first.
    let repeated: Vec<String> = (2..=21)
        .map(|line| format!("FS002 flags/duplicates.toml:{line}:1"))
        .collect();
    expected.push("FS002 flags/duplicates.toml:1:1");
    expected.extend(repeated.iter().map(String::as_str));
    expected.extend([
        "FS011 flags/empty.toml:1:1",
        "FS011 flags/empty.toml:1:1",
        "FS011 flags/empty.toml:1:1",
        "FS003 flags/huge.toml:1:1",
        "FS001 flags/latin1.toml:1:19",
        "FS002 flags/truncated.toml:2:16",
    ]);
    assert_eq!(found, expected);

    let (code, stdout, _) = run(
        &["check", "--now", "2026-11-26", "--format", "json"],
        dir.path(),
    );
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        json["diagnostics"].as_array().unwrap().len(),
        expected.len()
    );
}

#[test]
fn a_missing_project_file_is_reported_and_flags_still_checked() {
    let dir = repo(&[(
        "flags/f.toml",
        b"description = \"d\"\nowners = [\"a\"]\nkind = \"ops\"\ncolor = 1\n",
    )]);
    assert_eq!(
        findings(dir.path()),
        ["FS004 flagstone.toml:1:1", "FS010 flags/f.toml:4:1"]
    );
    let (code, stdout, _) = run(&["check", "--now", NOW], dir.path());
    assert_eq!(code, 1);
    assert!(
        stdout.contains("flagstone.toml: the project file is missing"),
        "{stdout}"
    );
}

#[test]
fn a_malformed_project_file_is_reported_as_such() {
    let dir = repo(&[
        (
            "flagstone.toml",
            b"name = \"acme\"\nenvironments = \"production\"\n",
        ),
        (
            "flags/f.toml",
            b"description = \"d\"\nowners = [\"a\"]\nkind = \"ops\"\n",
        ),
    ]);
    assert_eq!(findings(dir.path()), ["FS012 flagstone.toml:2:16"]);
    let dir = repo(&[(
        "flagstone.toml",
        b"name = \"acme\"\nenvironments = [\"p\"\n",
    )]);
    assert_eq!(findings(dir.path()), ["FS002 flagstone.toml:2:20"]);
}

#[test]
fn a_directory_that_is_not_a_flags_repository_is_a_usage_error() {
    let dir = repo(&[("README.md", b"hello")]);
    let (code, stdout, stderr) = run(&["check", "--now", NOW], dir.path());
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(stderr.contains("is not a flags repository"), "{stderr}");
    let (code, _, stderr) = run(
        &["check", "--dir", "no/such/dir", "--now", "2026-11-26"],
        dir.path(),
    );
    assert_eq!(code, 2);
    assert_eq!(stderr, "error: no/such/dir is not a directory\n");
}

#[test]
fn bad_arguments_are_usage_errors() {
    let dir = repo(&[("flagstone.toml", PROJECT)]);
    for args in [
        &["check", "--now", "2026-11-26", "--format", "yaml"][..],
        &["check", "--now", "yesterday"],
        &["check", "--now", "2026-02-30"],
        &["frobnicate"],
        &["check", "--now", "2026-11-26", "--dir", ".", "extra"],
    ] {
        let (code, stdout, stderr) = run(args, dir.path());
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(stdout, "", "{args:?}");
        assert!(!stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn numbers_json_cannot_carry_are_each_located() {
    let flag = b"description = \"d\"
owners = [\"a\"]
kind = \"config\"
[variants]
off = 1.5
on = inf
[[env.production.rules]]
name = \"r\"
rollout = nan
serve = \"on\"
[[env.production.rules]]
name = \"s\"
rollout = 99999999999999999999
serve = \"on\"
";
    let dir = repo(&[("flagstone.toml", PROJECT), ("flags/n.toml", flag)]);
    assert_eq!(
        findings(dir.path()),
        [
            "FS013 flags/n.toml:6:6",
            "FS013 flags/n.toml:9:11",
            "FS013 flags/n.toml:13:11"
        ]
    );
}

#[test]
fn line_endings_do_not_move_findings() {
    let unix = String::from_utf8(GOOD_FLAG_WITH_TYPO.to_vec()).unwrap();
    let windows = unix.replace('\n', "\r\n");
    let found = |text: &str| {
        let dir = repo(&[
            ("flagstone.toml", PROJECT),
            ("flags/f.toml", text.as_bytes()),
        ]);
        findings(dir.path())
    };
    assert_eq!(found(&unix), ["FS020 flags/f.toml:7:16"]);
    assert_eq!(found(&windows), found(&unix));
}

/// miette pads its underline with a width it formats as a u16: a finding past column 65,535
/// panicked (exit 101). A long line is now shown as a window around the finding.
#[test]
fn a_finding_on_a_70_kb_line_is_located_and_shown_as_a_window() {
    let flag = format!(
        "description = \"d\"\nowners = [\"alice\"]\nkind = \"ops\"\ntags = [\"{}\", 1]\n",
        "x".repeat(70_000)
    );
    let dir = repo(&[
        ("flagstone.toml", PROJECT),
        ("flags/wide.toml", flag.as_bytes()),
    ]);
    assert_eq!(findings(dir.path()), ["FS012 flags/wide.toml:4:70013"]);
    let (code, stdout, stderr) = run(&["check", "--now", NOW], dir.path());
    assert_eq!((code, stderr.as_str()), (1, ""));
    assert_file(
        &root().join("tests/snapshots/check/long-line.human.txt"),
        &stdout,
    );
    let (code, stdout, _) = run(&["check", "--now", NOW, "--format", "github"], dir.path());
    assert_eq!(code, 1);
    assert!(
        stdout.starts_with(
            "::error file=flags/wide.toml,line=4,endLine=4,col=70013,endColumn=70014,"
        ),
        "{stdout}"
    );
    // A span over many lines, long ones, is underlined on its first line.
    let rows = format!("  \"{}\",\n", "y".repeat(200)).repeat(30);
    let flag =
        format!("description = \"d\"\nowners = [\"alice\"]\nkind = \"ops\"\ntags = [[\n{rows}]]\n");
    let dir = repo(&[
        ("flagstone.toml", PROJECT),
        ("flags/tall.toml", flag.as_bytes()),
    ]);
    let (code, stdout, _) = run(&["check", "--now", NOW], dir.path());
    assert_eq!(code, 1);
    assert_file(
        &root().join("tests/snapshots/check/long-span.human.txt"),
        &stdout,
    );
}
