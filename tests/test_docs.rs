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
