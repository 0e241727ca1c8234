//! The summary computed in flagstone from exposure and event files (docs/raw-data.md): the
//! exposures are read first into a table of units, then the events stream past, each adding
//! to its unit's components. Memory grows with units × components, never with events.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::io::BufRead;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{Plan, Value};
use crate::exposures::{ExposuresError, each_line, known_reason};

/// Malformed lines listed per kind of file; the rest are only counted.
const SHOWN: usize = 5;

/// A file that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadError {
    pub file: String,
    pub reason: String,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot read {}: {}", self.file, self.reason)
    }
}

impl std::error::Error for ReadError {}

/// What a set of files held as lines.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Input {
    pub files: u64,
    /// Lines that were whole records.
    pub read: u64,
    pub malformed: u64,
    /// The first malformed lines, with why.
    pub malformed_shown: Vec<Line>,
    /// Last lines without a line feed that were not a whole record: a writer still running.
    pub incomplete: Vec<String>,
}

impl Input {
    /// Counts a malformed line, listing the first few; a last line without its line feed is a
    /// writer still running, named apart.
    fn malformed(&mut self, file: &str, number: u64, complete: bool, reason: String) {
        if !complete {
            self.incomplete.push(format!("{file}:{number}"));
            return;
        }
        self.malformed += 1;
        if self.malformed_shown.len() < SHOWN {
            self.malformed_shown.push(Line {
                file: file.to_owned(),
                line: number,
                reason,
            });
        }
    }
}

/// What the exposure files held, and why each exposure of the flag assigned its unit or not.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ExposureCounts {
    pub input: Input,
    /// Exposures that assigned their unit.
    pub assigning: u64,
    /// Units left out for being assigned more than one variant.
    pub several_variants: u64,
    /// Units the experiment's holdout or layer kept out, never assigned.
    pub held_out: u64,
    /// Exposures of the flag in the environment, of the experiment, that another rule or the
    /// fallthrough served.
    pub not_split: u64,
    /// Exposures of the flag in another environment.
    pub other_environments: u64,
    /// Exposures of the flag in the environment not naming the experiment (a bundle without
    /// it, or another experiment).
    pub other_experiments: u64,
    /// Exposures otherwise assigning, before the start or after the end.
    pub outside_dates: u64,
    /// Exposures otherwise assigning, of a variant the flag does not have.
    pub unknown_variants: u64,
    pub other_flags: u64,
}

/// What the event files held, and why each event counted or not.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EventCounts {
    pub input: Input,
    /// Events that added to at least one component.
    pub counted: u64,
    /// Events of a unit not in the experiment (never assigned, or left out).
    pub not_in_experiment: u64,
    /// Events no metric reads.
    pub other_events: u64,
    /// Events of a unit in the experiment before its first exposure, in no covariate window.
    pub before_exposure: u64,
    /// Events after every window that reads them.
    pub after_window: u64,
    /// Events with a property a metric reads that is not a number, or whose `properties` is
    /// not an object.
    pub property_not_number: u64,
}

impl EventCounts {
    /// Adds `other`'s counts (not its lists of lines).
    fn add(&mut self, other: &EventCounts) {
        let (a, b) = (&mut self.input, &other.input);
        a.files += b.files;
        a.read += b.read;
        a.malformed += b.malformed;
        self.counted += other.counted;
        self.not_in_experiment += other.not_in_experiment;
        self.other_events += other.other_events;
        self.before_exposure += other.before_exposure;
        self.after_window += other.after_window;
        self.property_not_number += other.property_not_number;
    }
}

/// A line that is not an exposure or not an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Line {
    pub file: String,
    pub line: u64,
    pub reason: String,
}

/// One row of the summary.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub variation: String,
    pub users: u64,
    /// Σ and Σ² per component, then Σ a·b per product, in the plan's column order.
    pub values: Vec<f64>,
}

/// The summary, and what it was computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
    pub exposures: ExposureCounts,
    pub events: EventCounts,
}

impl Summary {
    /// The summary CSV `analyze --summary` reads.
    pub fn csv(&self) -> String {
        let mut out = self.columns.join(",");
        out.push('\n');
        for row in &self.rows {
            out.push_str(&csv_cell(&row.variation));
            out.push(',');
            out.push_str(&row.users.to_string());
            for value in &row.values {
                out.push(',');
                out.push_str(&crate::format::exact(*value));
            }
            out.push('\n');
        }
        out
    }
}

