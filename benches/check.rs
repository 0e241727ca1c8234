//! `flagstone check` on synthetic repositories (see benches/support/synth.rs), and on a flood
//! of findings: `cargo bench --bench check`

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

/// A repository whose one flag has `tags` of 100,000 numbers where strings belong: 600 KB, and
/// 100,000 findings before grouping.
fn flood() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let tags = vec!["1234"; 100_000].join(", ");
        let flag =
            format!("description = \"d\"\nowners = [\"alice\"]\nkind = \"ops\"\ntags = [{tags}]\n");
        std::fs::create_dir(dir.path().join("flags")).unwrap();
        std::fs::write(dir.path().join("flags/big.toml"), flag).unwrap();
        std::fs::write(
            dir.path().join("flagstone.toml"),
            "name = \"acme\"\nenvironments = [\"production\"]\n",
        )
        .unwrap();
        dir
    })
    .path()
}

/// `check` of the flood end to end in process: load, check, group, render (under 1 MB).
#[divan::bench(args = ["human", "json"], sample_count = 20, sample_size = 1)]
fn flood_600_kb(bencher: divan::Bencher, format: &str) {
    let dir = flood();
    let options = options();
    bencher.bench(|| {
        let repo = flagstone::load::load(dir).unwrap();
        let diagnostics = flagstone::check::check(&repo, &options).diagnostics;
        let mut out = Vec::new();
        match format {
            "human" => flagstone::cli::render::human::diagnostics(&mut out, &repo, &diagnostics),
            _ => flagstone::cli::render::json::diagnostics(&mut out, &repo, &diagnostics),
        }
        .unwrap();
        assert!(out.len() < 1_000_000, "{} bytes", out.len());
        out.len()
    });
}
