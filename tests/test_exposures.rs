//! The exposure recorder: deduplication, the bounded queue and its drops, the file sink's
//! rotation and shutdown, concurrent recording, the event's schema, and the PostHog and
//! OpenTelemetry mappings (PostHog's against its real Python client).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use flagstone::eval::Evaluator;
use flagstone::exposure::{Clock, Config, Exposure, Files, Outcome, ReasonKind, Recorder, Stats};
use serde_json::{Value, json};

use crate::support::{root, tempdir};

/// 2026-11-26T12:00:00Z.
const NOW: i64 = 1_795_694_400_000;

fn evaluator(environment: &str) -> Evaluator {
    let variants = json!({"off": false, "on": true});
    let flag = |bucket_by: &str, rules: Value| {
        json!({
            "bucket_by": bucket_by, "enabled": true, "fallthrough": "off", "off_variant": "off",
            "prerequisites": [], "rules": rules, "salt": "s", "schedule": [],
            "variants": variants,
        })
    };
    let mut checkout = flag(
        "targeting_key",
        json!([{"name": "beta", "conditions": [{"attr": "country", "op": "in", "values": ["DE"]}],
                "rollout": 100_000, "schedule": [], "serve": {"variant": "on"}}]),
    );
    checkout["experiment"] = json!({"name": "checkout-redesign", "control": "off"});
    let split = json!([{"name": "half", "conditions": [], "rollout": 100_000, "schedule": [],
        "serve": {"split": [{"variant": "off", "weight": 50_000}, {"variant": "on", "weight": 50_000}]}}]);
    let bundle = json!({
        "attributes": {"country": "string"},
        "environment": environment, "format": 2, "project": "acme",
        "flags": {"checkout": checkout, "org-wide": flag("org.id", split)},
        "segments": {},
    });
    let bundle: flagstone::bundle::Bundle = serde_json::from_value(bundle).unwrap();
    Evaluator::from_bundle(bundle).unwrap()
}

fn context(user: &str, country: &str) -> Value {
    json!({"targeting_key": user, "country": country, "session_id": "s-1", "org": {"id": 42}})
}

/// A clock the test moves.
fn clock(start: i64) -> (Arc<AtomicI64>, Clock) {
    let now = Arc::new(AtomicI64::new(start));
    let read = Arc::clone(&now);
    (now, Arc::new(move || read.load(Ordering::Relaxed)))
}

fn config(queue: usize) -> Config {
    Config {
        queue,
        clock: clock(NOW).1,
        ..Config::default()
    }
}

/// Every exposures file in `dir`, by name, with its lines.
fn files(dir: &Path) -> BTreeMap<String, Vec<String>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                text.is_empty() || text.ends_with('\n'),
                "{}",
                path.display()
            );
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            (name, text.lines().map(str::to_owned).collect())
        })
        .collect()
}