fn csv_cell(text: &str) -> Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) || text.trim() != text {
        Cow::Owned(format!("\"{}\"", text.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(text)
    }
}

/// A unit's variant before it is known to be one.
const UNASSIGNED: u32 = u32::MAX;
/// A unit assigned more than one variant.
const SEVERAL: u32 = u32::MAX - 1;

#[derive(Clone, Copy)]
struct Unit {
    /// The order units were first seen in: rows follow it, so that sums add up in the same
    /// order on every run.
    seen: u32,
    variant: u32,
    /// Held out or outside the layer's slice at least once.
    held_out: bool,
    /// The first assigning exposure's time, in milliseconds.
    t0: i64,
}

/// The exposure pass: reads exposure files one after the other, then [`Exposures::finish`]
/// fixes each unit's variant and first exposure.
pub struct Exposures<'p> {
    plan: &'p Plan,
    keys: UnitKeys,
    units: UnitMap<Unit>,
    counts: ExposureCounts,
}

/// Units by a 128-bit keyed hash of their text rather than by the text: a lookup then reads
/// the table and nothing else (a key on the heap is another cache miss per event), and no
/// file can choose units that collide. Two of a million units share a key with a chance of
/// about 10⁻²⁷.
struct UnitKeys(RandomState, RandomState);

impl UnitKeys {
    fn new() -> UnitKeys {
        UnitKeys(RandomState::new(), RandomState::new())
    }

    fn of(&self, unit: &str) -> u128 {
        (u128::from(self.0.hash_one(unit)) << 64) | u128::from(self.1.hash_one(unit))
    }
}

/// A map keyed by [`UnitKeys`], which are hashes already.
type UnitMap<V> = HashMap<u128, V, BuildHasherDefault<Prehashed>>;

/// Takes a [`UnitKeys`] key's low half as its hash.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn write(&mut self, bytes: &[u8]) {
        // Only u128 keys are hashed here; fold anything else rather than lose it.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u128(&mut self, key: u128) {
        self.0 = key as u64;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// An exposure line, as much as the summary reads of it.
#[derive(Deserialize)]
struct ExposureLine<'a> {
    #[serde(borrow)]
    time: Cow<'a, str>,
    #[serde(borrow)]
    flag: Cow<'a, str>,
    #[serde(borrow)]
    environment: Cow<'a, str>,
    #[serde(borrow)]
    variant: Cow<'a, str>,
    #[serde(borrow)]
    reason: Cow<'a, str>,
    #[serde(borrow, default)]
    rule: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    experiment: Option<Cow<'a, str>>,
    #[serde(borrow)]
    unit: Cow<'a, str>,
}

/// Parses one line as a JSON record, or says why not.
fn record<'a, T: Deserialize<'a>>(text: &'a [u8]) -> Result<T, String> {
    if text.is_empty() {
        return Err("an empty line".to_owned());
    }
    serde_json::from_slice(text).map_err(|e| {
        let message = e.to_string();
        // serde_json appends the position on the one line; the line is named already.
        match message.rfind(" at line ") {
            Some(at) => message[..at].to_owned(),
            None => message,
        }
    })
}

fn read_error(e: ExposuresError) -> ReadError {
    match e {
        ExposuresError::Read { file, reason } => ReadError { file, reason },
        other => ReadError {
            file: String::new(),
            reason: other.to_string(),
        },
    }
}

fn time(text: &str) -> Result<i64, String> {
    crate::literal::parse_timestamp(text)
        .ok_or_else(|| format!("`time` {text:?} is not an RFC 3339 date-time with an offset"))
}

