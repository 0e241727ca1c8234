//! `check` runs on untrusted pull requests: its output stays small and inert whatever a file
//! holds. Long lines are shown as a window, and control characters never reach a terminal raw.

use std::path::Path;

use flagstone::diag::is_control;
use proptest::prelude::*;

use crate::support::{PROJECT, options, repo};

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
        let render = flagstone::cli::render::human(&mut out, &loaded, &report.diagnostics);
        prop_assert!(render.is_ok());
        let human = String::from_utf8(out).unwrap();
        prop_assert!(!human.chars().any(|c| is_control(c) && c != '\n'), "{}", human);
        prop_assert!(human.lines().all(|l| l.chars().count() < 1_200), "{}", human);
        let mut out = Vec::new();
        prop_assert!(flagstone::cli::render::json(&mut out, &loaded, &report.diagnostics).is_ok());
        let mut out = Vec::new();
        let dot = Path::new(".");
        prop_assert!(flagstone::cli::render::github(&mut out, dot, &loaded, &report.diagnostics).is_ok());
        let mut out = Vec::new();
        let summary = flagstone::cli::render::markdown_summary(&mut out, dot, &loaded, &report.diagnostics);
        prop_assert!(summary.is_ok());
    }
}