fn lines(dir: &Path) -> Vec<Exposure> {
    files(dir)
        .values()
        .flatten()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn wait_for(recorder: &Recorder, written: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while recorder.stats().written < written {
        assert!(Instant::now() < deadline, "{:?}", recorder.stats());
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_recorder_is_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Recorder>();
}

#[test]
fn the_same_exposure_is_recorded_once() {
    let flags = evaluator("production");
    let (recorder, receiver) = Recorder::to_channel(config(16));
    let user = context("user-1", "DE");
    for expected in [Outcome::Recorded, Outcome::Duplicate, Outcome::Duplicate] {
        let evaluation = flags.evaluate("checkout", &user, NOW).unwrap();
        assert_eq!(
            recorder.record(&flags, "checkout", &user, &evaluation),
            expected
        );
    }
    // Another unit, and another flag for the same unit, are exposures of their own.
    let other = context("user-2", "DE");
    recorder
        .evaluate_and_record(&flags, "checkout", &other, NOW)
        .unwrap();
    recorder
        .evaluate_and_record(&flags, "org-wide", &user, NOW)
        .unwrap();
    // The org-wide flag buckets by org: the second user is the same unit.
    recorder
        .evaluate_and_record(&flags, "org-wide", &other, NOW)
        .unwrap();
    let stats = recorder.stats();
    assert_eq!((stats.recorded, stats.duplicates, stats.dropped), (3, 3, 0));
    drop(recorder);
    let received: Vec<Exposure> = receiver.iter().collect();
    assert_eq!(received.len(), 3);
    assert_eq!(
        received[0],
        Exposure {
            time: "2026-11-26T12:00:00.000Z".into(),
            flag: "checkout".into(),
            environment: "production".into(),
            variant: "on".into(),
            reason: ReasonKind::Rule,
            rule: Some("beta".into()),
            bundle: flags.hash().into(),
            experiment: Some("checkout-redesign".into()),
            unit: "user-1".into(),
            targeting_key: Some("user-1".into()),
            session: Some("s-1".into()),
        }
    );
    let org = &received[2];
    assert_eq!((org.unit.as_str(), org.experiment.as_deref()), ("42", None));
    assert_eq!(org.reason, ReasonKind::Rule);
}

#[test]
fn a_new_variant_or_a_new_bundle_is_a_new_exposure() {
    let production = evaluator("production");
    let staging = evaluator("staging");
    let (recorder, _receiver) = Recorder::to_channel(config(16));
    let record = |flags: &Evaluator, country: &str| {
        let evaluation = recorder
            .evaluate_and_record(flags, "checkout", &context("user-1", country), NOW)
            .unwrap();
        evaluation.variant.to_owned()
    };
    assert_eq!(record(&production, "DE"), "on");
    assert_eq!(record(&production, "US"), "off");
    assert_eq!(record(&production, "FR"), "off");
    assert_eq!(record(&staging, "DE"), "on");
    let stats = recorder.stats();
    assert_eq!((stats.recorded, stats.duplicates), (3, 1));
}

#[test]
fn a_full_queue_drops_and_counts_and_the_next_call_records() {
    let flags = evaluator("production");
    let (recorder, receiver) = Recorder::to_channel(config(1));
    let outcome = |user: &str| {
        let user = context(user, "DE");
        let evaluation = flags.evaluate("checkout", &user, NOW).unwrap();
        recorder.record(&flags, "checkout", &user, &evaluation)
    };
    assert_eq!(outcome("a"), Outcome::Recorded);
    assert_eq!(outcome("b"), Outcome::Dropped);
    assert_eq!(outcome("c"), Outcome::Dropped);
    assert_eq!(outcome("a"), Outcome::Duplicate);
    assert_eq!(receiver.recv().unwrap().unit, "a");
    // A dropped exposure was not remembered: it is recorded when it happens again.
    assert_eq!(outcome("b"), Outcome::Recorded);
    let stats = recorder.stats();
    assert_eq!((stats.recorded, stats.dropped, stats.duplicates), (2, 2, 1));
    // A context without the unit is counted, not recorded.
    let evaluation = flags.evaluate("checkout", &json!({}), NOW).unwrap();
    assert_eq!(
        recorder.record(&flags, "checkout", &json!({}), &evaluation),
        Outcome::NoUnit
    );
    assert_eq!(recorder.stats().no_unit, 1);
}

#[test]
fn files_rotate_by_size() {
    let dir = tempdir();
    let flags = evaluator("production");
    let files_config = Files {
        max_bytes: 1,
        ..Files::new(dir.path())
    };
    let recorder = Recorder::to_files(files_config, config(64)).unwrap();
    for user in ["a", "b", "c"] {
        recorder
            .evaluate_and_record(&flags, "checkout", &context(user, "DE"), NOW)
            .unwrap();
    }
    let stats = recorder.shutdown();
    assert_eq!(
        (stats.recorded, stats.written, stats.write_errors),
        (3, 3, 0)
    );
    // Each file holds one line, however small the limit.
    let files = files(dir.path());
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "exposures-20261126T120000Z-0.jsonl",
            "exposures-20261126T120000Z-1.jsonl",
            "exposures-20261126T120000Z-2.jsonl",
        ]
    );
    assert!(files.values().all(|lines| lines.len() == 1));
}

