//! `flagstone exposures`: a generated set of exposure files with known counts, read through
//! the binary against a published directory: two splits (one with a sample ratio mismatch),
//! units that saw two variants for each reason, a bundle no longer live, one never found,
//! malformed and truncated lines, and the sessions of one variant in every format.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::support::{NOW, assert_file, repo, root, run};

const SPLIT_FLAG: &str = "description = \"A split\"
owners = [\"alice\"]
kind = \"release\"
expires = 2027-06-30

[env.production]
serve = \"off\"

[[env.production.rules]]
name = \"all\"
split = { off = 50, on = 50 }
";

const TOGGLE: &str = "description = \"A toggle\"
owners = [\"alice\"]
kind = \"release\"
expires = 2027-06-30

[env.production]
serve = \"on\"
";

fn snapshot(name: &str) -> std::path::PathBuf {
    root().join("tests/snapshots/exposures").join(name)
}

/// The hash `build` wrote for production into `out`.
fn built_hash(dir: &Path, out: &str) -> String {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join(out).join("manifest.json")).unwrap())
            .unwrap();
    manifest["environments"][0]["hash"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// One event line, keys in the recorder's order.
fn event(
    time: u32,
    flag: &str,
    variant: &str,
    reason: &str,
    bundle: &str,
    unit: &str,
    session: Option<&str>,
) -> String {
    let time = flagstone::literal::format_timestamp(
        flagstone::literal::parse_timestamp("2026-11-26T10:00:00Z").unwrap()
            + i64::from(time) * 1000,
    );
    let rule = if reason == "rule" {
        ",\"rule\":\"all\""
    } else {
        ""
    };
    let session = session
        .map(|s| format!(",\"session\":\"{s}\""))
        .unwrap_or_default();
    format!(
        "{{\"time\":\"{time}\",\"flag\":\"{flag}\",\"environment\":\"production\",\"variant\":\"{variant}\",\"reason\":\"{reason}\"{rule},\"bundle\":\"{bundle}\",\"unit\":\"{unit}\",\"targeting_key\":\"{unit}\"{session}}}\n"
    )
}

/// A project built and published twice (bundle A, then B with one more flag, so A is no
/// longer live), and three exposure files:
///
/// - `exposures-1.jsonl`, bundle A: 100 units of each split flag, 50/50; `misc/toggle`,
///   which A does not have, once.
/// - `exposures-2.jsonl`, bundle B: 400 more units of each: `exp/balanced` 50/50 (200/200),
///   `exp/skewed` 60/40 (240 on, 160 off: a mismatch, though A's units were 50/50). u0 sees
///   `on` of `exp/balanced` after A served it `off` (bundle changed); u100 sees both from B
///   (context changed). Three fallthrough exposures, one to a variant B lacks, one from a
///   bundle never published, one with an unknown field.
/// - `exposures-3.jsonl`: malformed lines and a last line still being written.
fn setup() -> (tempfile::TempDir, String, String) {
    let dir = repo(&[
        (
            "flagstone.toml",
            b"name = \"acme\"\nenvironments = [\"production\"]\n",
        ),
        ("flags/exp/balanced.toml", SPLIT_FLAG.as_bytes()),
        ("flags/exp/skewed.toml", SPLIT_FLAG.as_bytes()),
    ]);
    let d = dir.path();
    let ok = |args: &[&str]| {
        let (code, out, err) = run(args, d);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
    };
    ok(&["build", "--dir", ".", "--out", "out-a", "--now", NOW]);
    ok(&[
        "publish",
        "--bundles",
        "out-a",
        "--publish-dir",
        "published",
        "--now",
        NOW,
    ]);
    std::fs::write(d.join("flags/misc/toggle.toml"), TOGGLE)
        .or_else(|_| {
            std::fs::create_dir_all(d.join("flags/misc"))
                .and_then(|()| std::fs::write(d.join("flags/misc/toggle.toml"), TOGGLE))
        })
        .unwrap();
    ok(&["build", "--dir", ".", "--out", "out-b", "--now", NOW]);
    ok(&[
        "publish",
        "--bundles",
        "out-b",
        "--publish-dir",
        "published",
        "--now",
        "2026-11-26T13:00:00Z",
    ]);
    let (a, b) = (built_hash(d, "out-a"), built_hash(d, "out-b"));

    let mut first = String::new();
    for i in 0..100u32 {
        let variant = if i % 2 == 0 { "off" } else { "on" };
        let unit = format!("u{i}");
        let session = format!("s-{i}");
        for flag in ["exp/balanced", "exp/skewed"] {
            first += &event(i, flag, variant, "rule", &a, &unit, Some(&session));
        }
    }
    first += &event(
        100,
        "misc/toggle",
        "on",
        "fallthrough",
        &a,
        "u1",
        Some("s-1"),
    );

    let mut second = String::new();
    for i in 100..500u32 {
        let unit = format!("u{i}");
        let session = format!("s-{i}");
        let balanced = if i % 2 == 0 { "off" } else { "on" };
        let skewed = if i % 5 < 3 { "on" } else { "off" };
        second += &event(
            i,
            "exp/balanced",
            balanced,
            "rule",
            &b,
            &unit,
            Some(&session),
        );
        second += &event(i, "exp/skewed", skewed, "rule", &b, &unit, Some(&session));
    }
    // Bundle changed: A served u0 `off`.
    second += &event(600, "exp/balanced", "on", "rule", &b, "u0", Some("s-0b"));
    // Context changed: B served u100 `off` by the split.
    second += &event(
        601,
        "exp/balanced",
        "on",
        "rule",
        &b,
        "u100",
        Some("s-100b"),
    );
    for i in 0..3 {
        let unit = format!("f{i}");
        second += &event(
            602 + i,
            "exp/balanced",
            "off",
            "fallthrough",
            &b,
            &unit,
            None,
        );
    }
    second += &event(610, "exp/balanced", "purple", "fallthrough", &b, "p1", None);
    second += &event(
        611,
        "exp/balanced",
        "off",
        "rule",
        &"f".repeat(64),
        "x1",
        None,
    );
    let with_extra = event(612, "exp/skewed", "off", "disabled", &b, "e1", None);
    second += &with_extra.replace("\"unit\"", "\"recorder\":{\"v\":2},\"unit\"");

    let mut third = String::new();
    writeln!(third, "not json").unwrap();
    writeln!(third, "{{\"flag\":\"exp/balanced\"}}").unwrap();
    third += &event(700, "exp/balanced", "on", "rule", &b, "u1", Some("s-1"))
        .replace("\"time\":\"2026-11-26T", "\"time\":\"26/11/2026 ");
    writeln!(third).unwrap();
    third += &event(701, "exp/balanced", "on", "rule", &b, "u1", Some("s-1"))
        .replace("\"rule\",", "\"guess\",");
    third += &event(702, "exp/balanced", "on", "rule", &b, "u3", Some("s-3"));
    third += &event(703, "exp/balanced", "on", "rule", &b, "u5", Some("s-5"))[..40];

    std::fs::write(d.join("exposures-1.jsonl"), first).unwrap();
    std::fs::write(d.join("exposures-2.jsonl"), second).unwrap();
    std::fs::write(d.join("exposures-3.jsonl"), third).unwrap();
    (dir, a, b)
}

const FILES: [&str; 3] = [
    "exposures-1.jsonl",
    "exposures-2.jsonl",
    "exposures-3.jsonl",
];

fn exposures(dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["exposures"];
    args.extend(FILES);
    args.extend(extra);
    let (code, out, err) = run(&args, dir);
    assert_eq!((code, err.as_str()), (0, ""), "{args:?}");
    out
}

#[test]
fn the_summary_counts_what_the_files_hold() {
    let (dir, a, b) = setup();
    let out = exposures(
        dir.path(),
        &["--publish-dir", "published", "--format", "json"],
    );
    let report: Value = serde_json::from_str(&out).unwrap();
    // 200 + 1 + 800 + 2 + 3 + 1 + 1 + 1 + 1 (file 3's one good line).
    assert_eq!(report["exposures"], 1010);
    assert_eq!(report["malformed"], 5);
    assert_eq!(
        report["incomplete"],
        serde_json::json!(["exposures-3.jsonl:7"])
    );
    // Bundle A's exposures, and the one from a bundle never published: neither is live.
    assert_eq!(report["from_dead_bundles"], 202);
    let flag = |key: &str| {
        report["flags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["flag"] == key)
            .unwrap()
            .clone()
    };
    let balanced = flag("exp/balanced");
    assert_eq!(balanced["latest_bundle"], b.as_str());
    assert_eq!(balanced["multi_variant_units"]["bundle_changed"], 1);
    assert_eq!(balanced["multi_variant_units"]["context_changed"], 1);
    assert_eq!(balanced["unknown_variant"], 1);
    let split = &balanced["splits"][0];
    assert_eq!(split["mismatch"], false);
    // B's units by the rule: 200 + u0 + u100's second variant + u3 on, 200 off.
    assert_eq!(split["arms"][0]["units"], 200);
    assert_eq!(split["arms"][1]["units"], 203);
    let skewed = flag("exp/skewed");
    assert_eq!(skewed["splits"][0]["mismatch"], true);
    assert_eq!(skewed["splits"][0]["arms"][0]["units"], 160);
    assert_eq!(skewed["splits"][0]["arms"][1]["units"], 240);
    assert_eq!(skewed["multi_variant_units"]["total"], 0);
    assert_eq!(flag("misc/toggle")["not_in_bundle"], 1);
    let bundles = report["bundles"].as_array().unwrap();
    let state = |hash: &str| {
        let b = bundles.iter().find(|x| x["hash"] == hash).unwrap();
        (b["found"].clone(), b["live"].clone())
    };
    assert_eq!(state(&a), (Value::Bool(true), Value::Bool(false)));
    assert_eq!(state(&b), (Value::Bool(true), Value::Bool(true)));
    assert_eq!(
        state(&"f".repeat(64)),
        (Value::Bool(false), Value::Bool(false))
    );
    assert_file(&snapshot("summary.json"), &out);
}

#[test]
fn the_summary_in_text_and_markdown() {
    let (dir, _, _) = setup();
    let d = dir.path();
    assert_file(
        &snapshot("summary.txt"),
        &exposures(d, &["--publish-dir", "published"]),
    );
    assert_file(
        &snapshot("summary.md"),
        &exposures(d, &["--publish-dir", "published", "--format", "markdown"]),
    );
    // Without the published directory: no splits, nothing known of liveness.
    assert_file(&snapshot("without-bundles.txt"), &exposures(d, &[]));
}

#[test]
fn the_sessions_of_one_variant() {
    let (dir, _, _) = setup();
    let d = dir.path();
    let query = ["--sessions", "exp/balanced", "--variant", "on"];
    let text = exposures(d, &query);
    // 250 units got `on`, each with its session, plus u0's and u100's new sessions; u3's in
    // the third file is known already.
    assert_eq!(text.lines().count(), 252);
    assert_file(&snapshot("sessions.txt"), &text);
    let csv = exposures(d, &[&query[..], &["--csv", "--env", "production"]].concat());
    assert!(csv.starts_with("session,unit,first_seen\ns-1,u1,2026-11-26T10:00:01.000Z\n"));
    assert_file(&snapshot("sessions.csv"), &csv);
    let json = exposures(d, &[&query[..], &["--format", "json"]].concat());
    let sessions: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(sessions.as_array().unwrap().len(), 252);
    assert_eq!(sessions[0]["unit"], "u1");
}

#[test]
fn a_flag_in_two_environments_needs_env_for_its_sessions() {
    let dir = repo(&[(
        "e.jsonl",
        format!(
            "{}{}",
            event(0, "f", "on", "rule", &"a".repeat(64), "u1", Some("s1")),
            event(0, "f", "on", "rule", &"a".repeat(64), "u1", Some("s1"))
                .replace("production", "staging")
        )
        .as_bytes(),
    )]);
    let args = ["exposures", "e.jsonl", "--sessions", "f", "--variant", "on"];
    let (code, out, err) = run(&args, dir.path());
    assert_eq!((code, out.as_str()), (2, ""));
    assert_eq!(
        err,
        "error: the flag was exposed in more than one environment (production, staging)\nhelp: name one with --env\n"
    );
    let (code, out, _) = run(&[&args[..], &["--env", "staging"]].concat(), dir.path());
    assert_eq!((code, out.as_str()), (0, "s1\n"));
}

#[test]
fn a_missing_file_is_an_error() {
    let dir = repo(&[]);
    let (code, _, err) = run(&["exposures", "nope.jsonl"], dir.path());
    assert_eq!(code, 2);
    assert!(err.starts_with("error: cannot read nope.jsonl: "), "{err}");
}
