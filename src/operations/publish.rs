//! Publishing built bundles to a directory that running applications watch, and reading its
//! history. The layout and its guarantees are specified in docs/publishing.md:
//!
//! ```text
//! DIR/bundles/<hash>.json         content-addressed copies, each written atomically
//! DIR/current/<environment>.json  the pointer, replaced atomically after its bundle is durable
//! DIR/publish.log                 append-only JSON lines: {time, environment, hash, commit}
//! DIR/publish.lock                held (an OS advisory lock) by the publish running
//! ```
//!
//! One publish runs at a time per directory. Each pointer move is logged, durably, before the
//! pointer moves, so only the log's last record can name a move that has not happened (a
//! publish under way, or one that died): readers confirm that record against its pointer, and
//! the next publish appends an `aborted` record for it when the pointer never moved.
//!
//! The same layout can be published as objects under an S3 prefix instead
//! ([`publish_to_bucket`], in `publish/object_storage.rs`), where conditional writes take
//! the lock's place.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::bundle::content_hash;
use crate::eval::Evaluator;
use crate::eval::watch::{
    Pointer, WatchError, bundle_path, load_bundle, pointer_path, valid_environment, valid_hash,
};
use crate::fs::{WriteError, write_atomic};
use crate::literal::{format_timestamp, parse_timestamp};
use crate::output::{Manifest, ManifestEntry};
use crate::s3::S3Error;

mod object_storage;
pub use object_storage::publish_to_bucket;

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
    /// How long to wait for another publish to the same directory to finish.
    pub wait: Duration,
    /// Called once, with the lock file's path, when this publish starts waiting for another.
    pub waiting: Option<fn(&Path)>,
}

/// What `publish` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Per environment, in the manifest's order.
    pub environments: Vec<Published>,
    /// The content hashes of the bundles `keep` deleted, sorted.
    pub pruned: Vec<String>,
    /// Temporary files an interrupted publish left, removed; relative to the directory, sorted.
    pub removed: Vec<String>,
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
    /// This record cancels the one before it with the same time, environment and hash: that
    /// publish died (or failed) before its pointer moved.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub aborted: bool,
}

impl LogEntry {
    /// Whether `pointer` is the move this record announces.
    fn names(&self, pointer: &Pointer) -> bool {
        pointer.environment == self.environment
            && pointer.hash == self.hash
            && pointer.published_at == self.time
    }

    /// Whether the pointer move this record announces happened, as far as the pointer of its
    /// environment in `dir` tells: it names this record, or it is there but cannot be read
    /// (publish never leaves one so: it was damaged since, and may have been this move).
    fn moved(&self, dir: &Path) -> bool {
        match Pointer::read(dir, &self.environment) {
            Ok(pointer) => self.names(&pointer),
            Err(_) => std::fs::symlink_metadata(pointer_path(dir, &self.environment)).is_ok(),
        }
    }
}

/// Why publishing, or reading what was published, failed.
#[derive(Debug)]
pub enum PublishError {
    /// The build's manifest.json is missing or unreadable.
    Manifest {
        path: PathBuf,
        reason: String,
    },
    /// An environment asked for is not in the manifest.
    NoEnvironment {
        manifest: PathBuf,
        environment: String,
        known: Vec<String>,
    },
    /// An environment whose name cannot name a file.
    BadEnvironment(String),
    /// A bundle failed verification: nothing was published.
    Refused {
        path: PathBuf,
        reason: String,
    },
    /// Another publish held the lock for all of `waited`.
    Busy {
        dir: PathBuf,
        lock: PathBuf,
        waited: Duration,
    },
    /// A file system operation (`action`: "read", "delete", …) failed.
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    Write(WriteError),
    /// Failed after moving the pointers of `done`, which stay published.
    Partly {
        error: Box<PublishError>,
        done: Vec<String>,
    },
    /// A pointer that cannot be read might name any bundle: nothing was pruned.
    NotPruning(WatchError),
    NeverPublished(String),
    NotLiveYet {
        environment: String,
        at: i64,
        first: String,
    },
    NotAHash(String),
    /// The bundle live at that time was deleted by pruning.
    Pruned {
        pointer: Box<Pointer>,
        dir: PathBuf,
    },
    Watch(WatchError),
    /// An object storage request failed.
    S3(S3Error),
    /// A bundle object read back after its upload does not hash to its name.
    NotVerified(String),
    /// The pointer object changed between this publish reading and replacing it.
    Raced(String),
    /// Pruning was asked of object storage (the location), where it is not done.
    NoPruning(String),
}