impl<'p> Exposures<'p> {
    pub fn new(plan: &'p Plan) -> Exposures<'p> {
        Exposures {
            plan,
            keys: UnitKeys::new(),
            units: UnitMap::default(),
            counts: ExposureCounts::default(),
        }
    }

    /// Reads one file of exposure events; `name` names it in the counts.
    pub fn read(&mut self, name: &str, mut input: impl BufRead) -> Result<(), ReadError> {
        self.counts.input.files += 1;
        each_line(name, &mut input, |number, text, complete| {
            let parsed = record::<ExposureLine>(text).and_then(|line| {
                let at = time(&line.time)?;
                if !known_reason(&line.reason) {
                    return Err(format!(
                        "`reason` {:?} is not an evaluation reason",
                        line.reason
                    ));
                }
                Ok((line, at))
            });
            match parsed {
                Ok((line, at)) => {
                    self.counts.input.read += 1;
                    self.exposure(&line, at);
                }
                Err(reason) => self.counts.input.malformed(name, number, complete, reason),
            }
        })
        .map_err(read_error)
    }

    fn exposure(&mut self, line: &ExposureLine<'_>, at: i64) {
        let plan = self.plan;
        let c = &mut self.counts;
        if line.flag != plan.flag {
            c.other_flags += 1;
            return;
        }
        if line.environment != plan.environment {
            c.other_environments += 1;
            return;
        }
        if line.experiment.as_deref() != Some(plan.experiment.as_str()) {
            c.other_experiments += 1;
            return;
        }
        let split = line
            .rule
            .as_deref()
            .is_some_and(|rule| plan.split_rules.iter().any(|r| r == rule));
        let assigning = line.reason == "rule" && split;
        let held_out = line.reason == "excluded" && split;
        if !assigning && !held_out {
            c.not_split += 1;
            return;
        }
        if at < plan.start || plan.end.is_some_and(|end| at >= end) {
            c.outside_dates += 1;
            return;
        }
        let seen = self.units.len() as u32;
        let unit = self.units.entry(self.keys.of(&line.unit)).or_insert(Unit {
            seen,
            variant: UNASSIGNED,
            held_out: false,
            t0: i64::MAX,
        });
        if held_out {
            unit.held_out = true;
            return;
        }
        let Ok(variant) = plan
            .variants
            .binary_search_by(|v| v.as_str().cmp(&line.variant))
        else {
            c.unknown_variants += 1;
            return;
        };
        c.assigning += 1;
        let variant = variant as u32;
        unit.variant = match unit.variant {
            UNASSIGNED => variant,
            v if v == variant => v,
            _ => SEVERAL,
        };
        unit.t0 = unit.t0.min(at);
    }

    /// Fixes the units in the experiment, ready for the events.
    pub fn finish(self) -> Events<'p> {
        let mut counts = self.counts;
        let mut in_experiment = Vec::new();
        for (key, unit) in self.units {
            match unit.variant {
                UNASSIGNED => counts.held_out += u64::from(unit.held_out),
                SEVERAL => counts.several_variants += 1,
                _ => in_experiment.push((unit.seen, key, unit.variant, unit.t0)),
            }
        }
        in_experiment.sort_unstable_by_key(|&(seen, ..)| seen);
        let mut units = UnitMap::default();
        units.reserve(in_experiment.len());
        let mut variants = Vec::with_capacity(in_experiment.len());
        for (_, key, variant, t0) in in_experiment {
            units.insert(key, (variants.len() as u32, t0));
            variants.push(variant);
        }
        let plan = self.plan;
        let mut readers: HashMap<Box<str>, Vec<usize>> = HashMap::new();
        for (index, component) in plan.components.iter().enumerate() {
            readers
                .entry(component.event.as_str().into())
                .or_default()
                .push(index);
        }
        Events {
            shared: Shared {
                plan,
                keys: self.keys,
                units,
                readers,
            },
            variants,
            exposures: counts,
            tallies: Vec::new(),
            files: 0,
        }
    }
}

/// The event pass: reads event files, then [`Events::summary`].
pub struct Events<'p> {
    shared: Shared<'p>,
    /// Per unit in the experiment (by row): its variant.
    variants: Vec<u32>,
    exposures: ExposureCounts,
    /// File `i` adds to tally `i % TALLIES`, so that two threads can read files at once and
    /// every value is added up in the same order whatever the number of threads.
    tallies: Vec<Tally>,
    /// Event files read so far.
    files: usize,
}

const TALLIES: usize = 2;

/// What every file's reader reads and none changes.
struct Shared<'p> {
    plan: &'p Plan,
    keys: UnitKeys,
    /// Units in the experiment: their row, and their first exposure.
    units: UnitMap<(u32, i64)>,
    /// By event name: the components that read it.
    readers: HashMap<Box<str>, Vec<usize>>,
}

/// What a share of the files added up.
struct Tally {
    /// Per unit (row), per component: its value so far.
    values: Vec<f64>,
    counts: EventCounts,
    /// The file (index) of each malformed line shown and each incomplete line, to list them
    /// in file order.
    shown_in: Vec<usize>,
    incomplete_in: Vec<usize>,
}

/// An event line.
#[derive(Deserialize)]
struct EventLine<'a> {
    #[serde(borrow)]
    time: Cow<'a, str>,
    #[serde(borrow)]
    unit: Cow<'a, str>,
    #[serde(borrow)]
    event: Cow<'a, str>,
    /// Read only when a component needs a property of this event.
    #[serde(borrow, default)]
    properties: Option<&'a RawValue>,
}

