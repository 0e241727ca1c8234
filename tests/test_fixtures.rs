//! One small repository per diagnostic code (tests/fixtures/<code>-<name>/), each with the
//! exact findings it must produce in `expected.txt`.

use std::collections::BTreeSet;
use std::path::Path;

use flagstone::diag::Code;

use crate::support::{findings, root};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Files too large to commit are described in `GENERATE` as `path size` lines and made here.
fn generate(dir: &Path, spec: &str) {
    for line in spec.lines().filter(|l| !l.trim().is_empty()) {
        let (path, size) = line
            .split_once(' ')
            .expect("GENERATE lines are `path size`");
        let size: usize = size.trim().parse().unwrap();
        let mut content = "# generated filler\n".repeat(size / 19 + 1);
        content.truncate(size);
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

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
        let found = match std::fs::read_to_string(dir.join("GENERATE")) {
            Ok(spec) => {
                let temp = tempfile::tempdir().unwrap();
                copy_dir(dir, temp.path());
                generate(temp.path(), &spec);
                findings(temp.path())
            }
            Err(_) => findings(dir),
        };
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
