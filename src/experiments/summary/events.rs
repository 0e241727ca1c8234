//! The summary computed in flagstone from exposure and event files (docs/raw-data.md): the
//! exposures are read first into a table of units, then the events stream past, each adding
//! to its unit's components. Memory grows with units × components, never with events.

use std::borrow::Cow;
use std::io::BufRead;

use serde::{Deserialize, Serialize};

use super::{Plan, Value};
use crate::exposures::{ExposuresError, each_line};
use crate::fast_hash::FastMap;

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
    /// Events with a property a metric reads that is not a number.
    pub property_not_number: u64,
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
    units: FastMap<Box<str>, Unit>,
    counts: ExposureCounts,
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
            units: FastMap::default(),
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
        let unit = self
            .units
            .entry(line.unit.as_ref().into())
            .or_insert(Unit {
                variant: UNASSIGNED,
                held_out: false,
                t0: i64::MAX,
            });
        if held_out {
            unit.held_out = true;
            return;
        }
        let Ok(variant) = plan.variants.binary_search_by(|v| v.as_str().cmp(&line.variant)) else {
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
        let mut units = FastMap::default();
        units.reserve(self.units.len());
        let mut assigned = Vec::new();
        for (key, unit) in self.units {
            match unit.variant {
                UNASSIGNED => counts.held_out += u64::from(unit.held_out),
                SEVERAL => counts.several_variants += 1,
                variant => {
                    units.insert(key, assigned.len() as u32);
                    assigned.push((variant, unit.t0));
                }
            }
        }
        let plan = self.plan;
        let mut readers: FastMap<Box<str>, Vec<usize>> = FastMap::default();
        for (index, component) in plan.components.iter().enumerate() {
            readers
                .entry(component.event.as_str().into())
                .or_default()
                .push(index);
        }
        let values = vec![0.0; assigned.len() * plan.components.len()];
        Events {
            plan,
            units,
            assigned,
            readers,
            values,
            exposures: counts,
            counts: EventCounts::default(),
        }
    }
}

fn known_reason(reason: &str) -> bool {
    matches!(
        reason,
        "disabled" | "rule" | "fallthrough" | "prerequisite_failed" | "error" | "excluded"
    )
}

/// The event pass: reads event files one after the other, then [`Events::summary`].
pub struct Events<'p> {
    plan: &'p Plan,
    /// Units in the experiment: their row in `assigned` and `values`.
    units: FastMap<Box<str>, u32>,
    /// Per unit in the experiment: its variant and first exposure.
    assigned: Vec<(u32, i64)>,
    /// By event name: the components that read it.
    readers: FastMap<Box<str>, Vec<usize>>,
    /// Per unit, per component: its value so far.
    values: Vec<f64>,
    exposures: ExposureCounts,
    counts: EventCounts,
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
    #[serde(borrow, default)]
    properties: Option<FastMap<Cow<'a, str>, Property>>,
}

/// A property's value: a number, or anything else (which no metric reads).
#[derive(Deserialize)]
#[serde(untagged)]
enum Property {
    Number(f64),
    Other(serde::de::IgnoredAny),
}

const MINUTE_MILLIS: i64 = 60_000;

impl Events<'_> {
    /// Reads one file of events; `name` names it in the counts.
    pub fn read(&mut self, name: &str, mut input: impl BufRead) -> Result<(), ReadError> {
        self.counts.input.files += 1;
        each_line(name, &mut input, |number, text, complete| {
            match record::<EventLine>(text).and_then(|line| Ok((time(&line.time)?, line))) {
                Ok((at, line)) => {
                    self.counts.input.read += 1;
                    self.event(&line, at);
                }
                Err(reason) => self.counts.input.malformed(name, number, complete, reason),
            }
        })
        .map_err(read_error)
    }

    fn event(&mut self, line: &EventLine<'_>, at: i64) {
        let c = &mut self.counts;
        let Some(readers) = self.readers.get(line.event.as_ref()) else {
            c.other_events += 1;
            return;
        };
        let Some(&row) = self.units.get(line.unit.as_ref()) else {
            c.not_in_experiment += 1;
            return;
        };
        let (_, t0) = self.assigned[row as usize];
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
                Some(property) => match line.properties.as_ref().and_then(|p| p.get(property.as_str())) {
                    Some(&Property::Number(x)) => x,
                    Some(Property::Other(_)) => {
                        not_number = true;
                        continue;
                    }
                    None => continue,
                },
            };
            let value = &mut self.values[row as usize * width + index];
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

    /// The summary: one row per variant with units, in name order.
    pub fn summary(self) -> Summary {
        let plan = self.plan;
        let width = plan.components.len();
        let cells = 2 * width + plan.products.len();
        let mut users = vec![0u64; plan.variants.len()];
        let mut sums = vec![0.0f64; plan.variants.len() * cells];
        for (row, &(variant, _)) in self.assigned.iter().enumerate() {
            let variant = variant as usize;
            users[variant] += 1;
            let unit = &self.values[row * width..(row + 1) * width];
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
            events: self.counts,
        }
    }
}
