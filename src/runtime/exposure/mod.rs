//! Exposures: which unit was served which variant of which flag, recorded in process.
//!
//! A [`Recorder`] sits beside an [`Evaluator`]: each evaluation it is shown becomes an
//! [`Exposure`] unless the same unit already saw the same variant of the same flag in the same
//! bundle. New exposures go through a bounded queue to a sink (JSON Lines files written by a
//! background thread, or a channel the application drains); a full queue drops the exposure
//! and counts it. Nothing is printed: [`Recorder::stats`] says what happened. The event's
//! format is docs/exposures.md's.

mod files;
mod mapping;
mod seen;

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::eval::bucket::Unit;
use crate::eval::{Evaluation, Evaluator, Reason, UnknownFlag};
use crate::literal::format_timestamp;

pub use files::Files;
pub use mapping::OTEL_EVENT_NAME;
use seen::Seen;

/// One exposure: a unit first served a variant of a flag by a bundle. Serializes as one line
/// of docs/exposures.md's format, keys in order, absent fields omitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "compiler", schemars(title = "flagstone exposure"))]
pub struct Exposure {
    /// When the unit was first exposed: RFC 3339 UTC with milliseconds and `Z`.
    #[cfg_attr(
        feature = "compiler",
        schemars(regex(pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"))
    )]
    pub time: String,
    /// The flag's key.
    pub flag: String,
    /// The bundle's environment.
    pub environment: String,
    /// The variant served.
    pub variant: String,
    /// Why it was served.
    pub reason: ReasonKind,
    /// The rule's name, for `rule` and `excluded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The bundle's content hash.
    #[cfg_attr(feature = "compiler", schemars(regex(pattern = r"^[0-9a-f]{64}$")))]
    pub bundle: String,
    /// The flag's experiment in this bundle, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    /// The bucketing unit: the flag's `bucket_by` attribute (integers in decimal).
    pub unit: String,
    /// The context's targeting key (integers in decimal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targeting_key: Option<String>,
    /// The session: the value of the context attribute the recorder is configured with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

/// An exposure borrowed from the evaluation it records: what the file sink writes, and what
/// the channel sink makes its [`Exposure`] of.
struct Event<'a> {
    time: &'a str,
    flag: &'a str,
    environment: &'a str,
    variant: &'a str,
    reason: ReasonKind,
    rule: Option<&'a str>,
    bundle: &'a str,
    experiment: Option<&'a str>,
    unit: Cow<'a, str>,
    targeting_key: Option<Cow<'a, str>>,
    session: Option<Cow<'a, str>>,
}

impl Event<'_> {
    /// Appends the event's line: its [`Exposure`]'s JSON, byte for byte as serde_json writes
    /// it (`an_event_writes_its_exposure` compares), strings that need no escape copied as
    /// they are.
    fn write(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        let fields = [
            ("time", Some(self.time)),
            ("flag", Some(self.flag)),
            ("environment", Some(self.environment)),
            ("variant", Some(self.variant)),
            ("reason", Some(self.reason.as_str())),
            ("rule", self.rule),
            ("bundle", Some(self.bundle)),
            ("experiment", self.experiment),
            ("unit", Some(&*self.unit)),
            ("targeting_key", self.targeting_key.as_deref()),
            ("session", self.session.as_deref()),
        ];
        let mut separator = b'{';
        for (key, value) in fields {
            let Some(value) = value else { continue };
            out.push(separator);
            separator = b',';
            out.push(b'"');
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b"\":");
            // What serde_json escapes: quotes, backslashes and control characters.
            let plain = !value.bytes().fold(false, |escape, b| {
                escape | (b < 0x20) | (b == b'"') | (b == b'\\')
            });
            if plain {
                out.push(b'"');
                out.extend_from_slice(value.as_bytes());
                out.push(b'"');
            } else {
                serde_json::to_writer(&mut *out, value)?;
            }
        }
        out.push(b'}');
        Ok(())
    }

    fn to_exposure(&self) -> Exposure {
        Exposure {
            time: self.time.to_owned(),
            flag: self.flag.to_owned(),
            environment: self.environment.to_owned(),
            variant: self.variant.to_owned(),
            reason: self.reason,
            rule: self.rule.map(str::to_owned),
            bundle: self.bundle.to_owned(),
            experiment: self.experiment.map(str::to_owned),
            unit: self.unit.clone().into_owned(),
            targeting_key: self.targeting_key.clone().map(Cow::into_owned),
            session: self.session.clone().map(Cow::into_owned),
        }
    }
}