/// A property of an event, as a component reads it.
enum Property {
    Number(f64),
    /// Present, but not a number (null counts as absent, as NULL does in a warehouse).
    NotNumber,
}

/// The value of `name` in an event's properties, if it has one.
fn property(properties: &RawValue, name: &str) -> Option<Property> {
    let Ok(map) = serde_json::from_str::<HashMap<Cow<'_, str>, &RawValue>>(properties.get()) else {
        // Not an object: nothing in it can be read.
        return Some(Property::NotNumber);
    };
    let raw = map.get(name)?.get();
    if raw == "null" {
        return None;
    }
    Some(match serde_json::from_str::<f64>(raw) {
        Ok(x) => Property::Number(x),
        Err(_) => Property::NotNumber,
    })
}

const MINUTE_MILLIS: i64 = 60_000;

impl Shared<'_> {
    /// Reads file number `file` into `tally`.
    fn read(
        &self,
        file: usize,
        name: &str,
        mut input: impl BufRead,
        tally: &mut Tally,
    ) -> Result<(), ReadError> {
        tally.counts.input.files += 1;
        each_line(name, &mut input, |number, text, complete| {
            match record::<EventLine>(text).and_then(|line| Ok((time(&line.time)?, line))) {
                Ok((at, line)) => {
                    tally.counts.input.read += 1;
                    self.event(&line, at, tally);
                }
                Err(reason) => {
                    let input = &mut tally.counts.input;
                    let (shown, incomplete) = (input.malformed_shown.len(), input.incomplete.len());
                    input.malformed(name, number, complete, reason);
                    let added = input.malformed_shown.len() - shown;
                    tally.shown_in.extend(std::iter::repeat_n(file, added));
                    let added = input.incomplete.len() - incomplete;
                    tally.incomplete_in.extend(std::iter::repeat_n(file, added));
                }
            }
        })
        .map_err(read_error)
    }

    fn event(&self, line: &EventLine<'_>, at: i64, tally: &mut Tally) {
        let c = &mut tally.counts;
        let Some(readers) = self.readers.get(line.event.as_ref()) else {
            c.other_events += 1;
            return;
        };
        let Some(&(row, t0)) = self.units.get(&self.keys.of(&line.unit)) else {
            c.not_in_experiment += 1;
            return;
        };
        let since = at.saturating_sub(t0);
        let width = self.plan.components.len();
        let mut counted = false;
        let mut not_number = false;
        for &index in readers {
            let component = &self.plan.components[index];
            let within = since >= component.from_minutes.saturating_mul(MINUTE_MILLIS)
                && since < component.to_minutes.saturating_mul(MINUTE_MILLIS);
            if !within {
                continue;
            }
            let amount = match &component.property {
                None => 1.0,
                Some(name) => match line.properties.and_then(|p| property(p, name)) {
                    Some(Property::Number(x)) => x,
                    Some(Property::NotNumber) => {
                        not_number = true;
                        continue;
                    }
                    None => continue,
                },
            };
            let value = &mut tally.values[row as usize * width + index];
            match component.value {
                Value::Converted => *value = 1.0,
                Value::Count => *value += 1.0,
                Value::Sum => *value += amount,
            }
            counted = true;
        }
        if not_number {
            c.property_not_number += 1;
        }
        if counted {
            c.counted += 1;
        } else if since < 0 {
            c.before_exposure += 1;
        } else {
            c.after_window += 1;
        }
    }
}

