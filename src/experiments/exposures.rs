//! Exposure files: who saw which variant of which flag, summarised per flag, environment and
//! variant, with the units that saw more than one variant, the live sample ratio check of
//! each split, and the exposures from bundles no longer live (docs/exposures-report.md).
//!
//! The files are JSON Lines, one exposure event a line (docs/exposures.md). They are read as
//! a stream: memory grows with the distinct (flag, environment, variant, unit, bundle), never
//! with the number of lines. What the summary needs from bundles (their variants and splits)
//! and which bundles are live are given by the caller, so this module reads no published
//! directory.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::io::{self, BufRead};
use std::sync::mpsc;

use serde::Deserialize;

use crate::analyze::SRM_THRESHOLD;
use crate::bundle::wire;
use crate::fast_hash::{FastMap, FxHasher};
use crate::literal::{format_timestamp, parse_timestamp};

/// How many malformed lines a report quotes (all are counted).
pub const MALFORMED_SHOWN: usize = 5;

/// What cannot be read at all.
#[derive(Debug)]
pub enum ExposuresError {
    /// A file cannot be read.
    Read { file: String, reason: String },
    /// Bundle bytes that are not a bundle.
    Bundle { hash: String, reason: String },
}

impl std::fmt::Display for ExposuresError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExposuresError::Read { file, reason } => write!(f, "cannot read {file}: {reason}"),
            ExposuresError::Bundle { hash, reason } => {
                write!(f, "bundle {hash} cannot be read: {reason}")
            }
        }
    }
}

impl std::error::Error for ExposuresError {}

/// What the summary needs of one bundle: its environment and, per flag, its variants and the
/// rules that serve a split.
#[derive(Clone, Debug, PartialEq)]
pub struct BundleShape {
    pub environment: String,
    pub flags: BTreeMap<String, FlagShape>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FlagShape {
    /// Variant names, in name order.
    pub variants: Vec<String>,
    /// The rules serving a split, in rule order.
    pub splits: Vec<Split>,
}

/// A rule's split: the intended weight of each variant (thousandths of a percent).
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    pub rule: String,
    /// In variant order, every variant of the flag.
    pub weights: Vec<(String, u32)>,
    /// The rule's schedule changes what it serves: units exposed at different times were
    /// split differently, so no single split is intended.
    pub scheduled: bool,
}

/// The parts of the wire format the summary reads; everything else is ignored.
#[derive(Deserialize)]
struct WireBundle<'a> {
    environment: String,
    #[serde(borrow)]
    flags: BTreeMap<Cow<'a, str>, wire::Flag<'a>>,
}

impl BundleShape {
    /// Reads the shape of a bundle from its bytes (format 2; the caller verifies the hash).
    pub fn parse(hash: &str, bytes: &[u8]) -> Result<BundleShape, ExposuresError> {
        let bundle: WireBundle =
            serde_json::from_slice(bytes).map_err(|e| ExposuresError::Bundle {
                hash: hash.to_owned(),
                reason: e.to_string(),
            })?;
        let flags = bundle
            .flags
            .into_iter()
            .map(|(key, flag)| {
                let variants: Vec<String> = match &flag.v {
                    Some(v) => v.0.iter().map(|(name, _)| name.to_string()).collect(),
                    None => wire::default_variants()
                        .into_iter()
                        .map(|(n, _)| n)
                        .collect(),
                };
                let splits = flag
                    .r
                    .iter()
                    .filter_map(|rule| {
                        let wire::Serve::Split(weights) = &rule.s else {
                            return None;
                        };
                        Some(Split {
                            rule: rule.n.to_string(),
                            weights: variants
                                .iter()
                                .cloned()
                                .zip(weights.iter().copied())
                                .collect(),
                            scheduled: rule.t.iter().any(|step| step.s.is_some()),
                        })
                    })
                    .collect();
                (key.into_owned(), FlagShape { variants, splits })
            })
            .collect();
        Ok(BundleShape {
            environment: bundle.environment,
            flags,
        })
    }
}

/// One exposure event as the files spell it; fields not listed are ignored.
#[derive(Deserialize)]
struct Event<'a> {
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
    #[serde(borrow)]
    bundle: Cow<'a, str>,
    #[serde(borrow)]
    unit: Cow<'a, str>,
    #[serde(borrow, default)]
    session: Option<Cow<'a, str>>,
}

/// Parses an event: as the recorder writes it, directly; any other spelling through
/// serde_json, which gives the reasons a line is not an event.
fn parse_event(line: &[u8]) -> Result<Event<'_>, serde_json::Error> {
    match recorder_event(line) {
        Some(event) => Ok(event),
        None => serde_json::from_slice(line),
    }
}

/// An event spelled exactly as the recorder writes it (docs/exposures.md: its keys in order,
/// every value a string without escapes, nothing between tokens), or `None`. Whatever this
/// accepts, serde_json reads the same.
fn recorder_event(line: &[u8]) -> Option<Event<'_>> {
    let mut fields = Fields {
        rest: std::str::from_utf8(line).ok()?,
        separator: '{',
    };
    let time = fields.take("time")?;
    let flag = fields.take("flag")?;
    let environment = fields.take("environment")?;
    let variant = fields.take("variant")?;
    let reason = fields.take("reason")?;
    let rule = fields.take("rule");
    let bundle = fields.take("bundle")?;
    fields.take("experiment");
    let unit = fields.take("unit")?;
    fields.take("targeting_key");
    let session = fields.take("session");
    (fields.rest == "}").then_some(Event {
        time: Cow::Borrowed(time),
        flag: Cow::Borrowed(flag),
        environment: Cow::Borrowed(environment),
        variant: Cow::Borrowed(variant),
        reason: Cow::Borrowed(reason),
        rule: rule.map(Cow::Borrowed),
        bundle: Cow::Borrowed(bundle),
        unit: Cow::Borrowed(unit),
        session: session.map(Cow::Borrowed),
    })
}

