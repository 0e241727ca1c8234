//! One dataset, three engines, one answer (docs/raw-data.md): a generated experiment's raw
//! exposures and events summarised in flagstone, by `flagstone sql`'s query in real DuckDB and
//! in real PostgreSQL, give the same summary to 1e-9 relative per cell and the same decision;
//! the counts the generator knows by construction hold; and the BigQuery, Snowflake and
//! ClickHouse queries parse in their dialects (sqlglot).

use std::path::Path;
use std::process::Command;

use flagstone::summary::events::{Exposures, Summary};
use flagstone::summary::{Plan, product_column};

use crate::support::raw_data::{self, EVENTS, EXPERIMENT, EXPOSURES, PROPERTY, Truth, VARIANTS};
use crate::support::{NOW, root, run, tempdir};

const SEED: u64 = 0x5eed_2026;
const UNITS: u64 = 1500;

const DUCKDB: &str =
    "the duckdb Python package is missing: python3 -m pip install 'duckdb==2.0.0' (.ci/run does)";
const SQLGLOT: &str = "the sqlglot Python package is missing: python3 -m pip install 'sqlglot==30.30.0' (.ci/run does)";
const POSTGRES: &str = "PostgreSQL is missing: apt-get install postgresql (.ci/run does)";

/// The summary computed in flagstone, from the files.
fn embedded(dir: &Path) -> Summary {
    let repo = flagstone::load::load(dir).unwrap();
    let design = flagstone::experiment::design(&repo, EXPERIMENT, None).unwrap();
    let plan = Plan::new(&repo, &design).unwrap();
    let mut exposures = Exposures::new(&plan);
    let file = std::fs::read(dir.join(EXPOSURES)).unwrap();
    exposures.read(EXPOSURES, &file[..]).unwrap();
    let mut events = exposures.finish();
    let file = std::fs::read(dir.join(EVENTS)).unwrap();
    events.read(EVENTS, &file[..]).unwrap();
    events.summary()
}

fn python_has(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|s| s.success())
}

fn postgres_installed() -> bool {
    let on_path = Command::new("initdb").arg("--version").output().is_ok();
    on_path
        || std::fs::read_dir("/usr/lib/postgresql").is_ok_and(|versions| {
            versions
                .flatten()
                .any(|v| v.path().join("bin/initdb").is_file())
        })
}

/// `flagstone sql`'s query in `dialect`, written to a file.
fn query(dir: &Path, dialect: &str) -> std::path::PathBuf {
    let (code, stdout, stderr) = run(
        &["sql", EXPERIMENT, "--dialect", dialect, "--dir", "."],
        dir,
    );
    assert_eq!(code, 0, "{stderr}");
    let path = dir.join(format!("query.{dialect}.sql"));
    std::fs::write(&path, stdout).unwrap();
    path
}

