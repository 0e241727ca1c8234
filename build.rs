//! Sets `FLAGSTONE_VERSION`, what `flagstone --version` prints: the package version, and the
//! commit the binary was built from with its commit date, `0.1.0 (1a2b3c4d5e6f 2026-12-05)`.
//!
//! The commit comes from git when flagstone's own repository is the one being built (not when
//! flagstone is a package unpacked inside some other repository), else from the environment
//! variable `FLAGSTONE_BUILD_COMMIT` (`COMMIT` or `COMMIT YYYY-MM-DD`, set by the release
//! workflow), else there is none (`0.1.0`: a crates.io package). There is no `-dirty` mark:
//! this script reruns only when HEAD moves, not on every edit, so it could not keep one true.
//!
//! Nothing flagstone writes (bundles, manifests) contains this string: builds of the same
//! repository by different flagstone binaries stay identical.
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=FLAGSTONE_BUILD_COMMIT");
    let version = env("CARGO_PKG_VERSION").unwrap_or_default();
    // Only the binary prints a version; the library alone (an application embedding the
    // evaluator) spawns no git.
    let commit = if std::env::var_os("CARGO_FEATURE_CLI").is_some() {
        from_git().or_else(from_env)
    } else {
        None
    };
    let version = match commit {
        Some((id, Some(date))) => format!("{version} ({id} {date})"),
        Some((id, None)) => format!("{version} ({id})"),
        None => version,
    };
    println!("cargo::rustc-env=FLAGSTONE_VERSION={version}");
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The short commit id, 12 hex digits, as in the version line.
fn short(id: &str) -> String {
    id.chars().take(12).collect()
}

/// `FLAGSTONE_BUILD_COMMIT`: a commit id, optionally followed by its date.
fn from_env() -> Option<(String, Option<String>)> {
    let value = env("FLAGSTONE_BUILD_COMMIT")?;
    let mut words = value.split_whitespace();
    let id = short(words.next()?);
    Some((id, words.next().map(str::to_owned)))
}

/// Runs git in the package's directory; its trimmed output, if it succeeded.
fn git(manifest_dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(manifest_dir)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    output.status.success().then(|| text.trim().to_owned())
}

/// The commit HEAD names and its date, when the package's directory is the top of a git work
/// tree; also tells cargo to rerun this script when HEAD moves.
fn from_git() -> Option<(String, Option<String>)> {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR")?);
    let top = git(&manifest_dir, &["rev-parse", "--show-toplevel"])?;
    if !same_dir(Path::new(&top), &manifest_dir) {
        return None;
    }
    // A worktree has its own HEAD in its git dir, and shares the branches of the common one.
    let absolute = |p: String| manifest_dir.join(p);
    let git_dir = absolute(git(&manifest_dir, &["rev-parse", "--git-dir"])?);
    let common_dir = absolute(git(&manifest_dir, &["rev-parse", "--git-common-dir"])?);
    watch_head(&git_dir, &common_dir);
    let line = git(
        &manifest_dir,
        &[
            "log",
            "-1",
            "--no-show-signature",
            "--format=%H %cd",
            "--date=short",
        ],
    )?;
    let (id, date) = line.split_once(' ')?;
    Some((short(id), Some(date.to_owned())))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Reruns this script when HEAD is switched (the HEAD file) or its branch moves (the branch's
/// file; a packed branch gets a file of its own when it moves, in a directory watched here).
/// Never a path that does not exist: cargo would rerun the script on every build.
fn watch_head(git_dir: &Path, common_dir: &Path) {
    let head = git_dir.join("HEAD");
    println!("cargo::rerun-if-changed={}", head.display());
    let Some(branch) = std::fs::read_to_string(&head)
        .ok()
        .and_then(|h| h.strip_prefix("ref: ").map(|r| r.trim().to_owned()))
    else {
        return; // detached: HEAD holds the commit itself
    };
    let loose = common_dir.join(&branch);
    if loose.is_file() {
        println!("cargo::rerun-if-changed={}", loose.display());
        return;
    }
    let packed = common_dir.join("packed-refs");
    if packed.is_file() {
        println!("cargo::rerun-if-changed={}", packed.display());
    }
    if let Some(dir) = loose.ancestors().skip(1).find(|d| d.is_dir()) {
        println!("cargo::rerun-if-changed={}", dir.display());
    }
}
