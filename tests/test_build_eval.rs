//! `build`, `eval` and `test` end to end.

use crate::support::{NOW, PROJECT, copy_dir, repo, root, run};

const FLAG: &[u8] = b"description = \"d\"
owners = [\"alice\"]
kind = \"ops\"

[env.production]
serve = \"off\"

[[env.production.rules]]
name = \"canada\"
if = [{ attr = \"country\", op = \"in\", values = [\"CA\"] }]
serve = \"on\"

[[env.production.rules]]
name = \"half\"
rollout = 50
serve = \"on\"
schedule = [{ at = 2027-01-01T00:00:00Z, rollout = 100 }]
";

fn files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// FLAG's repository with an operand outside `country`'s allowed values (FS022).
fn broken_repo() -> tempfile::TempDir {
    let broken = String::from_utf8(FLAG.to_vec())
        .unwrap()
        .replace("\"CA\"", "\"XX\"");
    repo(&[
        ("flagstone.toml", PROJECT),
        ("flags/f.toml", broken.as_bytes()),
    ])
}

#[test]
fn build_writes_nothing_when_the_check_fails() {
    let dir = broken_repo();
    let (code, stdout, _) = run(
        &["build", "--out", "out", "--now", "2026-11-26"],
        dir.path(),
    );
    assert_eq!(code, 1);
    assert!(stdout.contains("FS022"), "{stdout}");
    assert!(!dir.path().join("out").exists());
}

#[test]
fn build_is_repeatable_and_names_bundles_by_hash() {
    let dir = repo(&[("flagstone.toml", PROJECT), ("flags/f.toml", FLAG)]);
    let (code, _, stderr) = run(
        &["build", "--out", "a", "--now", NOW, "--format", "json"],
        dir.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, _, _) = run(&["build", "--out", "b", "--now", NOW], dir.path());
    assert_eq!(code, 0);
    let a = std::fs::read_to_string(dir.path().join("a/manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&a).unwrap();
    let envs = manifest["environments"].as_array().unwrap();
    assert_eq!(envs.len(), 2);
    assert_eq!(envs[0]["name"], "staging");
    assert_eq!(
        manifest.get("commit"),
        None,
        "a temporary directory is not a git repository"
    );
    for env in envs {
        let file = env["file"].as_str().unwrap();
        assert_eq!(file, format!("{}.json", env["hash"].as_str().unwrap()));
        let bytes = std::fs::read(dir.path().join("a").join(file)).unwrap();
        assert_eq!(
            bytes,
            std::fs::read(dir.path().join("b").join(file)).unwrap()
        );
        assert_eq!(
            flagstone::bundle::content_hash(&bytes),
            env["hash"].as_str().unwrap()
        );
    }
    // Only the bundles and the manifest: no temporary files are left behind.
    assert_eq!(files(&dir.path().join("a")).len(), 3);
}

/// Builds FLAG's repository and returns (repo dir, production bundle path).
fn built() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = repo(&[("flagstone.toml", PROJECT), ("flags/f.toml", FLAG)]);
    let (code, _, stderr) = run(&["build", "--out", "out", "--now", NOW], dir.path());
    assert_eq!(code, 0, "{stderr}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/manifest.json")).unwrap())
            .unwrap();
    let file = manifest["environments"][1]["file"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = dir.path().join("out").join(file);
    (dir, path)
}

#[test]
fn eval_reports_value_variant_and_reason_as_json() {
    let (dir, _) = built();
    let eval = |context: &str, now: &str| {
        let (code, stdout, stderr) = run(
            &[
                "eval",
                "f",
                "--env",
                "production",
                "--context",
                context,
                "--now",
                now,
                "--format",
                "json",
            ],
            dir.path(),
        );
        assert_eq!(code, 0, "{stderr}");
        let mut json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        json.as_object_mut().unwrap().remove("bundle");
        json
    };
    assert_eq!(
        eval(r#"{"targeting_key": "u1", "country": "CA"}"#, "2026-11-26"),
        serde_json::json!({
            "flag": "f", "env": "production", "value": true, "variant": "on",
            "reason": {"kind": "rule", "rule_index": 0, "rule_name": "canada"}
        })
    );
    // No unit: the 50% rollout cannot apply, so the fallthrough serves.
    assert_eq!(
        eval(r#"{"country": "US"}"#, "2026-11-26")["reason"],
        serde_json::json!({"kind": "fallthrough"})
    );
    // After the schedule's step the rollout is 100%: every unit matches.
    assert_eq!(
        eval(r#"{"targeting_key": "u1"}"#, "2027-01-02")["reason"],
        serde_json::json!({"kind": "rule", "rule_index": 1, "rule_name": "half"})
    );
}

#[test]
fn eval_explains_rollouts_with_bucket_and_threshold() {
    let (dir, _) = built();
    let (code, stdout, _) = run(
        &[
            "eval",
            "f",
            "--env",
            "production",
            "--context",
            r#"{"targeting_key": "u1"}"#,
            "--now",
            "2026-11-26",
            "--explain",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let trace = json["trace"].as_array().unwrap();
    assert_eq!(trace[0]["failed_condition"], 0);
    assert_eq!(trace[1]["threshold"], 50_000);
    let bucket = trace[1]["bucket"].as_u64().unwrap();
    let expected = flagstone::eval::bucket::bucket(&[b"f/rollout/u1"], 100_000);
    assert_eq!(bucket, u64::from(expected));
    assert_eq!(trace[1]["matched"], bucket < 50_000);
}

#[test]
fn eval_refuses_an_altered_bundle() {
    let (dir, bundle) = built();
    let context = ["--context", r#"{"targeting_key": "u1"}"#, "--now", NOW];
    let bundle_arg = bundle.to_str().unwrap();
    let (code, _, stderr) = run(
        &[&["eval", "f", "--bundle", bundle_arg][..], &context].concat(),
        dir.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    let mut bytes = std::fs::read(&bundle).unwrap();
    let at = bytes.iter().position(|b| *b == b'5').unwrap();
    bytes[at] = b'6';
    std::fs::write(&bundle, &bytes).unwrap();
    let (code, stdout, stderr) = run(
        &[&["eval", "f", "--bundle", bundle_arg][..], &context].concat(),
        dir.path(),
    );
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(stderr.contains("it was altered or truncated"), "{stderr}");
    // A bundle whose name is not its hash cannot be verified without --hash.
    let renamed = dir.path().join("bundle.json");
    std::fs::copy(&bundle, &renamed).unwrap();
    let (code, _, stderr) = run(
        &["eval", "f", "--bundle", "bundle.json", "--now", NOW],
        dir.path(),
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("pass --hash"), "{stderr}");
}

#[test]
fn eval_rejects_bad_arguments_clearly() {
    let (dir, bundle) = built();
    for (args, message) in [
        (
            vec![
                "eval",
                "f",
                "--env",
                "production",
                "--now",
                NOW,
                "--context",
                "{",
            ],
            "is not valid JSON",
        ),
        (
            vec![
                "eval",
                "f",
                "--env",
                "production",
                "--now",
                NOW,
                "--context",
                "[1]",
            ],
            "must be a JSON object",
        ),
        (
            vec!["eval", "f", "--env", "prod", "--now", NOW],
            "unknown environment `prod`",
        ),
        (
            vec!["eval", "g", "--env", "production", "--now", NOW],
            "unknown flag `g`",
        ),
        (
            vec![
                "eval",
                "f",
                "--env",
                "production",
                "--now",
                NOW,
                "--context",
                "@missing.json",
            ],
            "cannot read missing.json",
        ),
        (
            vec![
                "eval",
                "f",
                "--env",
                "staging",
                "--now",
                NOW,
                "--bundle",
                bundle.to_str().unwrap(),
            ],
            "not `staging`",
        ),
        (
            vec!["eval", "f", "--env", "production", "--now", "soon"],
            "is not an RFC 3339",
        ),
    ] {
        let (code, stdout, stderr) = run(&args, dir.path());
        assert_eq!((code, stdout.as_str()), (2, ""), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[test]
fn test_reports_failures_with_expected_actual_and_trace() {
    let tests = b"[[cases]]
name = \"canadians get it\"
env = \"production\"
context = { targeting_key = \"u1\", country = \"CA\" }
variants = { f = \"on\" }

[[cases]]
name = \"a wrong expectation\"
env = \"production\"
context = { targeting_key = \"u1\", country = \"CA\" }
now = 2026-11-26T00:00:00Z
values = { f = false }

[[distributions]]
name = \"half the units\"
flag = \"f\"
env = \"production\"
now = 2026-11-26T00:00:00Z
expect = { on = 50, off = 50 }
";
    let dir = repo(&[
        ("flagstone.toml", PROJECT),
        ("flags/f.toml", FLAG),
        ("tests/t.toml", tests),
    ]);
    let (code, stdout, _) = run(&["test", "--now", "2026-11-26"], dir.path());
    assert_eq!(code, 1);
    assert!(stdout.starts_with("FAIL tests/t.toml:7 a wrong expectation\n  f: expected value false\n     actual   value true\n"), "{stdout}");
    assert!(stdout.contains("rule 0 \"canada\": matched"), "{stdout}");
    assert!(stdout.ends_with("2 passed, 1 failed\n"), "{stdout}");
    let fixed = String::from_utf8(tests.to_vec())
        .unwrap()
        .replace("values = { f = false }", "values = { f = true }");
    std::fs::write(dir.path().join("tests/t.toml"), fixed).unwrap();
    let (code, stdout, _) = run(&["test", "--now", "2026-11-26"], dir.path());
    assert_eq!((code, stdout.as_str()), (0, "3 passed, 0 failed\n"));
}

#[test]
fn the_example_repository_passes_its_own_tests() {
    let (code, stdout, stderr) = run(
        &["test", "--dir", "flags.example", "--now", "2026-11-26"],
        &root(),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(stdout, "97 passed, 0 failed\n");
}

/// JSON written with object keys sorted by their bytes and no whitespace, independently of
/// how the bundle types serialize: the oracle for canonical bytes.
fn sorted_json(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(key).unwrap());
                out.push(':');
                sorted_json(value, out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                sorted_json(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[test]
fn bundles_are_canonical_json() {
    let out = crate::support::tempdir();
    let out_dir = out.path().to_str().unwrap();
    let (code, _, _) = run(
        &[
            "build",
            "--dir",
            "flags.example",
            "--out",
            out_dir,
            "--now",
            NOW,
        ],
        &root(),
    );
    assert_eq!(code, 0);
    for name in files(out.path()).iter().filter(|f| *f != "manifest.json") {
        let bytes = std::fs::read(out.path().join(name)).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let mut canonical = String::new();
        sorted_json(&value, &mut canonical);
        assert_eq!(String::from_utf8(bytes).unwrap(), canonical, "{name}");
    }
}

#[test]
fn the_example_tests_cover_every_flag() {
    let repo = flagstone::load::load(&root().join("flags.example")).unwrap();
    let mut tested = std::collections::BTreeSet::new();
    for tests in repo.tests.iter().filter_map(|t| t.doc.as_ref()) {
        for case in &tests.cases {
            tested.extend(
                case.variants
                    .keys()
                    .chain(case.values.keys())
                    .map(|k| k.value.clone()),
            );
        }
        tested.extend(tests.distributions.iter().map(|d| d.flag.value.clone()));
    }
    let untested: Vec<&String> = repo
        .flags
        .keys()
        .filter(|k| !tested.contains(k.as_str()))
        .collect();
    assert!(
        untested.is_empty(),
        "flags.example/tests never evaluate {untested:?}"
    );
}

#[test]
fn build_shows_warnings_on_standard_error_and_still_builds() {
    let expiring =
        b"description = \"d\"\nowners = [\"alice\"]\nkind = \"release\"\nexpires = 2026-12-01\n";
    let dir = repo(&[("flagstone.toml", PROJECT), ("flags/soon.toml", expiring)]);
    let (code, stdout, stderr) = run(
        &[
            "build",
            "--out",
            "out",
            "--now",
            "2026-11-26",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("FS052"), "{stderr}");
    let manifest: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(manifest["environments"].as_array().unwrap().len(), 2);
}

#[test]
fn eval_on_a_broken_repository_reports_findings_in_the_requested_format() {
    let dir = broken_repo();
    let (code, stdout, _) = run(
        &[
            "eval",
            "f",
            "--env",
            "production",
            "--now",
            NOW,
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["diagnostics"][0]["code"], "FS022");
}

#[test]
fn the_manifest_names_the_source_commit_and_whether_files_differ() {
    let dir = repo(&[
        ("flags-repo/flagstone.toml", PROJECT),
        ("flags-repo/flags/f.toml", FLAG),
    ]);
    let repository = git2::Repository::init(dir.path()).unwrap();
    let head = crate::support::commit(&repository, "flags").to_string();
    let manifest = |out: &str| {
        let (code, stdout, stderr) = run(
            &[
                "build",
                "--dir",
                "flags-repo",
                "--out",
                out,
                "--now",
                NOW,
                "--format",
                "json",
            ],
            dir.path(),
        );
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap()
    };
    // The output directory lies outside the flags directory, so it does not make it dirty.
    let clean = manifest("out-1");
    assert_eq!(clean["commit"], head.as_str());
    assert_eq!(clean["dirty"], false);
    std::fs::write(
        dir.path().join("flags-repo/flags/f.toml"),
        [FLAG, b"\n# edited\n"].concat(),
    )
    .unwrap();
    let edited = manifest("out-2");
    assert_eq!(edited["commit"], head.as_str());
    assert_eq!(edited["dirty"], true);
    // A comment changes no bundle.
    assert_eq!(clean["environments"], edited["environments"]);
}

/// A payload that is a multi-line string is the same text whatever line endings the checkout
/// has, and so is the bundle's hash.
#[test]
fn line_endings_change_no_payload_and_no_hash() {
    let flag = "description = \"notice\"\nowners = [\"alice\"]\nkind = \"config\"\noff_variant = \"none\"\n\n[variants]\nnone = \"\"\nnotice = \"\"\"\nScheduled maintenance\non Sunday\n\"\"\"\n\n[env.production]\nserve = \"notice\"\n";
    let hash = |text: &str| {
        let dir = crate::support::repo(&[
            ("flagstone.toml", crate::support::PROJECT),
            ("flags/notice.toml", text.as_bytes()),
        ]);
        let repo = flagstone::load::load(dir.path()).unwrap();
        let report = flagstone::check::check(&repo, &crate::support::options());
        let bundles = flagstone::build::all(report.checked().expect("it checks"));
        let production = bundles
            .iter()
            .find(|b| b.environment == "production")
            .unwrap();
        assert_eq!(
            production.flags["notice"].variants["notice"],
            "Scheduled maintenance\non Sunday\n"
        );
        flagstone::bundle::content_hash(&production.to_canonical_json())
    };
    assert_eq!(hash(flag), hash(&flag.replace('\n', "\r\n")));
}

/// `--github-output` appends GitHub Actions step outputs; a value with a line break (a
/// directory name may hold one) becomes a heredoc instead of forging another output.
#[test]
fn build_writes_step_outputs_for_github_actions() {
    let work = crate::support::tempdir();
    copy_dir(&root().join("flags.example"), &work.path().join("flags"));
    let outputs = work.path().join("outputs");
    std::fs::write(&outputs, "earlier=kept\n").unwrap();
    let out = "out\nbundle-commit=forged";
    let args = [
        "build",
        "--dir",
        "flags",
        "--out",
        out,
        "--now",
        "2026-11-26",
        "--github-output",
        "outputs",
    ];
    let (code, _, stderr) = run(&args, work.path());
    assert_eq!(code, 0, "{stderr}");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(work.path().join(out).join("manifest.json")).unwrap(),
    )
    .unwrap();
    let hash = |env: &str| {
        manifest["environments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == env)
            .unwrap()["hash"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        std::fs::read_to_string(&outputs).unwrap(),
        format!(
            "earlier=kept\nbundle-hashes={{\"development\":\"{}\",\"production\":\"{}\",\"staging\":\"{}\"}}\nbundle-dir<<FLAGSTONE_EOF\n{out}\nFLAGSTONE_EOF\nbundle-commit=\n",
            hash("development"),
            hash("production"),
            hash("staging"),
        )
    );
}

/// `flagstone test --help` names every key of the JSON `test --format json` prints, and no
/// other.
#[test]
fn test_help_describes_its_json() {
    let dir = crate::support::tempdir();
    copy_dir(&root().join("docs/examples/format"), dir.path());
    // docs/format.md's repository, with its case made to fail on a rule (so it has a trace and
    // a reason) and its distribution made to fail.
    let tests = dir.path().join("tests/checkout.toml");
    let text = std::fs::read_to_string(&tests).unwrap();
    let text = text
        .replace(
            r#"{ "checkout/one-page" = "on" }"#,
            r#"{ "checkout/one-page" = "off" }"#,
        )
        .replace("{ on = 5, off = 95 }", "{ on = 50, off = 50 }");
    std::fs::write(&tests, text).unwrap();
    let (code, stdout, stderr) = run(
        &["test", "--now", "2026-11-26", "--format", "json"],
        dir.path(),
    );
    assert_eq!(code, 1, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let mut keys = std::collections::BTreeSet::new();
    let objects = |value: &serde_json::Value| value.as_array().unwrap().clone();
    let mut add = |object: &serde_json::Value| {
        keys.extend(object.as_object().unwrap().keys().cloned());
    };
    add(&json);
    for test in objects(&json["tests"]) {
        add(&test);
        objects(&test["failures"]).iter().for_each(&mut add);
    }
    assert!(
        keys.contains("trace") && keys.contains("reason"),
        "{stdout}"
    );
    let (_, help, _) = run(&["test", "--help"], &root());
    // The quoted names in the help; `diagnostics` is check's document.
    let named: std::collections::BTreeSet<String> = help
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|name| *name != "diagnostics")
        .map(str::to_owned)
        .collect();
    assert_eq!(named, keys, "test --help:\n{help}");
}
