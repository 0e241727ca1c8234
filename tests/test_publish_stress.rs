//! Publishing under contention and crashes: two `flagstone publish` processes at a time, with
//! `--keep`, into one directory, some killed (SIGKILL) at random moments, while a reader in
//! this process follows the pointers as an application would.
//!
//! Checked: no pointer ever names a missing bundle (the reader, and after every round); every
//! bundle read verifies (no torn file); and every pointer the reader saw is in the log at its
//! time (`live_at` names it), so the history has no gap and no publish that never happened.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use flagstone::eval::watch::{Pointer, WatchError, load_bundle};
use flagstone::literal::{format_timestamp, parse_timestamp};

use crate::support::{NOW, copy_dir, flagstone, root, run};

const ROUNDS: usize = 200;
const ENVIRONMENTS: [&str; 3] = ["development", "staging", "production"];
/// Each build kills one more of these in production, so each has its own production bundle.
const KILLED: [&str; 3] = [
    "billing/payment-service-v2",
    "search/typeahead",
    "admin/audit-log-export",
];

/// xorshift64*: reproducible from the seed printed on failure.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// What the reader saw: (environment, hash, published_at) of every pointer, and failures.
#[derive(Default)]
struct Seen {
    pointers: BTreeSet<(String, String, String)>,
    failures: Vec<String>,
}

