//! The query that computes the summary in a warehouse (docs/raw-data.md, "In the warehouse"):
//! the same [`Plan`] as the embedded computation, written as one SELECT per dialect. Every
//! name from the repository reaches the query quoted, as an identifier or a string literal;
//! nothing is interpolated raw.

use std::fmt::Write;

use super::{Component, Plan, Value};
use crate::load::Repo;
use crate::model::valid_table_name;

/// The SQL dialects the query is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    DuckDb,
    Postgres,
    BigQuery,
    Snowflake,
    ClickHouse,
}

impl Dialect {
    pub const ALL: [Dialect; 5] = [
        Dialect::DuckDb,
        Dialect::Postgres,
        Dialect::BigQuery,
        Dialect::Snowflake,
        Dialect::ClickHouse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::DuckDb => "duckdb",
            Dialect::Postgres => "postgres",
            Dialect::BigQuery => "bigquery",
            Dialect::Snowflake => "snowflake",
            Dialect::ClickHouse => "clickhouse",
        }
    }

    /// An identifier, quoted.
    fn ident(self, name: &str) -> String {
        match self {
            Dialect::BigQuery | Dialect::ClickHouse => {
                format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
            }
            _ => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }

    /// A string literal. DuckDB and PostgreSQL take backslashes as they are; the others read
    /// escapes in every string. A PostgreSQL text with a backslash is an escape string
    /// (`E'…'`), whose backslashes mean the same whatever the server's
    /// standard_conforming_strings says: with it off, a plain `'\''` would end early.
    fn string(self, text: &str) -> String {
        if self == Dialect::Postgres && text.contains('\\') {
            return format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"));
        }
        let standard = matches!(self, Dialect::DuckDb | Dialect::Postgres);
        let mut out = String::with_capacity(text.len() + 2);
        out.push('\'');
        for c in text.chars() {
            match c {
                '\'' if standard => out.push_str("''"),
                _ if standard => out.push(c),
                '\'' => out.push_str("\\'"),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                // ClickHouse has no `\u` escape: the character's UTF-8 bytes.
                _ if c.is_control() && self == Dialect::ClickHouse => {
                    for byte in c.encode_utf8(&mut [0; 4]).bytes() {
                        let _ = write!(out, "\\x{byte:02X}");
                    }
                }
                _ if c.is_control() => {
                    let _ = write!(out, "\\u{:04X}", c as u32);
                }
                _ => out.push(c),
            }
        }
        out.push('\'');
        out
    }

    /// An instant, from milliseconds since the Unix epoch, as a literal of the type exposure
    /// and event times have.
    fn timestamp(self, millis: i64) -> String {
        let iso = crate::literal::format_timestamp(millis);
        // `2026-12-01T00:00:00.000Z` → `2026-12-01 00:00:00.000`
        let plain = iso.replace('T', " ").replace('Z', "");
        match self {
            Dialect::DuckDb | Dialect::Postgres => format!("TIMESTAMPTZ '{plain}+00:00'"),
            Dialect::BigQuery => format!("TIMESTAMP '{plain}+00:00'"),
            Dialect::Snowflake => {
                format!("TO_TIMESTAMP_TZ('{plain} +00:00', 'YYYY-MM-DD HH24:MI:SS.FF3 TZH:TZM')")
            }
            Dialect::ClickHouse => format!("toDateTime64('{plain}', 3, 'UTC')"),
        }
    }

    /// `at` moved by `minutes` (negative: earlier).
    fn shifted(self, at: &str, minutes: i64) -> String {
        if minutes == 0 {
            return at.to_owned();
        }
        let (sign, abs) = (if minutes < 0 { '-' } else { '+' }, minutes.unsigned_abs());
        match self {
            Dialect::DuckDb | Dialect::Postgres => {
                format!("{at} {sign} INTERVAL '{abs} minutes'")
            }
            Dialect::BigQuery if minutes < 0 => {
                format!("TIMESTAMP_SUB({at}, INTERVAL {abs} MINUTE)")
            }
            Dialect::BigQuery => format!("TIMESTAMP_ADD({at}, INTERVAL {abs} MINUTE)"),
            Dialect::Snowflake => format!("DATEADD(minute, {minutes}, {at})"),
            Dialect::ClickHouse if minutes < 0 => format!("subtractMinutes({at}, {abs})"),
            Dialect::ClickHouse => format!("addMinutes({at}, {abs})"),
        }
    }

    /// The type of integer sums.
    fn integer(self) -> &'static str {
        match self {
            Dialect::BigQuery => "INT64",
            Dialect::ClickHouse => "Int64",
            _ => "BIGINT",
        }
    }

    /// The type of a property read: a 64-bit float, NULL where the event does not carry it.
    fn double(self) -> &'static str {
        match self {
            Dialect::Postgres => "DOUBLE PRECISION",
            Dialect::BigQuery => "FLOAT64",
            Dialect::ClickHouse => "Nullable(Float64)",
            _ => "DOUBLE",
        }
    }

    /// A dotted table name, each part quoted.
    fn table(self, name: &str) -> String {
        name.split('.')
            .map(|part| self.ident(part))
            .collect::<Vec<_>>()
            .join(".")
    }
}

