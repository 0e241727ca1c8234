//! `flagstone publish`, `eval --published --at` and the hot-reloading `Watcher`, end to end.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flagstone::eval::LoadError;
use flagstone::eval::watch::{Options, WatchError, Watcher};

use crate::support::{copy_dir, root, run};

/// A copy of flags.example (outside git, so no commit is recorded), its build output and a
/// published directory.
struct Site {
    temp: tempfile::TempDir,
}

const T1: &str = "2026-11-26T12:00:00Z";
const T2: &str = "2026-11-26T13:00:00Z";
const FLAG: &str = "billing/payment-service-v2";
/// `billing/payment-service-v2` serves "on" to this context in production until killed.
const US_USER: &str = r#"{"targeting_key":"user-7","country":"US"}"#;

impl Site {
    fn new() -> Site {
        let temp = crate::support::tempdir();
        copy_dir(&root().join("flags.example"), &temp.path().join("flags"));
        Site { temp }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.temp.path().join(name)
    }

    fn dir(&self) -> PathBuf {
        self.path("published")
    }

    /// Runs the binary in the site's directory.
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        run(args, self.temp.path())
    }

    /// Builds the repository; returns the (environment, hash) pairs of the manifest.
    fn build(&self) -> Vec<(String, String)> {
        let (code, stdout, stderr) = self.run(&[
            "build",
            "--dir",
            "flags",
            "--out",
            "out",
            "--now",
            "2026-11-26",
        ]);
        assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.path("out/manifest.json")).unwrap())
                .unwrap();
        manifest["environments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["name"].as_str().unwrap().to_owned(),
                    e["hash"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    fn publish(&self, now: &str, extra: &[&str]) -> (i32, String, String) {
        let mut args = vec![
            "publish",
            "--bundles",
            "out",
            "--publish-dir",
            "published",
            "--now",
            now,
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// The kill switch, as `flagstone kill` will do it: `enabled = false` in production.
    fn kill(&self, flag: &str) {
        kill(&self.path("flags"), flag);
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join("publish.log")).unwrap()
    }

    fn pointer(&self, environment: &str) -> String {
        std::fs::read_to_string(self.dir().join(format!("current/{environment}.json"))).unwrap()
    }

    fn bundles(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir().join("bundles"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    fn eval(&self, extra: &[&str]) -> (i32, String, String) {
        let mut args = vec![
            "eval",
            FLAG,
            "--env",
            "production",
            "--publish-dir",
            "published",
            "--context",
            US_USER,
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }
}

/// Inserts `enabled = false` at the top of the flag's `[env.production]` table.
/// `flagstone kill` in production, as on-call would run it.
fn kill(repo: &Path, flag: &str) {
    let dir = repo.to_str().unwrap();
    let args = [
        "kill",
        flag,
        "--env",
        "production",
        "--dir",
        dir,
        "--now",
        "2026-11-26",
    ];
    let (code, stdout, stderr) = run(&args, repo);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

fn published_lines(hashes: &[(String, String)], what: &str) -> String {
    hashes
        .iter()
        .map(|(env, hash)| format!("{env:<14} {hash}  {what}\n"))
        .collect()
}

fn log_line(time: &str, environment: &str, hash: &str) -> String {
    format!(
        "{{\"time\":\"{time}\",\"environment\":\"{environment}\",\"hash\":\"{hash}\",\"commit\":null}}\n"
    )
}

fn hash_of<'h>(hashes: &'h [(String, String)], environment: &str) -> &'h str {
    &hashes.iter().find(|(e, _)| e == environment).unwrap().1
}

#[test]
fn publishing_the_same_build_twice_changes_nothing_the_second_time() {
    let site = Site::new();
    let hashes = site.build();
    let (code, stdout, stderr) = site.publish(T1, &[]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(stdout, published_lines(&hashes, "published"));
    let log: String = hashes
        .iter()
        .map(|(env, hash)| log_line("2026-11-26T12:00:00.000Z", env, hash))
        .collect();
    assert_eq!(site.log(), log);
    let production = hash_of(&hashes, "production");
    assert_eq!(
        site.pointer("production"),
        format!(
            "{{\n  \"environment\": \"production\",\n  \"hash\": \"{production}\",\n  \"file\": \"bundles/{production}.json\",\n  \"published_at\": \"2026-11-26T12:00:00.000Z\",\n  \"commit\": null\n}}\n"
        )
    );
    let pointers: Vec<String> = hashes.iter().map(|(env, _)| site.pointer(env)).collect();
    let mut files: Vec<String> = hashes.iter().map(|(_, h)| format!("{h}.json")).collect();
    files.sort();
    assert_eq!(site.bundles(), files);

    let (code, stdout, stderr) = site.publish(T2, &[]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(stdout, published_lines(&hashes, "unchanged"));
    assert_eq!(site.log(), log);
    let again: Vec<String> = hashes.iter().map(|(env, _)| site.pointer(env)).collect();
    assert_eq!(again, pointers);
    assert_eq!(site.bundles(), files);
}

#[test]
fn a_new_build_moves_only_its_pointer_and_appends_one_line() {
    let site = Site::new();
    let first = site.build();
    site.publish(T1, &[]);
    site.kill(FLAG);
    let second = site.build();
    let (old, new) = (
        hash_of(&first, "production"),
        hash_of(&second, "production"),
    );
    assert_ne!(old, new);
    assert_eq!(hash_of(&first, "staging"), hash_of(&second, "staging"));

    let (code, stdout, stderr) = site.publish(T2, &[]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    let expected = format!(
        "{}{}production     {new}  published\n",
        published_lines(&second[..1], "unchanged"),
        published_lines(&second[1..2], "unchanged"),
    );
    assert_eq!(stdout, expected);
    let log = site.log();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(
        format!("{}\n", lines[3]),
        log_line("2026-11-26T13:00:00.000Z", "production", new)
    );
    assert!(
        site.pointer("production")
            .contains(&format!("\"hash\": \"{new}\""))
    );
    // The old bundle stays for `eval --at`.
    assert!(site.bundles().contains(&format!("{old}.json")));

    // Publishing one environment leaves the others alone.
    let (code, stdout, _) = site.publish(T2, &["--env", "staging"]);
    assert_eq!(code, 0);
    assert_eq!(stdout, published_lines(&second[1..2], "unchanged"));
    let (code, _, stderr) = site.publish(T2, &["--env", "prod"]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: out/manifest.json has no environment `prod` (it has: development, staging, production)\n"
    );
}

#[test]
fn keep_prunes_old_bundles_but_never_a_current_one() {
    let site = Site::new();
    let first = site.build();
    site.publish(T1, &[]);
    site.kill(FLAG);
    let second = site.build();
    site.publish(T2, &[]);
    let old = hash_of(&first, "production");
    let before = site.bundles();
    assert_eq!(before.len(), 4);

    let (code, stdout, _) = site.publish(T2, &["--keep", "2"]);
    assert_eq!(code, 0);
    assert_eq!(stdout, published_lines(&second, "unchanged"));
    assert_eq!(site.bundles(), before);

    let (code, stdout, stderr) = site.publish(T2, &["--keep", "1"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(
        stdout,
        format!(
            "{}pruned         {old}\n",
            published_lines(&second, "unchanged")
        )
    );
    let mut current: Vec<String> = second.iter().map(|(_, h)| format!("{h}.json")).collect();
    current.sort();
    assert_eq!(site.bundles(), current);

    let (code, _, stderr) = site.publish(T2, &["--keep", "0"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("0 is not in 1.."), "{stderr}");
}

#[test]
fn eval_at_answers_from_the_bundle_live_at_that_time() {
    let site = Site::new();
    let first = site.build();
    site.publish(T1, &[]);
    site.kill(FLAG);
    let second = site.build();
    site.publish(T2, &[]);
    let (old, new) = (
        hash_of(&first, "production"),
        hash_of(&second, "production"),
    );

    let (code, stdout, stderr) = site.eval(&["--at", "2026-11-26T12:30:00Z", "--explain"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(
        stdout,
        format!(
            "billing/payment-service-v2 = true  (variant on; rule 1 \"migrated-countries\")\n  rule 0 \"staff\": condition 0 does not hold\n  rule 1 \"migrated-countries\": matched\n(production bundle {}, published 2026-11-26T12:00:00.000Z)\n",
            &old[..12]
        )
    );
    // At the very time of the second publish, it is live.
    let killed = format!(
        "billing/payment-service-v2 = false  (variant off; disabled)\n(production bundle {}, published 2026-11-26T13:00:00.000Z)\n",
        &new[..12]
    );
    assert_eq!(site.eval(&["--at", T2]), (0, killed.clone(), String::new()));
    // Without --at: the current pointer.
    assert_eq!(site.eval(&["--now", T2]), (0, killed, String::new()));

    let (code, stdout, _) = site.eval(&["--at", "2026-11-26T12:30:00Z", "--format", "json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["bundle"], old);
    assert_eq!(json["published_at"], "2026-11-26T12:00:00.000Z");

    let (code, stdout, stderr) = site.eval(&["--at", "2026-11-25T14:32:00Z"]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        "error: nothing of `production` was live at 2026-11-25T14:32:00.000Z: it was first published at 2026-11-26T12:00:00.000Z\n"
    );

    site.publish(T2, &["--keep", "1"]);
    let (code, _, stderr) = site.eval(&["--at", "2026-11-26T12:30:00Z"]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        format!(
            "error: bundle {old} of `production` (published 2026-11-26T12:00:00.000Z) is no longer in published/bundles: pruned by `publish --keep`; to evaluate it, build that commit and copy its {old}.json there\n"
        )
    );
}

#[test]
fn the_log_lags_the_pointer_only_until_the_next_publish() {
    let site = Site::new();
    let hashes = site.build();
    site.publish(T1, &[]);
    // As if the process died after moving the pointers and before logging them.
    let log_path = site.dir().join("publish.log");
    std::fs::write(&log_path, "{\"time\":\"2026-11-26T11:0").unwrap();
    let (code, stdout, _) = site.publish(T2, &[]);
    assert_eq!(code, 0);
    assert_eq!(stdout, published_lines(&hashes, "unchanged"));
    let repaired: String = hashes
        .iter()
        .map(|(env, hash)| log_line("2026-11-26T12:00:00.000Z", env, hash))
        .collect();
    // The torn line is ended, and skipped by readers.
    assert_eq!(
        site.log(),
        format!("{{\"time\":\"2026-11-26T11:0\n{repaired}")
    );
    assert_eq!(
        site.eval(&["--at", T2]).0,
        0,
        "the repaired log answers --at"
    );
}

#[test]
fn an_unwritable_destination_is_a_clear_error_and_the_old_pointer_stays() {
    use std::os::unix::fs::PermissionsExt;

    let site = Site::new();
    site.build();
    site.publish(T1, &[]);
    let pointer = site.pointer("production");
    let log = site.log();
    site.kill(FLAG);
    let second = site.build();
    let new = hash_of(&second, "production");
    let dir = site.dir();

    // Permission bits: they stop everyone but root (CI runs tests as root).
    let read_only = |mode| {
        for sub in ["bundles", "current", ""] {
            let path = dir.join(sub);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    };
    read_only(0o555);
    let probe = dir.join("bundles/probe");
    if std::fs::write(&probe, b"").is_ok() {
        std::fs::remove_file(&probe).unwrap();
        eprintln!(
            "skipping the permission-bit case: this process writes to read-only directories (root)"
        );
    } else {
        let (code, stdout, stderr) = site.publish(T2, &[]);
        assert_eq!((code, stdout.as_str()), (2, ""));
        assert_eq!(
            stderr,
            format!(
                "error: cannot write published/bundles/{new}.json: Permission denied (os error 13)\n"
            )
        );
    }
    read_only(0o755);
    assert_eq!(site.pointer("production"), pointer);
    assert_eq!(site.log(), log);

    // Root too cannot put a file where a directory is: the bundle's place is taken.
    std::fs::create_dir(dir.join(format!("bundles/{new}.json"))).unwrap();
    let (code, stdout, stderr) = site.publish(T2, &[]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        format!("error: cannot write published/bundles/{new}.json: Is a directory (os error 21)\n")
    );
    assert_eq!(site.pointer("production"), pointer);
    assert_eq!(site.log(), log);

    // A destination that is a file.
    std::fs::write(site.path("file"), b"").unwrap();
    let (code, _, stderr) = site.run(&[
        "publish",
        "--bundles",
        "out",
        "--publish-dir",
        "file",
        "--now",
        T2,
    ]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: cannot create file/bundles: Not a directory (os error 20)\n"
    );
}

#[test]
fn a_corrupt_or_truncated_build_is_not_published() {
    let site = Site::new();
    let hashes = site.build();
    let production = hash_of(&hashes, "production");
    let file = site.path(&format!("out/{production}.json"));
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let (code, stdout, stderr) = site.publish(T1, &[]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    let actual = flagstone::bundle::content_hash(&bytes[..bytes.len() / 2]);
    assert_eq!(
        stderr,
        format!(
            "error: refusing to publish out/{production}.json: the bundle's content hash is {actual}, not the expected {production}: it was altered or truncated\n"
        )
    );
    // Verification comes first: nothing was written, not even the other environments.
    assert!(!site.dir().exists());
}

/// A site with a first build published, a watcher on production, and a second build
/// (production killed) published.
fn watched_site() -> (Site, Watcher, String, String) {
    let site = Site::new();
    let first = site.build();
    site.publish(T1, &[]);
    let watcher = Watcher::open(
        site.dir(),
        "production",
        Options {
            interval: Duration::from_secs(3600),
        },
    )
    .unwrap();
    site.kill(FLAG);
    let second = site.build();
    site.publish(T2, &[]);
    let old = hash_of(&first, "production").to_owned();
    let new = hash_of(&second, "production").to_owned();
    (site, watcher, old, new)
}

fn variant(watcher: &Watcher) -> String {
    let context: serde_json::Value = serde_json::from_str(US_USER).unwrap();
    let bundle = watcher.current();
    bundle
        .evaluate(FLAG, &context, 0)
        .unwrap()
        .variant
        .to_owned()
}

#[test]
fn the_watcher_keeps_the_last_good_bundle_when_the_new_one_is_corrupt() {
    let (site, watcher, old, new) = watched_site();
    let path = site.dir().join(format!("bundles/{new}.json"));
    let good = std::fs::read(&path).unwrap();
    std::fs::write(&path, &good[..100]).unwrap();

    let status = watcher.refresh();
    assert_eq!(status.serving.hash, old);
    assert_eq!(status.reloads, 0);
    assert_eq!(variant(&watcher), "on");
    let actual = flagstone::bundle::content_hash(&good[..100]);
    match &status.error {
        Some(WatchError::Refused {
            error:
                LoadError::HashMismatch {
                    expected,
                    actual: a,
                },
            ..
        }) => assert_eq!((expected, a), (&new, &actual)),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        status.error.unwrap().to_string(),
        format!(
            "refused the bundle {}: the bundle's content hash is {actual}, not the expected {new}: it was altered or truncated",
            path.display()
        )
    );

    // Bytes that hash right but are not a bundle (the pointer names their hash).
    let garbage = b"{\"format\": 2}";
    let garbage_hash = flagstone::bundle::content_hash(garbage);
    std::fs::write(
        site.dir().join(format!("bundles/{garbage_hash}.json")),
        garbage,
    )
    .unwrap();
    let pointer_path = site.dir().join("current/production.json");
    let pointer = std::fs::read_to_string(&pointer_path).unwrap();
    std::fs::write(&pointer_path, pointer.replace(&new, &garbage_hash)).unwrap();
    let status = watcher.refresh();
    assert_eq!(status.serving.hash, old);
    assert!(
        matches!(
            &status.error,
            Some(WatchError::Refused {
                error: LoadError::Invalid(_),
                ..
            })
        ),
        "{:?}",
        status.error
    );

    // Repaired: served at the next poll.
    std::fs::write(&pointer_path, pointer).unwrap();
    std::fs::write(&path, &good).unwrap();
    let status = watcher.refresh();
    assert_eq!(
        (status.serving.hash.as_str(), status.reloads),
        (new.as_str(), 1)
    );
    assert!(status.error.is_none());
    assert_eq!(variant(&watcher), "off");
}

#[test]
fn the_watcher_keeps_the_last_good_bundle_when_the_pointer_names_a_missing_one() {
    let (site, watcher, old, new) = watched_site();
    let path = site.dir().join(format!("bundles/{new}.json"));
    std::fs::remove_file(&path).unwrap();
    let status = watcher.refresh();
    assert_eq!(status.serving.hash, old);
    assert_eq!(variant(&watcher), "on");
    assert_eq!(
        status.error.unwrap().to_string(),
        format!(
            "cannot read the bundle {}: No such file or directory (os error 2)",
            path.display()
        )
    );

    // A pointer that is not one.
    let pointer_path = site.dir().join("current/production.json");
    std::fs::write(&pointer_path, "{\"environment\": \"prod").unwrap();
    let status = watcher.refresh();
    assert_eq!(status.serving.hash, old);
    assert!(
        matches!(status.error, Some(WatchError::Pointer { .. })),
        "{:?}",
        status.error
    );

    // Published again: the bundle is copied back and the pointer rewritten.
    let (code, _, stderr) = site.publish(T2, &[]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    let status = watcher.refresh();
    assert_eq!(
        (status.serving.hash.as_str(), status.reloads),
        (new.as_str(), 1)
    );
    assert!(status.error.is_none());

    // Nothing to start from.
    let error = Watcher::open(site.path("nowhere"), "production", Options::default())
        .err()
        .unwrap();
    assert_eq!(
        error.to_string(),
        format!(
            "cannot use the pointer {}: No such file or directory (os error 2)",
            site.path("nowhere/current/production.json").display()
        )
    );
}

/// From a kill (made by editing the TOML, as `flagstone kill` will) through `build` and
/// `publish` to a watching evaluator serving the off variant. The timing target is measured
/// by `benches/reload.rs`; this bound only catches a watcher that never reloads.
#[test]
fn a_kill_reaches_a_watching_evaluator() {
    let site = Site::new();
    site.build();
    site.publish(T1, &[]);
    let watcher = Watcher::open(site.dir(), "production", Options::default()).unwrap();
    assert_eq!(variant(&watcher), "on");

    let start = Instant::now();
    site.kill(FLAG);
    site.build();
    let (code, _, stderr) = site.publish(T2, &[]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    while variant(&watcher) != "off" {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still on after 10 s: {:?}",
            watcher.status()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(watcher.status().reloads, 1);
}

// The example of docs/publishing.md, verbatim between the markers (a test compares them).
fn docs_example(published_dir: &Path, now_millis: i64) -> Result<(), Box<dyn std::error::Error>> {
    // example start
    use flagstone::eval::watch::{Options, Watcher};

    // Fails only when there is no good bundle to start with.
    let flags = Watcher::open(published_dir, "production", Options::default())?;

    // Per request: take the current bundle once, then evaluate without locks.
    let bundle = flags.current();
    let context = serde_json::json!({"targeting_key": "user-7", "country": "US"});
    let result = bundle.evaluate("billing/payment-service-v2", &context, now_millis)?;
    println!("{} from bundle {}", result.variant, bundle.hash());

    // In a health check: what is served, and why not something newer.
    let status = flags.status();
    if let Some(error) = &status.error {
        eprintln!(
            "serving {} ({}): {error}",
            status.serving.hash, status.serving.published_at
        );
    }
    // example end
    assert_eq!(result.variant, "on");
    Ok(())
}

#[test]
fn the_docs_example_is_this_code_and_runs() {
    let source = include_str!("test_publish.rs");
    let start = source.find("    // example start\n").unwrap() + "    // example start\n".len();
    let end = source.find("    // example end\n").unwrap();
    let code: String = source[start..end]
        .lines()
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    let docs = std::fs::read_to_string(root().join("docs/publishing.md")).unwrap();
    assert!(
        docs.contains(&format!("```rust\n{code}```\n")),
        "docs/publishing.md's example differs from tests/test_publish.rs:\n{code}"
    );

    let site = Site::new();
    site.build();
    site.publish(T1, &[]);
    docs_example(&site.dir(), 0).unwrap();
}
