//! Publishing built bundles to a directory that running applications watch, and reading its
//! history. The layout and its guarantees are specified in docs/publishing.md:
//!
//! ```text
//! DIR/bundles/<hash>.json         content-addressed copies, each written atomically
//! DIR/current/<environment>.json  the pointer, replaced atomically after its bundle is durable
//! DIR/publish.log                 append-only JSON lines: {time, environment, hash, commit}
//! ```

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bundle::content_hash;
use crate::eval::Evaluator;
use crate::eval::watch::{
    Pointer, WatchError, bundle_path, load_bundle, pointer_path, valid_environment, valid_hash,
};
use crate::literal::{format_timestamp, parse_timestamp};

/// What to publish, and when.
#[derive(Clone, Debug)]
pub struct Options {
    /// The environments to publish; empty: every environment of the manifest.
    pub environments: Vec<String>,
    /// After publishing, keep only the bundles among each environment's `keep` most recent
    /// distinct publishes (and every current one); delete the others.
    pub keep: Option<usize>,
    /// The publish time recorded, in milliseconds since the Unix epoch.
    pub now_millis: i64,
}

/// What `publish` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Per environment, in the manifest's order.
    pub environments: Vec<Published>,
    /// The content hashes of the bundles `keep` deleted, sorted.
    pub pruned: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    pub environment: String,
    pub hash: String,
    /// false: the pointer already named this bundle, and nothing was written.
    pub changed: bool,
}

/// One line of `publish.log`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// When the pointer moved: RFC 3339, UTC, milliseconds.
    pub time: String,
    pub environment: String,
    pub hash: String,
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dirty: bool,
}

/// The parts of `manifest.json` publishing needs.
#[derive(Deserialize)]
struct Manifest {
    commit: Option<String>,
    dirty: Option<bool>,
    environments: Vec<ManifestEntry>,
}

#[derive(Deserialize)]
struct ManifestEntry {
    name: String,
    hash: String,
    file: String,
}

/// Publishes the bundles `flagstone build` wrote to `out` into the directory `dir`.
///
/// Every bundle is verified (hash, format, environment) before anything is written; bundles
/// are written before any pointer moves; a pointer that already names its bundle is left
/// alone and nothing is logged for it.
pub fn publish(out: &Path, dir: &Path, options: &Options) -> Result<Report, String> {
    let manifest_path = out.join("manifest.json");
    let manifest: Manifest = std::fs::read(&manifest_path)
        .map_err(|e| e.to_string())
        .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
        .map_err(|e| {
            format!(
                "cannot read {}: {e} (run `flagstone build --out {}` first)",
                manifest_path.display(),
                out.display()
            )
        })?;
    for wanted in &options.environments {
        if !manifest.environments.iter().any(|e| &e.name == wanted) {
            let known: Vec<&str> = manifest
                .environments
                .iter()
                .map(|e| e.name.as_str())
                .collect();
            return Err(format!(
                "{} has no environment `{wanted}` (it has: {})",
                manifest_path.display(),
                known.join(", ")
            ));
        }
    }
    let selected: Vec<&ManifestEntry> = manifest
        .environments
        .iter()
        .filter(|e| options.environments.is_empty() || options.environments.contains(&e.name))
        .collect();

    // Verify everything first: a bad bundle publishes nothing.
    let mut verified = Vec::with_capacity(selected.len());
    for entry in &selected {
        let path = out.join(&entry.file);
        if !valid_environment(&entry.name) {
            return Err(format!(
                "cannot publish environment `{}`: its name cannot name a file (letters, digits, `-`, `_`, `.`)",
                entry.name
            ));
        }
        let bytes =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let evaluator = Evaluator::load(&bytes, &entry.hash)
            .map_err(|e| format!("refusing to publish {}: {e}", path.display()))?;
        if evaluator.environment() != entry.name {
            return Err(format!(
                "refusing to publish {}: it is the bundle of `{}`, not `{}`",
                path.display(),
                evaluator.environment(),
                entry.name
            ));
        }
        verified.push(bytes);
    }

    let bundles = dir.join("bundles");
    let current = dir.join("current");
    for sub in [&bundles, &current] {
        std::fs::create_dir_all(sub)
            .map_err(|e| format!("cannot create {}: {e}", sub.display()))?;
    }
    for (entry, bytes) in selected.iter().zip(&verified) {
        let path = bundle_path(dir, &entry.hash);
        // A copy already there is kept only if it is intact.
        let intact = std::fs::read(&path).is_ok_and(|there| content_hash(&there) == entry.hash);
        if !intact {
            write_atomic(&path, bytes)?;
        }
    }
    // The renames above must be durable before any pointer names their files.
    sync_dir(&bundles)?;

    let log_path = dir.join("publish.log");
    let log = read_log(dir)?;
    let mut report = Report {
        environments: Vec::new(),
        pruned: Vec::new(),
    };
    for entry in &selected {
        let previous = Pointer::read(dir, &entry.name).ok();
        let changed = previous.as_ref().is_none_or(|p| p.hash != entry.hash);
        let pointer = match previous {
            Some(pointer) if !changed => pointer,
            _ => {
                let pointer = Pointer {
                    environment: entry.name.clone(),
                    hash: entry.hash.clone(),
                    file: format!("bundles/{}.json", entry.hash),
                    published_at: format_timestamp(options.now_millis),
                    commit: manifest.commit.clone(),
                    dirty: manifest.dirty == Some(true),
                };
                let mut text = serde_json::to_string_pretty(&pointer).expect("pointers serialize");
                text.push('\n');
                write_atomic(&pointer_path(dir, &entry.name), text.as_bytes()).map_err(|e| {
                    let done: Vec<&str> = report
                        .environments
                        .iter()
                        .filter(|p| p.changed)
                        .map(|p| p.environment.as_str())
                        .collect();
                    match done.as_slice() {
                        [] => e,
                        done => format!("{e} (already published: {})", done.join(", ")),
                    }
                })?;
                sync_dir(&current)?;
                pointer
            }
        };
        // The pointer moves first, then the log records it. After a crash in between, the
        // next publish finds the log behind the pointer and appends the missing line.
        let logged = log
            .iter()
            .rev()
            .find(|l| l.environment == entry.name)
            .is_some_and(|l| l.hash == pointer.hash);
        if changed || !logged {
            append_log(
                &log_path,
                &LogEntry {
                    time: pointer.published_at,
                    environment: pointer.environment,
                    hash: pointer.hash,
                    commit: pointer.commit,
                    dirty: pointer.dirty,
                },
            )?;
        }
        report.environments.push(Published {
            environment: entry.name.clone(),
            hash: entry.hash.clone(),
            changed,
        });
    }
    if let Some(keep) = options.keep {
        report.pruned = prune(dir, keep)?;
    }
    Ok(report)
}