impl std::fmt::Display for PublishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PublishError::Manifest { path, reason } => {
                write!(f, "cannot read {}: {reason}", path.display())
            }
            PublishError::NoEnvironment {
                manifest,
                environment,
                known,
            } => write!(
                f,
                "{} has no environment `{environment}` (it has: {})",
                manifest.display(),
                known.join(", ")
            ),
            PublishError::BadEnvironment(name) => write!(
                f,
                "cannot publish environment `{name}`: its name cannot name a file (letters, digits, `-`, `_`, `.`)"
            ),
            PublishError::Refused { path, reason } => {
                write!(f, "refusing to publish {}: {reason}", path.display())
            }
            PublishError::Busy { dir, lock, waited } => write!(
                f,
                "another publish to {} is running (it holds {}); gave up after waiting {} s",
                dir.display(),
                lock.display(),
                waited.as_secs_f64()
            ),
            PublishError::Io {
                action,
                path,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
            PublishError::Write(e) => e.fmt(f),
            PublishError::Partly { error, done } => {
                write!(f, "{error} (already published: {})", done.join(", "))
            }
            PublishError::NotPruning(e) => write!(f, "not pruning: {e}"),
            PublishError::NeverPublished(environment) => {
                write!(f, "`{environment}` has never been published here")
            }
            PublishError::NotLiveYet {
                environment,
                at,
                first,
            } => write!(
                f,
                "nothing of `{environment}` was live at {}: it was first published at {first}",
                format_timestamp(*at)
            ),
            PublishError::NotAHash(hash) => {
                write!(f, "`{hash}` in publish.log is not a content hash")
            }
            PublishError::Pruned { pointer, dir } => write!(
                f,
                "bundle {} of `{}` (published {}{}) is no longer in {}: pruned",
                pointer.hash,
                pointer.environment,
                pointer.published_at,
                pointer
                    .commit
                    .as_deref()
                    .map(|c| format!(", commit {}", c.get(..12).unwrap_or(c)))
                    .unwrap_or_default(),
                dir.display(),
            ),
            PublishError::Watch(e) => e.fmt(f),
            PublishError::S3(e) => e.fmt(f),
            PublishError::NotVerified(object) => write!(
                f,
                "{object} read back after its upload does not hash to its name: no pointer was moved"
            ),
            PublishError::Raced(object) => write!(
                f,
                "{object} changed while this publish ran (another publish?): it was left as the other wrote it"
            ),
            PublishError::NoPruning(location) => write!(
                f,
                "cannot prune {location}: in object storage, without a lock, deleting a bundle could race a publish about to point to it"
            ),
        }
    }
}

impl std::error::Error for PublishError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PublishError::Io { source, .. } => Some(source),
            PublishError::Write(e) => Some(e),
            PublishError::Partly { error, .. } => Some(error),
            PublishError::NotPruning(e) | PublishError::Watch(e) => Some(e),
            PublishError::S3(e) => Some(e),
            _ => None,
        }
    }
}

impl From<S3Error> for PublishError {
    fn from(e: S3Error) -> PublishError {
        PublishError::S3(e)
    }
}

impl From<WriteError> for PublishError {
    fn from(e: WriteError) -> PublishError {
        PublishError::Write(e)
    }
}

/// A failed file system operation on `path`.
fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PublishError {
    let path = path.to_owned();
    move |source| PublishError::Io {
        action,
        path,
        source,
    }
}

