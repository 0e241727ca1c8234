//! `flagstone sql`: the warehouse query of an experiment's summary, per dialect (snapshots of
//! flags.example's onboarding experiment), its errors, and the quoting of names that come
//! from the repository. tests/test_raw_data.rs runs the queries on real engines.

use std::path::Path;

use flagstone::summary::sql::{Dialect, SqlError, Tables, query};
use flagstone::summary::{Component, Plan, Value};

use crate::support::{NOW, assert_file, copy_dir, root, run, tempdir};

const EXPERIMENT: &str = "growth/onboarding-checklist";

/// A copy of flags.example.
fn example() -> tempfile::TempDir {
    let dir = tempdir();
    copy_dir(&root().join("flags.example"), dir.path());
    dir
}

fn sql(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["sql", "--dir", "."];
    all.extend_from_slice(args);
    run(&all, dir)
}

#[test]
fn every_dialect_s_query_for_the_example() {
    let dir = example();
    for dialect in Dialect::ALL {
        let (code, stdout, stderr) = sql(dir.path(), &[EXPERIMENT, "--dialect", dialect.as_str()]);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(stderr, "");
        let snapshot = root().join(format!("tests/snapshots/sql/{}.sql", dialect.as_str()));
        assert_file(&snapshot, &stdout);
    }
    // The environment defaults to the production-most one the experiment lists.
    let (_, production, _) = sql(dir.path(), &[EXPERIMENT, "--dialect", "duckdb"]);
    let (code, named, _) = sql(
        dir.path(),
        &[EXPERIMENT, "--dialect", "duckdb", "--env", "production"],
    );
    assert_eq!((code, named), (0, production));
}

