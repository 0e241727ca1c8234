//! `flagstone publish`, `eval --published --at` and the hot-reloading `Watcher`, end to end.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flagstone::eval::LoadError;
use flagstone::eval::watch::{Options, WatchError, Watcher};

use crate::support::{copy_dir, root, run};

/// A copy of flags.example (outside git, so no commit is recorded), its build output and a
/// published directory.
pub(crate) struct Site {
    temp: tempfile::TempDir,
}

const T1: &str = "2026-11-26T12:00:00Z";
const T2: &str = "2026-11-26T13:00:00Z";
const FLAG: &str = "billing/payment-service-v2";
/// `billing/payment-service-v2` serves "on" to this context in production until killed.
const US_USER: &str = r#"{"targeting_key":"user-7","country":"US"}"#;

impl Site {
    pub(crate) fn new() -> Site {
        let temp = crate::support::tempdir();
        copy_dir(&root().join("flags.example"), &temp.path().join("flags"));
        Site { temp }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.temp.path().join(name)
    }

    pub(crate) fn dir(&self) -> PathBuf {
        self.path("published")
    }

    /// Runs the binary in the site's directory.
    pub(crate) fn run(&self, args: &[&str]) -> (i32, String, String) {
        run(args, self.temp.path())
    }

    /// Builds the repository; returns the (environment, hash) pairs of the manifest.
    pub(crate) fn build(&self) -> Vec<(String, String)> {
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

    pub(crate) fn publish(&self, now: &str, extra: &[&str]) -> (i32, String, String) {
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
    pub(crate) fn kill(&self, flag: &str) {
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
fn a_damaged_published_copy_is_written_again_and_an_intact_one_kept() {
    let site = Site::new();
    let hashes = site.build();
    site.publish(T1, &[]);
    let production = hash_of(&hashes, "production");
    let damaged = site.dir().join(format!("bundles/{production}.json"));
    let staging = site
        .dir()
        .join(format!("bundles/{}.json", hash_of(&hashes, "staging")));
    let intact = std::fs::read(&staging).unwrap();
    let bytes = std::fs::read(&damaged).unwrap();
    std::fs::write(&damaged, &bytes[..bytes.len() / 2]).unwrap();
    let staged_at = std::fs::metadata(&staging).unwrap().modified().unwrap();

    let (code, stdout, stderr) = site.publish(T2, &[]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(stdout, published_lines(&hashes, "unchanged"));
    assert_eq!(std::fs::read(&damaged).unwrap(), bytes);
    // The intact copy is the same file, not a rewrite of it.
    assert_eq!(std::fs::read(&staging).unwrap(), intact);
    let modified = std::fs::metadata(&staging).unwrap().modified().unwrap();
    assert_eq!(modified, staged_at);
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
fn keep_keeps_each_environments_most_recent_bundles_however_the_log_interleaves_them() {
    let site = Site::new();
    let first = site.build();
    // Production first, then the other environments: its oldest record comes before theirs.
    site.publish(T1, &["--env", "production"]);
    site.publish(T1, &[]);
    // Two more production bundles: a narrower audience, then a kill.
    let flag = site.path("flags").join(format!("flags/{FLAG}.toml"));
    let text = std::fs::read_to_string(&flag).unwrap();
    let narrower = text.replace(r#"values = ["US", "CA", "GB"]"#, r#"values = ["US", "CA"]"#);
    assert_ne!(narrower, text);
    std::fs::write(&flag, narrower).unwrap();
    let second = site.build();
    site.publish(T2, &[]);
    site.kill(FLAG);
    let third = site.build();
    site.publish("2026-11-26T14:00:00Z", &[]);
    let production: Vec<&str> = [&first, &second, &third]
        .iter()
        .map(|hashes| hash_of(hashes, "production"))
        .collect();
    let before = site.bundles();
    assert_eq!(before.len(), 5);

    // The log holds production's oldest bundle, the other environments' only ones, then
    // production's two newer ones: finding production's three means reading past the others.
    let (code, _, stderr) = site.publish("2026-11-26T14:00:00Z", &["--keep", "3"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(site.bundles(), before);

    let (code, stdout, stderr) = site.publish("2026-11-26T14:00:00Z", &["--keep", "2"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert!(
        stdout.ends_with(&format!("pruned         {}\n", production[0])),
        "{stdout}"
    );
    let kept = site.bundles();
    assert_eq!(kept.len(), 4);
    for hash in &production[1..] {
        assert!(kept.contains(&format!("{hash}.json")), "{hash} was pruned");
    }
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
            "error: bundle {old} of `production` (published 2026-11-26T12:00:00.000Z) is no longer in published/bundles: pruned by `publish --keep`\nhelp: to evaluate it, build that commit and copy its {old}.json there\n"
        )
    );
}

/// The record a publish appends before it moves `environment`'s pointer.
fn record(time: &str, environment: &str, hash: &str, aborted: bool) -> String {
    let line = log_line(time, environment, hash);
    match aborted {
        false => line,
        true => line.replace("}\n", ",\"aborted\":true}\n"),
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

#[test]
fn a_publish_that_died_before_moving_its_pointer_is_skipped_then_cancelled() {
    let site = Site::new();
    let first = site.build();
    site.publish(T1, &[]);
    site.kill(FLAG);
    let second = site.build();
    let (old, new) = (
        hash_of(&first, "production"),
        hash_of(&second, "production"),
    );
    // As a publish killed (kill -9) after logging production's move at 13:00 and before
    // renaming its new pointer into place: the record is there, the pointer is not moved, and
    // its temporary files are left.
    let dir = site.dir();
    let before = site.log();
    let pending = record("2026-11-26T13:00:00.000Z", "production", new, false);
    append(&dir.join("publish.log"), &pending);
    let temporary = [
        format!("bundles/.{new}.json.4242.tmp"),
        "current/.production.json.4242.tmp".to_owned(),
    ];
    for file in &temporary {
        std::fs::write(dir.join(file), b"{\"environment\": \"prod").unwrap();
    }
    // Files that are not a publish's temporary files stay, whatever else their name says.
    let others = ["bundles/.keep", "current/notes.tmp"];
    for file in others {
        std::fs::write(dir.join(file), b"").unwrap();
    }
    let pointer = site.pointer("production");

    // Readers do not count the record its pointer does not confirm.
    let on_old = |at: &str| {
        let (code, stdout, stderr) = site.eval(&["--at", at]);
        assert_eq!((code, stderr.as_str()), (0, ""));
        assert!(
            stdout.ends_with(&format!(
                "(production bundle {}, published 2026-11-26T12:00:00.000Z)\n",
                &old[..12]
            )),
            "{stdout}"
        );
    };
    on_old("2026-11-26T14:00:00Z");

    // The next publish, of another environment, removes the leftovers and cancels the record.
    let (code, stdout, stderr) = site.publish(T2, &["--env", "staging"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    let removed: String = temporary
        .iter()
        .map(|file| format!("removed        {file}  (left by an interrupted publish)\n"))
        .collect();
    assert_eq!(
        stdout,
        format!("{removed}{}", published_lines(&second[1..2], "unchanged"))
    );
    assert_eq!(
        site.log(),
        format!(
            "{before}{pending}{}",
            record("2026-11-26T13:00:00.000Z", "production", new, true)
        )
    );
    assert_eq!(site.pointer("production"), pointer);
    on_old("2026-11-26T14:00:00Z");
    for file in others {
        assert!(dir.join(file).exists(), "{file} was removed");
    }
    for file in &temporary {
        assert!(!dir.join(file).exists(), "{file}");
    }

    // Published at last, at 15:00: the history has the old bundle until then.
    let (code, _, stderr) = site.publish("2026-11-26T15:00:00Z", &[]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    on_old("2026-11-26T14:59:59Z");
    let (code, stdout, _) = site.eval(&["--at", "2026-11-26T15:00:00Z"]);
    assert_eq!(code, 0);
    assert!(
        stdout.ends_with(&format!(
            "(production bundle {}, published 2026-11-26T15:00:00.000Z)\n",
            &new[..12]
        )),
        "{stdout}"
    );
}

#[test]
fn a_torn_log_line_is_skipped_and_ended_by_the_next_append() {
    let site = Site::new();
    site.build();
    site.publish(T1, &[]);
    // As if the process died in the middle of appending a record.
    let torn = "{\"time\":\"2026-11-26T12:3";
    append(&site.dir().join("publish.log"), torn);
    let before = site.log();
    assert_eq!(site.eval(&["--at", T2]).0, 0, "the torn line is skipped");

    site.kill(FLAG);
    let second = site.build();
    let (code, _, stderr) = site.publish(T2, &[]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    let new = hash_of(&second, "production");
    assert_eq!(
        site.log(),
        format!(
            "{before}\n{}",
            log_line("2026-11-26T13:00:00.000Z", "production", new)
        )
    );
    let (code, stdout, _) = site.eval(&["--at", T2]);
    assert_eq!(code, 0);
    assert!(stdout.contains(&new[..12]), "{stdout}");
}

#[test]
fn recorded_times_never_go_back() {
    let site = Site::new();
    site.build();
    site.publish(T2, &[]);
    site.kill(FLAG);
    let second = site.build();
    let new = hash_of(&second, "production");
    // An earlier --now (or a publishing machine whose clock is behind): the move is recorded
    // just after the environment's last one, so a time names one bundle per environment.
    let (code, _, stderr) = site.publish(T1, &[]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert!(
        site.log()
            .ends_with(&log_line("2026-11-26T13:00:00.001Z", "production", new)),
        "{}",
        site.log()
    );
    assert!(
        site.pointer("production")
            .contains("\"published_at\": \"2026-11-26T13:00:00.001Z\"")
    );
    let (code, stdout, _) = site.eval(&["--at", "2026-11-26T13:00:00.001Z"]);
    assert_eq!(code, 0);
    assert!(stdout.contains(&new[..12]), "{stdout}");
}

/// Root, as CI runs the tests, writes through permission bits: every case here makes a path
/// the wrong kind of file instead, which stops root too.
#[test]
fn an_unwritable_destination_is_a_clear_error_and_the_old_pointer_stays() {
    let site = Site::new();
    let first = site.build();
    site.publish(T1, &[]);
    let pointer = site.pointer("production");
    let log = site.log();
    site.kill(FLAG);
    let second = site.build();
    let (old, new) = (
        hash_of(&first, "production"),
        hash_of(&second, "production"),
    );
    let dir = site.dir();

    // The bundle's place is taken by a directory.
    let taken = dir.join(format!("bundles/{new}.json"));
    std::fs::create_dir(&taken).unwrap();
    let (code, stdout, stderr) = site.publish(T2, &[]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        format!("error: cannot write published/bundles/{new}.json: Is a directory (os error 21)\n")
    );
    assert_eq!(site.pointer("production"), pointer);
    assert_eq!(site.log(), log);
    std::fs::remove_dir(&taken).unwrap();

    // The log cannot be appended to: the move is not recorded, so it does not happen.
    let log_path = dir.join("publish.log");
    std::fs::rename(&log_path, dir.join("saved.log")).unwrap();
    std::fs::create_dir(&log_path).unwrap();
    let (code, stdout, stderr) = site.publish(T2, &[]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        "error: cannot read published/publish.log: Is a directory (os error 21)\n"
    );
    assert_eq!(site.pointer("production"), pointer);
    std::fs::remove_dir(&log_path).unwrap();
    std::fs::rename(dir.join("saved.log"), &log_path).unwrap();

    // The pointer cannot be replaced: its move was recorded, and is cancelled.
    let pointer_path = dir.join("current/production.json");
    std::fs::rename(&pointer_path, dir.join("saved.json")).unwrap();
    std::fs::create_dir(&pointer_path).unwrap();
    let (code, stdout, stderr) = site.publish(T2, &[]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        "error: cannot write published/current/production.json: Is a directory (os error 21)\n"
    );
    assert_eq!(
        site.log(),
        format!(
            "{log}{}{}",
            record("2026-11-26T13:00:00.000Z", "production", new, false),
            record("2026-11-26T13:00:00.000Z", "production", new, true)
        )
    );
    std::fs::remove_dir(&pointer_path).unwrap();
    std::fs::rename(dir.join("saved.json"), &pointer_path).unwrap();
    let (code, stdout, _) = site.eval(&["--at", T2]);
    assert_eq!(code, 0);
    assert!(stdout.contains(&old[..12]), "{stdout}");

    // The lock file's place is taken.
    let lock = dir.join("publish.lock");
    std::fs::remove_file(&lock).unwrap();
    std::fs::create_dir(&lock).unwrap();
    let (code, _, stderr) = site.publish(T2, &[]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: cannot open published/publish.lock: Is a directory (os error 21)\n"
    );
    std::fs::remove_dir(&lock).unwrap();
    assert_eq!(site.pointer("production"), pointer);

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

/// Two bundles of production (the first pruned by `--keep 1` unless something keeps it) and
/// one of each other environment, published; then the log is removed, as an operator
/// rotating it would: only the pointers say which bundles are live.
fn pruning_site() -> (Site, Vec<(String, String)>, String) {
    let site = Site::new();
    let first = site.build();
    site.publish(T1, &[]);
    site.kill(FLAG);
    let second = site.build();
    site.publish(T2, &[]);
    std::fs::remove_file(site.dir().join("publish.log")).unwrap();
    let old = hash_of(&first, "production").to_owned();
    (site, second, old)
}

#[test]
fn keep_never_prunes_a_bundle_a_pointer_names_whatever_the_log_says() {
    let (site, second, old) = pruning_site();
    // Publishing staging alone: the other environments' pointers keep their bundles.
    let (code, stdout, stderr) = site.publish(T2, &["--env", "staging", "--keep", "1"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(
        stdout,
        format!(
            "{}pruned         {old}\n",
            published_lines(&second[1..2], "unchanged")
        )
    );
    let mut current: Vec<String> = second.iter().map(|(_, h)| format!("{h}.json")).collect();
    current.sort();
    assert_eq!(site.bundles(), current);
}

#[test]
fn keep_prunes_nothing_while_a_pointer_cannot_be_read() {
    let (site, second, _) = pruning_site();
    let before = site.bundles();
    let development = site.dir().join("current/development.json");
    std::fs::write(&development, "{\"environment\": \"dev").unwrap();
    let (code, _, stderr) = site.publish(T2, &["--env", "production", "--keep", "1"]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with(
            "error: not pruning: cannot use the pointer published/current/development.json: not a pointer: "
        ),
        "{stderr}"
    );
    // The bundle it named is among those kept.
    assert!(before.contains(&format!("{}.json", hash_of(&second, "development"))));
    assert_eq!(site.bundles(), before);
}

#[test]
fn a_second_publisher_waits_for_the_first_or_gives_up_clearly() {
    let site = Site::new();
    site.build();
    site.publish(T1, &[]);
    site.kill(FLAG);
    site.build();
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(site.dir().join("publish.lock"))
        .unwrap();
    lock.lock().unwrap();
    let log = site.log();

    let (code, stdout, stderr) = site.publish(T2, &["--wait", "0"]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        "error: another publish to published is running (it holds published/publish.lock); gave up after waiting 0 s\nhelp: give it longer with --wait SECONDS\n"
    );
    assert_eq!(site.log(), log);

    // A publisher that waits goes on once the lock is released.
    let waiting = crate::support::flagstone()
        .args(["publish", "--bundles", "out", "--publish-dir", "published"])
        .args(["--now", T2, "--wait", "60"])
        .current_dir(site.temp.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(site.log(), log, "it did not wait");
    drop(lock);
    let output = waiting.wait_with_output().unwrap();
    assert!(output.status.success());
    assert!(
        String::from_utf8(output.stdout)
            .unwrap()
            .contains("  published\n")
    );
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "waiting for another publish to finish (it holds published/publish.lock)\n"
    );
    assert_ne!(site.log(), log);
}

/// The content hash, computed independently by the Python `blake3` package
/// (tests/publish/generate.py; CI checks that it reproduces the committed values).
#[test]
fn the_content_hash_is_the_one_an_independent_blake3_computes() {
    let golden: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root().join("tests/publish/content_hash.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(golden["context"], flagstone::bundle::HASH_CONTEXT);
    let vectors = golden["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 5);
    for vector in vectors {
        let bytes: Vec<u8> = match &vector["text"] {
            serde_json::Value::String(text) => text.as_bytes().to_vec(),
            _ => {
                let length = vector["length"].as_u64().unwrap();
                (0..length).map(|i| (i % 251) as u8).collect()
            }
        };
        assert_eq!(
            flagstone::bundle::content_hash(&bytes),
            vector["hash"].as_str().unwrap(),
            "{vector}"
        );
    }
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

/// A reload under way (here: reading a bundle from a pipe nothing writes to yet) holds up
/// neither `status()` nor `current()`.
#[test]
fn status_answers_while_a_reload_is_under_way() {
    use std::sync::mpsc;

    let (site, watcher, old, new) = watched_site();
    let path = site.dir().join(format!("bundles/{new}.json"));
    let good = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(made.success());

    std::thread::scope(|scope| {
        let reload = scope.spawn(|| watcher.refresh());
        // The reload opens the pipe and waits for bytes.
        std::thread::sleep(Duration::from_millis(200));
        let (sender, answers) = mpsc::channel();
        let watcher = &watcher;
        scope.spawn(move || {
            let status = watcher.status();
            let serving = watcher.current().hash().to_owned();
            let _ = sender.send((status, serving));
        });
        let answered = answers.recv_timeout(Duration::from_secs(10));
        // Whatever happened, let the reload finish so that the threads end.
        std::fs::write(&path, &good).unwrap();
        let (status, serving) = answered.expect("status() waited for the reload");
        assert_eq!(
            (status.serving.hash.as_str(), status.reloads),
            (old.as_str(), 0)
        );
        assert_eq!(serving, old);
        let reloaded = reload.join().unwrap();
        assert_eq!(
            (reloaded.serving.hash.as_str(), reloaded.reloads),
            (new.as_str(), 1)
        );
    });
    assert_eq!(variant(&watcher), "off");
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
    crate::support::assert_docs_example(
        include_str!("test_publish.rs"),
        "tests/test_publish.rs",
        "docs/publishing.md",
    );

    let site = Site::new();
    site.build();
    site.publish(T1, &[]);
    docs_example(&site.dir(), 0).unwrap();
}
