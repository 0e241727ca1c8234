//! `flagstone analyze --exposures --events`' summary from raw data: flags.example's onboarding
//! experiment (six components: a conversion, three counts, a covariate window and a ratio's
//! parts) over 1 million units and 10 million events.
//!
//!   cargo bench --bench analyze_raw
//!
//! The files (one of exposures, about 330 MB; ten of events, about 780 MB) are generated once
//! into the system's temporary directory and reused; delete `flagstone-bench-raw-v1` there to
//! generate them again. The command's peak memory on the same files:
//!
//!   /usr/bin/time -v target/release/flagstone analyze growth/onboarding-checklist \
//!     --dir flags.example --exposures $TMPDIR/flagstone-bench-raw-v1/exposures.jsonl \
//!     --events $TMPDIR/flagstone-bench-raw-v1/events-*.jsonl

use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use divan::{Bencher, black_box};
use flagstone::summary::Plan;
use flagstone::summary::events::Exposures;

fn main() {
    divan::main();
}

const UNITS: u64 = 1_000_000;
const EVENT_FILES: u64 = 10;
const EVENTS_PER_FILE: u64 = 1_000_000;
const BUNDLE: &str = "985a1d1e3011576f52f5d29eda59126df1a14c52fe174a0d2a611414a10ba5cf";
/// 2026-12-01T00:00:00Z.
const START: i64 = 1_796_083_200_000;
const DAY: i64 = 86_400_000;

struct Files {
    exposures: PathBuf,
    events: Vec<PathBuf>,
}

fn files() -> Files {
    let dir = std::env::temp_dir().join("flagstone-bench-raw-v1");
    let files = Files {
        exposures: dir.join("exposures.jsonl"),
        events: (0..EVENT_FILES)
            .map(|f| dir.join(format!("events-{f}.jsonl")))
            .collect(),
    };
    let done = dir.join("complete");
    if !done.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        exposures(&files.exposures);
        for (f, path) in files.events.iter().enumerate() {
            events(f as u64, path);
        }
        std::fs::write(&done, b"").unwrap();
    }
    files
}

/// A multiplicative hash: spreads units over variants and events over units and times.
fn mix(x: u64) -> u64 {
    let x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^ (x >> 29)
}

fn first_exposure(unit: u64) -> i64 {
    START + (mix(unit) % (7 * DAY as u64)) as i64
}

fn exposures(path: &Path) {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    for unit in 0..UNITS {
        let variant = match mix(unit ^ 0xABCD) % 4 {
            0 => "checklist",
            1 => "guided-tour",
            _ => "control",
        };
        let time = flagstone::literal::format_timestamp(first_exposure(unit));
        writeln!(
            out,
            "{{\"time\":\"{time}\",\"flag\":\"growth/onboarding-checklist\",\"environment\":\"production\",\"variant\":\"{variant}\",\"reason\":\"rule\",\"rule\":\"new-signups\",\"bundle\":\"{BUNDLE}\",\"experiment\":\"growth/onboarding-checklist\",\"unit\":\"usr_{unit}\",\"targeting_key\":\"usr_{unit}\",\"session\":\"s_{unit}\"}}"
        )
        .unwrap();
    }
    out.flush().unwrap();
}

fn events(file: u64, path: &Path) {
    let names = [
        "session_started",
        "query_run",
        "query_run",
        "query_run",
        "dashboard_created",
        "support_ticket_opened",
        "page_viewed",
    ];
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    for n in 0..EVENTS_PER_FILE {
        let k = mix(file * EVENTS_PER_FILE + n);
        let unit = k % UNITS;
        let name = names[(k >> 20) as usize % names.len()];
        // From two weeks before the first exposure to three weeks after: covariate windows,
        // the metrics' windows and late events.
        let offset = ((k >> 32) % (35 * DAY as u64)) as i64 - 14 * DAY;
        let time = flagstone::literal::format_timestamp(first_exposure(unit) + offset);
        writeln!(
            out,
            "{{\"time\":\"{time}\",\"unit\":\"usr_{unit}\",\"event\":\"{name}\"}}"
        )
        .unwrap();
    }
    out.flush().unwrap();
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn summary_of_1m_units_and_10m_events(bencher: Bencher) {
    let files = files();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("flags.example");
    let repo = flagstone::load::load(&root).unwrap();
    let design = flagstone::experiment::design(&repo, "growth/onboarding-checklist", None).unwrap();
    let plan = Plan::new(&repo, &design).unwrap();
    let open =
        |path: &PathBuf| BufReader::with_capacity(1 << 16, std::fs::File::open(path).unwrap());
    bencher.bench_local(|| {
        let mut reading = Exposures::new(&plan);
        reading.read("exposures", open(&files.exposures)).unwrap();
        let mut reading = reading.finish();
        reading.read_files(&files.events).unwrap();
        let summary = reading.summary();
        assert_eq!(summary.events.input.read, EVENT_FILES * EVENTS_PER_FILE);
        black_box(summary.csv())
    });
}
