//! `flagstone check` on synthetic repositories (see benches/support/synth.rs):
//! `cargo bench --bench check`

#[path = "support/synth.rs"]
mod synth;

use std::path::PathBuf;
use std::sync::OnceLock;

fn main() {
    divan::main();
}

/// Repositories are written once per size and shared by every iteration.
fn repository(flags: usize) -> PathBuf {
    static DIRS: OnceLock<tempfile::TempDir> = OnceLock::new();
    let base = DIRS.get_or_init(|| tempfile::tempdir().unwrap()).path();
    let dir = base.join(flags.to_string());
    if !dir.exists() {
        synth::write_repo(&dir, flags).unwrap();
    }
    dir
}

fn options() -> flagstone::check::Options {
    let now_millis = flagstone::literal::parse_timestamp("2026-11-26T12:00:00Z").unwrap();
    flagstone::check::Options { now_millis }
}

/// Load (walk, read, parse, schema-validate, deserialize) and check a whole repository.
#[divan::bench(args = [1_000, 10_000], sample_count = 20, sample_size = 1)]
fn check(bencher: divan::Bencher, flags: usize) {
    let dir = repository(flags);
    let options = options();
    bencher.bench(|| {
        let repo = flagstone::load::load(&dir).unwrap();
        let diagnostics = flagstone::check::check(&repo, &options).diagnostics;
        assert!(diagnostics.is_empty(), "{:?}", diagnostics.first());
        diagnostics.len()
    });
}