/// An evaluation reason's kind, as [`Reason`] serializes its tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReasonKind {
    Disabled,
    Rule,
    Fallthrough,
    PrerequisiteFailed,
    Error,
    Excluded,
}

impl ReasonKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonKind::Disabled => "disabled",
            ReasonKind::Rule => "rule",
            ReasonKind::Fallthrough => "fallthrough",
            ReasonKind::PrerequisiteFailed => "prerequisite_failed",
            ReasonKind::Error => "error",
            ReasonKind::Excluded => "excluded",
        }
    }

    /// The kind of a reason, and the rule it names.
    pub fn of<'r>(reason: &Reason<'r>) -> (ReasonKind, Option<&'r str>) {
        match reason {
            Reason::Disabled => (ReasonKind::Disabled, None),
            Reason::Rule { rule_name, .. } => (ReasonKind::Rule, Some(rule_name)),
            Reason::Fallthrough => (ReasonKind::Fallthrough, None),
            Reason::PrerequisiteFailed { .. } => (ReasonKind::PrerequisiteFailed, None),
            Reason::Error { .. } => (ReasonKind::Error, None),
            Reason::Excluded { rule_name, .. } => (ReasonKind::Excluded, Some(rule_name)),
        }
    }
}

/// The time in milliseconds since the Unix epoch.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(crate::literal::now_millis)
}

/// How a recorder deduplicates and queues.
#[derive(Clone)]
pub struct Config {
    /// The context attribute (a dotted path) whose value is an exposure's session.
    pub session_attribute: String,
    /// How many exposures the queue holds before new ones are dropped.
    pub queue: usize,
    /// How many exposures the deduplication table remembers (rounded up to a power of two;
    /// 8 bytes each).
    pub remembered: usize,
    /// Stamps exposures and dates files.
    pub clock: Clock,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            session_attribute: "session_id".into(),
            queue: 65_536,
            remembered: 1 << 20,
            clock: system_clock(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("session_attribute", &self.session_attribute)
            .field("queue", &self.queue)
            .field("remembered", &self.remembered)
            .finish_non_exhaustive()
    }
}

/// What a recorder could not set up.
#[derive(Debug)]
pub enum RecorderError {
    /// The exposures directory could not be created.
    Directory { dir: PathBuf, error: io::Error },
    /// The writer thread could not be started.
    Thread(io::Error),
}

impl fmt::Display for RecorderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecorderError::Directory { dir, error } => {
                write!(f, "cannot create {}: {error}", dir.display())
            }
            RecorderError::Thread(error) => write!(f, "cannot start the exposure writer: {error}"),
        }
    }
}

impl std::error::Error for RecorderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecorderError::Directory { error, .. } | RecorderError::Thread(error) => Some(error),
        }
    }
}

/// What [`Recorder::record`] did with an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new exposure, queued.
    Recorded,
    /// The unit already saw this variant of this flag in this bundle.
    Duplicate,
    /// A new exposure, dropped: the queue was full (or the sink gone). A later evaluation of
    /// the same exposure tries again.
    Dropped,
    /// The context has no unit for the flag (or the flag is not the evaluator's).
    NoUnit,
}

/// A recorder's counts since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// New exposures queued.
    pub recorded: u64,
    /// Evaluations the unit had already been exposed to.
    pub duplicates: u64,
    /// New exposures dropped because the queue was full or the sink gone.
    pub dropped: u64,
    /// Evaluations without a unit, not recorded.
    pub no_unit: u64,
    /// Exposures written to files (the file sink only).
    pub written: u64,
    /// Exposures the file sink failed to write.
    pub write_errors: u64,
}

/// Counters touched by every thread that records: striped over cache lines by fingerprint, so
/// threads recording different exposures rarely share a line.
struct Striped([Padded; STRIPES]);

