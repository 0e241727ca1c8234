//! Publishing to object storage: the published directory's layout as objects under an S3
//! prefix, specified in docs/publishing.md ("Object storage"):
//!
//! ```text
//! PREFIX/bundles/<hash>.json                       content-addressed, verified after upload
//! PREFIX/current/<environment>.json                the pointer, replaced by a conditional put
//! PREFIX/log/<time>-<environment>-<hash>.json      one object per pointer move; time
//!                                                  20261126T120000.000Z (no `:` in keys)
//! ```
//!
//! There is no lock. Bundles are immutable (a key names its bytes) and never deleted, so
//! every pointer, whoever wrote it, names a complete bundle. A pointer is replaced only if it
//! is still the version this publish read (`If-Match` its ETag, `If-None-Match: *` for the
//! first): of two concurrent publishes of one environment, the later fails instead of
//! overwriting a move it did not see. A move's record is written after the move, and the
//! pointer holds the same fields, so the next publish writes a record a crash left missing
//! before it moves that pointer again: no record names a move that did not happen.

use std::path::Path;

use crate::bundle::content_hash;
use crate::eval::watch::{Pointer, valid_hash};
use crate::literal::parse_timestamp;
use crate::s3::{Client, Condition, Location, Put};

use super::{LogEntry, Options, PublishError, Published, Report, next_pointer, read_build};

/// Bundles never change under their key: caches may keep them for good.
const BUNDLE_HEADERS: &[(&str, &str)] = &[
    ("content-type", "application/json"),
    ("cache-control", "public, max-age=31536000, immutable"),
];
/// Pointers change: caches must ask again every time.
const POINTER_HEADERS: &[(&str, &str)] = &[
    ("content-type", "application/json"),
    ("cache-control", "no-cache"),
];
const LOG_HEADERS: &[(&str, &str)] = &[("content-type", "application/json")];

/// Publishes the bundles `flagstone build` wrote to `out` under `location`, through
/// `client` (a client for its bucket).
///
/// Every bundle is verified before anything is written, then uploaded unless an intact copy
/// is there, and read back and verified by its hash; only then do pointers move, one
/// environment after the other, each followed by its log record. A pointer that already
/// names its bundle is left alone. Pruning is refused: without a lock, deleting a bundle
/// could race a publish about to point to it.
pub fn publish_to_bucket(
    out: &Path,
    client: &Client,
    location: &Location,
    options: &Options,
) -> Result<Report, PublishError> {
    if options.keep.is_some() {
        return Err(PublishError::NoPruning(location.to_string()));
    }
    let (manifest, verified) = read_build(out, &options.environments)?;

    for (entry, bytes) in manifest.environments.iter().zip(&verified) {
        let key = location.key(&format!("bundles/{}.json", entry.hash));
        let intact = || -> Result<bool, PublishError> {
            let object = client.get(&key)?;
            Ok(object.is_some_and(|o| content_hash(&o.bytes) == entry.hash))
        };
        if intact()? {
            continue;
        }
        client.put(&key, bytes, BUNDLE_HEADERS, &Condition::Any)?;
        if !intact()? {
            return Err(PublishError::NotVerified(client.object(&key)));
        }
    }

    let mut report = Report {
        environments: Vec::new(),
        pruned: Vec::new(),
        removed: Vec::new(),
    };
    for entry in &manifest.environments {
        let key = location.key(&format!("current/{}.json", entry.name));
        let existing = client.get(&key).map_err(|e| already(&report, e.into()))?;
        let previous = existing
            .as_ref()
            .and_then(|object| pointer_of(&object.bytes, &entry.name));
        if let Some(previous) = &previous {
            record(client, location, &record_of(previous)).map_err(|e| already(&report, e))?;
        }
        if previous.as_ref().is_some_and(|p| p.hash == entry.hash) {
            report.environments.push(Published {
                environment: entry.name.clone(),
                hash: entry.hash.clone(),
                changed: false,
            });
            continue;
        }
        let (pointer, _) = next_pointer(entry, &manifest, previous.as_ref(), options.now_millis);
        let mut text = serde_json::to_string_pretty(&pointer).expect("pointers serialize");
        text.push('\n');
        // Replace only the version read: a move made meanwhile by another publish fails
        // this one rather than being overwritten unseen. A store that gives no ETag cannot
        // be asked: then the last writer wins.
        let condition = match existing {
            None => Condition::Absent,
            Some(object) => object.etag.map_or(Condition::Any, Condition::Matches),
        };
        match client.put(&key, text.as_bytes(), POINTER_HEADERS, &condition) {
            Ok(Put::Written) => {}
            Ok(Put::ConditionFailed) => {
                return Err(already(&report, PublishError::Raced(client.object(&key))));
            }
            Err(e) => return Err(already(&report, e.into())),
        }
        report.environments.push(Published {
            environment: entry.name.clone(),
            hash: entry.hash.clone(),
            changed: true,
        });
        // After the move: a record names only moves that happened. If this fails, the
        // pointer holds the same fields and the next publish writes the record.
        record(client, location, &record_of(&pointer)).map_err(|e| already(&report, e))?;
    }
    Ok(report)
}

/// `error`, saying which environments `report` already published, if any.
fn already(report: &Report, error: PublishError) -> PublishError {
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
}

/// The pointer in `bytes` if it is a readable pointer of `environment`. Anything else is
/// replaced as if absent (as on disk), but still only by a conditional put.
fn pointer_of(bytes: &[u8], environment: &str) -> Option<Pointer> {
    serde_json::from_slice::<Pointer>(bytes).ok().filter(|p| {
        p.environment == environment
            && valid_hash(&p.hash)
            && parse_timestamp(&p.published_at).is_some()
    })
}

fn record_of(pointer: &Pointer) -> LogEntry {
    LogEntry {
        time: pointer.published_at.clone(),
        environment: pointer.environment.clone(),
        hash: pointer.hash.clone(),
        commit: pointer.commit.clone(),
        dirty: pointer.dirty,
        aborted: false,
    }
}

/// Writes the log record of a move unless it is there: `log/<time>-<environment>-<hash>.json`,
/// the time in ISO 8601's basic format (`20261126T120000.000Z`: fixed width, so keys sort by
/// time, and without the `:` that some tools and stores handle badly in keys). Its content
/// follows from its pointer, so writing it twice writes the same bytes.
fn record(client: &Client, location: &Location, entry: &LogEntry) -> Result<(), PublishError> {
    let time: String = entry
        .time
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    let key = location.key(&format!(
        "log/{time}-{}-{}.json",
        entry.environment, entry.hash
    ));
    if client.exists(&key)? {
        return Ok(());
    }
    let mut line = serde_json::to_string(entry).expect("log entries serialize");
    line.push('\n');
    client.put(&key, line.as_bytes(), LOG_HEADERS, &Condition::Any)?;
    Ok(())
}
