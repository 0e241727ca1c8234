//! Synthetic repositories written once per size for a benchmark, and the time they are
//! checked at.

use std::path::PathBuf;
use std::sync::OnceLock;

/// The repository of `flags` flags ([`super::synth::write_repo`]), written on first use and
/// shared by every iteration.
pub fn repository(flags: usize) -> PathBuf {
    static DIRS: OnceLock<tempfile::TempDir> = OnceLock::new();
    let base = DIRS.get_or_init(|| tempfile::tempdir().unwrap()).path();
    let dir = base.join(flags.to_string());
    if !dir.exists() {
        super::synth::write_repo(&dir, flags).unwrap();
    }
    dir
}

/// The checks' options at the benchmarks' fixed time.
pub fn options() -> flagstone::check::Options {
    let now_millis = flagstone::literal::parse_timestamp("2026-11-26T12:00:00Z").unwrap();
    flagstone::check::Options { now_millis }
}
