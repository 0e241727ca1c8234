//! One small repository per diagnostic code (tests/fixtures/<code>-<name>/), each with the
//! exact findings it must produce in `expected.txt`.

use std::collections::BTreeSet;

use flagstone::diag::Code;

use crate::support::{findings, fixture_repo, root};

#[test]
fn every_code_has_a_fixture_that_reports_exactly_what_it_expects() {
    let fixtures = root().join("tests/fixtures");
    let mut dirs: Vec<_> = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut covered = BTreeSet::new();
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        covered.insert(name.split('-').next().unwrap().to_uppercase());
        let expected = std::fs::read_to_string(dir.join("expected.txt")).unwrap();
        let expected: Vec<&str> = expected.lines().filter(|l| !l.is_empty()).collect();
        let found = findings(&fixture_repo(dir));
        if found != expected {
            failures.push(format!(
                "{name}:\n  expected {expected:?}\n  found    {found:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "fixtures disagree:\n{}",
        failures.join("\n")
    );
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !covered.contains(*c))
        .collect();
    assert!(missing.is_empty(), "codes without a fixture: {missing:?}");
}