/// Publishes the bundles `flagstone build` wrote to `out` into the directory `dir`.
///
/// Every bundle is verified (hash, format, environment) before anything is written. Then,
/// holding `DIR/publish.lock`: leftovers of an interrupted publish are removed or cancelled,
/// bundles are written before any pointer moves, each pointer move is logged before it
/// happens, and pruning sees every pointer as it stands. A pointer that already names its
/// bundle is left alone and nothing is logged for it.
pub fn publish(out: &Path, dir: &Path, options: &Options) -> Result<Report, PublishError> {
    let (manifest, verified) = read_build(out, &options.environments)?;
    let selected = &manifest.environments;

    let bundles = dir.join("bundles");
    let current = dir.join("current");
    for sub in [&bundles, &current] {
        std::fs::create_dir_all(sub).map_err(io("create", sub))?;
    }
    // Held until this function returns; the kernel releases it if the process dies.
    let _lock = lock(dir, options)?;
    let mut report = Report {
        environments: Vec::new(),
        pruned: Vec::new(),
        removed: remove_temporary(dir)?,
    };
    let log_path = dir.join("publish.log");
    let mut latest = abort_unconfirmed(dir)?;

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

    // Times in the log never go back, and each environment's strictly increase, so that a
    // time names one pointer per environment and the log can be searched from its end.
    for entry in selected {
        let previous = Pointer::read(dir, &entry.name).ok();
        if previous.as_ref().is_some_and(|p| p.hash == entry.hash) {
            report.environments.push(Published {
                environment: entry.name.clone(),
                hash: entry.hash.clone(),
                changed: false,
            });
            continue;
        }
        let now = options.now_millis.max(latest.unwrap_or(i64::MIN));
        let (pointer, time) = next_pointer(entry, &manifest, previous.as_ref(), now);
        let record = LogEntry {
            time: pointer.published_at.clone(),
            environment: pointer.environment.clone(),
            hash: pointer.hash.clone(),
            commit: pointer.commit.clone(),
            dirty: pointer.dirty,
            aborted: false,
        };
        let already = |error: PublishError| {
            let done: Vec<String> = report
                .environments
                .iter()
                .filter(|p| p.changed)
                .map(|p| p.environment.clone())
                .collect();
            if done.is_empty() {
                error
            } else {
                PublishError::Partly {
                    error: Box::new(error),
                    done,
                }
            }
        };
        // The log first: a crash after this line and before the pointer moves leaves a record
        // its pointer does not confirm, which readers skip and the next publish cancels.
        append_log(&log_path, &record).map_err(already)?;
        let mut text = serde_json::to_string_pretty(&pointer).expect("pointers serialize");
        text.push('\n');
        if let Err(e) = write_atomic(&pointer_path(dir, &entry.name), text.as_bytes()) {
            // Not renamed: cancel the record now rather than at the next publish.
            let _ = append_log(&log_path, &aborted(record));
            return Err(already(e.into()));
        }
        sync_dir(&current).map_err(already)?;
        latest = Some(time);
        report.environments.push(Published {
            environment: entry.name.clone(),
            hash: entry.hash.clone(),
            changed: true,
        });
    }
    if let Some(keep) = options.keep {
        report.pruned = prune(dir, keep)?;
    }
    Ok(report)
}

/// The pointer that moves `entry`'s environment to its bundle, and its time: `now_millis`,
/// or just after the previous pointer's time if that is later, since within an environment
/// times strictly increase so that a time names one pointer.
fn next_pointer(
    entry: &ManifestEntry,
    manifest: &Manifest,
    previous: Option<&Pointer>,
    now_millis: i64,
) -> (Pointer, i64) {
    let after_previous = previous
        .and_then(|p| parse_timestamp(&p.published_at))
        .map(|t| t + 1);
    let time = now_millis.max(after_previous.unwrap_or(i64::MIN));
    let pointer = Pointer {
        environment: entry.name.clone(),
        hash: entry.hash.clone(),
        file: format!("bundles/{}.json", entry.hash),
        published_at: format_timestamp(time),
        commit: manifest.commit.clone(),
        dirty: manifest.dirty == Some(true),
    };
    (pointer, time)
}

