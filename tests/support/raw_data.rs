//! A generated experiment with its raw data (docs/raw-data.md), deterministic from a seed: a
//! small repository with metric definitions of every aggregation and a covariate, a flag with
//! a split rule and another rule, an experiment with a holdout and a layer, and exposure and
//! event files holding every case the summary's rules decide. The dataset keeps what it
//! generated, so tests can assert counts that do not come from any implementation.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use flagstone::exposure::{Exposure, ReasonKind};
use flagstone::literal::format_timestamp;

pub const EXPERIMENT: &str = "checkout/one-page";
pub const FLAG: &str = "checkout/one-page";
pub const ENVIRONMENT: &str = "production";
/// The split rule, and the rule that serves without splitting.
pub const SPLIT_RULE: &str = "experiment";
pub const OTHER_RULE: &str = "staff";
/// In byte order, as the summary's rows: "One-page" sorts before "control" by bytes, not in
/// most locales' collations.
pub const VARIANTS: [&str; 2] = ["One-page", "control"];
/// The property sum and mean metrics read.
pub const PROPERTY: &str = "amount";
/// The files of raw data, relative to the repository.
pub const EXPOSURES: &str = "raw/exposures.jsonl";
pub const EVENTS: &str = "raw/events.jsonl";

const MINUTE: i64 = 60_000;
const DAY: i64 = 1440 * MINUTE;
/// 2026-12-01T00:00:00Z, the experiment's start; its `end` is 2026-12-14, so exposures up to
/// 2026-12-15T00:00:00Z, not included, assign.
const START: i64 = 20_788 * DAY;
const END: i64 = START + 14 * DAY;

const PROJECT: &str = r#"name = "shop"
environments = ["staging", "production"]

[layers.checkout]
description = "Checkout experiments"

[holdouts.long-term]
percent = 5
description = "Kept out of every checkout experiment"

[metrics.purchased]
description = "Completed an order within a week"
event = "order_completed"
aggregation = "converted"
window = "7d"

[metrics.orders]
description = "Orders in the first two weeks"
event = "order_completed"
aggregation = "count"
window = "14d"
covariate = { window = "14d" }

[metrics.revenue]
description = "Revenue in the first two weeks"
event = "order_completed"
aggregation = "sum"
property = "amount"
window = "14d"

[metrics.order_value]
description = "Mean order value in the first two weeks"
event = "order_completed"
aggregation = "mean"
property = "amount"
window = "14d"

[metrics.sessions]
description = "Sessions in the first two weeks"
event = "session_started"
aggregation = "count"
window = "14d"

[metrics.orders_per_session]
description = "Orders per session in the first two weeks"
aggregation = "ratio"
numerator = "orders"
denominator = "sessions"

[warehouse]
exposures = "raw.exposures"
events = "raw.events"
"#;

const FLAG_FILE: &str = r#"description = "A one-page checkout"
owners = ["alice"]
kind = "experiment"
expires = 2027-06-30
off_variant = "control"

[variants]
control = false
One-page = true

[env.staging]
serve = "control"

[env.production]
serve = "control"

[[env.production.rules]]
name = "staff"
if = [{ attr = "targeting_key", op = "starts_with", values = ["staff_"] }]
serve = "One-page"

[[env.production.rules]]
name = "experiment"
split = { control = 50, One-page = 50 }
"#;

const EXPERIMENT_FILE: &str = r#"flag = "checkout/one-page"
control = "control"
hypothesis = "A one-page checkout gets more visitors to complete an order."
owners = ["alice"]
start = 2026-12-01
end = 2026-12-14
environments = ["production"]
layer = "checkout"
range = [0, 50]
holdout = "long-term"
mde = 0.1
daily_units = 5000

[primary]
name = "purchased"
baseline = 0.3

[[secondary]]
name = "orders"

[[secondary]]
name = "orders_per_session"

[[secondary]]
name = "order_value"

[[secondary]]
name = "revenue"

[[guardrails]]
name = "sessions"
max_regression = 0.05
"#;

/// What the generator made, by construction.
#[derive(Debug, Default, PartialEq)]
pub struct Truth {
    /// Units in the experiment, per variant.
    pub users: BTreeMap<String, u64>,
    /// Units assigned more than one variant.
    pub several_variants: u64,
    /// Units the holdout or the layer kept out, never assigned.
    pub held_out: u64,
    /// Units that bought within a week of their first exposure, per variant.
    pub purchased: BTreeMap<String, u64>,
}

