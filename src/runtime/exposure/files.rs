//! The file sink: JSON Lines files in a directory, rotated by size and by age, written by one
//! background thread in batches.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::Written;
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

/// How many bytes of lines wake the writer while it gathers.
const BATCH: usize = 64 << 10;

/// How long the writer gathers lines after the first arrives, unless a batch fills sooner:
/// long enough that a busy recorder wakes it once a batch, short enough that a quiet one's
/// lines reach the file at once.
const GATHER: Duration = Duration::from_millis(1);

/// The lines on their way to the writer: recording threads append them, each serialized on
/// the thread that records it, and the writer takes them all at once.
pub(super) struct Queue {
    pending: Mutex<Pending>,
    wake: Condvar,
    /// How many lines it holds before new ones are dropped.
    capacity: usize,
}

#[derive(Default)]
struct Pending {
    lines: Vec<u8>,
    count: usize,
    writer: Writer,
    /// No line comes any more: the recorder is shutting down.
    closed: bool,
    /// The last time stamped, and its text: formatted once a millisecond.
    stamp: Option<(i64, String)>,
}

/// What the writer does, so that a recording thread wakes it only when it waits for lines.
#[derive(Default, Clone, Copy, PartialEq)]
enum Writer {
    #[default]
    Busy,
    /// Waits for a first line.
    Idle,
    /// Has lines and waits for a batch, or for its time to be up.
    Gathering,
}

impl Queue {
    pub(super) fn new(capacity: usize) -> Queue {
        Queue {
            pending: Mutex::default(),
            wake: Condvar::new(),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        // Nothing panics while holding the lock; if something did, the lines are still whole.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends the line `write` writes (given the text of the time `now`), unless the queue
    /// is full or closed: whether it was queued.
    pub(super) fn push(
        &self,
        now: i64,
        write: impl FnOnce(&str, &mut Vec<u8>) -> serde_json::Result<()>,
    ) -> bool {
        let mut pending = self.lock();
        if pending.closed || pending.count >= self.capacity {
            return false;
        }
        let Pending { lines, stamp, .. } = &mut *pending;
        let time = match stamp {
            Some((millis, text)) if *millis == now => text,
            _ => &stamp.insert((now, format_timestamp(now))).1,
        };
        let before = lines.len();
        if write(time, lines).is_err() {
            lines.truncate(before);
            return false;
        }
        lines.push(b'\n');
        pending.count += 1;
        let wake = match pending.writer {
            Writer::Busy => false,
            Writer::Idle => true,
            Writer::Gathering => pending.lines.len() >= BATCH,
        };
        if wake {
            pending.writer = Writer::Busy;
            self.wake.notify_one();
        }
        true
    }

    /// Stops accepting lines; the writer takes what is queued, then ends.
    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
    }

    /// Waits for lines and swaps them into `lines` (empty): how many, 0 once closed and
    /// drained.
    fn take(&self, lines: &mut Vec<u8>) -> u64 {
        let mut pending = self.lock();
        while pending.count == 0 && !pending.closed {
            pending.writer = Writer::Idle;
            pending = self
                .wake
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if pending.lines.len() < BATCH && !pending.closed {
            pending.writer = Writer::Gathering;
            pending = self
                .wake
                .wait_timeout(pending, GATHER)
                .map_or_else(|e| e.into_inner().0, |(pending, _)| pending);
        }
        pending.writer = Writer::Busy;
        std::mem::swap(lines, &mut pending.lines);
        std::mem::take(&mut pending.count) as u64
    }
}

/// The file being written.
struct Current {
    file: File,
    started: i64,
    /// Bytes written.
    bytes: u64,
}

/// Writes every line the queue delivers until it is closed and drained, then fsyncs.
/// Failures are counted, never printed.
pub(super) fn write(
    queue: &Queue,
    files: &Files,
    clock: &(dyn Fn() -> i64 + Send + Sync),
    counts: &Written,
) {
    let mut sink = Sink {
        files,
        counts,
        current: None,
        sequence: 0,
    };
    let mut lines = Vec::new();
    loop {
        lines.clear();
        if queue.take(&mut lines) == 0 {
            break;
        }
        sink.push(&lines, clock());
    }
    sink.close();
}

struct Sink<'a> {
    files: &'a Files,
    counts: &'a Written,
    current: Option<Current>,
    /// The next file's sequence number: files started in the same second differ by it.
    sequence: u64,
}

/// How many lines `bytes` holds: a line feed ends each, and none is inside one (JSON escapes
/// it).
fn count_lines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

impl Sink<'_> {
    /// Writes whole lines, arrived at `now`, starting files as their size and age require.
    fn push(&mut self, mut lines: &[u8], now: i64) {
        while !lines.is_empty() {
            let line_end = |from: usize| {
                lines[from..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(lines.len(), |i| from + i + 1)
            };
            let first = line_end(0);
            if let Some(current) = &self.current {
                let full = current.bytes > 0
                    && current.bytes.saturating_add(first as u64) > self.files.max_bytes;
                let old = now.saturating_sub(current.started) >= self.files.max_age_millis;
                if full || old {
                    self.close();
                }
            }
            let current = match &mut self.current {
                Some(current) => current,
                None => match self.open(now) {
                    Ok(file) => self.current.insert(Current {
                        file,
                        started: now,
                        bytes: 0,
                    }),
                    Err(_) => {
                        self.counts
                            .errors
                            .fetch_add(count_lines(lines), Ordering::Relaxed);
                        return;
                    }
                },
            };
            // The lines that fit, the first one whatever its size.
            let room = self.files.max_bytes.saturating_sub(current.bytes);
            let mut end = first;
            if lines.len() as u64 <= room {
                end = lines.len();
            } else {
                while end < lines.len() && line_end(end) as u64 <= room {
                    end = line_end(end);
                }
            }
            let (chunk, rest) = lines.split_at(end);
            current.bytes += chunk.len() as u64;
            let counter = match current.file.write_all(chunk) {
                Ok(()) => &self.counts.written,
                Err(_) => &self.counts.errors,
            };
            counter.fetch_add(count_lines(chunk), Ordering::Relaxed);
            lines = rest;
        }
    }

    /// Fsyncs the current file and closes it.
    fn close(&mut self) {
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