/// The recorder's fields, one after the other.
struct Fields<'a> {
    rest: &'a str,
    /// What comes before the next field: `{` before the first, then `,`.
    separator: char,
}

impl<'a> Fields<'a> {
    /// The string value of `key` when it is the next field, consumed; otherwise nothing is.
    /// Inlined: the keys are constants, which makes their comparisons a few instructions.
    #[inline(always)]
    fn take(&mut self, key: &str) -> Option<&'a str> {
        let value = self
            .rest
            .strip_prefix(self.separator)?
            .strip_prefix('"')?
            .strip_prefix(key)?
            .strip_prefix("\":\"")?;
        let end = string_end(value.as_bytes())?;
        let rest = value[end..].strip_prefix('"')?;
        self.rest = rest;
        self.separator = ',';
        Some(&value[..end])
    }
}

/// Where a JSON string's text ends: the first quote, backslash or control character (the
/// string is simple if that is a quote), eight bytes at a time.
fn string_end(bytes: &[u8]) -> Option<usize> {
    let mut words = bytes.chunks_exact(8);
    let mut offset = 0;
    for word in &mut words {
        let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
        let found = zero_byte(word ^ (ONES * u64::from(b'"')))
            | zero_byte(word ^ (ONES * u64::from(b'\\')))
            // A byte below 0x20, as `zero_byte` finds a byte below 1.
            | (word.wrapping_sub(ONES * 0x20) & !word & HIGHS);
        if found != 0 {
            return Some(offset + found.trailing_zeros() as usize / 8);
        }
        offset += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|i| offset + i)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each zero byte of `word` set, and perhaps of bytes above the first zero
/// one (borrows carry upward), so only the lowest set bit is to be trusted.
fn zero_byte(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGHS
}

/// A line that is not an exposure event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed {
    pub file: String,
    /// 1-based.
    pub line: u64,
    pub reason: String,
}

/// A rule index of a unit's exposure that no split check counts: not served by a rule.
const NO_RULE: u16 = u16::MAX;

/// What one unit saw of one flag in one environment: each distinct (bundle, variant), with
/// the rule that served it first. Almost every unit sees one: the rare others are boxed, so
/// that a table entry stays 16 bytes.
enum Seen {
    One(Exposed),
    Many(Box<[Exposed]>),
}

#[derive(Clone, Copy, PartialEq)]
struct Exposed {
    bundle: u32,
    variant: u16,
    rule: u16,
}

impl Seen {
    fn as_slice(&self) -> &[Exposed] {
        match self {
            Seen::One(e) => std::slice::from_ref(e),
            Seen::Many(v) => v,
        }
    }
}

#[derive(Default)]
struct VariantState {
    name: String,
    exposures: u64,
    first: i64,
    last: i64,
}

#[derive(Default)]
struct FlagState {
    flag: String,
    environment: String,
    variants: Vec<VariantState>,
    variant_index: FastMap<Box<str>, u16>,
    rules: Vec<String>,
    rule_index: FastMap<Box<str>, u16>,
    /// Per bundle: the last exposure time, and exposures per variant.
    bundles: FastMap<u32, (i64, FastMap<u16, u64>)>,
}

#[derive(Default)]
struct BundleState {
    hash: String,
    exposures: u64,
    first: i64,
    last: i64,
}

/// An event as the unit stage needs it: the ids the reading stage gave its flag, variant,
/// bundle and rule, where its unit's text is in the batch, and its session's hash.
struct UnitEvent {
    flag: u32,
    bundle: u32,
    variant: u16,
    rule: u16,
    unit: (usize, usize),
    /// The unit's [`UnitNames::hash`].
    hash: u64,
    session: Option<u64>,
}

/// Events handed from the reading stage to the unit stage, with their units' text.
struct Batch {
    events: Vec<UnitEvent>,
    text: String,
}

/// Events a batch holds, and the bytes of units: enough that handing one over costs nothing
/// per event.
const BATCH: usize = 4096;
const BATCH_TEXT: usize = 1 << 20;

impl Batch {
    fn new() -> Batch {
        Batch {
            events: Vec::with_capacity(BATCH),
            text: String::with_capacity(BATCH * 16),
        }
    }
}

/// The unit stage: what is kept per unit, which is most of the work (its tables outgrow the
/// cache), done on its own thread while the next lines are parsed.
#[derive(Default)]
struct Units {
    names: UnitNames,
    /// By flag id.
    flags: Vec<FlagUnits>,
}

#[derive(Default)]
struct FlagUnits {
    seen: FastMap<u32, Seen>,
    /// By variant id.
    variants: Vec<VariantUnits>,
}

#[derive(Default)]
struct VariantUnits {
    units: u64,
    sessions: Hashes,
}

/// A set of 64-bit hashes (already well mixed): open addressing over the hashes themselves,
/// so that an insertion costs one cache miss.
#[derive(Default)]
struct Hashes {
    /// Zero when empty; the hash zero is `zero`.
    slots: Vec<u64>,
    len: usize,
    zero: bool,
}

