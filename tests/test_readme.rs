//! The README's quickstart does what it says (tests/test_examples.rs runs its other examples).

use crate::support::{root, run};

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap()
}

/// The body of the first fenced block of `kind` after `heading`.
fn block_after(text: &str, heading: &str, kind: &str) -> String {
    let start = text.find(heading).unwrap_or_else(|| panic!("no {heading}"));
    let fence = format!("```{kind}\n");
    let body = start + text[start..].find(&fence).unwrap() + fence.len();
    let end = body + text[body..].find("```").unwrap();
    text[body..end].to_owned()
}

#[test]
fn the_quickstart_commands_are_the_ones_tested_here() {
    let commands: Vec<String> = block_after(&readme(), "## Quickstart", "sh")
        .lines()
        .map(|l| l.split('#').next().unwrap().trim().to_owned())
        .collect();
    assert_eq!(
        commands,
        [
            "cargo run --release -- build --dir flags.example --out bundles",
            "cargo test"
        ]
    );
    // `cargo test` is this run; the main job is `build flags.example`, on a day before any of
    // its flags expires (after, build warns, and says so in more lines).
    let out = crate::support::tempdir();
    let out_dir = out.path().to_str().unwrap();
    let (code, stdout, stderr) = run(
        &[
            "build",
            "--dir",
            "flags.example",
            "--out",
            out_dir,
            "--now",
            "2026-11-26",
        ],
        &root(),
    );
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
    assert!(out.path().join("manifest.json").is_file());
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
}