/// Reads `DIR/publish.log`, in the order it was appended; a missing log is an empty one.
/// A line that is not a publish record (an append torn by a crash) is left out.
pub fn read_log(dir: &Path) -> Result<Vec<LogEntry>, String> {
    let path = dir.join("publish.log");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    Ok(text
        .lines()
        .filter_map(|line| serde_json::from_str::<LogEntry>(line).ok())
        .filter(|entry| parse_timestamp(&entry.time).is_some())
        .collect())
}

/// The bundle that was live for `environment` at `at` (milliseconds since the Unix epoch)
/// according to the log: its last publish at or before `at`.
pub fn live_at<'l>(
    log: &'l [LogEntry],
    environment: &str,
    at: i64,
) -> Result<&'l LogEntry, String> {
    let published: Vec<(i64, &LogEntry)> = log
        .iter()
        .filter(|e| e.environment == environment)
        .filter_map(|e| Some((parse_timestamp(&e.time)?, e)))
        .collect();
    let first = published
        .iter()
        .min_by_key(|(time, _)| *time)
        .ok_or_else(|| format!("`{environment}` has never been published here"))?;
    // max_by_key keeps the last of equal times: the later line.
    published
        .iter()
        .filter(|(time, _)| *time <= at)
        .max_by_key(|(time, _)| *time)
        .map(|(_, entry)| *entry)
        .ok_or_else(|| {
            format!(
                "nothing of `{environment}` was live at {}: it was first published at {}",
                format_timestamp(at),
                first.1.time
            )
        })
}