impl Hashes {
    fn insert(&mut self, hash: u64) {
        if hash == 0 {
            self.zero = true;
            return;
        }
        // At most half full, so that probes stay short.
        if (self.len + 1) * 2 > self.slots.len() {
            let size = (self.slots.len() * 2).max(64);
            let old = std::mem::replace(&mut self.slots, vec![0; size]);
            self.len = 0;
            for hash in old.into_iter().filter(|&h| h != 0) {
                self.insert(hash);
            }
        }
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        while self.slots[i] != 0 {
            if self.slots[i] == hash {
                return;
            }
            i = (i + 1) & mask;
        }
        self.slots[i] = hash;
        self.len += 1;
    }

    fn len(&self) -> usize {
        self.len + usize::from(self.zero)
    }
}

impl Units {
    fn add(&mut self, batch: &Batch) {
        for event in &batch.events {
            let text = batch
                .text
                .get(event.unit.0..event.unit.1)
                .unwrap_or_default();
            let unit = self.names.id(text, event.hash);
            let flag = at(&mut self.flags, event.flag as usize);
            let exposed = Exposed {
                bundle: event.bundle,
                variant: event.variant,
                rule: event.rule,
            };
            let mut new_variant = true;
            match flag.seen.get_mut(&unit) {
                None => {
                    flag.seen.insert(unit, Seen::One(exposed));
                }
                Some(seen) => {
                    let known = seen.as_slice();
                    new_variant = !known.iter().any(|e| e.variant == event.variant);
                    if !known
                        .iter()
                        .any(|e| e.variant == event.variant && e.bundle == event.bundle)
                    {
                        // Rare (a second variant or bundle): a copy costs nothing that counts.
                        *seen = Seen::Many(known.iter().copied().chain([exposed]).collect());
                    }
                }
            }
            let variant = at(&mut flag.variants, usize::from(event.variant));
            variant.units += u64::from(new_variant);
            if let Some(session) = event.session {
                variant.sessions.insert(session);
            }
        }
    }

    fn of_flag(&self, flag: usize) -> Option<&FlagUnits> {
        self.flags.get(flag)
    }
}

/// Units' names, each stored once, and their ids: an open-addressing table of 64-bit slots
/// (the high half of the name's hash, and its id) over one string of every name. A lookup
/// costs two cache misses (the slot, the name) and a new name no allocation of its own.
#[derive(Default)]
struct UnitNames {
    /// Zero when empty; otherwise the hash's high half and the id plus one.
    slots: Vec<u64>,
    names: String,
    /// By id: where its name ends in `names` (it starts where the one before ends).
    ends: Vec<usize>,
}

const LOW: u64 = 0xffff_ffff;

impl UnitNames {
    /// A name's hash: FxHasher's, its bits then folded by a 128-bit product so that both the
    /// slot (low bits) and the tag (high bits) are well mixed.
    fn hash(name: &str) -> u64 {
        let mut hasher = FxHasher::default();
        hasher.write(name.as_bytes());
        let product = u128::from(hasher.finish()) * 0x9e37_79b9_7f4a_7c15;
        (product as u64) ^ ((product >> 64) as u64)
    }

    fn name(&self, id: usize) -> &str {
        let start = id.checked_sub(1).map_or(0, |before| self.ends[before]);
        &self.names[start..self.ends[id]]
    }

    /// The id of `name`, whose hash is `hash`, added if new.
    fn id(&mut self, name: &str, hash: u64) -> u32 {
        // At most half full, so that probes stay short.
        if (self.ends.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let tag = hash & !LOW;
        let mut i = hash as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                let id = self.ends.len();
                self.names.push_str(name);
                self.ends.push(self.names.len());
                self.slots[i] = tag | (id as u64 + 1);
                return id as u32;
            }
            let id = (slot & LOW) as usize - 1;
            if slot & !LOW == tag && self.name(id) == name {
                return id as u32;
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(1024);
        let mut slots = vec![0u64; size];
        for id in 0..self.ends.len() {
            let hash = UnitNames::hash(self.name(id));
            let mut i = hash as usize & (size - 1);
            while slots[i] != 0 {
                i = (i + 1) & (size - 1);
            }
            slots[i] = (hash & !LOW) | (id as u64 + 1);
        }
        self.slots = slots;
    }
}

/// The element `i` of `items`, added (with those before it) if missing.
fn at<T: Default>(items: &mut Vec<T>, i: usize) -> &mut T {
    if items.len() <= i {
        items.resize_with(i + 1, T::default);
    }
    &mut items[i]
}

/// Reads exposure files one after the other, then [`Reader::finish`] summarises them.
#[derive(Default)]
pub struct Reader {
    /// By environment, then flag: an index into `flags`.
    index: FastMap<Box<str>, FastMap<Box<str>, usize>>,
    flags: Vec<FlagState>,
    bundle_index: FastMap<Box<str>, u32>,
    bundles: Vec<BundleState>,
    /// The flag and the bundle of the last event: consecutive events often share them.
    last: Option<(usize, u32)>,
    times: Times,
    units: Units,
    files: u64,
    exposures: u64,
    malformed: u64,
    malformed_shown: Vec<Malformed>,
    incomplete: Vec<String>,
}

/// Parses event times, the recorder's form (`2026-11-26T14:32:00.123Z`) from the minute of
/// the time before when they share it, as lines in time order do.
#[derive(Default)]
struct Times {
    /// The last minute parsed (`2026-11-26T14:32`), and its milliseconds since the epoch.
    minute: Option<([u8; 16], i64)>,
}

impl Times {
    /// What [`parse_timestamp`] gives.
    fn parse(&mut self, time: &str) -> Option<i64> {
        let b = time.as_bytes();
        let digit = |i: usize| b[i].is_ascii_digit().then(|| i64::from(b[i] - b'0'));
        let recorder_form = b.len() == 24 && b[16] == b':' && b[19] == b'.' && b[23] == b'Z';
        let within_minute = || {
            let seconds = digit(17)? * 10 + digit(18)?;
            let millis = digit(20)? * 100 + digit(21)? * 10 + digit(22)?;
            // 60 admits a leap second, as the general parser does.
            (seconds <= 60).then_some(seconds * 1000 + millis)
        };
        let Some(offset) = recorder_form.then(within_minute).flatten() else {
            return parse_timestamp(time);
        };
        match self.minute {
            Some((minute, start)) if minute == b[..16] => Some(start + offset),
            _ => {
                let millis = parse_timestamp(time)?;
                let minute = b[..16].try_into().ok()?;
                self.minute = Some((minute, millis - offset));
                Some(millis)
            }
        }
    }
}

/// Whether `reason` is one of the evaluation reasons an exposure can have.
pub(crate) fn known_reason(reason: &str) -> bool {
    matches!(
        reason,
        "disabled" | "rule" | "fallthrough" | "prerequisite_failed" | "error" | "excluded"
    )
}

fn intern(map: &mut FastMap<Box<str>, u32>, key: &str) -> (u32, bool) {
    if let Some(&i) = map.get(key) {
        return (i, false);
    }
    let i = map.len() as u32;
    map.insert(key.into(), i);
    (i, true)
}

/// Batches on their way to the unit stage: enough to keep both stages busy while one of them
/// is slowed for a while (by a run of new units, or a refill).
const QUEUED: usize = 32;

impl Reader {
    pub fn new() -> Reader {
        Reader::default()
    }