const STRIPES: usize = 16;

#[repr(align(128))]
#[derive(Default)]
struct Padded(AtomicU64);

impl Striped {
    fn new() -> Self {
        Striped(Default::default())
    }

    fn add(&self, fingerprint: u64) {
        self.0[fingerprint as usize % STRIPES]
            .0
            .fetch_add(1, Ordering::Relaxed);
    }

    fn sum(&self) -> u64 {
        self.0.iter().map(|p| p.0.load(Ordering::Relaxed)).sum()
    }
}

/// The writer's counts, shared with the recorder.
#[derive(Default)]
struct Written {
    written: AtomicU64,
    errors: AtomicU64,
}

/// Where new exposures go.
enum Sink {
    /// Serialized lines, for the file writer.
    Files(Arc<files::Queue>),
    Channel(SyncSender<Exposure>),
}

/// Records exposures: deduplicates, queues, and hands them to a sink. `Send + Sync`: share it
/// (for instance in an `Arc`) between the threads that evaluate.
pub struct Recorder {
    seen: Seen,
    /// The queue; closed at shutdown, which ends the writer.
    sink: Option<Sink>,
    writer: Option<JoinHandle<()>>,
    session: Vec<Box<str>>,
    clock: Clock,
    recorded: Striped,
    duplicates: Striped,
    dropped: Striped,
    no_unit: AtomicU64,
    written: Arc<Written>,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// A recorder writing JSON Lines files into `files.dir` (created if missing) from a
    /// background thread.
    pub fn to_files(files: Files, config: Config) -> Result<Recorder, RecorderError> {
        std::fs::create_dir_all(&files.dir).map_err(|error| RecorderError::Directory {
            dir: files.dir.clone(),
            error,
        })?;
        let queue = Arc::new(files::Queue::new(config.queue));
        let written = Arc::new(Written::default());
        let writer = {
            let (queue, written) = (Arc::clone(&queue), Arc::clone(&written));
            let clock = Arc::clone(&config.clock);
            std::thread::Builder::new()
                .name("flagstone-exposures".into())
                .spawn(move || files::write(&queue, &files, &*clock, &written))
                .map_err(RecorderError::Thread)?
        };
        let mut recorder = Recorder::new(Sink::Files(queue), config);
        recorder.writer = Some(writer);
        recorder.written = written;
        Ok(recorder)
    }

    /// A recorder handing exposures to the application through the returned receiver, for
    /// sinks of its own. The queue is the channel: exposures the application has not
    /// received yet count toward its bound.
    pub fn to_channel(config: Config) -> (Recorder, Receiver<Exposure>) {
        let (sender, receiver) = mpsc::sync_channel(config.queue);
        (Recorder::new(Sink::Channel(sender), config), receiver)
    }

    fn new(sink: Sink, config: Config) -> Recorder {
        Recorder {
            seen: Seen::new(config.remembered),
            sink: Some(sink),
            writer: None,
            session: config
                .session_attribute
                .split('.')
                .map(Into::into)
                .collect(),
            clock: config.clock,
            recorded: Striped::new(),
            duplicates: Striped::new(),
            dropped: Striped::new(),
            no_unit: AtomicU64::new(0),
            written: Arc::default(),
        }
    }

