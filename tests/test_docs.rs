//! The reference docs cover everything the code knows.

use flagstone::diag::Code;
use flagstone::model::Op;

use crate::support::root;

fn doc(name: &str) -> String {
    std::fs::read_to_string(root().join("docs").join(name)).unwrap()
}

#[test]
fn every_diagnostic_code_has_a_section() {
    let text = doc("diagnostics.md");
    let missing: Vec<String> = Code::ALL
        .iter()
        .map(|c| format!("## {} {}", c.as_str(), c.name()))
        .filter(|heading| !text.lines().any(|l| l == heading))
        .collect();
    assert!(missing.is_empty(), "docs/diagnostics.md lacks {missing:?}");
}

#[test]
fn every_operator_is_in_the_format_reference() {
    let text = doc("format.md");
    let missing: Vec<&str> = Op::ALL
        .iter()
        .map(|op| op.as_str())
        .filter(|op| !text.contains(&format!("`{op}`")))
        .collect();
    assert!(missing.is_empty(), "docs/format.md lacks {missing:?}");
}

/// The first ```text block in the section under `heading`.
fn text_block_after<'a>(text: &'a str, heading: &str) -> Option<&'a str> {
    let start = text.lines().position(|l| l == heading)?;
    let rest: Vec<&str> = text
        .lines()
        .skip(start + 1)
        .take_while(|l| !l.starts_with("## "))
        .collect();
    let open = rest.iter().position(|l| *l == "```text")?;
    let close = open + 1 + rest[open + 1..].iter().position(|l| *l == "```")?;
    let first = rest[open + 1];
    let from = first.as_ptr() as usize - text.as_ptr() as usize;
    let last = rest[close];
    let to = last.as_ptr() as usize - text.as_ptr() as usize;
    Some(&text[from..to])
}

#[test]
fn every_diagnostic_example_is_the_real_output_of_its_fixture() {
    let path = root().join("docs/diagnostics.md");
    let text = doc("diagnostics.md");
    let fixtures = root().join("tests/fixtures");
    let mut wrong = Vec::new();
    let mut actual = Vec::new();
    for code in Code::ALL {
        let name = format!("{}-{}", code.as_str().to_lowercase(), code.name());
        let heading = format!("## {} {}", code.as_str(), code.name());
        let Some(shown) = text_block_after(&text, &heading) else {
            wrong.push(format!("{heading}: no ```text block"));
            continue;
        };
        let repo = crate::support::fixture_repo(&fixtures.join(&name));
        let (_, stdout, _) = crate::support::run(&["check", "--now", "2026-11-26"], &repo);
        if shown != stdout {
            wrong.push(format!(
                "{heading}:\n--- shown\n{shown}--- actual\n{stdout}"
            ));
            actual.push((heading, stdout));
        }
    }
    if crate::support::updating() {
        // The page as it is now: other tests may have rewritten other blocks of it.
        crate::support::rewrite(&path, |text| {
            let mut updated = text.to_owned();
            for (heading, stdout) in &actual {
                let shown = text_block_after(&updated, heading).unwrap();
                let at = shown.as_ptr() as usize - updated.as_ptr() as usize;
                let len = shown.len();
                updated.replace_range(at..at + len, stdout);
            }
            updated
        });
        return;
    }
    assert!(
        wrong.is_empty(),
        "{}\n(run `FLAGSTONE_UPDATE=1 cargo test` to rewrite the examples)",
        wrong.join("\n")
    );
}