impl Events<'_> {
    /// Tally `index`, made on first use.
    fn tally(&mut self, index: usize) -> &mut Tally {
        let cells = self.variants.len() * self.shared.plan.components.len();
        while self.tallies.len() <= index {
            self.tallies.push(Tally {
                values: vec![0.0; cells],
                counts: EventCounts::default(),
                shown_in: Vec::new(),
                incomplete_in: Vec::new(),
            });
        }
        &mut self.tallies[index]
    }

    /// Reads one file of events; `name` names it in the counts.
    pub fn read(&mut self, name: &str, input: impl BufRead) -> Result<(), ReadError> {
        let file = self.files;
        self.files += 1;
        self.tally(file % TALLIES);
        self.shared
            .read(file, name, input, &mut self.tallies[file % TALLIES])
    }

    /// Reads event files, two at once where two cores can. The result is the one reading
    /// them one after the other with [`Events::read`] gives, to the bit. On an error, the
    /// error of the first file that failed.
    pub fn read_files(&mut self, paths: &[std::path::PathBuf]) -> Result<(), ReadError> {
        let first = self.files;
        self.files += paths.len();
        for i in 0..paths.len().min(TALLIES) {
            self.tally((first + i) % TALLIES);
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(TALLIES));
        let shared = &self.shared;
        // Thread t takes tallies t, t + threads…; a tally's files are read in order.
        let mut shares: Vec<Vec<(usize, &mut Tally)>> = (0..threads).map(|_| Vec::new()).collect();
        for (t, tally) in self.tallies.iter_mut().enumerate() {
            shares[t % threads].push((t, tally));
        }
        let read_share = |share: Vec<(usize, &mut Tally)>| -> Option<(usize, ReadError)> {
            for (t, tally) in share {
                for i in (0..paths.len()).filter(|i| (first + i) % TALLIES == t) {
                    let name = paths[i].display().to_string();
                    let read = std::fs::File::open(&paths[i])
                        .map_err(|e| ReadError {
                            file: name.clone(),
                            reason: e.to_string(),
                        })
                        .and_then(|f| {
                            let input = std::io::BufReader::with_capacity(1 << 16, f);
                            shared.read(first + i, &name, input, tally)
                        });
                    if let Err(e) = read {
                        return Some((i, e));
                    }
                }
            }
            None
        };
        let mut failures: Vec<(usize, ReadError)> = std::thread::scope(|scope| {
            let mut shares = shares.into_iter();
            let own = shares.next();
            let others: Vec<_> = shares.map(|s| scope.spawn(|| read_share(s))).collect();
            let mut failures: Vec<_> = own.and_then(read_share).into_iter().collect();
            for other in others {
                failures.extend(other.join().expect("reading files does not panic"));
            }
            failures
        });
        failures.sort_by_key(|(i, _)| *i);
        match failures.into_iter().next() {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }

    /// The summary: one row per variant with units, in name order.
    pub fn summary(self) -> Summary {
        let plan = self.shared.plan;
        let width = plan.components.len();
        let mut values = vec![0.0; self.variants.len() * width];
        let mut counts = EventCounts::default();
        let mut shown: Vec<(usize, Line)> = Vec::new();
        let mut incomplete: Vec<(usize, String)> = Vec::new();
        for mut tally in self.tallies {
            for (cell, x) in values.iter_mut().zip(&tally.values) {
                *cell += x;
            }
            let input = &mut tally.counts.input;
            shown.extend(
                tally
                    .shown_in
                    .into_iter()
                    .zip(input.malformed_shown.drain(..)),
            );
            incomplete.extend(
                tally
                    .incomplete_in
                    .into_iter()
                    .zip(input.incomplete.drain(..)),
            );
            counts.add(&tally.counts);
        }
        // A unit that converted in both shares of the files converted once.
        for (index, component) in plan.components.iter().enumerate() {
            if component.value == Value::Converted {
                for row in values.chunks_exact_mut(width) {
                    row[index] = row[index].min(1.0);
                }
            }
        }
        shown.sort_by_key(|(file, line)| (*file, line.line));
        incomplete.sort_by_key(|(file, _)| *file);
        counts.input.malformed_shown = shown.into_iter().take(SHOWN).map(|(_, l)| l).collect();
        counts.input.incomplete = incomplete.into_iter().map(|(_, l)| l).collect();
        let cells = 2 * width + plan.products.len();
        let mut users = vec![0u64; plan.variants.len()];
        let mut sums = vec![0.0f64; plan.variants.len() * cells];
        for (row, &variant) in self.variants.iter().enumerate() {
            let variant = variant as usize;
            users[variant] += 1;
            let unit = &values[row * width..(row + 1) * width];
            let out = &mut sums[variant * cells..(variant + 1) * cells];
            for (i, x) in unit.iter().enumerate() {
                out[2 * i] += x;
                out[2 * i + 1] += x * x;
            }
            for (k, &(a, b)) in plan.products.iter().enumerate() {
                out[2 * width + k] += unit[a] * unit[b];
            }
        }
        let rows = plan
            .variants
            .iter()
            .enumerate()
            .filter(|(v, _)| users[*v] > 0)
            .map(|(v, name)| Row {
                variation: name.clone(),
                users: users[v],
                values: sums[v * cells..(v + 1) * cells].to_vec(),
            })
            .collect();
        Summary {
            columns: plan.columns(),
            rows,
            exposures: self.exposures,
            events: counts,
        }
    }
}