impl std::str::FromStr for Dialect {
    type Err = SqlError;

    fn from_str(name: &str) -> Result<Dialect, SqlError> {
        Dialect::ALL
            .into_iter()
            .find(|d| d.as_str() == name)
            .ok_or_else(|| SqlError::UnknownDialect(name.to_owned()))
    }
}

/// Why the query cannot be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SqlError {
    /// flagstone.toml has no `[warehouse]`.
    NoWarehouse,
    /// A `[warehouse]` table name is not dotted identifiers.
    BadTable {
        key: &'static str,
        name: String,
    },
    UnknownDialect(String),
}

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SqlError::NoWarehouse => write!(
                f,
                "flagstone.toml has no [warehouse] naming the exposures and events tables"
            ),
            SqlError::BadTable { key, name } => write!(
                f,
                "[warehouse] {key} `{name}` is not a table name; run `flagstone check`"
            ),
            SqlError::UnknownDialect(name) => {
                let known: Vec<&str> = Dialect::ALL.iter().map(|d| d.as_str()).collect();
                write!(
                    f,
                    "unknown SQL dialect `{name}`: expected one of {}",
                    known.join(", ")
                )
            }
        }
    }
}

impl std::error::Error for SqlError {}

/// The tables the query reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tables {
    pub exposures: String,
    pub events: String,
}

impl Tables {
    /// The tables of `[warehouse]` in the repository's flagstone.toml.
    pub fn of(repo: &Repo) -> Result<Tables, SqlError> {
        let warehouse = repo
            .project
            .as_ref()
            .and_then(|p| p.doc.as_ref())
            .and_then(|p| p.warehouse.as_ref())
            .ok_or(SqlError::NoWarehouse)?;
        let tables = Tables {
            exposures: warehouse.exposures.as_str().to_owned(),
            events: warehouse.events.as_str().to_owned(),
        };
        for (key, name) in [("exposures", &tables.exposures), ("events", &tables.events)] {
            if !valid_table_name(name) {
                return Err(SqlError::BadTable {
                    key,
                    name: name.clone(),
                });
            }
        }
        Ok(tables)
    }
}

