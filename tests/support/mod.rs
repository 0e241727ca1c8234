//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The repository root (where Cargo.toml is).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether tests should rewrite their expected files instead of comparing with them.
pub fn updating() -> bool {
    std::env::var_os("FLAGSTONE_UPDATE").is_some_and(|v| v == "1")
}

/// Compares `actual` with the file at `path`, or rewrites the file when updating.
pub fn assert_file(path: &Path, actual: &str) {
    if updating() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with FLAGSTONE_UPDATE=1 to create it)", path.display()));
    if expected != actual {
        panic!(
            "{} differs from what the code produces; run `FLAGSTONE_UPDATE=1 cargo test` and review the diff\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        );
    }
}
