//! Bundle size and load time of every engine, from the same 10,000 flags (`synth`), in one
//! run, as ratios to the best peer.
//!
//! ```sh
//! CARGO_TARGET_DIR=/tmp/peer-target cargo run --release --example load -- [FLAGS] [RUNS]
//! ```
//!
//! A load starts from the bytes in memory and ends with an engine ready to evaluate:
//! flagstone's `Evaluator::load` (content hash, parse, compile, verify), LaunchDarkly's flags
//! and segments deserialized into its evaluator's types, Unleash's client features
//! deserialized and compiled by yggdrasil. Runs are interleaved across engines; each engine's
//! result is dropped outside the timed region. Featurevisor and flagd run in Node (their
//! in-process evaluators are JavaScript): with `FEATUREVISOR_SDK` (a directory whose
//! node_modules holds @featurevisor/sdk) and `FEATUREVISOR_DATAFILE` (the production
//! datafile `featurevisor build` wrote for `generate.mjs FLAGS`), `node --expose-gc
//! ../featurevisor/load.mjs` is run; with `FLAGD_SDK` (node_modules holding
//! @openfeature/flagd-core), `../flagd/load.mjs`, which writes the same flags as a flagd
//! configuration. Their medians join the table; `benches/peers/load.sh` sets this up.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use flagstone_peer_evaluators::synth;
use launchdarkly_server_sdk_evaluation::{ContextBuilder, Flag, Segment, Store};
use serde_json::json;

#[derive(serde::Deserialize)]
struct AllData {
    flags: HashMap<String, Flag>,
    segments: HashMap<String, Segment>,
}

impl Store for AllData {
    fn flag(&self, key: &str) -> Option<Flag> {
        self.flags.get(key).cloned()
    }
    fn segment(&self, key: &str) -> Option<Segment> {
        self.segments.get(key).cloned()
    }
}

/// Rounds of loads; see `main`.
const ROUNDS: usize = 3;