/// The query computing `plan`'s summary from `tables`, in `dialect`: one row per variant
/// with units, ordered as the summary CSV, with its columns.
pub fn query(plan: &Plan, tables: &Tables, dialect: Dialect) -> String {
    let d = dialect;
    let id = |name: &str| d.ident(name);
    let lit = |text: &str| d.string(text);
    let mut q = String::new();
    let _ = writeln!(
        q,
        "-- The per-variant summary of experiment {} in {} (docs/raw-data.md), for",
        plan.experiment, plan.environment
    );
    q.push_str("-- `flagstone analyze --summary`. Written by `flagstone sql`.\n");

    // The exposures that assign their unit, each with its variant's position in name order.
    let arms: Vec<(String, String)> = plan
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| (lit(v), i.to_string()))
        .collect();
    let mut assigning = vec![
        format!("{} = {}", id("flag"), lit(&plan.flag)),
        format!("{} = {}", id("environment"), lit(&plan.environment)),
        format!("{} = {}", id("experiment"), lit(&plan.experiment)),
        format!("{} = {}", id("reason"), lit("rule")),
        in_list(&id("rule"), plan.split_rules.iter().map(|r| lit(r))),
        in_list(&id("variant"), plan.variants.iter().map(|v| lit(v))),
        format!("{} >= {}", id("time"), d.timestamp(plan.start)),
    ];
    if let Some(end) = plan.end {
        assigning.push(format!("{} < {}", id("time"), d.timestamp(end)));
    }
    q.push_str("WITH flagstone_assigning AS (\n");
    let _ = writeln!(
        q,
        "  SELECT {} AS unit_key, {} AS exposed_at, {} AS arm",
        id("unit"),
        id("time"),
        case(&id("variant"), &arms)
    );
    let _ = writeln!(q, "  FROM {}", d.table(&tables.exposures));
    let _ = writeln!(q, "  WHERE {}", assigning.join("\n    AND "));
    q.push_str("),\n");

    // A unit's variant and first exposure; units of several variants are left out.
    q.push_str("flagstone_units AS (\n");
    q.push_str("  SELECT unit_key, MIN(arm) AS unit_arm, MIN(exposed_at) AS t0\n");
    q.push_str("  FROM flagstone_assigning\n");
    q.push_str("  GROUP BY unit_key\n");
    q.push_str("  HAVING MIN(arm) = MAX(arm)\n");
    q.push_str("),\n");

    // The events any component reads, each property a metric reads as a float.
    let mut events: Vec<&str> = plan.components.iter().map(|c| c.event.as_str()).collect();
    events.sort_unstable();
    events.dedup();
    let mut properties: Vec<&str> = plan
        .components
        .iter()
        .filter_map(|c| c.property.as_deref())
        .collect();
    properties.sort_unstable();
    properties.dedup();
    let mut read = vec![
        format!("{} AS event_unit", id("unit")),
        format!("{} AS event_at", id("time")),
        format!("{} AS event_name", id("event")),
    ];
    for (i, property) in properties.iter().enumerate() {
        read.push(format!("CAST({} AS {}) AS p{i}", id(property), d.double()));
    }
    // Only events some window can hold: from the start less the longest covariate window to
    // the end plus the longest window, so that a warehouse prunes the other partitions.
    let minute = 60_000i64;
    let earliest = plan
        .components
        .iter()
        .map(|c| c.from_minutes)
        .min()
        .unwrap_or(0);
    let latest = plan
        .components
        .iter()
        .map(|c| c.to_minutes)
        .max()
        .unwrap_or(0);
    let mut kept = vec![
        in_list(&id("event"), events.iter().map(|e| lit(e))),
        format!(
            "{} >= {}",
            id("time"),
            d.timestamp(plan.start.saturating_add(earliest.saturating_mul(minute)))
        ),
    ];
    if let Some(end) = plan.end {
        kept.push(format!(
            "{} < {}",
            id("time"),
            d.timestamp(end.saturating_add(latest.saturating_mul(minute)))
        ));
    }
    q.push_str("flagstone_events AS (\n");
    let _ = writeln!(q, "  SELECT {}", read.join(",\n    "));
    let _ = writeln!(q, "  FROM {}", d.table(&tables.events));
    let _ = writeln!(q, "  WHERE {}", kept.join("\n    AND "));
    q.push_str("),\n");

    // Every unit's components; a unit without events has one row of NULLs, so 0.
    let mut values = vec!["unit_arm".to_owned()];
    for (i, component) in plan.components.iter().enumerate() {
        let property = component.property.as_deref().map(|p| {
            let index = properties.iter().position(|q| *q == p).unwrap_or_default();
            format!("p{index}")
        });
        values.push(format!(
            "{} AS c{i}",
            component_value(d, component, property)
        ));
    }
    q.push_str("flagstone_per_unit AS (\n");
    let _ = writeln!(q, "  SELECT {}", values.join(",\n    "));
    q.push_str("  FROM flagstone_units\n");
    q.push_str("  LEFT JOIN flagstone_events ON event_unit = unit_key\n");
    q.push_str("  GROUP BY unit_key, unit_arm\n");
    q.push_str(")\n");

    // The summary: Σ and Σ² per component, Σ a·b per product.
    let names: Vec<(String, String)> = arms.iter().map(|(v, i)| (i.clone(), v.clone())).collect();
    let integer = |i: usize| plan.components[i].value != Value::Sum;
    let total = |expression: String, exact: bool, column: String| {
        if exact {
            format!(
                "CAST(SUM({expression}) AS {}) AS {}",
                d.integer(),
                id(&column)
            )
        } else {
            format!("SUM({expression}) AS {}", id(&column))
        }
    };
    let mut columns = vec![
        format!("{} AS {}", case("unit_arm", &names), id("variation")),
        format!("COUNT(*) AS {}", id("users")),
    ];
    for (i, component) in plan.components.iter().enumerate() {
        columns.push(total(
            format!("c{i}"),
            integer(i),
            format!("{}__sum", component.name),
        ));
        columns.push(total(
            format!("c{i} * c{i}"),
            integer(i),
            format!("{}__sum_squares", component.name),
        ));
    }
    for &(a, b) in &plan.products {
        columns.push(total(
            format!("c{a} * c{b}"),
            integer(a) && integer(b),
            super::product_column(&plan.components[a].name, &plan.components[b].name),
        ));
    }
    let _ = writeln!(q, "SELECT {}", columns.join(",\n  "));
    q.push_str("FROM flagstone_per_unit\n");
    q.push_str("GROUP BY unit_arm\n");
    q.push_str("ORDER BY unit_arm\n");
    q
}