/// Loads the bundle of `environment` published in `dir`: the current one, or the one live
/// at `at`. Returns it with its pointer (for a past bundle, made from its log line).
pub fn load_published(
    dir: &Path,
    environment: &str,
    at: Option<i64>,
) -> Result<(Evaluator, Pointer), String> {
    let pointer = match at {
        None => Pointer::read(dir, environment).map_err(|e| e.to_string())?,
        Some(at) => {
            let log = read_log(dir)?;
            let entry = live_at(&log, environment, at)?;
            if !valid_hash(&entry.hash) {
                return Err(format!(
                    "`{}` in publish.log is not a content hash",
                    entry.hash
                ));
            }
            Pointer {
                environment: entry.environment.clone(),
                hash: entry.hash.clone(),
                file: format!("bundles/{}.json", entry.hash),
                published_at: entry.time.clone(),
                commit: entry.commit.clone(),
                dirty: entry.dirty,
            }
        }
    };
    match load_bundle(dir, environment, &pointer.hash) {
        Ok(evaluator) => Ok((evaluator, pointer)),
        Err(WatchError::Missing { path, .. }) if at.is_some() => Err(format!(
            "bundle {} of `{environment}` (published {}{}) is no longer in {}: pruned by `publish --keep`; \
             to evaluate it, build that commit and copy its {}.json there",
            pointer.hash,
            pointer.published_at,
            pointer
                .commit
                .as_deref()
                .map(|c| format!(", commit {}", c.get(..12).unwrap_or(c)))
                .unwrap_or_default(),
            path.parent().unwrap_or(dir).display(),
            pointer.hash,
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// Deletes the bundles that are neither current nor among any environment's `keep` most
/// recent distinct publishes. Returns their hashes, sorted.
fn prune(dir: &Path, keep: usize) -> Result<Vec<String>, String> {
    let log = read_log(dir)?;
    let mut kept = HashSet::new();
    let current = dir.join("current");
    let pointers = std::fs::read_dir(&current)
        .map_err(|e| format!("cannot read {}: {e}", current.display()))?;
    let mut environments: Vec<String> = log.iter().map(|e| e.environment.clone()).collect();
    for file in pointers {
        let name = file
            .map_err(|e| format!("cannot read {}: {e}", current.display()))?
            .file_name();
        if let Some(environment) = name.to_str().and_then(|n| n.strip_suffix(".json")) {
            // A pointer that cannot be read might name any bundle: then delete none.
            let pointer =
                Pointer::read(dir, environment).map_err(|e| format!("not pruning: {e}"))?;
            kept.insert(pointer.hash);
            environments.push(environment.to_owned());
        }
    }
    environments.sort();
    environments.dedup();
    for environment in &environments {
        let mut recent = HashSet::new();
        for entry in log.iter().rev().filter(|e| &e.environment == environment) {
            if recent.len() == keep {
                break;
            }
            recent.insert(entry.hash.as_str());
        }
        kept.extend(recent.into_iter().map(str::to_owned));
    }
    let bundles = dir.join("bundles");
    let files = std::fs::read_dir(&bundles)
        .map_err(|e| format!("cannot read {}: {e}", bundles.display()))?;
    let mut pruned = Vec::new();
    for file in files {
        let name = file
            .map_err(|e| format!("cannot read {}: {e}", bundles.display()))?
            .file_name();
        let Some(hash) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
            continue;
        };
        if valid_hash(hash) && !kept.contains(hash) {
            let path = bundles.join(&name);
            std::fs::remove_file(&path)
                .map_err(|e| format!("cannot delete {}: {e}", path.display()))?;
            pruned.push(hash.to_owned());
        }
    }
    pruned.sort();
    Ok(pruned)
}

/// Appends one line in one write, to a log opened in append mode, and syncs it. A log whose
/// last line was torn by a crash gets that line ended first, so this one stays whole.
fn append_log(path: &Path, entry: &LogEntry) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("cannot append to {}: {e}", path.display());
    let torn = std::fs::read(path).is_ok_and(|text| text.last().is_some_and(|b| *b != b'\n'));
    let mut line = if torn { "\n".to_owned() } else { String::new() };
    line.push_str(&serde_json::to_string(entry).expect("log entries serialize"));
    line.push('\n');
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(fail)?;
    file.write_all(line.as_bytes()).map_err(fail)?;
    file.sync_data().map_err(fail)
}

/// Writes a file so that readers see the old content or the new, never a part: a temporary
/// file in the same directory is written and synced, then renamed over the target. The
/// caller syncs the directory to make the rename durable.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = path.parent().expect("published paths have a directory");
    let name = path.file_name().expect("published paths name a file");
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = File::create(&temp)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .and_then(|()| std::fs::rename(&temp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(format!("cannot write {}: {e}", path.display()));
    }
    Ok(())
}

/// Makes the renames in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), String> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("cannot sync {}: {e}", dir.display()))
}
