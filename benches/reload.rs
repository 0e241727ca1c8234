//! From a kill to a running application serving the off variant: the release binary runs
//! `flagstone kill` (production), `build` and `publish`, while a `Watcher` with default options
//! (100 ms polls) watches the published directory from this process. Prints each run and the
//! medians.
//!
//!   cargo bench --bench reload

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use flagstone::eval::watch::{Options, Watcher};

const RUNS: usize = 11;
const FLAG: &str = "billing/payment-service-v2";
/// The time the commands run at, so that the benchmark does the same work on any day.
const NOW: &str = "2026-11-26T12:00:00Z";

fn main() {
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

fn flagstone(dir: &Path, args: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_flagstone"))
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