/// splitmix64: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    fn between(&mut self, from: i64, to: i64) -> i64 {
        from + self.below((to - from) as u64) as i64
    }
}

struct Writer {
    exposures: String,
    events: Vec<(i64, String)>,
}

impl Writer {
    fn exposure(&mut self, unit: &str, at: i64, variant: &str, how: How) {
        let (flag, environment, reason, rule, experiment) = match how {
            How::Assign => (FLAG, ENVIRONMENT, ReasonKind::Rule, Some(SPLIT_RULE), true),
            How::HeldOut => (
                FLAG,
                ENVIRONMENT,
                ReasonKind::Excluded,
                Some(SPLIT_RULE),
                true,
            ),
            How::OtherRule => (FLAG, ENVIRONMENT, ReasonKind::Rule, Some(OTHER_RULE), true),
            How::Fallthrough => (FLAG, ENVIRONMENT, ReasonKind::Fallthrough, None, true),
            How::Staging => (FLAG, "staging", ReasonKind::Fallthrough, None, false),
            How::OtherFlag => (
                "search/ranking",
                ENVIRONMENT,
                ReasonKind::Fallthrough,
                None,
                false,
            ),
        };
        let exposure = Exposure {
            time: format_timestamp(at),
            flag: flag.to_owned(),
            environment: environment.to_owned(),
            variant: variant.to_owned(),
            reason,
            rule: rule.map(str::to_owned),
            bundle: "ab".repeat(32),
            experiment: experiment.then(|| EXPERIMENT.to_owned()),
            unit: unit.to_owned(),
            targeting_key: Some(unit.to_owned()),
            session: None,
        };
        self.exposures += &serde_json::to_string(&exposure).unwrap();
        self.exposures.push('\n');
    }

    /// An event; `property` is the JSON of its `amount`, if any. Some times carry an offset
    /// other than `Z`.
    fn event(&mut self, rng: &mut Rng, unit: &str, at: i64, event: &str, property: Option<&str>) {
        let time = if rng.chance(0.1) {
            // The same instant, two hours ahead of UTC.
            let local = format_timestamp(at + 120 * MINUTE);
            format!("{}+02:00", &local[..local.len() - 1])
        } else {
            format_timestamp(at)
        };
        let mut line = format!(
            "{{\"time\":{},\"unit\":{},\"event\":{}",
            serde_json::json!(time),
            serde_json::json!(unit),
            serde_json::json!(event)
        );
        if let Some(value) = property {
            let _ = write!(
                line,
                ",\"properties\":{{\"{PROPERTY}\":{value},\"page\":\"/cart\"}}"
            );
        }
        line.push_str("}\n");
        self.events.push((at, line));
    }
}

#[derive(Clone, Copy)]
enum How {
    Assign,
    HeldOut,
    OtherRule,
    Fallthrough,
    Staging,
    OtherFlag,
}

/// An order's amount as JSON: mostly cents, sometimes whole, sometimes not a number or absent.
fn amount(rng: &mut Rng) -> Option<String> {
    match rng.below(20) {
        0 => None,
        1 => Some("\"n/a\"".to_owned()),
        2 => Some("true".to_owned()),
        3 => Some(format!("{}", 10 + rng.below(90))),
        _ => Some(format!("{}.{:02}", 5 + rng.below(200), rng.below(100))),
    }
}