    /// The hashes of the bundles the exposures read so far name, in the order first seen.
    pub fn bundle_hashes(&self) -> impl Iterator<Item = &str> {
        self.bundles.iter().map(|b| b.hash.as_str())
    }

    /// Reads one file's lines. `name` is how reports name the file. A last line without its
    /// line feed that is not an event is a writer still under way: it is noted, not counted
    /// as malformed.
    ///
    /// Two stages: this thread parses the lines and keeps what is per flag, variant and
    /// bundle; a second thread keeps what is per unit, from the events in the order read, so
    /// the result is the same as one thread's (which does both when no thread can start).
    pub fn read(&mut self, name: &str, mut input: impl BufRead) -> Result<(), ExposuresError> {
        self.files += 1;
        let mut units = std::mem::take(&mut self.units);
        let staged = std::thread::scope(|scope| {
            let (sender, batches) = mpsc::sync_channel::<Batch>(QUEUED);
            let stage = std::thread::Builder::new()
                .name("flagstone-exposure-units".into())
                .spawn_scoped(scope, || batches.into_iter().for_each(|b| units.add(&b)));
            stage.ok().map(|_| {
                self.read_lines(name, &mut input, |batch| {
                    // The stage ends only once every batch is sent.
                    let _ = sender.send(batch);
                })
            })
        });
        let result = match staged {
            Some(result) => result,
            None => self.read_lines(name, &mut input, |batch| units.add(&batch)),
        };
        self.units = units;
        result
    }

    /// The reading stage: every line of `input`, the events' units handed over in batches.
    fn read_lines(
        &mut self,
        name: &str,
        input: &mut impl BufRead,
        mut hand_over: impl FnMut(Batch),
    ) -> Result<(), ExposuresError> {
        let mut batch = Batch::new();
        let read = each_line(name, input, |number, text, complete| {
            match self.add(text, &mut batch) {
                Ok(()) => {}
                Err(_) if !complete => self.incomplete.push(format!("{name}:{number}")),
                Err(reason) => {
                    self.malformed += 1;
                    if self.malformed_shown.len() < MALFORMED_SHOWN {
                        self.malformed_shown.push(Malformed {
                            file: name.to_owned(),
                            line: number,
                            reason,
                        });
                    }
                }
            }
            if batch.events.len() == BATCH || batch.text.len() >= BATCH_TEXT {
                hand_over(std::mem::replace(&mut batch, Batch::new()));
            }
        });
        if !batch.events.is_empty() {
            hand_over(batch);
        }
        read
    }

