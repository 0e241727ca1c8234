//! `check` runs on untrusted pull requests: its output stays small and inert whatever a file
//! holds. Like findings in one array are grouped, a file lists at most 20 findings, long lines
//! are shown as a window, and control characters never reach a terminal raw
//! (docs/diagnostics.md, "Long reports").

use std::path::Path;

use flagstone::diag::is_control;
use proptest::prelude::*;
use serde_json::Value;

use crate::support::{NOW, PROJECT, assert_file, findings, options, repo, root, run};

fn snapshot(name: &str, text: &str) {
    assert_file(&root().join("tests/snapshots/check").join(name), text);
}

/// A valid flag but for `tags`, which holds `count` numbers where strings belong.
fn numbers_as_tags(count: usize) -> String {
    let tags = vec!["1234"; count].join(", ");
    format!("description = \"d\"\nowners = [\"alice\"]\nkind = \"ops\"\ntags = [{tags}]\n")
}

/// The job summary Markdown, as `--format github` appends it to `$GITHUB_STEP_SUMMARY`.
fn job_summary(dir: &Path) -> String {
    let repo = flagstone::provenance::load(dir).unwrap();
    let report = flagstone::check::check(&repo, &options());
    let mut out = Vec::new();
    flagstone::cli::render::markdown::diagnostics(
        &mut out,
        Path::new("."),
        &repo,
        &report.diagnostics,
    )
    .unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn more_than_ten_like_findings_in_one_array_are_three_and_a_note() {
    let dir = repo(&[
        ("flagstone.toml", PROJECT),
        ("flags/f.toml", numbers_as_tags(12).as_bytes()),
    ]);
    // The note is at the first element it stands for.
    assert_eq!(
        findings(dir.path()),
        [
            "FS012 flags/f.toml:4:9",
            "FS012 flags/f.toml:4:15",
            "FS012 flags/f.toml:4:21",
            "FS012 flags/f.toml:4:27",
        ]
    );
    for (format, file) in [
        ("human", "flood.human.txt"),
        ("json", "flood.json"),
        ("github", "flood.github.txt"),
    ] {
        let (code, stdout, stderr) = run(&["check", "--now", NOW, "--format", format], dir.path());
        assert_eq!((code, stderr.as_str()), (1, ""), "{format}");
        snapshot(file, &stdout);
    }
    snapshot("flood.summary.md", &job_summary(dir.path()));
    let (_, human, _) = run(&["check", "--now", NOW], dir.path());
    assert!(human.contains("\n  × 9 more FS012 findings in `tags` are not shown (12 in all)\n"));
    assert!(human.ends_with(": 12 errors, 0 warnings (9 not shown)\n"));

    // Ten are each worth seeing.
    let dir = repo(&[
        ("flagstone.toml", PROJECT),
        ("flags/f.toml", numbers_as_tags(10).as_bytes()),
    ]);
    assert_eq!(findings(dir.path()).len(), 10);
}

/// The measure of docs/diagnostics.md ("Long reports") and BENCHMARKS.md: 100,000 wrong
/// elements in a 600 KB file print four findings, well under 1 MB in every format.
#[test]
fn a_600_kb_array_of_wrong_elements_prints_four_findings() {
    let flag = numbers_as_tags(100_000);
    assert!((590_000..610_000).contains(&flag.len()), "{}", flag.len());
    let dir = repo(&[
        ("flagstone.toml", PROJECT),
        ("flags/big.toml", flag.as_bytes()),
    ]);
    let (code, human, _) = run(&["check", "--now", NOW], dir.path());
    assert_eq!(code, 1);
    snapshot("flood.100k.human.txt", &human);
    let (_, github, _) = run(&["check", "--now", NOW, "--format", "github"], dir.path());
    assert_eq!(github.lines().count(), 4);
    for format in ["json", "github"] {
        let (code, stdout, _) = run(&["check", "--now", NOW, "--format", format], dir.path());
        assert_eq!(code, 1, "{format}");
        assert!(stdout.len() < 1_000_000, "{format}: {} bytes", stdout.len());
    }
    assert!(human.len() < 1_000_000);
    let (_, json, _) = run(&["check", "--now", NOW, "--format", "json"], dir.path());
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["suppressed"], 99_997);
    let listed = json["diagnostics"].as_array().unwrap();
    assert_eq!(listed.len(), 4);
    assert_eq!(listed[3]["left_out"], 99_997);
    assert_eq!(
        (listed[3]["line"].clone(), listed[3]["column"].clone()),
        (4.into(), 27.into())
    );
    assert!(listed[..3].iter().all(|d| d.get("left_out").is_none()));
}

