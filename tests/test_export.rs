//! `flagstone export --format flagd`: every exported file is valid against flagd's published
//! schema, and flagd's own evaluators (JavaScript @openfeature/flagd-core, Python
//! openfeature-flagd-core) serve exactly flagstone's variants and values on it, for
//! flags.example and for generated repositories, 10,000 contexts per flag; what cannot be
//! exported exactly is refused, by name.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use flagstone::bundle::Bundle;
use flagstone::eval::Evaluator;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::{Map, Value, json};

use crate::support::build::build_files;
use crate::support::contexts::{contexts, to_openfeature};
use crate::support::repository::{Resolver, raw_repo};
use crate::support::toml_writer::{Rng, render};
use crate::support::{NOW, assert_file, root, run, tempdir};

const CONTEXTS: usize = 10_000;

/// The commands that install the evaluators, for the message when one is missing.
const NODE_INSTALL: &str = "npm ci --prefix tests/flagd (.ci/run does)";
const PYTHON_INSTALL: &str =
    "python3 -m pip install 'openfeature-flagd-core==1.0.0' (.ci/run does)";

fn now_millis() -> i64 {
    flagstone::literal::parse_timestamp(NOW).unwrap()
}

/// Validates `file` against flagd's flag-definition schema, vendored in tests/flagd/schema.
fn assert_valid(file: &[u8], what: &str) {
    let dir = root().join("tests/flagd/schema");
    let read = |name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap()
    };
    // The root's `$ref` hides its `$id` in draft 7: the base of `./targeting.json` is given.
    let validator = jsonschema::draft7::options()
        .with_base_uri("https://flagd.dev/schema/v0/flags.json")
        .with_retriever(Targeting(read("targeting.json")))
        .build(&read("flags.json"))
        .unwrap();
    let instance: Value = serde_json::from_slice(file).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} is not valid flagd:\n{}",
        errors.join("\n")
    );
}

/// Serves flags.json's one reference, `./targeting.json`, from the vendored copy: tests use
/// no network.
struct Targeting(Value);

impl jsonschema::Retrieve for Targeting {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        match uri.as_str() {
            "https://flagd.dev/schema/v0/targeting.json" => Ok(self.0.clone()),
            other => Err(format!("no vendored schema {other}").into()),
        }
    }
}

/// One file's flags for some contexts, for the evaluators.
struct Job<'b> {
    bundle: &'b Bundle,
    file: Vec<u8>,
    keys: Vec<String>,
    contexts: Vec<Value>,
}