    /// Adds one line, its unit to `batch`, or says why it is not an exposure event.
    fn add(&mut self, line: &[u8], batch: &mut Batch) -> Result<(), String> {
        if line.iter().all(u8::is_ascii_whitespace) {
            return Err("empty line".to_owned());
        }
        let event = parse_event(line).map_err(|e| e.to_string())?;
        let time = self
            .times
            .parse(&event.time)
            .ok_or_else(|| format!("time `{}` is not an RFC 3339 date-time", event.time))?;
        if !known_reason(&event.reason) {
            return Err(format!(
                "reason `{}` is not an evaluation reason",
                event.reason
            ));
        }
        let last = self
            .last
            .filter(|&(_, b)| self.bundles[b as usize].hash == *event.bundle);
        if last.is_none() && !crate::eval::watch::valid_hash(&event.bundle) {
            return Err(format!("bundle `{}` is not a content hash", event.bundle));
        }
        self.exposures += 1;
        let bundle = match last {
            Some((_, b)) => b,
            None => {
                let (bundle, new) = intern(&mut self.bundle_index, &event.bundle);
                if new {
                    self.bundles.push(BundleState {
                        hash: event.bundle.to_string(),
                        first: time,
                        last: time,
                        ..BundleState::default()
                    });
                }
                bundle
            }
        };
        let b = &mut self.bundles[bundle as usize];
        b.exposures += 1;
        b.first = b.first.min(time);
        b.last = b.last.max(time);

        let same_flag = self.last.map(|(f, _)| f).filter(|&f| {
            let state = &self.flags[f];
            state.flag == *event.flag && state.environment == *event.environment
        });
        let flag_id = match same_flag {
            Some(f) => f,
            None => self.flag_id(&event.environment, &event.flag),
        };
        self.last = Some((flag_id, bundle));
        let state = &mut self.flags[flag_id];
        let variant = match state.variant_index.get(&*event.variant) {
            Some(&v) => v,
            None => {
                let v = u16::try_from(state.variants.len())
                    .ok()
                    .filter(|&v| v != u16::MAX)
                    .ok_or("more variants of one flag than any bundle can have")?;
                state.variant_index.insert(event.variant.as_ref().into(), v);
                state.variants.push(VariantState {
                    name: event.variant.to_string(),
                    first: time,
                    last: time,
                    ..VariantState::default()
                });
                v
            }
        };
        let rule = match (&*event.reason, &event.rule) {
            ("rule", Some(name)) => match state.rule_index.get(&**name) {
                Some(&r) => r,
                None => match u16::try_from(state.rules.len())
                    .ok()
                    .filter(|&r| r != NO_RULE)
                {
                    Some(r) => {
                        state.rule_index.insert(name.as_ref().into(), r);
                        state.rules.push(name.to_string());
                        r
                    }
                    None => NO_RULE,
                },
            },
            _ => NO_RULE,
        };
        let v = &mut state.variants[variant as usize];
        v.exposures += 1;
        v.first = v.first.min(time);
        v.last = v.last.max(time);
        let (last, per_variant) = state
            .bundles
            .entry(bundle)
            .or_insert((time, FastMap::default()));
        *last = (*last).max(time);
        *per_variant.entry(variant).or_default() += 1;

        let start = batch.text.len();
        batch.text.push_str(&event.unit);
        batch.events.push(UnitEvent {
            flag: flag_id as u32,
            bundle,
            variant,
            rule,
            unit: (start, batch.text.len()),
            hash: UnitNames::hash(&event.unit),
            // A 64-bit SipHash stands for the session id: 8 bytes a session whatever its
            // length, and well mixed, so that distinct ids collide only by chance.
            session: event.session.as_ref().map(|session| {
                BuildHasherDefault::<std::hash::DefaultHasher>::default().hash_one(&**session)
            }),
        });
        Ok(())
    }

    /// The index of (environment, flag) in `flags`, added if new.
    fn flag_id(&mut self, environment: &str, flag: &str) -> usize {
        let by_flag = match self.index.get_mut(environment) {
            Some(m) => m,
            None => self.index.entry(environment.into()).or_default(),
        };
        match by_flag.get(flag) {
            Some(&i) => i,
            None => {
                let i = self.flags.len();
                by_flag.insert(flag.into(), i);
                self.flags.push(FlagState {
                    flag: flag.to_owned(),
                    environment: environment.to_owned(),
                    ..FlagState::default()
                });
                i
            }
        }
    }

    /// The summary. `bundles` are the shapes of the bundles known, by hash; `live` the hashes
    /// that environments serve now, when known.
    pub fn finish(
        self,
        bundles: &BTreeMap<String, BundleShape>,
        live: Option<&BTreeSet<String>>,
    ) -> Report {
        let none = FlagUnits::default();
        let mut flags: Vec<FlagReport> = self
            .flags
            .iter()
            .enumerate()
            .map(|(i, state)| {
                let units = self.units.of_flag(i).unwrap_or(&none);
                flag_report(state, units, &self.bundles, bundles)
            })
            .collect();
        flags.sort_by(|a, b| (&a.flag, &a.environment).cmp(&(&b.flag, &b.environment)));
        let mut seen: Vec<BundleSeen> = self
            .bundles
            .iter()
            .map(|b| BundleSeen {
                hash: b.hash.clone(),
                exposures: b.exposures,
                first_seen: format_timestamp(b.first),
                last_seen: format_timestamp(b.last),
                known: bundles.contains_key(&b.hash),
                live: live.map(|live| live.contains(&b.hash)),
            })
            .collect();
        seen.sort_by(|a, b| (&a.first_seen, &a.hash).cmp(&(&b.first_seen, &b.hash)));
        Report {
            files: self.files,
            exposures: self.exposures,
            malformed: self.malformed,
            malformed_shown: self.malformed_shown,
            incomplete: self.incomplete,
            flags,
            bundles: seen,
            live_known: live.is_some(),
        }
    }
}

fn flag_report(
    state: &FlagState,
    units: &FlagUnits,
    seen: &[BundleState],
    bundles: &BTreeMap<String, BundleShape>,
) -> FlagReport {
    let hash_of = |b: u32| seen[b as usize].hash.as_str();
    let mut variants: Vec<VariantReport> = state
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let per_unit = units.variants.get(i);
            VariantReport {
                name: v.name.clone(),
                units: per_unit.map_or(0, |u| u.units),
                sessions: per_unit.map_or(0, |u| u.sessions.len() as u64),
                exposures: v.exposures,
                first_seen: format_timestamp(v.first),
                last_seen: format_timestamp(v.last),
            }
        })
        .collect();
    variants.sort_by(|a, b| a.name.cmp(&b.name));

    let mut multi = MultiVariant::default();
    for seen in units.seen.values() {
        let all = seen.as_slice();
        let first = all[0].variant;
        if all.iter().all(|e| e.variant == first) {
            continue;
        }
        // Within one bundle a unit's variant is decided by its context alone.
        let within_bundle = all.iter().enumerate().any(|(i, a)| {
            all[i + 1..]
                .iter()
                .any(|b| a.bundle == b.bundle && a.variant != b.variant)
        });
        if within_bundle {
            multi.context_changed += 1;
        } else {
            multi.bundle_changed += 1;
        }
    }

    // Exposures their bundle cannot explain.
    let mut not_in_bundle = 0;
    let mut unknown_variant = 0;
    for (&bundle, (_, per_variant)) in &state.bundles {
        let Some(shape) = bundles.get(hash_of(bundle)) else {
            continue;
        };
        let flag = shape.flags.get(&state.flag);
        for (&variant, &n) in per_variant {
            match flag {
                None => not_in_bundle += n,
                Some(flag) => {
                    let name = &state.variants[variant as usize].name;
                    if !flag.variants.contains(name) {
                        unknown_variant += n;
                    }
                }
            }
        }
    }

    let latest = state
        .bundles
        .iter()
        .max_by(|a, b| (a.1.0, hash_of(*a.0)).cmp(&(b.1.0, hash_of(*b.0))))
        .map(|(&b, _)| b);
    let splits = latest
        .map(|latest| split_checks(state, units, latest, hash_of(latest), bundles))
        .unwrap_or_default();
    FlagReport {
        flag: state.flag.clone(),
        environment: state.environment.clone(),
        units: units.seen.len() as u64,
        variants,
        multi,
        not_in_bundle,
        unknown_variant,
        latest_bundle: latest.map(|b| hash_of(b).to_owned()),
        splits,
    }
}

