//! One dataset, three engines, one answer (docs/raw-data.md): a generated experiment's raw
//! exposures and events summarised in flagstone, by `flagstone sql`'s query in real DuckDB and
//! in real PostgreSQL, give the same summary to 1e-9 relative per cell and the same decision;
//! the counts the generator knows by construction hold; and the BigQuery, Snowflake and
//! ClickHouse queries parse in their dialects (sqlglot).

use std::path::Path;
use std::process::Command;

use flagstone::summary::events::{Exposures, Summary};
use flagstone::summary::sql::{self, Dialect, Tables};
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

/// The summary CSV `flagstone sql`'s query returns in a real engine.
fn engine(dir: &Path, engine: &str) -> String {
    let query = query(dir, engine);
    run_engine(dir, engine, &query, PROPERTY)
}

/// The CSV `query` returns in a real engine, from the repository's raw data.
fn run_engine(dir: &Path, engine: &str, query: &Path, property: &str) -> String {
    run_engine_with(dir, engine, query, property, &[])
}

fn run_engine_with(
    dir: &Path,
    engine: &str,
    query: &Path,
    property: &str,
    options: &[&str],
) -> String {
    let output = Command::new("python3")
        .arg(root().join("tests/raw_data/engines.py"))
        .arg(engine)
        .arg("--query")
        .arg(query)
        .arg("--exposures")
        .arg(dir.join(EXPOSURES))
        .arg("--events")
        .arg(dir.join(EVENTS))
        .args(["--exposures-table", "raw.exposures"])
        .args(["--events-table", "raw.events"])
        .args(["--property", property])
        .args(options)
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

/// What sqlglot reads `query` as in `dialect`: its string literals and identifiers.
fn parsed(dir: &Path, dialect: &str, query: &str) -> (Vec<String>, Vec<String>) {
    let path = dir.join(format!("parse.{dialect}.sql"));
    std::fs::write(&path, query).unwrap();
    let output = Command::new("python3")
        .arg(root().join("tests/raw_data/engines.py"))
        .args(["parse", dialect])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{dialect}: {}\n{query}",
        String::from_utf8_lossy(&output.stderr)
    );
    let read: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let list = |key: &str| -> Vec<String> {
        read[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    (list("strings"), list("identifiers"))
}

#[test]
fn the_warehouse_queries_parse_in_their_dialects() {
    assert!(python_has("sqlglot"), "{SQLGLOT}");
    let dir = tempdir();
    raw_data::write(dir.path(), SEED, 10);
    let repo = flagstone::load::load(dir.path()).unwrap();
    let design = flagstone::experiment::design(&repo, EXPERIMENT, None).unwrap();
    let columns = Plan::new(&repo, &design).unwrap().columns();
    for dialect in Dialect::ALL {
        let query = std::fs::read_to_string(self::query(dir.path(), dialect.as_str())).unwrap();
        let (strings, identifiers) = parsed(dir.path(), dialect.as_str(), &query);
        assert!(strings.contains(&raw_data::FLAG.to_owned()), "{dialect:?}");
        for column in &columns {
            assert!(identifiers.contains(column), "{dialect:?}: {column}");
        }
    }
    // Names hostile to SQL come out of the parser as they went in: every quote and
    // backslash escaped, none closing a literal or an identifier early.
    let plan = crate::test_sql::hostile();
    let tables = Tables {
        exposures: "raw.exposures".into(),
        events: "raw.events".into(),
    };
    for dialect in Dialect::ALL {
        let query = sql::query(&plan, &tables, dialect);
        let (strings, identifiers) = parsed(dir.path(), dialect.as_str(), &query);
        let names = [&plan.flag]
            .into_iter()
            .chain(&plan.split_rules)
            .chain(&plan.variants)
            .chain(plan.components.iter().map(|c| &c.event));
        for name in names {
            assert!(
                strings.contains(name),
                "{dialect:?}: {name:?} in {strings:?}"
            );
        }
        let properties = plan.components.iter().filter_map(|c| c.property.as_ref());
        for name in properties.chain(&plan.columns()) {
            assert!(
                identifiers.contains(name),
                "{dialect:?}: {name:?} in {identifiers:?}"
            );
        }
    }
}

/// The BigQuery and Snowflake queries, as sqlglot transpiles them to DuckDB, give the same
/// summary too: a check of their windows, timestamps and casts as far as sqlglot translates
/// each dialect faithfully (no engine of theirs runs here). ClickHouse's `toDateTime64` and
/// `addMinutes` are not translated, so its query is only parsed.
#[test]
fn the_other_dialects_transpiled_to_duckdb_compute_the_same_summary() {
    assert!(python_has("duckdb"), "{DUCKDB}");
    assert!(python_has("sqlglot"), "{SQLGLOT}");
    let dir = tempdir();
    raw_data::write(dir.path(), SEED, UNITS);
    let ours = embedded(dir.path()).csv();
    for dialect in ["bigquery", "snowflake"] {
        let query = query(dir.path(), dialect);
        let options = ["--transpile-from", dialect];
        let theirs = run_engine_with(dir.path(), "duckdb", &query, PROPERTY, &options);
        assert_agree(dialect, &ours, &theirs);
    }
}

/// The hostile names of tests/test_sql.rs, in real engines: exposures and events carrying
/// them summarise alike in flagstone, DuckDB and PostgreSQL. (Metric names, which become
/// column names, are plain: the check allows nothing else.)
#[test]
fn hostile_names_reach_the_engines_intact() {
    assert!(python_has("duckdb"), "{DUCKDB}");
    assert!(postgres_installed(), "{POSTGRES}");
    let mut plan = crate::test_sql::hostile();
    for (i, component) in plan.components.iter_mut().enumerate() {
        component.name = format!("m{i}");
    }
    let property = plan.components[0].property.clone().unwrap();
    let event = plan.components[0].event.clone();
    let dir = tempdir();
    let start = 20_788 * 86_400_000_i64;
    let mut exposures = String::new();
    let mut events = String::new();
    for i in 0..12_i64 {
        let unit = format!("u'{i}\\\"");
        let t0 = start + i * 60_000;
        let exposure = flagstone::exposure::Exposure {
            time: flagstone::literal::format_timestamp(t0),
            flag: plan.flag.clone(),
            environment: plan.environment.clone(),
            variant: plan.variants[i as usize % 2].clone(),
            reason: flagstone::exposure::ReasonKind::Rule,
            rule: Some(plan.split_rules[0].clone()),
            bundle: "ab".repeat(32),
            experiment: Some(plan.experiment.clone()),
            unit: unit.clone(),
            targeting_key: None,
            session: None,
        };
        exposures += &format!("{}\n", serde_json::to_string(&exposure).unwrap());
        // In the hour's window, twice, and once after it.
        for (minutes, amount) in [(10, 1.25 * i as f64), (59, 0.5), (60, 100.0)] {
            let line = serde_json::json!({
                "time": flagstone::literal::format_timestamp(t0 + minutes * 60_000),
                "unit": unit,
                "event": event,
                "properties": {property.as_str(): amount},
            });
            events += &format!("{line}\n");
        }
    }
    std::fs::create_dir_all(dir.path().join("raw")).unwrap();
    std::fs::write(dir.path().join(EXPOSURES), &exposures).unwrap();
    std::fs::write(dir.path().join(EVENTS), &events).unwrap();
    let mut reading = Exposures::new(&plan);
    reading.read(EXPOSURES, exposures.as_bytes()).unwrap();
    let mut reading = reading.finish();
    reading.read(EVENTS, events.as_bytes()).unwrap();
    let summary = reading.summary();
    assert_eq!(summary.rows.iter().map(|r| r.users).sum::<u64>(), 12);
    let ours = summary.csv();
    let tables = Tables {
        exposures: "raw.exposures".into(),
        events: "raw.events".into(),
    };
    for dialect in [Dialect::DuckDb, Dialect::Postgres] {
        let query = dir.path().join(format!("query.{}.sql", dialect.as_str()));
        std::fs::write(&query, sql::query(&plan, &tables, dialect)).unwrap();
        let theirs = run_engine(dir.path(), dialect.as_str(), &query, &property);
        assert_agree(dialect.as_str(), &ours, &theirs);
    }
}