/// The summary CSV the query returns in a real engine.
fn engine(dir: &Path, engine: &str) -> String {
    let query = query(dir, engine);
    let output = Command::new("python3")
        .arg(root().join("tests/raw_data/engines.py"))
        .arg(engine)
        .arg("--query")
        .arg(&query)
        .arg("--exposures")
        .arg(dir.join(EXPOSURES))
        .arg("--events")
        .arg(dir.join(EVENTS))
        .args(["--exposures-table", "raw.exposures"])
        .args(["--events-table", "raw.events"])
        .args(["--property", PROPERTY])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{engine}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A summary CSV as (header, rows of (variation, numbers)).
fn parse(csv: &str) -> (Vec<String>, Vec<(String, Vec<f64>)>) {
    let mut lines = csv.lines();
    let header = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    let rows = lines
        .map(|line| {
            let mut cells = line.split(',');
            let variation = cells.next().unwrap().to_owned();
            let numbers = cells
                .map(|c| {
                    c.parse::<f64>()
                        .unwrap_or_else(|_| panic!("{c:?} in {line}"))
                })
                .collect();
            (variation, numbers)
        })
        .collect();
    (header, rows)
}

/// Same header, same variations in the same order, every cell within 1e-9 relative.
fn assert_agree(name: &str, expected: &str, actual: &str) {
    let (header, rows) = parse(expected);
    let (other_header, other_rows) = parse(actual);
    assert_eq!(header, other_header, "{name}: columns");
    let variations =
        |rows: &[(String, Vec<f64>)]| rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>();
    assert_eq!(variations(&rows), variations(&other_rows), "{name}: rows");
    for ((variation, a), (_, b)) in rows.iter().zip(&other_rows) {
        assert_eq!(a.len(), b.len(), "{name}: {variation}");
        for ((x, y), column) in a.iter().zip(b).zip(&header[1..]) {
            let tolerance = 1e-9 * x.abs().max(y.abs());
            assert!(
                (x - y).abs() <= tolerance,
                "{name}: {variation} {column}: {x} in flagstone, {y} here"
            );
        }
    }
}

/// The counts the generator made, which no implementation computed.
fn assert_truth(summary: &Summary, truth: &Truth) {
    let users: std::collections::BTreeMap<String, u64> = summary
        .rows
        .iter()
        .map(|r| (r.variation.clone(), r.users))
        .collect();
    assert_eq!(users, truth.users);
    assert_eq!(summary.exposures.several_variants, truth.several_variants);
    assert_eq!(summary.exposures.held_out, truth.held_out);
    let purchased = summary
        .columns
        .iter()
        .position(|c| c == "purchased__sum")
        .unwrap()
        - 2;
    for row in &summary.rows {
        assert_eq!(
            row.values[purchased],
            truth.purchased[&row.variation] as f64
        );
    }
    assert_eq!(summary.exposures.input.malformed, 1);
    assert_eq!(summary.events.input.malformed, 1);
    assert!(summary.events.not_in_experiment > 0 && summary.events.after_window > 0);
    assert!(summary.events.before_exposure > 0 && summary.events.property_not_number > 0);
    assert!(summary.exposures.outside_dates > 0 && summary.exposures.not_split > 0);
    assert!(summary.exposures.other_flags > 0 && summary.exposures.other_environments > 0);
}

/// `analyze --summary` on a summary: its decision.
fn decision(dir: &Path, name: &str, csv: &str) -> serde_json::Value {
    let path = dir.join(format!("{name}.csv"));
    std::fs::write(&path, csv).unwrap();
    let (code, stdout, stderr) = run(
        &[
            "analyze",
            EXPERIMENT,
            "--dir",
            ".",
            "--summary",
            path.to_str().unwrap(),
            "--format",
            "json",
        ],
        dir,
    );
    assert_eq!(code, 0, "{name}: {stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    report["decision"].clone()
}

#[test]
fn the_generated_data_has_what_the_generator_says() {
    let dir = tempdir();
    let truth = raw_data::write(dir.path(), SEED, UNITS);
    let (code, stdout, stderr) = run(&["check", "--dir", ".", "--now", NOW], dir.path());
    assert_eq!(code, 0, "{stdout}{stderr}");
    let summary = embedded(dir.path());
    assert_truth(&summary, &truth);
    // The treatment lifts conversion: a third more units convert.
    let rate = |v: &str| truth.purchased[v] as f64 / truth.users[v] as f64;
    assert!(rate(VARIANTS[0]) > 1.2 * rate(VARIANTS[1]), "{truth:?}");
    // Every unit has every component: the mean's events and the covariate are in the columns.
    let columns = &summary.columns;
    for column in [
        "order_value.events__sum".to_owned(),
        product_column("orders", "orders.pre"),
        product_column("orders", "sessions"),
        product_column("order_value", "order_value.events"),
    ] {
        assert!(columns.contains(&column), "{column} in {columns:?}");
    }
    // The same seed, the same files.
    let again = tempdir();
    raw_data::write(again.path(), SEED, UNITS);
    for file in [EXPOSURES, EVENTS] {
        assert_eq!(
            std::fs::read(dir.path().join(file)).unwrap(),
            std::fs::read(again.path().join(file)).unwrap()
        );
    }
}

#[test]
fn flagstone_duckdb_and_postgresql_compute_the_same_summary() {
    assert!(python_has("duckdb"), "{DUCKDB}");
    assert!(postgres_installed(), "{POSTGRES}");
    let dir = tempdir();
    let truth = raw_data::write(dir.path(), SEED, UNITS);
    let summary = embedded(dir.path());
    assert_truth(&summary, &truth);
    let ours = summary.csv();
    let duckdb = engine(dir.path(), "duckdb");
    let postgres = engine(dir.path(), "postgres");
    assert_agree("duckdb", &ours, &duckdb);
    assert_agree("postgres", &ours, &postgres);
    let decided = decision(dir.path(), "flagstone", &ours);
    assert_eq!(decision(dir.path(), "duckdb", &duckdb), decided);
    assert_eq!(decision(dir.path(), "postgres", &postgres), decided);
}

#[test]
fn the_warehouse_queries_parse_in_their_dialects() {
    assert!(python_has("sqlglot"), "{SQLGLOT}");
    let dir = tempdir();
    raw_data::write(dir.path(), SEED, 10);
    for dialect in ["bigquery", "snowflake", "clickhouse", "duckdb", "postgres"] {
        let path = query(dir.path(), dialect);
        let output = Command::new("python3")
            .arg(root().join("tests/raw_data/engines.py"))
            .args(["parse", dialect])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{dialect}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
