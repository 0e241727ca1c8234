//! The file sink: JSON Lines files in a directory, rotated by size and by age, written by one
//! background thread in batches.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};

use super::{Exposure, Written};
use crate::literal::format_timestamp;

/// Where and how the file sink writes.
#[derive(Debug, Clone)]
pub struct Files {
    /// The directory the files go in (created if missing).
    pub dir: PathBuf,
    /// A file that would grow beyond this many bytes is closed and a new one started (a file
    /// holds at least one line).
    pub max_bytes: u64,
    /// A file this old (milliseconds) when an exposure arrives is closed and a new one
    /// started.
    pub max_age_millis: i64,
}

impl Files {
    /// Files in `dir` of at most 64 MiB and one hour.
    pub fn new(dir: impl Into<PathBuf>) -> Files {
        Files {
            dir: dir.into(),
            max_bytes: 64 << 20,
            max_age_millis: 3_600_000,
        }
    }
}

/// How many bytes of lines are gathered before they are written.
const BATCH: usize = 64 << 10;

/// The file being written.
struct Current {
    file: File,
    started: i64,
    /// Bytes written and gathered.
    bytes: u64,
}

/// Gathered lines not yet written, and how many exposures they hold.
struct Batch {
    bytes: Vec<u8>,
    lines: u64,
}

/// Writes every exposure the queue delivers until every sender is gone, then flushes and
/// fsyncs. Failures are counted, never printed.
pub(super) fn write(
    queue: Receiver<Exposure>,
    files: &Files,
    clock: &(dyn Fn() -> i64 + Send + Sync),
    counts: &Written,
) {
    let mut sink = Sink {
        files,
        counts,
        current: None,
        batch: Batch {
            bytes: Vec::with_capacity(BATCH),
            lines: 0,
        },
        sequence: 0,
    };
    let mut line = Vec::with_capacity(512);
    loop {
        let exposure = match queue.try_recv() {
            Ok(exposure) => exposure,
            Err(TryRecvError::Empty) => {
                // Idle: what is gathered reaches the file before waiting.
                sink.flush();
                match queue.recv() {
                    Ok(exposure) => exposure,
                    Err(_) => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        line.clear();
        if serde_json::to_writer(&mut line, &exposure).is_err() {
            counts.errors.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        line.push(b'\n');
        sink.push(&line, clock());
    }
    sink.close();
}

struct Sink<'a> {
    files: &'a Files,
    counts: &'a Written,
    current: Option<Current>,
    batch: Batch,
    /// The next file's sequence number: files started in the same second differ by it.
    sequence: u64,
}

impl Sink<'_> {
    fn push(&mut self, line: &[u8], now: i64) {
        if let Some(current) = &self.current {
            let full = current.bytes > 0
                && current.bytes.saturating_add(line.len() as u64) > self.files.max_bytes;
            let old = now.saturating_sub(current.started) >= self.files.max_age_millis;
            if full || old {
                self.close();
            }
        }
        if self.current.is_none() {
            match self.open(now) {
                Ok(file) => {
                    self.current = Some(Current {
                        file,
                        started: now,
                        bytes: 0,
                    })
                }
                Err(_) => {
                    self.counts.errors.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
        if let Some(current) = &mut self.current {
            current.bytes += line.len() as u64;
        }
        self.batch.bytes.extend_from_slice(line);
        self.batch.lines += 1;
        if self.batch.bytes.len() >= BATCH {
            self.flush();
        }
    }

    /// Writes the gathered lines to the current file.
    fn flush(&mut self) {
        if self.batch.lines == 0 {
            return;
        }
        let written = self
            .current
            .as_mut()
            .is_some_and(|current| current.file.write_all(&self.batch.bytes).is_ok());
        let counter = if written {
            &self.counts.written
        } else {
            &self.counts.errors
        };
        counter.fetch_add(self.batch.lines, Ordering::Relaxed);
        self.batch.bytes.clear();
        self.batch.lines = 0;
    }

    /// Flushes and fsyncs the current file and closes it.
    fn close(&mut self) {
        self.flush();
        if let Some(current) = self.current.take() {
            // The lines are the operating system's already (counted written); a failed fsync
            // leaves them to its own write-back.
            let _ = current.file.sync_all();
        }
    }

    /// Creates the next file: `exposures-<start, YYYYMMDDTHHMMSSZ>-<sequence>.jsonl`.
    fn open(&mut self, now: i64) -> io::Result<File> {
        let time = format_timestamp(now);
        let seconds = time.split('.').next().unwrap_or_default();
        let stamp: String = seconds
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        loop {
            let name = format!("exposures-{stamp}Z-{}.jsonl", self.sequence);
            self.sequence += 1;
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(self.files.dir.join(name))
            {
                // Another recorder (or an earlier run) took the name: try the next number.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                result => return result,
            }
        }
    }
}