#[test]
fn errors() {
    let dir = example();
    let run = |args: &[&str]| sql(dir.path(), args);

    let (code, stdout, stderr) = run(&["growth/onboarding", "--dialect", "duckdb"]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(
        stderr.starts_with("error: unknown experiment `growth/onboarding`"),
        "{stderr}"
    );

    let (code, _, stderr) = run(&[EXPERIMENT, "--dialect", "mysql"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("invalid value 'mysql' for '--dialect <D>'"),
        "{stderr}"
    );
    assert!(
        stderr.contains("duckdb, postgres, bigquery, snowflake, clickhouse"),
        "{stderr}"
    );
    assert_eq!(
        "mysql".parse::<Dialect>(),
        Err(SqlError::UnknownDialect("mysql".into()))
    );

    // A primary metric naming an inline covariate: a column only a summary has.
    let inline = example();
    let path = inline
        .path()
        .join("experiments/growth/onboarding-checklist.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let with = text.replace(
        "name = \"activated_7d\"\n",
        "name = \"activated_7d\"\ncovariate = \"prior_sessions\"\n",
    );
    assert_ne!(text, with);
    std::fs::write(&path, with).unwrap();
    let (code, stdout, stderr) = sql(inline.path(), &[EXPERIMENT, "--dialect", "duckdb"]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(
        stderr.starts_with(
            "error: metric `activated_7d` names the covariate `prior_sessions`, a column of a summary"
        ),
        "{stderr}"
    );

    // Without [warehouse].
    let project = dir.path().join("flagstone.toml");
    let text = std::fs::read_to_string(&project).unwrap();
    let start = text.find("[warehouse]").unwrap();
    let end = start + text[start..].find("\n\n").unwrap();
    std::fs::write(&project, format!("{}{}", &text[..start], &text[end..])).unwrap();
    let (code, stdout, stderr) = run(&[EXPERIMENT, "--dialect", "duckdb"]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        "error: flagstone.toml has no [warehouse] naming the exposures and events tables\n\
         help: add to flagstone.toml: [warehouse] with exposures = \"SCHEMA.TABLE\" and events = \"SCHEMA.TABLE\" (docs/raw-data.md#in-the-warehouse)\n"
    );

    // A table name the check refuses: findings, on standard error.
    std::fs::write(
        &project,
        format!("{text}\n").replace(
            "events = \"analytics.product_events\"",
            "events = \"analytics.events; DROP TABLE x\"",
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = run(&[EXPERIMENT, "--dialect", "duckdb"]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert!(stderr.contains("FS083(bad-table-name)"), "{stderr}");
}

#[test]
fn table_names_are_dotted_identifiers() {
    use flagstone::model::valid_table_name;
    for good in [
        "events",
        "analytics.events",
        "my-project.raw_1.Events",
        "_x._y",
    ] {
        assert!(valid_table_name(good), "{good}");
    }
    for bad in [
        "", ".", "a.", ".a", "a..b", "a.b.c.d", "1a", "-a", "a b", "a;b", "a\"b", "a`b", "é",
    ] {
        assert!(!valid_table_name(bad), "{bad}");
    }
    let (code, stdout, _) = run(
        &["check", "--dir", ".", "--now", NOW],
        &root().join("tests/fixtures/fs083-bad-table-name"),
    );
    assert_eq!(code, 1);
    assert!(stdout.contains("`raw.\"events\"` is not a table name ([warehouse] events)"));
}

/// A plan whose every name is hostile to SQL: quotes, backslashes, line breaks.
pub(crate) fn hostile() -> Plan {
    let component = |name: &str, value, property: Option<&str>| Component {
        name: name.to_owned(),
        event: "order'd\\\"".to_owned(),
        property: property.map(str::to_owned),
        value,
        from_minutes: 0,
        to_minutes: 60,
    };
    Plan {
        experiment: "e".to_owned(),
        flag: "f'lag".to_owned(),
        environment: "production".to_owned(),
        split_rules: vec!["it's \"new\"\\\n".to_owned()],
        variants: vec!["a'b".to_owned(), "c`d\\\u{7}".to_owned()],
        start: 0,
        end: None,
        components: vec![
            component("m\"x`", Value::Sum, Some("amount\"`'; DROP TABLE t; --")),
            component("n", Value::Converted, None),
        ],
        products: vec![(0, 1)],
    }
}

#[test]
fn names_from_the_repository_are_quoted() {
    let tables = Tables {
        exposures: "raw.exposures".into(),
        events: "raw.events".into(),
    };
    let plan = hostile();
    let expect = |dialect: Dialect, wanted: &[&str]| {
        let q = query(&plan, &tables, dialect);
        for text in wanted {
            assert!(q.contains(text), "{dialect:?}: {text} in\n{q}");
        }
        // No quote is left open: every literal and identifier closes on its line.
        assert!(!q.contains("DROP TABLE t; --\n"), "{q}");
    };
    expect(
        Dialect::Postgres,
        &[
            // A backslash: an escape string, the same under any standard_conforming_strings.
            "\"rule\" IN (E'it''s \"new\"\\\\\n')",
            "WHEN 'a''b' THEN 0 WHEN E'c`d\\\\\u{7}' THEN 1",
            "CAST(\"amount\"\"`'; DROP TABLE t; --\" AS DOUBLE PRECISION) AS p0",
            "event_name = E'order''d\\\\\"'",
            "AS \"m\"\"x`__sum\"",
            "\"flag\" = 'f''lag'",
        ],
    );
    expect(
        Dialect::DuckDb,
        &["'it''s \"new\"\\\n'", "AS \"m\"\"x`__x__n__sum_product\""],
    );
    expect(
        Dialect::BigQuery,
        &[
            "`rule` IN ('it\\'s \"new\"\\\\\\n')",
            "WHEN 'a\\'b' THEN 0 WHEN 'c`d\\\\\\u0007' THEN 1",
            "CAST(`amount\"\\`'; DROP TABLE t; --` AS FLOAT64) AS p0",
            "AS `m\"x\\`__sum`",
            "TIMESTAMP_ADD(t0, INTERVAL 60 MINUTE)",
        ],
    );
    expect(
        Dialect::Snowflake,
        &[
            "\"rule\" IN ('it\\'s \"new\"\\\\\\n')",
            "CAST(\"amount\"\"`'; DROP TABLE t; --\" AS DOUBLE) AS p0",
            "DATEADD(minute, 60, t0)",
        ],
    );
    expect(
        Dialect::ClickHouse,
        &[
            "`rule` IN ('it\\'s \"new\"\\\\\\n')",
            "CAST(`amount\"\\`'; DROP TABLE t; --` AS Nullable(Float64)) AS p0",
            "addMinutes(t0, 60)",
            "WHEN 'c`d\\\\\\x07' THEN 1",
        ],
    );
    // A sum reads its property only where the event carries it; no end date, no upper bound.
    let q = query(&plan, &tables, Dialect::DuckDb);
    assert!(
        q.contains("AND p0 IS NOT NULL THEN p0 ELSE 0 END) AS c0"),
        "{q}"
    );
    assert!(!q.contains("\"time\" <"), "{q}");
    assert!(
        q.contains("TIMESTAMPTZ '1970-01-01 00:00:00.000+00:00'"),
        "{q}"
    );
}

/// Hostile names in a repository the check accepts reach the query quoted, and the query
/// has the plan's columns.
#[test]
fn a_repository_s_hostile_names_are_quoted() {
    let dir = crate::support::repo(&[
        (
            "flagstone.toml",
            br#"name = "acme"
environments = ["production"]

[metrics.spend]
description = "Spend"
event = "it's \"paid\""
aggregation = "mean"
property = "amount'; --"
window = "1d"

[warehouse]
exposures = "raw.exposures"
events = "raw.events"
"#,
        ),
        (
            "flags/f.toml",
            br#"description = "F"
owners = ["alice"]
kind = "experiment"
expires = 2027-06-30
off_variant = "a"

[variants]
a = false
b = true

[env.production]
serve = "a"

[[env.production.rules]]
name = "it's \"new\""
split = { a = 50, b = 50 }
"#,
        ),
        (
            "experiments/e.toml",
            br#"flag = "f"
control = "a"
hypothesis = "B is better."
owners = ["alice"]
start = 2026-12-01
environments = ["production"]
mde = 0.5
daily_units = 100000

[primary]
name = "spend"
baseline = 10
stddev = 5
"#,
        ),
    ]);
    let (code, stdout, stderr) = sql(dir.path(), &["e", "--dialect", "postgres"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for text in [
        "\"rule\" IN ('it''s \"new\"')",
        "event_name = 'it''s \"paid\"'",
        "CAST(\"amount'; --\" AS DOUBLE PRECISION) AS p0",
    ] {
        assert!(stdout.contains(text), "{text} in\n{stdout}");
    }
    let repo = flagstone::load::load(dir.path()).unwrap();
    let design = flagstone::experiment::design(&repo, "e", None).unwrap();
    let plan = Plan::new(&repo, &design).unwrap();
    for column in plan.columns() {
        assert!(stdout.contains(&format!("AS \"{column}\"")), "{column}");
    }
}