/// The sample ratio check of each split the latest bundle serves, over the units that bundle
/// served by that rule.
fn split_checks(
    state: &FlagState,
    units: &FlagUnits,
    latest: u32,
    hash: &str,
    bundles: &BTreeMap<String, BundleShape>,
) -> Vec<SplitCheck> {
    let Some(flag) = bundles.get(hash).and_then(|b| b.flags.get(&state.flag)) else {
        return Vec::new();
    };
    flag.splits
        .iter()
        .map(|split| {
            let rule = state.rule_index.get(split.rule.as_str()).copied();
            let positive: Vec<&(String, u32)> =
                split.weights.iter().filter(|(_, w)| *w > 0).collect();
            let mut counts = vec![0u64; positive.len()];
            let mut other = 0;
            if let Some(rule) = rule {
                for seen in units.seen.values() {
                    for e in seen.as_slice() {
                        if e.bundle != latest || e.rule != rule {
                            continue;
                        }
                        let name = &state.variants[e.variant as usize].name;
                        match positive.iter().position(|(v, _)| v == name) {
                            Some(i) => counts[i] += 1,
                            None => other += 1,
                        }
                    }
                }
            }
            let total: u64 = positive.iter().map(|(_, w)| u64::from(*w)).sum();
            let arms: Vec<SplitArm> = positive
                .iter()
                .zip(&counts)
                .map(|((variant, weight), &units)| SplitArm {
                    variant: variant.clone(),
                    units,
                    expected_share: *weight as f64 / total.max(1) as f64,
                })
                .collect();
            let observed: u64 = counts.iter().sum();
            let outcome = if split.scheduled {
                SrmOutcome::Skipped("the rule's schedule changes its split".to_owned())
            } else if positive.len() < 2 {
                SrmOutcome::Skipped("the split serves one variant".to_owned())
            } else if observed == 0 {
                SrmOutcome::Skipped("no unit was served by this rule".to_owned())
            } else {
                let weights: Vec<f64> = arms.iter().map(|a| a.expected_share).collect();
                let p_value = crate::stats::srm_p_value(&counts, &weights);
                SrmOutcome::Tested {
                    p_value,
                    mismatch: p_value < SRM_THRESHOLD,
                }
            };
            SplitCheck {
                rule: split.rule.clone(),
                bundle: hash.to_owned(),
                arms,
                outside_split: other,
                outcome,
            }
        })
        .collect()
}

/// The summary of a set of exposure files.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub files: u64,
    /// Exposure events read.
    pub exposures: u64,
    /// Lines that are not exposure events (all counted; the first few in `malformed_shown`).
    pub malformed: u64,
    pub malformed_shown: Vec<Malformed>,
    /// `file:line` of last lines still being written (no line feed, not yet an event).
    pub incomplete: Vec<String>,
    /// By flag, then environment.
    pub flags: Vec<FlagReport>,
    /// Every bundle the exposures name, by first exposure.
    pub bundles: Vec<BundleSeen>,
    /// Whether the live bundles were given (otherwise `BundleSeen::live` is `None`).
    pub live_known: bool,
}