#[test]
fn files_rotate_by_age() {
    let dir = tempdir();
    let flags = evaluator("production");
    let (now, clock) = clock(NOW);
    let config = Config {
        clock,
        ..Config::default()
    };
    let files_config = Files {
        max_age_millis: 60_000,
        ..Files::new(dir.path())
    };
    let recorder = Recorder::to_files(files_config, config).unwrap();
    let record = |user: &str| {
        recorder
            .evaluate_and_record(&flags, "checkout", &context(user, "DE"), NOW)
            .unwrap();
    };
    record("a");
    record("b");
    wait_for(&recorder, 2);
    now.fetch_add(59_999, Ordering::Relaxed);
    record("c");
    wait_for(&recorder, 3);
    now.fetch_add(1, Ordering::Relaxed);
    record("d");
    recorder.shutdown();
    let files = files(dir.path());
    let sizes: Vec<(&str, usize)> = files.iter().map(|(n, l)| (n.as_str(), l.len())).collect();
    assert_eq!(
        sizes,
        [
            ("exposures-20261126T120000Z-0.jsonl", 3),
            ("exposures-20261126T120100Z-1.jsonl", 1),
        ]
    );
}

#[test]
fn shutdown_writes_everything_queued() {
    let dir = tempdir();
    let flags = evaluator("production");
    let recorder = Recorder::to_files(Files::new(dir.path()), config(100_000)).unwrap();
    for i in 0..20_000 {
        let user = context(&format!("user-{i}"), if i % 2 == 0 { "DE" } else { "US" });
        recorder
            .evaluate_and_record(&flags, "checkout", &user, NOW)
            .unwrap();
    }
    let stats = recorder.shutdown();
    assert_eq!(
        stats,
        Stats {
            recorded: 20_000,
            written: 20_000,
            ..Stats::default()
        }
    );
    assert_eq!(lines(dir.path()).len(), 20_000);
}

#[test]
fn concurrent_recording_loses_nothing_it_counted() {
    let dir = tempdir();
    let flags = evaluator("production");
    // A small queue, so that some exposures are dropped while the writer catches up.
    let recorder = Recorder::to_files(Files::new(dir.path()), config(256)).unwrap();
    let threads = 4;
    let per_thread = 5_000;
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (recorder, flags) = (&recorder, &flags);
            scope.spawn(move || {
                for i in 0..per_thread {
                    // Threads overlap: each unit is evaluated by two of them.
                    let user = format!(
                        "user-{}",
                        (i + t * per_thread / 2) % (threads * per_thread / 2)
                    );
                    let flag = if i % 3 == 0 { "org-wide" } else { "checkout" };
                    let context = context(&user, if i % 2 == 0 { "DE" } else { "US" });
                    recorder
                        .evaluate_and_record(flags, flag, &context, NOW)
                        .unwrap();
                }
            });
        }
    });
    let stats = recorder.shutdown();
    let calls = (threads * per_thread) as u64;
    assert_eq!(
        stats.recorded + stats.duplicates + stats.dropped,
        calls,
        "{stats:?}"
    );
    assert_eq!((stats.written, stats.write_errors), (stats.recorded, 0));
    let written = lines(dir.path());
    assert_eq!(written.len() as u64, stats.recorded);
    // Every line is an exposure that happened; and unless two threads raced on the same new
    // exposure, none is written twice.
    let distinct: BTreeSet<_> = written
        .iter()
        .map(|e| (&e.unit, &e.flag, &e.variant))
        .collect();
    assert!(distinct.len() as u64 <= stats.recorded);
    assert!(
        distinct
            .iter()
            .all(|(_, flag, _)| ["checkout", "org-wide"].contains(&flag.as_str()))
    );
}