#[test]
fn a_file_lists_twenty_findings_and_counts_the_rest_per_severity() {
    // Each rule has its own conditions (no grouping), a schedule all in the past (a warning)
    // and then an unknown attribute (an error).
    let rules: String = (0..25)
        .map(|i| {
            format!(
                "\n[[env.production.rules]]\nname = \"r{i}\"\nrollout = 5\nschedule = [{{ at = 2026-11-02T09:00:00Z, rollout = 25 }}]\nif = [{{ attr = \"contry\", op = \"in\", values = [\"US\"] }}]\nserve = \"on\"\n"
            )
        })
        .collect();
    let flag = format!("description = \"d\"\nowners = [\"alice\"]\nkind = \"ops\"\n{rules}");
    let dir = repo(&[
        ("flagstone.toml", PROJECT),
        ("flags/f.toml", flag.as_bytes()),
    ]);
    let found = findings(dir.path());
    assert_eq!(found.len(), 22);
    assert_eq!(
        found[..2],
        ["FS078 flags/f.toml:1:1", "FS078 flags/f.toml:1:1"]
    );
    assert_eq!(
        found[2..4],
        ["FS054 flags/f.toml:8:20", "FS020 flags/f.toml:9:16"]
    );
    assert_eq!(found[21], "FS020 flags/f.toml:72:16");

    let (code, stdout, _) = run(&["check", "--now", NOW, "--format", "json"], dir.path());
    assert_eq!(code, 1);
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["suppressed"], 30);
    let notes: Vec<(&str, &str, u64)> = json["diagnostics"].as_array().unwrap()[..2]
        .iter()
        .map(|d| {
            (
                d["severity"].as_str().unwrap(),
                d["message"].as_str().unwrap(),
                d["left_out"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        notes,
        [
            ("error", "15 more errors in this file are not shown", 15),
            ("warning", "15 more warnings in this file are not shown", 15),
        ]
    );
    let (_, human, _) = run(&["check", "--now", NOW], dir.path());
    assert!(
        human.ends_with("checked: 25 errors, 25 warnings (30 not shown)\n"),
        "{human}"
    );
}

/// `--deny` makes warnings errors, those past the cap too: the note that counts them follows.
#[test]
fn denied_warnings_past_the_cap_fail_the_check() {
    let rules: String = (0..25)
        .map(|i| {
            format!(
                "\n[[env.production.rules]]\nname = \"r{i}\"\nrollout = 5\nschedule = [{{ at = 2026-11-02T09:00:00Z, rollout = 25 }}]\nserve = \"on\"\n"
            )
        })
        .collect();
    let flag = format!("description = \"d\"\nowners = [\"alice\"]\nkind = \"ops\"\n{rules}");
    let dir = repo(&[
        ("flagstone.toml", PROJECT),
        ("flags/f.toml", flag.as_bytes()),
    ]);
    let json = |args: &[&str]| {
        let (code, stdout, _) = run(
            &[&["check", "--now", NOW, "--format", "json"], args].concat(),
            dir.path(),
        );
        let json: Value = serde_json::from_str(&stdout).unwrap();
        let note = &json["diagnostics"][0];
        (code, note["severity"].clone(), note["left_out"].clone())
    };
    assert_eq!(json(&[]), (0, "warning".into(), 5.into()));
    assert_eq!(
        json(&["--deny", "schedule-past"]),
        (1, "error".into(), 5.into())
    );
}

#[test]
fn a_message_quoting_a_long_name_is_cut_in_the_middle() {
    let name = "x".repeat(5_000);
    let flag = format!(
        "description = \"d\"\nowners = [\"alice\"]\nkind = \"ops\"\n[[env.production.rules]]\nname = \"r\"\nif = [{{ attr = \"{name}\", op = \"in\", values = [\"US\"] }}]\nserve = \"on\"\n"
    );
    let dir = repo(&[
        ("flagstone.toml", PROJECT),
        ("flags/f.toml", flag.as_bytes()),
    ]);
    let loaded = flagstone::provenance::load(dir.path()).unwrap();
    let report = flagstone::check::check(&loaded, &options());
    let message = &report.diagnostics[0].message;
    assert_eq!(message.chars().count(), 500);
    let expected = format!("unknown attribute `{}…{}`", "x".repeat(380), "x".repeat(99));
    assert_eq!(message, &expected);
}

/// A repository with control and bidirectional characters in every place text can come from:
/// keys, names, descriptions, comments, payloads, a message quoting a name, a file name.
fn hostile_repo() -> tempfile::TempDir {
    let flag = "description = \"\\e[2J\u{202e}cleared\"  # \u{2066}note\u{2069}\nowners = [\"alice\"]\nkind = \"ops\"\ntags = [\"\\e]8;;https://example.com\\u0007x\", \"\u{9b}31m\"]\n[variants]\noff = \"\\u001b[0m\"\non = \"x\"\n[env.\"prod\u{202e}\"]\nserve = \"off\"\n[[env.production.rules]]\nname = \"r\"\nif = [{ attr = \"c\\u0007\\u202eountry\", op = \"in\", values = [\"US\"] }]\nserve = \"on\"\n";
    repo(&[
        ("flagstone.toml", PROJECT),
        ("flags/f.toml", flag.as_bytes()),
        ("flags/x\u{1b}[31my.toml", b"description = \"d\"\n"),
    ])
}

#[test]
fn control_characters_never_reach_a_terminal_or_a_log_raw() {
    let dir = hostile_repo();
    assert_eq!(
        findings(dir.path()),
        [
            "FS005 flags/x\u{1b}[31my.toml:1:1",
            "FS077 flags/f.toml:1:16",
            "FS077 flags/f.toml:1:34",
            "FS076 flags/f.toml:4:10",
            "FS076 flags/f.toml:4:46",
            "FS077 flags/f.toml:6:8",
            "FS033 flags/f.toml:8:6",
            "FS076 flags/f.toml:8:11",
            "FS020 flags/f.toml:12:16",
            "FS076 flags/f.toml:12:18",
        ]
    );
    let raw = |text: &str| text.chars().any(|c| is_control(c) && c != '\n');
    for format in ["human", "github"] {
        let (code, stdout, _) = run(&["check", "--now", NOW, "--format", format], dir.path());
        assert_eq!(code, 1);
        assert!(!raw(&stdout), "{format}:\n{stdout}");
        assert!(stdout.contains("\\u{1b}"), "{format}:\n{stdout}");
    }
    let summary = job_summary(dir.path());
    assert!(!raw(&summary), "{summary}");
    let (_, human, _) = run(&["check", "--now", NOW], dir.path());
    snapshot("control.human.txt", &human);
    // JSON carries the text as it is, with what JSON must escape escaped.
    let (_, json, _) = run(&["check", "--now", NOW, "--format", "json"], dir.path());
    assert!(!json.chars().any(|c| c < ' ' && c != '\n'));
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["diagnostics"][0]["file"], "flags/x\u{1b}[31my.toml");
}

/// Pieces of hostile TOML: long runs, control and bidirectional characters, wide and
/// combining characters, CRLF, and arbitrary strings.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("x".repeat(70_000)),
        Just("界".repeat(30_000)),
        Just("\u{202e}\u{2066}\u{200f}\u{1b}\u{9b}\u{7f}\t\r\n".to_owned()),
        Just("e\u{301}\u{200b}\u{feff}".to_owned()),
        Just("\\u202e\\e\\x1b\\U0001F680\\t".to_owned()),
        Just("\"\"\"\n".to_owned()),
        Just(", 1".repeat(2_000)),
        any::<String>(),
        "[ -~]{0,40}",
    ]
}