/// Reads the build in `out`: its manifest, narrowed to `environments` (every one when
/// empty), and their bundles' bytes in the same order, each verified (hash, format,
/// environment). A bad bundle fails the whole build, before anything is written.
fn read_build(
    out: &Path,
    environments: &[String],
) -> Result<(Manifest, Vec<Vec<u8>>), PublishError> {
    let manifest_path = out.join("manifest.json");
    let mut manifest: Manifest = std::fs::read(&manifest_path)
        .map_err(|e| e.to_string())
        .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
        .map_err(|reason| PublishError::Manifest {
            path: manifest_path.clone(),
            reason,
        })?;
    for wanted in environments {
        if !manifest.environments.iter().any(|e| &e.name == wanted) {
            return Err(PublishError::NoEnvironment {
                manifest: manifest_path,
                environment: wanted.clone(),
                known: manifest
                    .environments
                    .iter()
                    .map(|e| e.name.clone())
                    .collect(),
            });
        }
    }
    manifest
        .environments
        .retain(|e| environments.is_empty() || environments.contains(&e.name));

    // Verify everything first: a bad bundle publishes nothing.
    let mut verified = Vec::with_capacity(manifest.environments.len());
    for entry in &manifest.environments {
        let path = out.join(&entry.file);
        if !valid_environment(&entry.name) {
            return Err(PublishError::BadEnvironment(entry.name.clone()));
        }
        let bytes = std::fs::read(&path).map_err(io("read", &path))?;
        let evaluator =
            Evaluator::load(&bytes, &entry.hash).map_err(|e| PublishError::Refused {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        if evaluator.environment() != entry.name {
            return Err(PublishError::Refused {
                reason: format!(
                    "it is the bundle of `{}`, not `{}`",
                    evaluator.environment(),
                    entry.name
                ),
                path,
            });
        }
        verified.push(bytes);
    }
    Ok((manifest, verified))
}

/// Takes `DIR/publish.lock`, waiting up to `options.wait` for the publish that holds it.
fn lock(dir: &Path, options: &Options) -> Result<File, PublishError> {
    let path = dir.join("publish.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io("open", &path))?;
    let (start, wait) = (Instant::now(), options.wait);
    let mut waiting = options.waiting;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock) if start.elapsed() < wait => {
                if let Some(waiting) = waiting.take() {
                    waiting(&path);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(PublishError::Busy {
                    dir: dir.to_owned(),
                    lock: path,
                    waited: wait,
                });
            }
            Err(TryLockError::Error(e)) => {
                return Err(io("lock", &path)(e));
            }
        }
    }
}

/// Removes the temporary files (`.<name>.<pid>.tmp`) of publishes that died before renaming
/// them. Called under the lock, when no publish is writing any.
fn remove_temporary(dir: &Path) -> Result<Vec<String>, PublishError> {
    let mut removed = Vec::new();
    for sub in ["bundles", "current"] {
        let path = dir.join(sub);
        let files = std::fs::read_dir(&path).map_err(io("read", &path))?;
        for file in files {
            let name = file.map_err(io("read", &path))?.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') && name.ends_with(".tmp") {
                let temp = path.join(name);
                std::fs::remove_file(&temp).map_err(io("delete", &temp))?;
                removed.push(format!("{sub}/{name}"));
            }
        }
    }
    removed.sort();
    Ok(removed)
}

/// Cancels the log's last record if its pointer never moved to it (a publish that died in
/// between). Returns the time of the last record, the latest in the log.
fn abort_unconfirmed(dir: &Path) -> Result<Option<i64>, PublishError> {
    let Some(mut records) = Records::open(dir)? else {
        return Ok(None);
    };
    let Some(last) = records.next_record()? else {
        return Ok(None);
    };
    let time = parse_timestamp(&last.time);
    if !last.aborted && !last.moved(dir) {
        append_log(&dir.join("publish.log"), &aborted(last))?;
    }
    Ok(time)
}

fn aborted(record: LogEntry) -> LogEntry {
    LogEntry {
        aborted: true,
        ..record
    }
}

/// The records of `DIR/publish.log`, last first. The file is read backwards in blocks, so a
/// query that is answered near the end reads only the end; lines that are not records (a
/// write torn by a crash, a line too long to be one) are skipped.
struct Records {
    lines: Backwards,
    path: PathBuf,
}

impl Records {
    /// `None` when there is no log.
    fn open(dir: &Path) -> Result<Option<Records>, PublishError> {
        let path = dir.join("publish.log");
        match File::open(&path).and_then(Backwards::new) {
            Ok(lines) => Ok(Some(Records { lines, path })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", &path)(e)),
        }
    }

    fn next_record(&mut self) -> Result<Option<LogEntry>, PublishError> {
        loop {
            let Some(line) = self.lines.next_line().map_err(io("read", &self.path))? else {
                return Ok(None);
            };
            if let Ok(entry) = serde_json::from_slice::<LogEntry>(&line)
                && parse_timestamp(&entry.time).is_some()
            {
                return Ok(Some(entry));
            }
        }
    }
}

/// The lines of a file, last first, read in blocks from the end of the file as it was when
/// opened (appends made since are not seen).
struct Backwards {
    file: File,
    /// Where the bytes not yet read end.
    position: u64,
    /// Read, not yet returned: the end of the line being assembled, and what precedes it.
    tail: Vec<u8>,
    /// The line being assembled is too long to be a record: drop it.
    skipping: bool,
    done: bool,
}

const BLOCK: usize = 64 * 1024;
/// Records are a few hundred bytes; a longer line is not one, and is not kept in memory.
const MAX_LINE: usize = 64 * 1024;

impl Backwards {
    fn new(file: File) -> std::io::Result<Backwards> {
        let position = file.metadata()?.len();
        Ok(Backwards {
            file,
            position,
            tail: Vec::new(),
            skipping: false,
            done: false,
        })
    }

