//! Exposures: what recording adds to an evaluation when the exposure is a duplicate (over
//! 1,000 flags and 1,024 varied contexts, allocation counts included), and how many new
//! exposures per second go through the queue and the file writer, from one recording thread
//! or two. `cargo bench --bench exposures`

use divan::counter::ItemsCount;
use divan::{AllocProfiler, Bencher, black_box};
use flagstone::bundle::Bundle;
use flagstone::eval::Evaluator;
use flagstone::exposure::{Config, Files, Outcome, Recorder};
use serde_json::{Map, Value, json};

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    divan::main();
}

const NOW: i64 = 1_780_000_000_000;
const FLAGS: usize = 1_000;
const CONTEXTS: usize = 1_024;

/// The evaluator benchmark's scenario (b): per flag, one `in` rule on country, then a 50/50
/// split, with an experiment on the flag.
fn evaluator() -> Evaluator {
    let countries = ["US", "CA", "DE", "FR", "GB"];
    let flags: Map<String, Value> = (0..FLAGS)
        .map(|i| {
            let key = format!("f{i:04}");
            let operands = &countries[i % 5..(i % 5 + 1 + i % 2).min(5)];
            let flag = json!({
                "variants": {"off": false, "on": true}, "enabled": true, "off_variant": "off",
                "fallthrough": "on", "bucket_by": "targeting_key", "salt": key,
                "prerequisites": [], "schedule": [],
                "rules": [{
                    "name": "r", "conditions": [{"attr": "country", "op": "in", "values": operands}],
                    "rollout": 100_000, "schedule": [],
                    "serve": {"split": [{"variant": "off", "weight": 50_000}, {"variant": "on", "weight": 50_000}]}
                }],
                "experiment": {"name": format!("e{i}"), "control": "off"},
            });
            (key, flag)
        })
        .collect();
    let bundle: Bundle = serde_json::from_value(json!({
        "format": 2, "project": "bench", "environment": "production",
        "attributes": {"country": "string"}, "flags": flags, "segments": {}
    }))
    .unwrap();
    Evaluator::from_bundle(bundle).unwrap()
}

fn keys() -> Vec<String> {
    (0..FLAGS).map(|i| format!("f{i:04}")).collect()
}

fn contexts(n: usize) -> Vec<Value> {
    let countries = ["US", "CA", "DE", "FR", "GB", "JP", "BR", "IN"];
    (0..n)
        .map(|i| {
            json!({
                "targeting_key": format!("user-{:07}", i * 7_919 % 10_000_000),
                "country": countries[i % countries.len()],
                "session_id": format!("s-{}", i / 4),
            })
        })
        .collect()
}

/// Evaluation alone, cycling through every (flag, context) pair: the baseline. With 1,024
/// contexts, as the evaluator's benchmark; with 16, the pairs' exposures fit the cache.
#[divan::bench(sample_count = 100, sample_size = 2000, args = [16, CONTEXTS])]
fn evaluate(bencher: Bencher, n: usize) {
    let (flags, keys, contexts) = (evaluator(), keys(), contexts(n));
    let mut i = 0usize;
    bencher.bench_local(|| {
        i = i.wrapping_add(1);
        let (key, context) = (&keys[i % keys.len()], &contexts[i % contexts.len()]);
        black_box(flags.evaluate(key, context, NOW).unwrap().variant.len())
    });
}

/// Evaluation and recording, every pair already recorded: the difference from `evaluate`
/// with as many contexts is a duplicate's cost. The table has eight slots per pair, so that a
/// full set rarely forgets one: 64 MiB for 1,024,000 pairs, 1 MiB for 16,000.
#[divan::bench(sample_count = 100, sample_size = 2000, args = [16, CONTEXTS])]
fn evaluate_and_record_duplicate(bencher: Bencher, n: usize) {
    let (flags, keys, contexts) = (evaluator(), keys(), contexts(n));
    let pairs = FLAGS * n;
    let config = Config {
        remembered: (pairs * 8).next_power_of_two(),
        ..Config::default()
    };
    let (recorder, receiver) = Recorder::to_channel(config);
    let drain = std::thread::spawn(move || receiver.iter().count());
    for key in &keys {
        for context in &contexts {
            let evaluation = flags.evaluate(key, context, NOW).unwrap();
            while recorder.record(&flags, key, context, &evaluation) == Outcome::Dropped {
                std::thread::yield_now();
            }
        }
    }
    let mut i = 0usize;
    bencher.bench_local(|| {
        i = i.wrapping_add(1);
        let (key, context) = (&keys[i % keys.len()], &contexts[i % contexts.len()]);
        let evaluation = flags.evaluate(key, context, NOW).unwrap();
        black_box(recorder.record(&flags, key, context, &evaluation))
    });
    let stats = recorder.shutdown();
    drain.join().unwrap();
    // Forgotten entries recorded again are in the timings: say how many.
    eprintln!(
        "{n} contexts: {} re-recorded of {pairs}",
        stats.recorded - pairs as u64
    );
}

/// New exposures per second: `NEW` distinct units evaluated and recorded into JSON Lines
/// files, until shutdown has written and fsynced them all.
const NEW: usize = 200_000;

#[divan::bench(sample_count = 10, sample_size = 1)]
fn new_exposures_to_files(bencher: Bencher) {
    let flags = evaluator();
    let contexts = contexts(NEW);
    let keys = keys();
    bencher
        .counter(ItemsCount::new(NEW))
        .with_inputs(|| tempfile::tempdir().unwrap())
        .bench_local_values(|dir| {
            let config = Config {
                queue: NEW,
                ..Config::default()
            };
            let recorder = Recorder::to_files(Files::new(dir.path()), config).unwrap();
            for (i, context) in contexts.iter().enumerate() {
                recorder
                    .evaluate_and_record(&flags, &keys[i % FLAGS], context, NOW)
                    .unwrap();
            }
            let stats = recorder.shutdown();
            assert_eq!((stats.written, stats.dropped), (NEW as u64, 0));
            dir
        });
}

/// New exposures per second from `threads` recording threads: `NEW` distinct (flag, context)
/// pairs evaluated and recorded into JSON Lines files, until shutdown has written and fsynced
/// them all. Unlike `new_exposures_to_files`, whose 200,000 contexts are each read once and
/// so from memory, these 200 contexts stay in cache, as a context built for its evaluation
/// is: what is measured is the recorder, not the reading of cold contexts.
#[divan::bench(sample_count = 10, sample_size = 1, args = [1, 2])]
fn new_exposures_from_threads(bencher: Bencher, threads: usize) {
    let flags = evaluator();
    let contexts = contexts(NEW / FLAGS);
    let keys = keys();
    bencher
        .counter(ItemsCount::new(NEW))
        .with_inputs(|| tempfile::tempdir().unwrap())
        .bench_local_values(|dir| {
            let config = Config {
                queue: NEW,
                ..Config::default()
            };
            let recorder = Recorder::to_files(Files::new(dir.path()), config).unwrap();
            std::thread::scope(|scope| {
                for t in 0..threads {
                    let (recorder, flags, keys, contexts) = (&recorder, &flags, &keys, &contexts);
                    scope.spawn(move || {
                        for i in (t..NEW).step_by(threads) {
                            let (key, context) = (&keys[i % FLAGS], &contexts[i / FLAGS]);
                            recorder
                                .evaluate_and_record(flags, key, context, NOW)
                                .unwrap();
                        }
                    });
                }
            });
            let stats = recorder.shutdown();
            assert_eq!((stats.written, stats.dropped), (NEW as u64, 0));
            dir
        });
}