/// A component's per-unit value over the unit's joined events; `property` is the events'
/// column of its property.
fn component_value(d: Dialect, component: &Component, property: Option<String>) -> String {
    let mut when = vec![
        format!("event_name = {}", d.string(&component.event)),
        format!("event_at >= {}", d.shifted("t0", component.from_minutes)),
        format!("event_at < {}", d.shifted("t0", component.to_minutes)),
    ];
    if let Some(p) = &property {
        when.push(format!("{p} IS NOT NULL"));
    }
    let when = when.join(" AND ");
    match (component.value, property) {
        (Value::Converted, _) => format!("MAX(CASE WHEN {when} THEN 1 ELSE 0 END)"),
        // A sum without a property counts, as the embedded computation does (a plan never
        // makes one).
        (Value::Count, _) | (Value::Sum, None) => {
            format!("SUM(CASE WHEN {when} THEN 1 ELSE 0 END)")
        }
        (Value::Sum, Some(p)) => format!("SUM(CASE WHEN {when} THEN {p} ELSE 0 END)"),
    }
}

/// `column IN (values)`; false for no values, which SQL cannot write as a list.
fn in_list(column: &str, values: impl Iterator<Item = String>) -> String {
    let values: Vec<String> = values.collect();
    if values.is_empty() {
        "1 = 0".to_owned()
    } else {
        format!("{column} IN ({})", values.join(", "))
    }
}

/// `CASE expression WHEN a THEN b … END`, NULL when there is no case.
fn case(expression: &str, cases: &[(String, String)]) -> String {
    if cases.is_empty() {
        return "NULL".to_owned();
    }
    let mut out = format!("CASE {expression}");
    for (when, then) in cases {
        let _ = write!(out, " WHEN {when} THEN {then}");
    }
    out.push_str(" END");
    out
}
