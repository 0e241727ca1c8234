//! Thousands of damaged variants of the example repository: the checker never panics, and
//! every finding points inside the file it names.

use std::path::{Path, PathBuf};

use crate::support::{options, root};

/// xorshift64*: a fixed sequence, so a failure reproduces.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Fragments that make TOML interesting: structure, types, operators, names that exist.
const FRAGMENTS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "=",
    "\"",
    "'",
    ",",
    ".",
    "\n",
    "\r\n",
    "#",
    "\\",
    "\u{0}",
    "é",
    "🦀",
    "nan",
    "inf",
    "-inf",
    "1e999",
    "99999999999999999999",
    "-1",
    "150",
    "12.3456",
    "true",
    "2026-13-45",
    "2026-12-01T09:00:00Z",
    "2026-12-01",
    "[env.production]",
    "[[env.production.rules]]",
    "name = \"x\"",
    "serve = \"on\"",
    "rollout = 50",
    "split = { on = 50, off = 60 }",
    "if = [{ segment = \"beta\" }]",
    "op = \"matches\"",
    "value = \"(\"",
    "attr = \"org.id\"",
    "values = []",
    "kind = \"release\"",
    "expires = 1",
    "prerequisites = [{ flag = \"checkout/one-page\", variant = \"on\" }]",
    "[variants]",
    "off = { a = 1 }",
    "description = 3",
    "owners = []",
    "enabled = \"no\"",
    "context = { org = { id = 1 } }",
    "now = 2026-01-01",
];

/// Deletes, inserts fragments, or inserts stray bytes (which may break UTF-8).
fn mutate(original: &[u8], random: &mut Random) -> Vec<u8> {
    let mut bytes = original.to_vec();
    for _ in 0..1 + random.below(4) {
        let at = random.below(bytes.len() + 1);
        match random.below(4) {
            0 => {
                let end = (at + random.below(40)).min(bytes.len());
                bytes.drain(at..end);
            }
            1 | 2 => {
                let fragment = FRAGMENTS[random.below(FRAGMENTS.len())];
                bytes.splice(at..at, fragment.bytes());
            }
            _ => bytes.insert(at, random.next() as u8),
        }
    }
    bytes
}

/// Copies flags.example to `to`, returning the TOML files' paths.
fn copy_example(to: &Path) -> Vec<PathBuf> {
    let example = root().join("flags.example");
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(&example).sort_by_file_name() {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(&example).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            if target.extension().is_some_and(|x| x == "toml") {
                files.push(target);
            }
        }
    }
    files
}

#[test]
fn damaged_files_never_panic_and_findings_stay_inside_their_files() {
    let dir = crate::support::tempdir();
    let files = copy_example(dir.path());
    let originals: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let mut random = Random(0x5EED_F1A6_0000_0001);
    let mut findings = 0;
    for round in 0..300 {
        // Damage three files at once, so cross-file checks see broken neighbours.
        let damaged: Vec<usize> = (0..3).map(|_| random.below(files.len())).collect();
        for &i in &damaged {
            std::fs::write(&files[i], mutate(&originals[i], &mut random)).unwrap();
        }
        let repo = flagstone::load::load(dir.path()).unwrap();
        let diagnostics = flagstone::check::check(&repo, &options()).diagnostics;
        for d in &diagnostics {
            let text = repo
                .files
                .iter()
                .find(|f| f.path == d.file)
                .map_or("", |f| &f.text);
            if let Some(span) = &d.span {
                assert!(
                    span.start <= span.end && span.end <= text.len(),
                    "round {round}: {d:?} lies outside {} ({} bytes)",
                    d.file,
                    text.len()
                );
            }
        }
        // Every renderer copes with whatever was found.
        let mut out = Vec::new();
        flagstone::cli::render::human::diagnostics(&mut out, &repo, &diagnostics).unwrap();
        flagstone::cli::render::json::diagnostics(&mut out, &repo, &diagnostics).unwrap();
        findings += diagnostics.len();
        for &i in &damaged {
            std::fs::write(&files[i], &originals[i]).unwrap();
        }
    }
    // The damage was real: most rounds produced findings.
    assert!(
        findings > 300,
        "only {findings} findings in 300 damaged rounds"
    );
}