    fn next_line(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(newline) = self.tail.iter().rposition(|b| *b == b'\n') {
                let line = self.tail.split_off(newline + 1);
                self.tail.truncate(newline);
                if std::mem::take(&mut self.skipping) {
                    continue;
                }
                return Ok(Some(line));
            }
            if self.position == 0 {
                if std::mem::replace(&mut self.done, true) || std::mem::take(&mut self.skipping) {
                    return Ok(None);
                }
                return Ok(Some(std::mem::take(&mut self.tail)));
            }
            if self.tail.len() > MAX_LINE {
                self.tail.clear();
                self.skipping = true;
            }
            let size = BLOCK.min(usize::try_from(self.position).unwrap_or(BLOCK));
            self.position -= size as u64;
            let mut block = vec![0; size];
            self.file.seek(SeekFrom::Start(self.position))?;
            self.file.read_exact(&mut block)?;
            block.extend_from_slice(&self.tail);
            self.tail = block;
        }
    }
}

/// The record of the bundle that was live for `environment` at `at` (milliseconds since the
/// Unix epoch), according to the log of `dir`: its last publish at or before `at`. The log
/// is read from its end and only as far back as `at`. Its last record counts only if its
/// pointer confirms it (otherwise that publish is under way or died before the move), and
/// records cancelled by an `aborted` one are skipped.
pub fn live_at(dir: &Path, environment: &str, at: i64) -> Result<LogEntry, PublishError> {
    let never = || PublishError::NeverPublished(environment.to_owned());
    let Some(mut records) = Records::open(dir)? else {
        return Err(never());
    };
    let mut cancelled = HashSet::new();
    let mut first = None;
    let mut last = true;
    while let Some(entry) = records.next_record()? {
        if std::mem::take(&mut last) && !entry.aborted && !entry.moved(dir) {
            continue;
        }
        if entry.environment != environment {
            continue;
        }
        if entry.aborted {
            cancelled.insert((entry.time, entry.hash));
            continue;
        }
        // An aborted record cancels the one record it follows.
        if cancelled.remove(&(entry.time.clone(), entry.hash.clone())) {
            continue;
        }
        if parse_timestamp(&entry.time).is_some_and(|time| time <= at) {
            return Ok(entry);
        }
        first = Some(entry.time);
    }
    let first = first.ok_or_else(never)?;
    Err(PublishError::NotLiveYet {
        environment: environment.to_owned(),
        at,
        first,
    })
}

/// Loads the bundle of `environment` published in `dir`: the current one, or the one live
/// at `at`. Returns it with its pointer (for a past bundle, made from its log line).
pub fn load_published(
    dir: &Path,
    environment: &str,
    at: Option<i64>,
) -> Result<(Evaluator, Pointer), PublishError> {
    let pointer = match at {
        None => Pointer::read(dir, environment).map_err(PublishError::Watch)?,
        Some(at) => {
            let entry = live_at(dir, environment, at)?;
            if !valid_hash(&entry.hash) {
                return Err(PublishError::NotAHash(entry.hash));
            }
            Pointer {
                file: format!("bundles/{}.json", entry.hash),
                environment: entry.environment,
                hash: entry.hash,
                published_at: entry.time,
                commit: entry.commit,
                dirty: entry.dirty,
            }
        }
    };
    match load_bundle(dir, environment, &pointer.hash) {
        Ok(evaluator) => Ok((evaluator, pointer)),
        Err(WatchError::Missing { path, .. }) if at.is_some() => Err(PublishError::Pruned {
            dir: path.parent().unwrap_or(dir).to_owned(),
            pointer: Box::new(pointer),
        }),
        Err(e) => Err(PublishError::Watch(e)),
    }
}