/// A flag file with pieces in its keys, values, comments and arrays, or arbitrary bytes.
fn hostile_file() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (piece(), piece(), piece(), piece()).prop_map(|(a, b, c, d)| {
            format!(
                "description = \"{a}\" # {b}\nowners = [\"{c}\", 7]\nkind = \"ops\"\ntags = [\"{d}\", {b}]\n\"{c}\" = '{a}'\n[env.production]\nserve = \"\"\"{d}\"\"\"\n{a}"
            )
            .into_bytes()
        }),
        proptest::collection::vec(any::<u8>(), 0..4096),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        // No regression files: this test may only write to temporary directories.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_file_makes_check_or_a_renderer_panic(file in hostile_file()) {
        let dir = repo(&[("flagstone.toml", PROJECT), ("flags/f.toml", file.as_slice())]);
        let loaded = flagstone::provenance::load(dir.path()).unwrap();
        let report = flagstone::check::check(&loaded, &options());
        let mut out = Vec::new();
        let render = flagstone::cli::render::human::diagnostics(&mut out, &loaded, &report.diagnostics);
        prop_assert!(render.is_ok());
        let human = String::from_utf8(out).unwrap();
        prop_assert!(!human.chars().any(|c| is_control(c) && c != '\n'), "{}", human);
        prop_assert!(human.lines().all(|l| l.chars().count() < 1_200), "{}", human);
        let mut out = Vec::new();
        prop_assert!(flagstone::cli::render::json::diagnostics(&mut out, &loaded, &report.diagnostics).is_ok());
        let mut out = Vec::new();
        let dot = Path::new(".");
        prop_assert!(flagstone::cli::render::github::diagnostics(&mut out, dot, &loaded, &report.diagnostics).is_ok());
        let mut out = Vec::new();
        let summary = flagstone::cli::render::markdown::diagnostics(&mut out, dot, &loaded, &report.diagnostics);
        prop_assert!(summary.is_ok());
    }
}