fn median(mut times: Vec<f64>) -> f64 {
    if times.is_empty() {
        return f64::NAN;
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let flags: usize = args.next().map_or(10_000, |a| a.parse().expect("FLAGS"));
    let runs: usize = args.next().map_or(21, |a| a.parse().expect("RUNS"));
    let (fs_bytes, fs_hash) = synth::flagstone(flags);
    let ld_bytes = synth::launchdarkly(flags);
    let un_bytes = synth::unleash(flags);
    let probe = synth::key(3);
    let (unit, country, version, seats) = synth::us_user();

    // Every engine must serve `on` to the same user before anything is timed.
    let fs = flagstone::eval::Evaluator::load(&fs_bytes, &fs_hash).expect("flagstone loads");
    let ctx =
        json!({"targeting_key": unit, "country": country, "app_version": version, "seats": seats});
    assert_eq!(fs.evaluate(&probe, &ctx, 0).unwrap().variant, "on");
    let ld: AllData = serde_json::from_slice(&ld_bytes).expect("LaunchDarkly data");
    let ld_ctx = ContextBuilder::new(unit)
        .set_string("country", country)
        .set_string("app_version", version)
        .set_value(
            "seats",
            launchdarkly_server_sdk_evaluation::AttributeValue::Number(seats.into()),
        )
        .build()
        .unwrap();
    let detail =
        launchdarkly_server_sdk_evaluation::evaluate(&ld, &ld.flags[&probe], &ld_ctx, None);
    assert_eq!(detail.variation_index, Some(1), "{:?}", detail.reason);
    let un = unleash_engine(&un_bytes);
    let mut props = HashMap::new();
    props.insert("country".to_owned(), country.to_owned());
    props.insert("app_version".to_owned(), version.to_owned());
    props.insert("seats".to_owned(), seats.to_string());
    let un_ctx = unleash_yggdrasil::Context {
        user_id: Some(unit.to_owned()),
        properties: Some(props),
        ..Default::default()
    };
    assert!(un.is_enabled(&probe, &un_ctx, &None));
    drop((fs, ld, un));

    // Rounds, so that the Rust engines and Node share the machine's slow and quiet spells:
    // each round loads every engine `runs / ROUNDS` times.
    let featurevisor = match (
        std::env::var("FEATUREVISOR_SDK"),
        std::env::var("FEATUREVISOR_DATAFILE"),
    ) {
        (Ok(sdk), Ok(datafile)) => Some((sdk, datafile)),
        _ => None,
    };
    let per_round = runs.div_ceil(ROUNDS);
    let mut times: [Vec<f64>; 4] = Default::default();
    let mut fv_bytes = 0;
    for _ in 0..ROUNDS {
        for _ in 0..per_round {
            let t = Instant::now();
            let loaded = flagstone::eval::Evaluator::load(black_box(&fs_bytes), &fs_hash).unwrap();
            times[0].push(ms(t.elapsed()));
            drop(black_box(loaded));
            let t = Instant::now();
            let loaded: AllData = serde_json::from_slice(black_box(&ld_bytes)).unwrap();
            times[1].push(ms(t.elapsed()));
            drop(black_box(loaded));
            let t = Instant::now();
            let loaded = unleash_engine(black_box(&un_bytes));
            times[2].push(ms(t.elapsed()));
            drop(black_box(loaded));
        }
        if let Some((sdk, datafile)) = &featurevisor {
            let (bytes, fv_times) = node(
                "featurevisor/load.mjs",
                &[sdk, datafile, &per_round.to_string()],
            );
            fv_bytes = bytes;
            times[3].extend(fv_times);
        }
    }
    let [fs_t, ld_t, un_t, fv_t] = times.map(median);
    breakdown(&fs_bytes);
    let mut rows: Vec<(String, usize, f64)> = vec![
        ("flagstone".into(), fs_bytes.len(), fs_t),
        (
            "LaunchDarkly (Rust evaluation 2.2.1)".into(),
            ld_bytes.len(),
            ld_t,
        ),
        ("Unleash (yggdrasil 0.21.7)".into(), un_bytes.len(), un_t),
    ];
    match featurevisor {
        Some(_) => rows.push((
            "Featurevisor (Node, @featurevisor/sdk 1.27.2)".into(),
            fv_bytes,
            fv_t,
        )),
        None => println!("Featurevisor: not run (set FEATUREVISOR_SDK and FEATUREVISOR_DATAFILE)"),
    }
    match std::env::var("FLAGD_SDK") {
        // A flagd load takes seconds: five of them, after the rounds.
        Ok(sdk) => {
            let (bytes, flagd_times) = node("flagd/load.mjs", &[&sdk, &flags.to_string(), "5"]);
            rows.push((
                "flagd (Node, @openfeature/flagd-core 4.0.1; median of 5)".into(),
                bytes,
                median(flagd_times),
            ));
        }
        Err(_) => println!("flagd: not run (set FLAGD_SDK)"),
    }
    let best_size = rows[1..].iter().map(|r| r.1).min().unwrap() as f64;
    let best_time = rows[1..].iter().map(|r| r.2).fold(f64::INFINITY, f64::min);
    println!(
        "{flags} flags, medians of {} loads in {ROUNDS} rounds; ratios to the best peer (flagstone excluded from the best)",
        per_round * ROUNDS
    );
    println!("| engine | bytes | ratio | load ms | ratio |");
    println!("|---|---:|---:|---:|---:|");
    for (name, bytes, time) in rows {
        println!(
            "| {name} | {bytes} | {:.2}x | {time:.2} | {:.2}x |",
            bytes as f64 / best_size,
            time / best_time
        );
    }
}

/// Where flagstone's bytes go: each top-level key, and within flags, each key of a flag and
/// of its rules (the key, its quotes and colon, and its value).
fn breakdown(bytes: &[u8]) {
    let bundle: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    let size = |v: &serde_json::Value| serde_json::to_vec(v).unwrap().len();
    let mut parts: Vec<(String, usize)> = bundle
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), k.len() + 3 + size(v)))
        .collect();
    let mut fields: std::collections::BTreeMap<String, usize> = Default::default();
    for (key, flag) in bundle["flags"].as_object().unwrap() {
        *fields.entry("flag keys".into()).or_default() += key.len() + 3;
        for (k, v) in flag.as_object().unwrap() {
            if k == "r" {
                for rule in v.as_array().unwrap() {
                    for (rk, rv) in rule.as_object().unwrap() {
                        *fields.entry(format!("rule {rk}")).or_default() += rk.len() + 3 + size(rv);
                    }
                }
            } else {
                *fields.entry(format!("flag {k}")).or_default() += k.len() + 3 + size(v);
            }
        }
    }
    parts.extend(
        fields
            .into_iter()
            .map(|(k, n)| (format!("  flags: {k}"), n)),
    );
    println!("flagstone bundle, {} bytes:", bytes.len());
    for (part, n) in parts {
        println!("  {part:<24} {n:>9}");
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn unleash_engine(bytes: &[u8]) -> unleash_yggdrasil::EngineState {
    let features: unleash_yggdrasil::ClientFeatures = serde_json::from_slice(bytes).unwrap();
    let engine = unleash_yggdrasil::EngineState::default();
    let warnings = engine.apply_client_features(features);
    assert!(warnings.is_none(), "compile warnings");
    engine
}

/// An engine measured by one of the peers' Node scripts, which print
/// "NAME BYTES bytes, load median MS ms, ..." and then "times MS MS ...": the bytes and the
/// times.
fn node(script: &str, args: &[&str]) -> (usize, Vec<f64>) {
    let script = format!("{}/../{script}", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("node")
        .arg("--expose-gc")
        .arg(&script)
        .args(args)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let bytes = lines.next().unwrap().split_whitespace().nth(1).unwrap();
    let times = lines.next().unwrap().split_whitespace().skip(1);
    (
        bytes.parse().unwrap(),
        times.map(|t| t.parse().unwrap()).collect(),
    )
}
