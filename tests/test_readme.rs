//! The README's commands and examples do what it says.

use crate::support::{repo, root, run};

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
    // `cargo test` is this run; the main job is `build flags.example`.
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().to_str().unwrap();
    let (code, stdout, stderr) = run(
        &["build", "--dir", "flags.example", "--out", out_dir],
        &root(),
    );
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
    assert!(out.path().join("manifest.json").is_file());
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
}

#[test]
fn the_readme_eval_example_is_real_output() {
    let text = readme();
    let command = block_after(&text, "Then ask what a user gets", "sh");
    // One JSON argument without spaces keeps the command splittable on whitespace.
    let argv: Vec<&str> = command
        .split_whitespace()
        .filter(|word| *word != "\\")
        .skip_while(|word| *word != "eval")
        .map(|word| word.trim_matches('\''))
        .collect();
    let (code, stdout, stderr) = run(&argv, &root());
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        block_after(&text, "Then ask what a user gets", "text")
    );
}

#[test]
fn the_readme_flag_checks_clean() {
    let flag = block_after(&readme(), "## A flag is one small file", "toml");
    let dir = repo(&[
        (
            "flagstone.toml",
            b"name = \"acme\"\nenvironments = [\"production\"]\n[attributes]\ncountry = { type = \"string\" }\nemail = { type = \"string\" }\n[teams]\npayments = [\"alice\"]\n",
        ),
        ("segments/staff.toml", b"description = \"Staff\"\nif = [{ attr = \"email\", op = \"ends_with\", values = [\"@acme.com\"] }]\n"),
        ("flags/checkout/one-page.toml", flag.as_bytes()),
    ]);
    let (code, stdout, _) = run(&["check", "--now", "2026-11-26"], dir.path());
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.ends_with("no problems\n"), "{stdout}");
}

#[test]
fn the_readme_diagnostic_is_real_output() {
    let shown = block_after(&readme(), "## `flagstone check`", "text");
    let flag = b"description = \"d\"\nowners = [\"alice\"]\nkind = \"ops\"\n\n[[env.production.rules]]\nname = \"us\"\nif = [{ attr = \"contry\", op = \"in\", values = [\"US\"] }]\nserve = \"on\"\n";
    let dir = repo(&[
        (
            "flagstone.toml",
            b"name = \"acme\"\nenvironments = [\"production\"]\n[attributes]\ncountry = { type = \"string\" }\n",
        ),
        ("flags/checkout/one-page.toml", flag),
    ]);
    let (code, stdout, _) = run(&["check"], dir.path());
    assert_eq!(code, 1);
    assert!(
        stdout.starts_with(&shown),
        "README shows:\n{shown}\nbinary prints:\n{stdout}"
    );
}

#[test]
fn the_readme_analysis_is_an_excerpt_of_real_output() {
    let text = readme();
    let command = block_after(&text, "## Experiments", "sh");
    let argv: Vec<&str> = command
        .split_whitespace()
        .filter(|word| *word != "\\")
        .skip_while(|word| *word != "analyze")
        .collect();
    let (code, stdout, stderr) = run(&argv, &root());
    assert_eq!(code, 0, "{stderr}");
    // The excerpt leaves sections out ("…"); what it shows comes in the same order.
    let mut real = stdout.lines();
    for shown in block_after(&text, "## Experiments", "text").lines() {
        if shown == "…" {
            continue;
        }
        assert!(
            real.any(|line| line == shown),
            "README shows a line the analysis does not print (in this order):\n{shown}\n\nreal output:\n{stdout}"
        );
    }
}