/// Reads every pointer and loads its bundle, verified, until `stop`.
fn read(dir: &Path, stop: &AtomicBool, seen: &Mutex<Seen>) {
    let mut published = std::collections::HashSet::new();
    while !stop.load(Ordering::Relaxed) {
        for environment in ENVIRONMENTS {
            let failure = match Pointer::read(dir, environment) {
                // Not published yet.
                Err(WatchError::Pointer { .. }) if !published.contains(environment) => None,
                Err(e) => Some(format!("pointer: {e}")),
                Ok(pointer) => match load_bundle(dir, environment, &pointer.hash) {
                    Ok(_) => {
                        published.insert(environment);
                        let key = (environment.to_owned(), pointer.hash, pointer.published_at);
                        seen.lock().unwrap().pointers.insert(key);
                        None
                    }
                    // Pruned after the pointer moved on: only a failure if it still names it.
                    Err(WatchError::Missing { .. })
                        if Pointer::read(dir, environment).is_ok_and(|now| now != pointer) =>
                    {
                        None
                    }
                    Err(e) => Some(format!("{environment} at {}: {e}", pointer.published_at)),
                },
            };
            if let Some(failure) = failure {
                seen.lock().unwrap().failures.push(failure);
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

struct Stop<'s>(&'s AtomicBool);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn publisher(site: &Path, out: &str, keep: u64, now: &str) -> Child {
    flagstone()
        .args(["publish", "--bundles", out, "--publish-dir", "published"])
        .args(["--keep", &keep.to_string(), "--now", now, "--wait", "60"])
        .current_dir(site)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Every pointer names a bundle that is there and verifies.
fn check_pointers(dir: &Path) -> Result<(), String> {
    for environment in ENVIRONMENTS {
        let pointer = Pointer::read(dir, environment).map_err(|e| e.to_string())?;
        load_bundle(dir, environment, &pointer.hash).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn temporary_files(dir: &Path) -> Vec<PathBuf> {
    ["bundles", "current"]
        .iter()
        .flat_map(|sub| std::fs::read_dir(dir.join(sub)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect()
}

#[test]
fn two_publishers_killed_at_random_moments_and_a_reader_agree_with_the_log() {
    let temp = crate::support::tempdir();
    let site = temp.path();
    copy_dir(&root().join("flags.example"), &site.join("flags"));
    let mut outs = Vec::new();
    for i in 0..=KILLED.len() {
        if i > 0 {
            let args = [
                "kill",
                KILLED[i - 1],
                "--env",
                "production",
                "--dir",
                "flags",
                "--now",
                NOW,
            ];
            let (code, stdout, stderr) = run(&args, site);
            assert_eq!(code, 0, "{stdout}{stderr}");
        }
        let out = format!("out{i}");
        let (code, _, stderr) = run(
            &["build", "--dir", "flags", "--out", &out, "--now", NOW],
            site,
        );
        assert_eq!(code, 0, "{stderr}");
        outs.push(out);
    }
    let dir = site.join("published");
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut random = Random(seed);
    let start = parse_timestamp(NOW).unwrap();

    let stop = AtomicBool::new(false);
    let seen = Mutex::new(Seen::default());
    let mut killed = 0;
    let began = Instant::now();
    // How long a publish takes here: kills land anywhere in it.
    let mut typical = Duration::from_millis(20);
    std::thread::scope(|scope| {
        scope.spawn(|| read(&dir, &stop, &seen));
        // Stops the reader however this thread leaves the scope, a failed assertion included.
        let _stop = Stop(&stop);
        for round in 0..ROUNDS {
            let now = format_timestamp(start + round as i64 * 1000);
            let pick = |random: &mut Random| &outs[random.below(outs.len() as u64) as usize];
            let (a, b) = (pick(&mut random), pick(&mut random));
            let round_start = Instant::now();
            let mut children = [
                publisher(site, a, 1 + random.below(2), &now),
                publisher(site, b, 1, &now),
            ];
            let victim = match round {
                // The first round publishes something whole.
                0 => None,
                _ => match random.below(3) {
                    0 => None,
                    n => Some(n as usize - 1),
                },
            };
            if let Some(victim) = victim {
                let max = typical.as_micros() as u64 * 2;
                std::thread::sleep(Duration::from_micros(random.below(max + 1)));
                if children[victim].try_wait().unwrap().is_none() {
                    children[victim].kill().unwrap();
                    killed += 1;
                }
            }
            for (i, child) in children.iter_mut().enumerate() {
                let status = child.wait().unwrap();
                if Some(i) != victim {
                    let mut stderr = String::new();
                    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr)
                        .unwrap();
                    assert!(status.success(), "round {round} (seed {seed}): {stderr}");
                }
            }
            if victim.is_none() {
                typical = round_start.elapsed() / 2;
            }
            if let Err(e) = check_pointers(&dir) {
                panic!("after round {round} (seed {seed}): {e}");
            }
        }
    });

    // A last publish completes what the killed ones left.
    let (code, _, stderr) = run(
        &[
            "publish",
            "--bundles",
            "out0",
            "--publish-dir",
            "published",
            "--now",
            NOW,
        ],
        site,
    );
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(temporary_files(&dir), Vec::<PathBuf>::new());
    check_pointers(&dir).unwrap();

    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.failures, Vec::<String>::new(), "seed {seed}");
    assert!(killed > ROUNDS / 10, "only {killed} publishers killed");
    let productions = seen
        .pointers
        .iter()
        .filter(|(e, _, _)| e == "production")
        .count();
    assert!(
        productions > ROUNDS / 4,
        "the reader saw {productions} production pointers"
    );
    for (environment, hash, time) in &seen.pointers {
        let at = parse_timestamp(time).unwrap();
        let entry = flagstone::publish::live_at(&dir, environment, at)
            .unwrap_or_else(|e| panic!("{environment} at {time} (seed {seed}): {e}"));
        assert_eq!(
            (&entry.hash, &entry.time),
            (hash, time),
            "the log's {environment} at {time} (seed {seed})"
        );
    }
    let log = std::fs::read_to_string(dir.join("publish.log")).unwrap();
    eprintln!(
        "{ROUNDS} rounds, {killed} publishers killed ({} between record and pointer), {} \
         pointers seen, in {:.1} s",
        log.matches("\"aborted\":true").count(),
        seen.pointers.len(),
        began.elapsed().as_secs_f64()
    );
}