    /// Evaluates `flag` and records the evaluation.
    pub fn evaluate_and_record<'e>(
        &self,
        evaluator: &'e Evaluator,
        flag: &str,
        context: &Value,
        now_millis: i64,
    ) -> Result<Evaluation<'e>, UnknownFlag> {
        let evaluation = evaluator.evaluate(flag, context, now_millis)?;
        self.record(evaluator, flag, context, &evaluation);
        Ok(evaluation)
    }

    /// Records that `evaluator` served `evaluation` of `flag` to `context`. A duplicate
    /// neither blocks nor allocates.
    pub fn record(
        &self,
        evaluator: &Evaluator,
        flag: &str,
        context: &Value,
        evaluation: &Evaluation<'_>,
    ) -> Outcome {
        let Some(unit) = evaluator.unit(flag, context) else {
            self.no_unit.fetch_add(1, Ordering::Relaxed);
            return Outcome::NoUnit;
        };
        let fingerprint =
            seen::fingerprint(unit.bytes(), flag, evaluation.variant, evaluator.hash());
        if self.seen.contains(fingerprint) {
            self.duplicates.add(fingerprint);
            return Outcome::Duplicate;
        }
        let (reason, rule) = ReasonKind::of(&evaluation.reason);
        let targeting_key = evaluator.targeting_key(context);
        let session = self
            .session
            .iter()
            .try_fold(context, |value, key| value.get(&**key))
            .and_then(Unit::of);
        let event = Event {
            time: "",
            flag,
            environment: evaluator.environment(),
            variant: evaluation.variant,
            reason,
            rule,
            bundle: evaluator.hash(),
            experiment: evaluator.experiment(flag),
            unit: text(&unit),
            targeting_key: targeting_key.as_ref().map(text),
            session: session.as_ref().map(text),
        };
        let now = (self.clock)();
        let sent = match &self.sink {
            // Serialized here, into the queue: the writer only writes.
            Some(Sink::Files(queue)) => {
                queue.push(now, |time, line| Event { time, ..event }.write(line))
            }
            Some(Sink::Channel(sender)) => {
                let time = format_timestamp(now);
                let exposure = Event {
                    time: &time,
                    ..event
                }
                .to_exposure();
                match sender.try_send(exposure) {
                    Ok(()) => true,
                    Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
                }
            }
            None => false,
        };
        if sent {
            // Remembered only once queued: a dropped exposure is recorded the next time.
            self.seen.insert(fingerprint);
            self.recorded.add(fingerprint);
            Outcome::Recorded
        } else {
            self.dropped.add(fingerprint);
            Outcome::Dropped
        }
    }

    /// The counts so far.
    pub fn stats(&self) -> Stats {
        Stats {
            recorded: self.recorded.sum(),
            duplicates: self.duplicates.sum(),
            dropped: self.dropped.sum(),
            no_unit: self.no_unit.load(Ordering::Relaxed),
            written: self.written.written.load(Ordering::Relaxed),
            write_errors: self.written.errors.load(Ordering::Relaxed),
        }
    }

    /// Stops recording, drains the queue into the files, flushes and fsyncs them, and
    /// returns the final counts. Dropping the recorder does the same.
    pub fn shutdown(mut self) -> Stats {
        self.finish();
        self.stats()
    }

    fn finish(&mut self) {
        if let Some(Sink::Files(queue)) = self.sink.take() {
            queue.close();
        }
        if let Some(writer) = self.writer.take() {
            // The writer does not panic; if it did, its counts still say what it wrote.
            let _ = writer.join();
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A unit's text: a string as is, an integer in decimal.
fn text<'u>(unit: &'u Unit<'_>) -> Cow<'u, str> {
    match unit {
        Unit::Text(text) => Cow::Borrowed(text),
        integer => String::from_utf8_lossy(integer.bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file sink's line and the channel sink's `Exposure` are the same event, byte for byte.
    #[test]
    fn an_event_writes_its_exposure() {
        let number = Value::from(-42);
        let unit = Unit::of(&number).expect("an integer");
        let quoted = Unit::Text("a \"quoted\"\n\u{7f}é unit");
        let full = Event {
            time: "2026-11-26T12:00:00.000Z",
            flag: "checkout/one-page",
            environment: "production",
            variant: "on",
            reason: ReasonKind::Excluded,
            rule: Some("beta \\ testers"),
            bundle: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            experiment: Some("redesign"),
            unit: text(&quoted),
            targeting_key: Some(text(&unit)),
            session: Some("s-\u{1}".into()),
        };
        let bare = Event {
            time: full.time,
            flag: full.flag,
            environment: full.environment,
            variant: full.variant,
            reason: ReasonKind::Fallthrough,
            rule: None,
            bundle: full.bundle,
            experiment: None,
            unit: text(&unit),
            targeting_key: None,
            session: None,
        };
        for event in [&full, &bare] {
            let mut line = Vec::new();
            event.write(&mut line).expect("written");
            assert_eq!(
                String::from_utf8(line).ok(),
                serde_json::to_string(&event.to_exposure()).ok()
            );
        }
    }
}