impl<'b> Job<'b> {
    fn new(bundle: &'b Bundle, file: Vec<u8>, seed: u64) -> Self {
        let exported: Value = serde_json::from_slice(&file).unwrap();
        let keys = exported["flags"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let contexts = contexts(bundle, seed, CONTEXTS);
        Job {
            bundle,
            file,
            keys,
            contexts,
        }
    }
}

/// Starts one evaluator on every job of a repository: one process.
fn start(engine: &str, jobs: &[Job]) -> std::thread::JoinHandle<Vec<Vec<Value>>> {
    let dir = root().join("tests/flagd");
    let mut command = if engine == "node" {
        assert!(
            dir.join("node_modules/@openfeature/flagd-core").is_dir(),
            "@openfeature/flagd-core is missing: {NODE_INSTALL}"
        );
        let mut c = Command::new("node");
        c.arg(dir.join("evaluate.mjs"));
        c
    } else {
        let installed = Command::new("python3")
            .args(["-c", "import openfeature.contrib.tools.flagd.core"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            installed,
            "openfeature-flagd-core is missing: {PYTHON_INSTALL}"
        );
        let mut c = Command::new("python3");
        c.arg(dir.join("evaluate.py"));
        c
    };
    let input: Vec<Value> = jobs
        .iter()
        .map(|job| {
            json!({
                "flags": std::str::from_utf8(&job.file).unwrap(),
                "keys": job.keys,
                "contexts": job.contexts.iter().map(to_openfeature).collect::<Vec<_>>(),
            })
        })
        .collect();
    let bytes = serde_json::to_vec(&input).unwrap();
    let expected: Vec<usize> = jobs
        .iter()
        .map(|j| j.keys.len() * j.contexts.len())
        .collect();
    let engine = engine.to_owned();
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {engine}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        let writer = std::thread::spawn(move || stdin.write_all(&bytes));
        let output = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(
            output.status.success(),
            "{engine} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let answers: Vec<Vec<Value>> = serde_json::from_slice(&output.stdout).unwrap();
        let counts: Vec<usize> = answers.iter().map(Vec::len).collect();
        assert_eq!(counts, expected, "{engine} answered for other cases");
        answers
    })
}

/// Numbers as doubles: flagd's Python evaluator answers 200 as 200.0.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}

/// Evaluates every exported flag of each job with flagstone and with both flagd evaluators,
/// and returns the disagreements (the first few, each with the flag, the context and both
/// answers).
fn disagreements(jobs: &[Job]) -> Vec<String> {
    let engines = [
        ("node", start("node", jobs)),
        ("python", start("python", jobs)),
    ];
    let mut found = Vec::new();
    for (engine, answers) in engines {
        let answers = answers.join().unwrap();
        for (job, answers) in jobs.iter().zip(&answers) {
            let evaluator = Evaluator::from_bundle(job.bundle.clone()).unwrap();
            for (i, key) in job.keys.iter().enumerate() {
                let bucket_by = &job.bundle.flags[key].bucket_by;
                for (j, context) in job.contexts.iter().enumerate() {
                    if engine == "node" && !ascii_unit(context, bucket_by) {
                        continue;
                    }
                    let ours = evaluator.evaluate(key, context, now_millis()).unwrap();
                    let theirs = &answers[i * job.contexts.len() + j];
                    if theirs["variant"] != ours.variant
                        || !same_value(&theirs["value"], ours.value)
                    {
                        found.push(format!(
                            "{engine}, flag `{key}` in `{}`, context {context}: flagstone serves `{}` = {}, flagd {theirs}",
                            job.bundle.environment, ours.variant, ours.value
                        ));
                        if found.len() >= 10 {
                            return found;
                        }
                    }
                }
            }
        }
    }
    found
}

/// Whether the context's unit is absent or ASCII. flagd's JavaScript evaluator
/// (@openfeature/flagd-core, through imurmurhash) hashes UTF-16 code units where flagd's
/// other evaluators and flagstone hash UTF-8 bytes: it buckets other units differently, which
/// docs/openfeature.md says.
fn ascii_unit(context: &Value, bucket_by: &str) -> bool {
    let unit = bucket_by
        .split('.')
        .try_fold(context, |v, part| v.get(part));
    unit.and_then(Value::as_str).is_none_or(str::is_ascii)
}

fn example_bundles() -> Vec<Bundle> {
    crate::support::build::build_dir(&root().join("flags.example")).unwrap()
}

/// flags.example: the command refuses the flags flagd cannot express, each by flag,
/// environment and construct, and writes nothing.
#[test]
fn the_example_refuses_what_flagd_cannot_express() {
    let out = tempdir();
    let out_dir = out.path().join("flagd");
    let args = [
        "export",
        "--format",
        "flagd",
        "--dir",
        "flags.example",
        "--now",
        NOW,
        "--out",
    ];
    let (code, stdout, stderr) = run(&[&args[..], &[out_dir.to_str().unwrap()]].concat(), &root());
    assert_eq!(code, 1, "{stderr}");
    assert!(!out_dir.exists(), "a refused export wrote files");
    assert_file(&root().join("tests/snapshots/export/refused.txt"), &stdout);

    let (code, stdout, stderr) = run(
        &[
            &args[..],
            &[out_dir.to_str().unwrap(), "--skip-unexportable"],
        ]
        .concat(),
        &root(),
    );
    assert_eq!(code, 0, "{stderr}");
    let stdout = stdout.replace(out_dir.to_str().unwrap(), "OUT");
    assert_file(&root().join("tests/snapshots/export/skipped.txt"), &stdout);
    for env in ["development", "staging", "production"] {
        let bytes = std::fs::read(out_dir.join(format!("{env}.flagd.json"))).unwrap();
        assert_valid(&bytes, env);
    }
}

/// Two exports of one repository are the same bytes.
#[test]
fn the_export_is_deterministic() {
    for bundle in example_bundles() {
        let a = flagstone::export::bundle_to_flagd(&bundle, &BTreeMap::new())
            .0
            .bytes;
        let b = flagstone::export::bundle_to_flagd(&bundle, &BTreeMap::new())
            .0
            .bytes;
        assert_eq!(a, b);
    }
}

/// Every flag of flags.example that exports serves, in flagd's evaluators, exactly what
/// flagstone serves, for 10,000 contexts.
#[test]
fn flagd_serves_what_flagstone_serves_on_the_example() {
    let bundles = example_bundles();
    let mut jobs = Vec::new();
    for (n, bundle) in bundles.iter().enumerate() {
        let (file, _) = flagstone::export::bundle_to_flagd(bundle, &BTreeMap::new());
        assert!(file.flags > 0);
        assert_valid(&file.bytes, &bundle.environment);
        jobs.push(Job::new(bundle, file.bytes, 0xf1a6d + n as u64));
    }
    let found = disagreements(&jobs);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// Generated repositories (seeded): the exported flags serve the same, and every refusal
/// names a construct.
#[test]
fn flagd_serves_what_flagstone_serves_on_generated_repositories() {
    let mut runner = TestRunner::deterministic();
    let mut exported = 0;
    for seed in 0..12u64 {
        let raw = raw_repo().new_tree(&mut runner).unwrap().current();
        let model = Resolver {
            raw: &raw,
            defaults: Rng(seed),
        }
        .files();
        let files = render(&model, seed, false);
        let Ok(bundles) = build_files(&files) else {
            continue;
        };
        let mut jobs = Vec::new();
        for bundle in &bundles {
            let (file, refusals) = flagstone::export::bundle_to_flagd(bundle, &BTreeMap::new());
            for refusal in &refusals {
                assert!(!refusal.construct.is_empty());
                assert!(!file_has_flag(&file.bytes, &refusal.flag));
            }
            assert_valid(&file.bytes, &bundle.environment);
            if file.flags == 0 {
                continue;
            }
            exported += file.flags;
            jobs.push(Job::new(bundle, file.bytes, seed));
        }
        if !jobs.is_empty() {
            let found = disagreements(&jobs);
            assert!(found.is_empty(), "{}", found.join("\n"));
        }
    }
    assert!(exported >= 20, "only {exported} generated flags exported");
}

/// Experiment gates: a split behind a holdout and a layer slice, after a partial rollout,
/// serves in flagd what it serves in flagstone.
#[test]
fn flagd_serves_what_flagstone_serves_behind_experiment_gates() {
    let bundle: Bundle = serde_json::from_value(json!({
        "attributes": {"plan": "string"},
        "environment": "production",
        "format": 2,
        "project": "gates",
        "segments": {},
        "flags": {
            "pricing/headline": {
                "bucket_by": "targeting_key",
                "enabled": true,
                "experiment": {
                    "name": "growth/headline",
                    "control": "control",
                    "holdout": {"name": "growth-2027", "percent": 10000, "salt": "growth-2027"},
                    "layer": {"name": "acquisition", "salt": "acquisition", "from": 25000, "to": 75000},
                },
                "fallthrough": "control",
                "off_variant": "control",
                "prerequisites": [],
                "rules": [
                    {"conditions": [{"attr": "plan", "op": "in", "values": ["free"]}], "name": "free",
                     "rollout": 100000, "schedule": [], "serve": {"variant": "value"}},
                    {"conditions": [], "name": "everyone", "rollout": 60000, "schedule": [],
                     "serve": {"split": [
                        {"variant": "control", "weight": 33333},
                        {"variant": "treatment", "weight": 33333},
                        {"variant": "value", "weight": 33334},
                     ]}},
                ],
                "salt": "pricing/headline",
                "schedule": [],
                "variants": {"control": "Plans", "treatment": "Pricing", "value": "Best value"},
            },
            "pricing/by-org": {
                "bucket_by": "plan",
                "enabled": true,
                "fallthrough": "off",
                "off_variant": "off",
                "prerequisites": [],
                "rules": [{"conditions": [], "name": "half", "rollout": 50000, "schedule": [],
                           "serve": {"variant": "on"}}],
                "salt": "by-org",
                "schedule": [],
                "variants": {"off": false, "on": true},
            },
        },
    }))
    .unwrap();
    let (file, refusals) = flagstone::export::bundle_to_flagd(&bundle, &BTreeMap::new());
    assert!(refusals.is_empty(), "{refusals:?}");
    assert_valid(&file.bytes, "the gated flag");
    let found = disagreements(&[Job::new(&bundle, file.bytes, 7)]);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// Segments that test segments are written out inside them: a chain of 20,000 is refused past
/// 32 levels, without exhausting the stack.
#[test]
fn deeply_nested_segments_are_refused() {
    let n = 20_000;
    let mut segments = Map::new();
    for i in 0..n {
        let conditions = if i + 1 < n {
            json!([{"segment": format!("s{:05}", i + 1)}])
        } else {
            json!([{"attr": "plan", "op": "in", "values": ["pro"]}])
        };
        segments.insert(
            format!("s{i:05}"),
            json!({"conditions": conditions, "exclude": [], "include": []}),
        );
    }
    let rule = |segment: &str| {
        json!({"conditions": [{"segment": segment}], "name": "r", "rollout": 100000,
               "schedule": [], "serve": {"variant": "on"}})
    };
    let flag = |segment: &str| {
        json!({"bucket_by": "targeting_key", "enabled": true, "fallthrough": "off",
               "off_variant": "off", "prerequisites": [], "rules": [rule(segment)],
               "salt": "f", "schedule": [], "variants": {"off": false, "on": true}})
    };
    let bundle: Bundle = serde_json::from_value(json!({
        "attributes": {"plan": "string"}, "environment": "production", "format": 2,
        "project": "deep", "segments": segments,
        "flags": {"deep": flag("s00000"), "shallow": flag(&format!("s{:05}", n - 30))},
    }))
    .unwrap();
    let (file, refusals) = flagstone::export::bundle_to_flagd(&bundle, &BTreeMap::new());
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0].flag, "deep");
    assert!(
        refusals[0].construct.contains("nested more than 32 deep"),
        "{}",
        refusals[0]
    );
    assert_eq!(file.flags, 1);
    assert_valid(&file.bytes, "the shallow flag");
}

fn file_has_flag(file: &[u8], key: &str) -> bool {
    let value: Value = serde_json::from_slice(file).unwrap();
    value["flags"].get(key).is_some()
}
