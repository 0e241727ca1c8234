//! Building a repository in a test, and what the bundles are made of.

use std::collections::BTreeMap;
use std::path::Path;

use flagstone::bundle::{Bundle, content_hash};

use super::{options, repo};

/// Loads, checks and builds the repository at `dir`; the error lists the check's errors.
pub fn build_dir(dir: &Path) -> Result<Vec<Bundle>, String> {
    let repo = flagstone::load::load(dir).map_err(|e| e.to_string())?;
    let report = flagstone::check::check(&repo, &options());
    match report.checked() {
        Some(checked) => Ok(flagstone::build::all(checked)),
        None => Err(report
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{} {} {:?}: {}", d.code.as_str(), d.file, d.span, d.message))
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

/// Writes `files` to a temporary repository (in the given order) and builds it.
pub fn build_files(files: &[(String, Vec<u8>)]) -> Result<Vec<Bundle>, String> {
    let borrowed: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_slice()))
        .collect();
    let dir = repo(&borrowed);
    build_dir(dir.path())
}

/// Each environment's canonical bytes and content hash.
pub fn hashes(bundles: &[Bundle]) -> BTreeMap<String, (String, String)> {
    bundles
        .iter()
        .map(|b| {
            let bytes = b.to_canonical_json();
            let hash = content_hash(&bytes);
            (
                b.environment.clone(),
                (String::from_utf8(bytes).unwrap(), hash),
            )
        })
        .collect()
}