#[test]
fn written_lines_parse_back_and_follow_the_schema() {
    let dir = tempdir();
    let flags = evaluator("production");
    let (sender_side, receiver) = Recorder::to_channel(config(64));
    let recorder = Recorder::to_files(Files::new(dir.path()), config(64)).unwrap();
    let contexts = [
        context("user-1", "DE"),
        context("user-2", "US"),
        json!({"targeting_key": 7, "org": {"id": "acme"}}),
        json!({"org": {"id": -3}, "session_id": 12}),
        json!({"targeting_key": "x"}),
    ];
    for context in &contexts {
        for flag in ["checkout", "org-wide"] {
            recorder
                .evaluate_and_record(&flags, flag, context, NOW)
                .unwrap();
            sender_side
                .evaluate_and_record(&flags, flag, context, NOW)
                .unwrap();
        }
    }
    recorder.shutdown();
    drop(sender_side);
    let expected: Vec<Exposure> = receiver.iter().collect();
    let text =
        std::fs::read_to_string(dir.path().join("exposures-20261126T120000Z-0.jsonl")).unwrap();
    let written: Vec<Exposure> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(written, expected);
    // Ten evaluations: two without a unit, and users 1 and 2 are the same org.
    assert_eq!(written.len(), 7);
    // Each line is the exposure serialized: keys in order, absent fields omitted.
    for (line, exposure) in text.lines().zip(&expected) {
        assert_eq!(line, serde_json::to_string(exposure).unwrap());
        assert!(!line.contains("null"));
    }
    let integer = written
        .iter()
        .find(|e| e.flag == "org-wide" && e.unit == "-3")
        .unwrap();
    assert_eq!(
        (integer.targeting_key.as_deref(), integer.session.as_deref()),
        (None, Some("12"))
    );
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schema/exposure.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    for line in text.lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&event)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{line}: {errors:?}");
    }
    // The schema is strict: an unknown field or a `null` is refused.
    let mut event: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    event["rule"] = Value::Null;
    assert!(!validator.is_valid(&event));
    event["rule"] = json!("beta");
    event["extra"] = json!(1);
    assert!(!validator.is_valid(&event));
}

fn sample() -> Exposure {
    Exposure {
        time: "2026-12-05T10:00:00.123Z".into(),
        flag: "checkout/one-page".into(),
        environment: "production".into(),
        variant: "on".into(),
        reason: ReasonKind::Rule,
        rule: Some("beta".into()),
        bundle: "ab".repeat(32),
        experiment: Some("checkout-redesign".into()),
        unit: "org-9".into(),
        targeting_key: Some("user-1".into()),
        session: Some("s-123".into()),
    }
}

#[test]
fn the_event_serializes_as_specified() {
    let line = serde_json::to_string(&sample()).unwrap();
    let bundle = "ab".repeat(32);
    assert_eq!(
        line,
        format!(
            r#"{{"time":"2026-12-05T10:00:00.123Z","flag":"checkout/one-page","environment":"production","variant":"on","reason":"rule","rule":"beta","bundle":"{bundle}","experiment":"checkout-redesign","unit":"org-9","targeting_key":"user-1","session":"s-123"}}"#
        )
    );
}

#[test]
fn the_opentelemetry_mapping() {
    let attributes = sample().to_otel_attributes();
    let bundle = "ab".repeat(32);
    let expected = [
        ("feature_flag.key", "checkout/one-page"),
        ("feature_flag.result.variant", "on"),
        ("feature_flag.result.reason", "targeting_match"),
        ("feature_flag.provider.name", "flagstone"),
        ("feature_flag.context.id", "user-1"),
        ("feature_flag.set.id", "production"),
        ("feature_flag.version", &bundle),
        ("session.id", "s-123"),
        ("flagstone.reason", "rule"),
        ("flagstone.rule", "beta"),
        ("flagstone.experiment", "checkout-redesign"),
        ("flagstone.unit", "org-9"),
    ];
    let attributes: Vec<(&str, &str)> = attributes.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(attributes, expected);
    let bare = Exposure {
        reason: ReasonKind::Error,
        rule: None,
        experiment: None,
        targeting_key: None,
        session: None,
        ..sample()
    };
    let attributes = bare.to_otel_attributes();
    let get = |key: &str| {
        attributes
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("feature_flag.context.id"), Some("org-9"));
    assert_eq!(get("feature_flag.result.reason"), Some("error"));
    assert_eq!(get("error.type"), Some("invalid_context"));
    assert_eq!(get("session.id"), None);
}

