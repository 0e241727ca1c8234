//! From a kill to a running application serving the off variant: the release binary runs
//! `flagstone kill` (production), `build` and `publish`, while a `Watcher` with default options
//! (100 ms polls) watches the published directory from this process. Prints each run and the
//! medians.
//!
//! Then publishing, and `eval --at`, into a directory whose publish.log has a million lines:
//! wall time and the process's peak memory (from /usr/bin/time, when there is one).
//!
//!   cargo bench --bench reload
//!   FLAGSTONE_BIN=path/to/flagstone cargo bench --bench reload   # another build, same runs

#[path = "support/binary.rs"]
mod binary;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use binary::binary;

use flagstone::eval::watch::{Options, Watcher};

const RUNS: usize = 11;
const FLAG: &str = "billing/payment-service-v2";
/// The time the commands run at, so that the benchmark does the same work on any day.
const NOW: &str = "2026-11-26T12:00:00Z";

fn main() {
    reload();
    big_log();
}

fn reload() {
    let mut runs: Vec<[Duration; 4]> = (0..RUNS).map(run).collect();
    println!("run kill+build publish   reload    total");
    for (i, [build, publish, reload, total]) in runs.iter().enumerate() {
        println!(
            "{i:>3} {:>7.1} {:>8.1} {:>8.1} {:>8.1}  ms",
            ms(*build),
            ms(*publish),
            ms(*reload),
            ms(*total)
        );
    }
    let median = |column: usize, runs: &mut Vec<[Duration; 4]>| {
        runs.sort_by_key(|r| r[column]);
        ms(runs[RUNS / 2][column])
    };
    println!(
        "median {:>5.1} {:>8.1} {:>8.1} {:>8.1}  ms (each column's own median)",
        median(0, &mut runs),
        median(1, &mut runs),
        median(2, &mut runs),
        median(3, &mut runs)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One kill, timed: build, publish, the wait for the watcher, and the total. Run `i` kills
/// `i` × 9 ms after the watcher started, so the runs spread over the phases of its polls.
fn run(i: usize) -> [Duration; 4] {
    let temp = tempfile::tempdir().unwrap();
    let site = temp.path();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("flags.example"),
        &site.join("flags"),
    );
    flagstone(
        site,
        &["build", "--dir", "flags", "--out", "out", "--now", NOW],
    );
    flagstone(
        site,
        &[
            "publish",
            "--bundles",
            "out",
            "--publish-dir",
            "published",
            "--now",
            NOW,
        ],
    );
    let watcher = Watcher::open(site.join("published"), "production", Options::default()).unwrap();
    let context = serde_json::json!({"targeting_key": "user-7", "country": "US"});
    let variant = || {
        let bundle = watcher.current();
        bundle.evaluate(FLAG, &context, 0).unwrap().variant == "off"
    };
    assert!(!variant(), "{FLAG} is on before the kill");
    std::thread::sleep(Duration::from_millis(9 * i as u64));

    let start = Instant::now();
    flagstone(
        site,
        &[
            "kill",
            FLAG,
            "--env",
            "production",
            "--dir",
            "flags",
            "--now",
            NOW,
        ],
    );
    flagstone(
        site,
        &["build", "--dir", "flags", "--out", "out", "--now", NOW],
    );
    let built = Instant::now();
    flagstone(
        site,
        &[
            "publish",
            "--bundles",
            "out",
            "--publish-dir",
            "published",
            "--now",
            NOW,
        ],
    );
    let published = Instant::now();
    while !variant() {
        assert!(start.elapsed() < Duration::from_secs(10), "never reloaded");
        std::thread::sleep(Duration::from_micros(200));
    }
    let off = Instant::now();
    [
        built - start,
        published - built,
        off - published,
        off - start,
    ]
}

const LOG_LINES: usize = 1_000_000;

/// A published directory whose log has [`LOG_LINES`] older records (three environments in
/// turn, each publish a distinct bundle) before its own; two builds whose production bundles
/// differ, so that each timed publish moves the pointer and appends a record.
fn big_log() {
    let temp = tempfile::tempdir().unwrap();
    let site = temp.path();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("flags.example"),
        &site.join("flags"),
    );
    for (out, kill) in [("a", false), ("b", true)] {
        if kill {
            flagstone(
                site,
                &[
                    "kill",
                    FLAG,
                    "--env",
                    "production",
                    "--dir",
                    "flags",
                    "--now",
                    NOW,
                ],
            );
        }
        flagstone(
            site,
            &["build", "--dir", "flags", "--out", out, "--now", NOW],
        );
    }
    let dir = site.join("published");
    std::fs::create_dir_all(&dir).unwrap();
    let mut log = String::with_capacity(LOG_LINES * 200);
    let environments = ["development", "staging", "production"];
    for i in 0..LOG_LINES {
        // One publish a minute from 2024-01-01.
        let time = 1_704_067_200_000 + i as i64 * 60_000;
        log.push_str(&format!(
            "{{\"time\":\"{}\",\"environment\":\"{}\",\"hash\":\"{i:064x}\",\"commit\":\"{i:040x}\"}}\n",
            flagstone::literal::format_timestamp(time),
            environments[i % 3]
        ));
    }
    std::fs::write(dir.join("publish.log"), log).unwrap();
    let publish = |out: &'static str, keep: bool| -> Vec<&'static str> {
        let mut args = vec!["publish", "--bundles", out, "--publish-dir", "published"];
        args.extend(["--now", NOW]);
        if keep {
            args.extend(["--keep", "5"]);
        }
        args
    };
    let eval = |at: &'static str| {
        vec![
            "eval",
            FLAG,
            "--env",
            "production",
            "--publish-dir",
            "published",
            "--at",
            at,
            "--context",
            "{}",
        ]
    };
    flagstone(site, &publish("a", false));
    let bytes = std::fs::metadata(dir.join("publish.log")).unwrap().len();
    println!(
        "\npublish.log: {} lines, {:.0} MB; each step 5 times",
        LOG_LINES + 3,
        bytes as f64 / 1e6
    );
    println!("step                                   median    peak memory (median)");
    let step = |name: &str, runs: Vec<Vec<&str>>| {
        let mut times = Vec::new();
        let mut memory = Vec::new();
        for args in &runs {
            let (time, kb) = measured(site, args);
            times.push(time);
            memory.extend(kb);
        }
        times.sort();
        memory.sort();
        let memory = memory.get(memory.len() / 2).map_or("-".to_owned(), |kb| {
            format!("{:.1} MB", *kb as f64 / 1000.0)
        });
        println!(
            "{name:<38} {:>7.1} ms  {memory:>10}",
            ms(times[times.len() / 2])
        );
    };
    let alternate = |keep: bool| -> Vec<Vec<&str>> {
        ["b", "a", "b", "a", "b"]
            .into_iter()
            .map(|out| publish(out, keep))
            .collect()
    };
    step("publish (pointer moves)", alternate(false));
    step("publish --keep 5 (pointer moves)", alternate(true));
    step(
        "eval --at (latest publish)",
        vec![eval("2027-01-01T00:00:00Z"); 5],
    );
    // Its bundle is not there: the log is searched, then the error says it was pruned.
    step(
        "eval --at (47% of the log back)",
        vec![eval("2025-01-01T00:00:00Z"); 5],
    );
}

/// Runs the binary once: wall time, and peak resident memory in kB when /usr/bin/time is
/// there to tell it.
fn measured(dir: &Path, args: &[&str]) -> (Duration, Option<u64>) {
    let time = Path::new("/usr/bin/time");
    let mut command = if time.exists() {
        let mut command = Command::new(time);
        command.args(["-f", "%M"]).arg(binary());
        command
    } else {
        Command::new(binary())
    };
    let start = Instant::now();
    let output = command.args(args).current_dir(dir).output().unwrap();
    let elapsed = start.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() || stderr.contains("pruned by `publish --keep`"),
        "{args:?}: {stderr}"
    );
    let kb = time
        .exists()
        .then(|| stderr.lines().last()?.trim().parse().ok())
        .flatten();
    (elapsed, kb)
}

fn flagstone(dir: &Path, args: &[&str]) {
    let output = Command::new(binary())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
