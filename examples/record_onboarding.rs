//! The experiment loop's first half, for real: evaluates flags.example's
//! `growth/onboarding-checklist` in production for simulated sign-ups with the evaluator,
//! records exposures with the recorder, and writes the events the simulated workspaces then
//! do, with known effects (the checklist activates more workspaces, the guided tour fewer and
//! raises support tickets). Writes `DIR/raw/exposures.jsonl` and `DIR/raw/events.jsonl`:
//!
//! `cargo run --example record_onboarding -- flags.example [UNITS]`
//!
//! The same arguments write the same bytes (a seeded generator, a simulated clock).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use flagstone::eval::Evaluator;
use flagstone::exposure::{Config, Recorder};
use flagstone::literal::format_timestamp;
use serde_json::json;

const FLAG: &str = "growth/onboarding-checklist";
const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;
/// 2026-12-01T00:00:00Z: the experiment's start.
const START: i64 = 1_796_083_200_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, units) = match &args[..] {
        [dir] => (dir.as_str(), 4000),
        [dir, units] => match units.parse() {
            Ok(units) => (dir.as_str(), units),
            Err(_) => fail(&format!("UNITS must be a number, not {units:?}")),
        },
        _ => fail("usage: record_onboarding DIR [UNITS]"),
    };
    let evaluator = production(std::path::Path::new(dir));
    let (exposures, events) = simulate(&evaluator, units);
    let raw = std::path::Path::new(dir).join("raw");
    std::fs::create_dir_all(&raw).unwrap_or_else(|e| fail(&format!("{}: {e}", raw.display())));
    for (name, lines) in [("exposures.jsonl", exposures), ("events.jsonl", events)] {
        let path = raw.join(name);
        flagstone::fs::write_atomic(&path, lines.as_bytes())
            .unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("record_onboarding: {message}");
    std::process::exit(2)
}

/// The production bundle of the repository in `dir`, built in process.
fn production(dir: &std::path::Path) -> Evaluator {
    let repo = flagstone::load::load(dir).unwrap_or_else(|e| fail(&e.to_string()));
    let options = flagstone::check::Options { now_millis: START };
    let report = flagstone::check::check(&repo, &options);
    let checked = report
        .checked()
        .unwrap_or_else(|| fail("the repository has errors; run `flagstone check`"));
    let bundle = flagstone::build::environment(checked, "production");
    Evaluator::from_bundle(bundle).unwrap_or_else(|e| fail(&e.to_string()))
}

/// splitmix64: enough randomness for a simulation, and the same on every machine.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn below(&mut self, n: i64) -> i64 {
        (self.unit() * n as f64) as i64
    }

    /// Poisson(λ), by counting exponential gaps.
    fn poisson(&mut self, lambda: f64) -> u32 {
        let (mut n, mut t) = (0, 0.0);
        loop {
            t -= (1.0 - self.unit()).ln() / lambda;
            if t > 1.0 {
                return n;
            }
            n += 1;
        }
    }

    fn pick<'a>(&mut self, weighted: &[(&'a str, f64)]) -> &'a str {
        let mut x = self.unit() * weighted.iter().map(|(_, w)| w).sum::<f64>();
        for (value, weight) in weighted {
            if x < *weight {
                return value;
            }
            x -= weight;
        }
        weighted[weighted.len() - 1].0
    }
}

/// How a variant changes what a workspace does.
struct Behaviour {
    activation: f64,
    queries: f64,
    tickets: f64,
}

fn behaviour(variant: &str) -> Behaviour {
    match variant {
        "checklist" => Behaviour {
            activation: 0.40,
            queries: 3.5,
            tickets: 0.10,
        },
        "guided-tour" => Behaviour {
            activation: 0.26,
            queries: 2.8,
            tickets: 0.22,
        },
        _ => Behaviour {
            activation: 0.31,
            queries: 3.0,
            tickets: 0.10,
        },
    }
}

/// The exposures the recorder records and the events the workspaces do, as JSON Lines.
fn simulate(evaluator: &Evaluator, units: u64) -> (String, String) {
    let now = Arc::new(AtomicI64::new(START));
    let clock = Arc::clone(&now);
    let config = Config {
        queue: 1 << 20,
        clock: Arc::new(move || clock.load(Ordering::Relaxed)),
        ..Config::default()
    };
    let (recorder, received) = Recorder::to_channel(config);
    let mut random = Random(20_261_201);
    let mut events = Vec::new();
    for n in 0..units {
        let unit = format!("usr_{n:05}");
        // Sign-ups arrive over the first week; the onboarding shows on the first web visit.
        let signup = START + random.below(7 * DAY);
        let exposed = signup + random.below(2 * HOUR);
        let staff = random.chance(0.02);
        let context = json!({
            "targeting_key": unit,
            "email": if staff { format!("{unit}@acme.com") } else { format!("{unit}@example.com") },
            "signup_at": format_timestamp(signup),
            "plan": random.pick(&[("free", 0.6), ("starter", 0.25), ("pro", 0.15)]),
            "platform": random.pick(&[("web", 0.85), ("ios", 0.08), ("android", 0.07)]),
            "session_id": format!("s_{:012x}", random.next() >> 16),
        });
        now.store(exposed, Ordering::Relaxed);
        let variant = recorder
            .evaluate_and_record(evaluator, FLAG, &context, exposed)
            .unwrap_or_else(|e| fail(&e.to_string()))
            .variant
            .to_owned();
        workspace(&mut random, &unit, &variant, exposed, &mut events);
    }
    let stats = recorder.shutdown();
    if stats.dropped > 0 {
        fail(&format!(
            "{} exposures dropped: the queue is too small",
            stats.dropped
        ));
    }
    let mut exposures = String::new();
    for exposure in received {
        exposures.push_str(&serde_json::to_string(&exposure).expect("an exposure serializes"));
        exposures.push('\n');
    }
    events.sort_by_key(|(at, _)| *at);
    let events = events.into_iter().map(|(_, line)| line + "\n").collect();
    (exposures, events)
}

/// What one workspace does around its first exposure at `t0`.
fn workspace(
    random: &mut Random,
    unit: &str,
    variant: &str,
    t0: i64,
    events: &mut Vec<(i64, String)>,
) {
    let b = behaviour(variant);
    let mut event = |at: i64, name: &str| {
        let line = format!(
            r#"{{"time":"{}","unit":"{unit}","event":"{name}"}}"#,
            format_timestamp(at)
        );
        events.push((at, line));
    };
    // Some teams used the API before anyone opened the web app: they query more afterwards.
    let before = random.poisson(0.8);
    for _ in 0..before {
        event(t0 - 1 - random.below(14 * DAY), "query_run");
    }
    let sessions = 1 + random.poisson(1.5);
    for _ in 0..sessions {
        event(t0 + random.below(14 * DAY), "session_started");
    }
    for _ in 0..random.poisson(b.queries + 0.5 * f64::from(before)) {
        event(t0 + random.below(14 * DAY), "query_run");
    }
    if random.chance(b.activation) {
        let first = t0 + random.below(7 * DAY);
        event(first, "dashboard_created");
        for _ in 0..random.poisson(0.8) {
            // Some later dashboards fall after the 14-day window: counted, not used.
            event(first + random.below(16 * DAY), "dashboard_created");
        }
    } else if random.chance(0.08) {
        // Activation after the first week: too late for activated_7d.
        event(t0 + 7 * DAY + random.below(7 * DAY), "dashboard_created");
    }
    if random.chance(b.tickets) {
        event(t0 + random.below(14 * DAY), "support_ticket_opened");
    }
}
