//! `flagstone exposures`' summary over 10 million exposures of 1 million units (10 flags, each
//! split 50/50 by one rule, every unit exposed to each once, with a session): the files read
//! as a stream and summarised with the bundle's splits and the live hashes.
//!
//!   cargo bench --bench exposures_report
//!
//! The files (about 2.3 GB of JSON Lines in 10 files) are generated once into the system's
//! temporary directory and reused by later runs; delete `flagstone-bench-exposures-v1` there
//! to generate them again.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use divan::{Bencher, black_box};
use flagstone::exposures::{BundleShape, FlagShape, Reader, Split};

fn main() {
    divan::main();
}

const UNITS: u32 = 1_000_000;
const FLAGS: u32 = 10;
const FILES: u32 = 10;
const BUNDLE: &str = "985a1d1e3011576f52f5d29eda59126df1a14c52fe174a0d2a611414a10ba5cf";

/// The generated files, made on first use: each file holds one flag's exposures, in unit order.
fn files() -> Vec<PathBuf> {
    let dir = std::env::temp_dir().join("flagstone-bench-exposures-v1");
    let done = dir.join("complete");
    let files: Vec<PathBuf> = (0..FILES)
        .map(|f| dir.join(format!("exposures-20261126T100000Z-{f}.jsonl")))
        .collect();
    if !done.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        for (f, path) in files.iter().enumerate() {
            generate(f as u32, path);
        }
        std::fs::write(&done, b"").unwrap();
    }
    files
}

fn generate(file: u32, path: &Path) {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let flag = format!("checkout/flag-{file}");
    for unit in 0..UNITS {
        // A multiplicative hash spreads units over the variants like bucketing does.
        let variant = if (unit.wrapping_mul(2_654_435_761) ^ file) & 1 == 0 {
            "off"
        } else {
            "on"
        };
        let millis = i64::from(unit) * 3 + i64::from(file);
        let time = flagstone::literal::format_timestamp(1_796_119_200_000 + millis);
        writeln!(
            out,
            "{{\"time\":\"{time}\",\"flag\":\"{flag}\",\"environment\":\"production\",\"variant\":\"{variant}\",\"reason\":\"rule\",\"rule\":\"split\",\"bundle\":\"{BUNDLE}\",\"unit\":\"user-{unit}\",\"targeting_key\":\"user-{unit}\",\"session\":\"s-{unit}-{}\"}}",
            unit % 7
        )
        .unwrap();
    }
    out.flush().unwrap();
}

fn shapes() -> BTreeMap<String, BundleShape> {
    let flags = (0..FILES)
        .map(|f| {
            let variants = vec!["off".to_owned(), "on".to_owned()];
            let split = Split {
                rule: "split".to_owned(),
                weights: variants.iter().map(|v| (v.clone(), 50_000)).collect(),
                scheduled: false,
            };
            (
                format!("checkout/flag-{f}"),
                FlagShape {
                    variants,
                    splits: vec![split],
                },
            )
        })
        .collect();
    let shape = BundleShape {
        environment: "production".to_owned(),
        flags,
    };
    BTreeMap::from([(BUNDLE.to_owned(), shape)])
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn summary_of_10m_exposures(bencher: Bencher) {
    let files = files();
    let shapes = shapes();
    let live = BTreeSet::from([BUNDLE.to_owned()]);
    bencher.bench(|| {
        let mut reader = Reader::new();
        for path in &files {
            let file = std::fs::File::open(path).unwrap();
            reader
                .read(
                    &path.display().to_string(),
                    BufReader::with_capacity(1 << 20, file),
                )
                .unwrap();
        }
        let report = reader.finish(&shapes, Some(&live));
        assert_eq!(report.exposures, u64::from(UNITS * FLAGS));
        black_box(report)
    });
}