impl Report {
    /// Exposures from bundles that are not live, when the live ones are known.
    pub fn from_dead_bundles(&self) -> u64 {
        self.bundles
            .iter()
            .filter(|b| b.live == Some(false))
            .map(|b| b.exposures)
            .sum()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct FlagReport {
    pub flag: String,
    pub environment: String,
    /// Distinct units, whatever they saw.
    pub units: u64,
    /// By name.
    pub variants: Vec<VariantReport>,
    pub multi: MultiVariant,
    /// Exposures whose (known) bundle has no such flag.
    pub not_in_bundle: u64,
    /// Exposures to a variant their (known) bundle's flag does not have.
    pub unknown_variant: u64,
    /// The bundle of the latest exposure: the one the split checks are about.
    pub latest_bundle: Option<String>,
    /// One per split rule of the latest bundle, when it is known.
    pub splits: Vec<SplitCheck>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VariantReport {
    pub name: String,
    pub units: u64,
    /// Distinct session ids (counted by a 64-bit hash of each).
    pub sessions: u64,
    pub exposures: u64,
    pub first_seen: String,
    pub last_seen: String,
}

/// Units that saw more than one variant, by why.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MultiVariant {
    /// Two variants from one bundle: the unit's context changed (a bundle serves one variant
    /// per context).
    pub context_changed: u64,
    /// Each bundle served it one variant, but a new bundle another.
    pub bundle_changed: u64,
}

impl MultiVariant {
    pub fn total(&self) -> u64 {
        self.context_changed + self.bundle_changed
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct SplitCheck {
    pub rule: String,
    /// The bundle whose units were counted: the flag's latest.
    pub bundle: String,
    /// The variants with a positive weight.
    pub arms: Vec<SplitArm>,
    /// Units served by the rule a variant it gives no weight.
    pub outside_split: u64,
    pub outcome: SrmOutcome,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SplitArm {
    pub variant: String,
    pub units: u64,
    /// The weights normalised to sum to 1.
    pub expected_share: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SrmOutcome {
    /// `mismatch`: p below [`SRM_THRESHOLD`], the split is not what the bundle intends.
    Tested { p_value: f64, mismatch: bool },
    /// Why there is no test.
    Skipped(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct BundleSeen {
    pub hash: String,
    pub exposures: u64,
    pub first_seen: String,
    pub last_seen: String,
    /// Whether its shape was given.
    pub known: bool,
    /// Whether an environment serves it now, when that is known.
    pub live: Option<bool>,
}

/// One session of a variant, for replays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub session: String,
    pub unit: String,
    pub first_seen: String,
}

/// Which sessions to list.
pub struct SessionQuery<'q> {
    pub flag: &'q str,
    pub variant: &'q str,
    /// `None`: any environment, when the flag was seen in one only.
    pub environment: Option<&'q str>,
}

/// A session's unit and first exposure time.
type FirstSeen = (Box<str>, i64);

/// The sessions of one variant, collected from files read one after the other.
#[derive(Default)]
pub struct SessionReader {
    /// By environment: session → (unit, first seen).
    found: BTreeMap<String, FastMap<Box<str>, FirstSeen>>,
    /// Environments where the flag was seen at all.
    environments: BTreeSet<String>,
}

/// Sessions listed for more than one environment when none was named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmbiguousEnvironment(pub Vec<String>);

impl std::fmt::Display for AmbiguousEnvironment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the flag was exposed in more than one environment ({})",
            self.0.join(", ")
        )
    }
}

impl std::error::Error for AmbiguousEnvironment {}

impl SessionReader {
    /// Reads one file; lines that are not events are skipped here (the summary reports them).
    pub fn read(
        &mut self,
        name: &str,
        query: &SessionQuery,
        mut input: impl BufRead,
    ) -> Result<(), ExposuresError> {
        each_line(name, &mut input, |_, line, _| {
            let Ok(event) = parse_event(line) else {
                return;
            };
            if event.flag != query.flag || query.environment.is_some_and(|e| e != event.environment)
            {
                return;
            }
            if !self.environments.contains(&*event.environment) {
                self.environments.insert(event.environment.to_string());
            }
            let (Some(session), Some(time)) = (&event.session, parse_timestamp(&event.time)) else {
                return;
            };
            if event.variant != query.variant {
                return;
            }
            let sessions = match self.found.get_mut(&*event.environment) {
                Some(s) => s,
                None => self.found.entry(event.environment.to_string()).or_default(),
            };
            match sessions.get_mut(&**session) {
                Some(entry) if entry.1 <= time => {}
                Some(entry) => *entry = (event.unit.as_ref().into(), time),
                None => {
                    sessions.insert(session.as_ref().into(), (event.unit.as_ref().into(), time));
                }
            }
        })
    }

    /// The sessions by first exposure (then id), or the environments to choose from.
    pub fn finish(self) -> Result<Vec<Session>, AmbiguousEnvironment> {
        if self.environments.len() > 1 {
            return Err(AmbiguousEnvironment(
                self.environments.into_iter().collect(),
            ));
        }
        let mut sessions: Vec<(i64, Session)> = self
            .found
            .into_values()
            .flatten()
            .map(|(session, (unit, time))| {
                (
                    time,
                    Session {
                        session: session.into(),
                        unit: unit.into(),
                        first_seen: format_timestamp(time),
                    },
                )
            })
            .collect();
        sessions.sort_by(|a, b| (a.0, &a.1.session).cmp(&(b.0, &b.1.session)));
        Ok(sessions.into_iter().map(|(_, s)| s).collect())
    }
}

/// Calls `each` with every line of `input` (numbered from 1, without its line break) and
/// whether it ended with a line feed: a last line without one may still be being written.
pub(crate) fn each_line(
    name: &str,
    input: &mut impl BufRead,
    mut each: impl FnMut(u64, &[u8], bool),
) -> Result<(), ExposuresError> {
    // The start of a line the buffer ends within, until its end is read.
    let mut carried = Vec::new();
    let mut number = 0u64;
    loop {
        let buffer = match input.fill_buf() {
            Ok(buffer) => buffer,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(ExposuresError::Read {
                    file: name.to_owned(),
                    reason: e.to_string(),
                });
            }
        };
        if buffer.is_empty() {
            if !carried.is_empty() {
                each(number + 1, strip(&carried), false);
            }
            return Ok(());
        }
        // Lines are passed from the buffer itself, unless one began in an earlier buffer.
        let mut rest = buffer;
        while let Some(end) = find_line_feed(rest) {
            number += 1;
            if carried.is_empty() {
                each(number, strip(&rest[..end]), true);
            } else {
                carried.extend_from_slice(&rest[..end]);
                each(number, strip(&carried), true);
                carried.clear();
            }
            rest = &rest[end + 1..];
        }
        carried.extend_from_slice(rest);
        let read = buffer.len();
        input.consume(read);
    }
}

/// A line without the carriage return of a CRLF line break.
fn strip(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The position of the first line feed in `bytes`, eight bytes at a time.
fn find_line_feed(bytes: &[u8]) -> Option<usize> {
    let mut words = bytes.chunks_exact(8);
    let mut offset = 0;
    for word in &mut words {
        let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
        let zeros = zero_byte(word ^ (ONES * u64::from(b'\n')));
        if zeros != 0 {
            return Some(offset + zeros.trailing_zeros() as usize / 8);
        }
        offset += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| offset + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Fields<'a> = [Option<&'a str>; 9];

    fn fields<'a>(event: &'a Event<'a>) -> Fields<'a> {
        [
            Some(&event.time),
            Some(&event.flag),
            Some(&event.environment),
            Some(&event.variant),
            Some(&event.reason),
            event.rule.as_deref(),
            Some(&event.bundle),
            Some(&event.unit),
            event.session.as_deref(),
        ]
    }

    #[test]
    fn the_recorder_spelling_is_read_as_serde_json_reads_it() {
        let line = r#"{"time":"2026-11-26T12:00:00.000Z","flag":"f","environment":"production","variant":"on","reason":"rule","rule":"r","bundle":"b","experiment":"e","unit":"u-é","targeting_key":"t","session":"s"}"#;
        let lines = [
            line.to_owned(),
            line.replace(r#","rule":"r""#, "")
                .replace(r#","session":"s""#, ""),
            line.replace(r#","experiment":"e""#, ""),
            // Not the recorder's spelling: serde_json reads these, or says why not.
            line.replace("u-é", r#"u\"1"#),
            line.replace(r#","rule":"r""#, r#","rule":null"#),
            line.replace(
                r#""flag":"f","environment":"production""#,
                r#""environment":"production","flag":"f""#,
            ),
            line.replace(r#""session":"s"}"#, r#""session":"s",}"#),
            line.replace(r#""session":"s"}"#, r#""session":"s"} "#),
            line.replace('}', r#","extra":{"v":2}}"#),
            line.replace("u-é", "u\u{1}"),
            line[..60].to_owned(),
        ];
        for (i, line) in lines.iter().enumerate() {
            let fast = recorder_event(line.as_bytes());
            assert_eq!(fast.is_some(), i < 3, "{line}");
            let parsed = parse_event(line.as_bytes());
            let serde = serde_json::from_slice::<Event>(line.as_bytes());
            match (&parsed, &serde) {
                (Ok(a), Ok(b)) => assert_eq!(fields(a), fields(b), "{line}"),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                _ => panic!("{line}: {:?} / {:?}", parsed.is_ok(), serde.is_ok()),
            }
        }
    }

    #[test]
    fn times_in_the_recorder_form_parse_as_any_other() {
        let mut times = Times::default();
        for time in [
            "2026-11-26T12:00:00.000Z",
            "2026-11-26T12:00:59.999Z",
            "2026-11-26T12:00:60.000Z",
            "2026-11-26T12:00:61.000Z",
            "2026-11-26T12:00:0x.000Z",
            "2026-11-26T12:01:00.001Z",
            "2026-11-26T12:01:00.001+01:00",
            "2026-11-26T12:01:00Z",
            "2026-02-30T12:01:00.000Z",
            "2026-02-30T12:01:01.000Z",
            "2026-11-26T25:01:00.000Z",
            "2026-11-26T12:01:00.5Z",
            "2026-11-26t12:01:00.500Z",
            "2026-11-26T12:01:00.500Z",
        ] {
            assert_eq!(times.parse(time), parse_timestamp(time), "{time}");
        }
    }

    #[test]
    fn lines_across_buffer_refills() {
        let text = b"first\r\nsecond line, longer than the buffer\n\nlast";
        let mut input = std::io::BufReader::with_capacity(4, &text[..]);
        let mut lines = Vec::new();
        each_line("f", &mut input, |number, line, complete| {
            lines.push((number, String::from_utf8_lossy(line).into_owned(), complete));
        })
        .expect("read");
        let expected = [
            (1, "first", true),
            (2, "second line, longer than the buffer", true),
            (3, "", true),
            (4, "last", false),
        ];
        let expected: Vec<_> = expected
            .iter()
            .map(|&(n, l, c)| (n, l.to_owned(), c))
            .collect();
        assert_eq!(lines, expected);
        assert_eq!(find_line_feed(b"0123456789\nabcdef\n"), Some(10));
        assert_eq!(find_line_feed(b"0123456\n"), Some(7));
        assert_eq!(find_line_feed(b"no line feed at all"), None);
        assert_eq!(string_end(b"plain text, then\""), Some(16));
        assert_eq!(string_end(b"ab\\c\""), Some(2));
        assert_eq!(string_end(b"0123456789\tx"), Some(10));
        assert_eq!(string_end(b"no end"), None);
    }
}