/// Deletes the bundles that are neither named by a pointer nor among the `keep` most recent
/// distinct publishes of an environment that has a pointer. Called under the lock, after this
/// publish's pointers moved: no pointer moves while it decides. Returns their hashes, sorted.
fn prune(dir: &Path, keep: usize) -> Result<Vec<String>, PublishError> {
    let mut kept = HashSet::new();
    let mut recent: HashMap<String, HashSet<String>> = HashMap::new();
    let current = dir.join("current");
    let pointers = std::fs::read_dir(&current).map_err(io("read", &current))?;
    for file in pointers {
        let name = file.map_err(io("read", &current))?.file_name();
        if let Some(environment) = name.to_str().and_then(|n| n.strip_suffix(".json")) {
            // A pointer that cannot be read might name any bundle: then delete none.
            let pointer = Pointer::read(dir, environment).map_err(PublishError::NotPruning)?;
            kept.insert(pointer.hash);
            recent.insert(environment.to_owned(), HashSet::new());
        }
    }
    // From the end of the log, only as far back as it takes to find each environment's
    // `keep` most recent bundles. Under the lock, its last record is confirmed or aborted.
    if let Some(mut records) = Records::open(dir)? {
        let mut cancelled = HashSet::new();
        let mut wanting = if keep == 0 { 0 } else { recent.len() };
        while wanting > 0
            && let Some(entry) = records.next_record()?
        {
            if entry.aborted {
                cancelled.insert((entry.environment, entry.time, entry.hash));
                continue;
            }
            let Some(hashes) = recent.get_mut(&entry.environment) else {
                continue;
            };
            if cancelled.remove(&(entry.environment.clone(), entry.time, entry.hash.clone()))
                || hashes.len() == keep
            {
                continue;
            }
            hashes.insert(entry.hash);
            if hashes.len() == keep {
                wanting -= 1;
            }
        }
    }
    kept.extend(recent.into_values().flatten());
    let bundles = dir.join("bundles");
    let files = std::fs::read_dir(&bundles).map_err(io("read", &bundles))?;
    let mut pruned = Vec::new();
    for file in files {
        let name = file.map_err(io("read", &bundles))?.file_name();
        let Some(hash) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
            continue;
        };
        if valid_hash(hash) && !kept.contains(hash) {
            let path = bundles.join(&name);
            std::fs::remove_file(&path).map_err(io("delete", &path))?;
            pruned.push(hash.to_owned());
        }
    }
    pruned.sort();
    Ok(pruned)
}

/// Appends one line in one write, to a log opened in append mode, and syncs it. A log whose
/// last line was torn by a crash gets that line ended first, so this one stays whole.
fn append_log(path: &Path, entry: &LogEntry) -> Result<(), PublishError> {
    let fail = |e| io("append to", path)(e);
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(fail)?;
    let length = file.metadata().map_err(fail)?.len();
    let mut torn = false;
    if length > 0 {
        let mut last = [0];
        file.seek(SeekFrom::Start(length - 1))
            .and_then(|_| file.read_exact(&mut last))
            .map_err(fail)?;
        torn = last[0] != b'\n';
    }
    let mut line = if torn { "\n".to_owned() } else { String::new() };
    line.push_str(&serde_json::to_string(entry).expect("log entries serialize"));
    line.push('\n');
    file.write_all(line.as_bytes()).map_err(fail)?;
    file.sync_data().map_err(fail)?;
    if length == 0 {
        // A new log: its directory entry must be durable too.
        sync_dir(
            path.parent()
                .expect("the log lies in the published directory"),
        )?;
    }
    Ok(())
}

/// Makes the renames in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), PublishError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line, last first, across block boundaries; a line too long to be a record is
    /// dropped whole, and an unended last line is returned as it is.
    #[test]
    fn lines_are_read_backwards_across_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut lines: Vec<Vec<u8>> = (0..5000)
            .map(|i| format!("line {i} {}", "x".repeat(i % 97)).into_bytes())
            .collect();
        let long = 2500;
        lines[long] = vec![b'y'; MAX_LINE + BLOCK + 10];
        lines[long + 1] = Vec::new();
        let mut text = lines.join(&b'\n');
        text.extend_from_slice(b"\n{\"torn");
        std::fs::write(&path, &text).unwrap();

        let mut backwards = Backwards::new(File::open(&path).unwrap()).unwrap();
        let mut read = Vec::new();
        while let Some(line) = backwards.next_line().unwrap() {
            read.push(line);
        }
        let mut expected: Vec<Vec<u8>> = lines;
        expected.remove(long);
        expected.push(b"{\"torn".to_vec());
        expected.reverse();
        assert_eq!(read.len(), expected.len());
        assert!(read == expected);
    }
}