#[test]
fn the_posthog_mapping() {
    let bundle = "ab".repeat(32);
    assert_eq!(
        sample().to_posthog(),
        json!({
            "event": "$feature_flag_called",
            "distinct_id": "user-1",
            "timestamp": "2026-12-05T10:00:00.123Z",
            "properties": {
                "$feature_flag": "checkout/one-page",
                "$feature_flag_response": "on",
                "$feature/checkout/one-page": "on",
                "$session_id": "s-123",
                "flagstone_environment": "production",
                "flagstone_reason": "rule",
                "flagstone_rule": "beta",
                "flagstone_bundle": bundle,
                "flagstone_experiment": "checkout-redesign",
                "flagstone_unit": "org-9",
            }
        })
    );
}

/// One HTTP/1.1 request: its path and body.
fn read_request(stream: &mut std::net::TcpStream) -> (String, Vec<u8>, Option<String>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let path = request_line
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let (mut length, mut encoding) = (0, None);
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap(),
            "content-encoding" => encoding = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (path, body, encoding)
}

/// The real PostHog Python client, pointed at a loopback server that answers its `/flags`
/// request with the exposure's variant, sends its own `$feature_flag_called`; every property
/// `to_posthog` gives is in it with the same value.
#[test]
fn the_posthog_mapping_matches_the_real_client() {
    let installed = std::process::Command::new("python3")
        .args(["-c", "import posthog"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        installed,
        "the posthog Python package is missing: python3 -m pip install 'posthog==7.91.1' (.ci/run does)"
    );
    let exposure = Exposure {
        flag: "checkout".into(),
        ..sample()
    };
    let expected = exposure.to_posthog();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("http://{}", listener.local_addr().unwrap());
    let flags_answer = json!({
        "flags": {"checkout": {
            "key": "checkout", "enabled": true, "variant": exposure.variant, "reason": null,
            "metadata": {"id": 1, "version": 1, "payload": null},
        }},
        "errorsWhileComputingFlags": false,
        "requestId": "r-1",
    });
    let server = std::thread::spawn(move || {
        let mut batches = Vec::new();
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let (path, body, encoding) = read_request(&mut stream);
            let answer = if path.starts_with("/flags") {
                flags_answer.to_string()
            } else {
                let stop = path == "/stop";
                batches.push((path, body, encoding));
                if stop {
                    break;
                }
                r#"{"status":"Ok"}"#.to_owned()
            };
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
            stream.write_all(response.as_bytes()).unwrap();
        }
        batches
    });
    let output = std::process::Command::new("python3")
        .arg(root().join("tests/exposures/posthog_capture.py"))
        .args([&host, &expected.to_string()])
        .output()
        .unwrap();
    // Ends the server's loop.
    let mut stop = std::net::TcpStream::connect(host.trim_start_matches("http://")).unwrap();
    stop.write_all(b"POST /stop HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    let batches = server.join().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events: Vec<Value> = batches
        .iter()
        .filter(|(path, _, _)| path != "/stop")
        .flat_map(|(path, body, encoding)| {
            // The client sends JSON as is unless told to gzip, which this one is not.
            assert_eq!(encoding, &None, "{path}");
            let batch: Value = serde_json::from_slice(body).unwrap();
            batch["batch"].as_array().unwrap().clone()
        })
        .collect();
    let called: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "$feature_flag_called")
        .collect();
    assert_eq!(called.len(), 1, "{events:?}");
    let event = called[0];
    assert_eq!(event["event"], expected["event"]);
    assert_eq!(event["distinct_id"], expected["distinct_id"]);
    for (key, value) in expected["properties"].as_object().unwrap() {
        assert_eq!(&event["properties"][key], value, "{key}");
    }
    // The client stamps the event with the time of its call; the mapping with the exposure's.
    assert!(event["timestamp"].is_string());
}