/// Writes the repository and its raw data into `dir`, from `seed`, with `units` units.
pub fn write(dir: &Path, seed: u64, units: u64) -> Truth {
    let files = [
        ("flagstone.toml", PROJECT),
        ("flags/checkout/one-page.toml", FLAG_FILE),
        ("experiments/checkout/one-page.toml", EXPERIMENT_FILE),
    ];
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let mut rng = Rng(seed);
    let mut w = Writer {
        exposures: String::new(),
        events: Vec::new(),
    };
    let mut truth = Truth::default();
    for n in 0..units {
        let unit = format!("u{n:05}");
        let variant = VARIANTS[rng.below(2) as usize];
        let t0 = rng.between(START, END);
        let roll = rng.below(100);
        let assigned = match roll {
            // Left out for seeing both variants.
            0..=3 => {
                w.exposure(&unit, t0, variant, How::Assign);
                let other = VARIANTS.iter().find(|v| **v != variant).unwrap();
                w.exposure(&unit, rng.between(t0, END), other, How::Assign);
                truth.several_variants += 1;
                false
            }
            // Kept out by the holdout or the layer.
            4..=9 => {
                w.exposure(&unit, t0, "control", How::HeldOut);
                truth.held_out += 1;
                false
            }
            // Served by the other rule or the fallthrough: never in.
            10..=14 => {
                let how = if roll.is_multiple_of(2) {
                    How::OtherRule
                } else {
                    How::Fallthrough
                };
                w.exposure(&unit, t0, variant, how);
                false
            }
            // Exposed only outside the experiment's dates (the end is not included).
            15..=17 => {
                let at = if roll == 15 {
                    START - 1
                } else {
                    END + rng.below(3) as i64 * DAY
                };
                w.exposure(&unit, at, variant, How::Assign);
                false
            }
            // Exposed only in another environment.
            18 => {
                w.exposure(&unit, t0, variant, How::Staging);
                false
            }
            _ => {
                w.exposure(&unit, t0, variant, How::Assign);
                // Exposures that do not assign do not contaminate: the other variant by the
                // other rule, before the first exposure, and the same variant again later.
                if rng.chance(0.1) {
                    let other = VARIANTS.iter().find(|v| **v != variant).unwrap();
                    w.exposure(&unit, t0 - rng.between(1, DAY), other, How::OtherRule);
                }
                if rng.chance(0.2) {
                    w.exposure(&unit, rng.between(t0, END + 2 * DAY), variant, How::Assign);
                }
                if rng.chance(0.1) {
                    let other = VARIANTS.iter().find(|v| **v != variant).unwrap();
                    w.exposure(&unit, START - DAY, other, How::Assign);
                }
                *truth.users.entry(variant.to_owned()).or_default() += 1;
                true
            }
        };
        if rng.chance(0.2) {
            w.exposure(&unit, t0, "on", How::OtherFlag);
        }
        // Events: everyone has some, in the experiment or not.
        let treated = assigned && variant == "One-page";
        let mut bought_in_week = false;
        // Before exposure: in the covariate's two weeks, and earlier (in no window).
        for _ in 0..rng.below(4) {
            let at = rng.between(t0 - 20 * DAY, t0);
            let event = if rng.chance(0.5) {
                "order_completed"
            } else {
                "session_started"
            };
            let property = amount(&mut rng);
            w.event(&mut rng, &unit, at, event, property.as_deref());
        }
        for _ in 0..rng.below(6) {
            let at = rng.between(t0, t0 + 18 * DAY);
            w.event(&mut rng, &unit, at, "session_started", None);
        }
        // The treatment lifts conversion.
        if rng.chance(if treated { 0.45 } else { 0.3 }) {
            for k in 0..1 + rng.below(3) {
                let at = match rng.below(8) {
                    // On the edges: the first exposure itself, and the week's end (out of the
                    // converted window, in the count's).
                    0 if k == 0 => t0,
                    1 => t0 + 7 * DAY,
                    2 => t0 + 14 * DAY,
                    _ => rng.between(t0, t0 + 16 * DAY),
                };
                bought_in_week |= at < t0 + 7 * DAY;
                let property = amount(&mut rng);
                w.event(&mut rng, &unit, at, "order_completed", property.as_deref());
            }
        }
        if rng.chance(0.3) {
            let at = t0 + rng.below(DAY as u64) as i64;
            w.event(&mut rng, &unit, at, "page_viewed", None);
        }
        if assigned && bought_in_week {
            *truth.purchased.entry(variant.to_owned()).or_default() += 1;
        }
    }
    // Events of units never exposed.
    for n in 0..units / 50 {
        let at = rng.between(START, END);
        w.event(
            &mut rng,
            &format!("ghost{n}"),
            at,
            "order_completed",
            Some("9.99"),
        );
    }
    // Events arrive roughly in time order, as an export writes them.
    w.events.sort_by_key(|(at, _)| *at);
    let mut events: String = w.events.into_iter().map(|(_, line)| line).collect();
    events.push_str("{\"time\":\"2026-12-02T10:00:00.000Z\",\"unit\":\n");
    let mut exposures = w.exposures;
    exposures.push_str("not an exposure\n");
    std::fs::create_dir_all(dir.join("raw")).unwrap();
    std::fs::write(dir.join(EXPOSURES), exposures).unwrap();
    std::fs::write(dir.join(EVENTS), events).unwrap();
    truth
}
