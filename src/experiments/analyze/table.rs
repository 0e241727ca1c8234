//! The summary CSV: one row per variant, read into located cells.

use std::cell::RefCell;
use std::collections::HashMap;

use super::Error;
use crate::csv_input::{Lines, problem};

/// A parsed summary: its header and one row per variant, with the line each starts on.
#[derive(Debug)]
pub struct SummaryTable {
    pub file: String,
    columns: HashMap<String, usize>,
    rows: Vec<Row>,
    /// Whether the file has a `weight` column.
    pub has_weights: bool,
}

#[derive(Debug)]
pub struct Row {
    /// The line of the file the row starts on (the header is line 1).
    pub line: u64,
    pub variation: String,
    pub users: u64,
    pub weight: Option<f64>,
    cells: Vec<String>,
}

/// Floats hold integers exactly up to 2⁵³; larger user counts are not real.
const MAX_USERS: f64 = 9_007_199_254_740_992.0;

const NEEDS: &str = "expected a header row with `variation`, `users` and each metric's columns";

impl SummaryTable {
    /// Reads a summary CSV; `file` names it in errors. A UTF-8 byte order mark and CRLF line
    /// ends are accepted; cells are trimmed; columns no metric uses are ignored.
    pub fn parse(bytes: &[u8], file: &str) -> Result<SummaryTable, Error> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let lines = RefCell::new(Lines::new(bytes));
        let line_of = |position: &csv::Position| lines.borrow_mut().line_at(position.byte());
        let error = |line: Option<u64>, columns: &[&str], message: String| Error {
            file: file.to_owned(),
            row: line,
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            message,
        };
        let csv_error = |e: csv::Error| {
            let line = e.position().map(line_of);
            let message = problem(&e, "cells");
            error(line, &[], message)
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .trim(csv::Trim::All)
            .from_reader(bytes);
        let mut records = reader.records();
        let header = match records.next() {
            None => return Err(error(None, &[], format!("empty file; {NEEDS}"))),
            Some(header) => header.map_err(csv_error)?,
        };
        let mut columns = HashMap::new();
        for (index, name) in header.iter().enumerate() {
            if let Some(first) = columns.insert(name.to_owned(), index) {
                return Err(error(
                    Some(1),
                    &[name],
                    format!(
                        "the header names this column twice (columns {} and {})",
                        first + 1,
                        index + 1
                    ),
                ));
            }
        }
        for required in ["variation", "users"] {
            if !columns.contains_key(required) {
                return Err(error(
                    Some(1),
                    &[],
                    format!("no `{required}` column; {NEEDS}"),
                ));
            }
        }
        let mut table = SummaryTable {
            file: file.to_owned(),
            has_weights: columns.contains_key("weight"),
            columns,
            rows: Vec::new(),
        };
        for record in records {
            let record = record.map_err(csv_error)?;
            let line = record.position().map_or(0, line_of);
            let mut row = Row {
                line,
                variation: String::new(),
                users: 0,
                weight: None,
                cells: record.iter().map(str::to_owned).collect(),
            };
            row.variation = table.cell(&row, "variation").to_owned();
            if row.variation.is_empty() {
                return Err(error(
                    Some(line),
                    &["variation"],
                    "empty variant name".to_owned(),
                ));
            }
            let users = table.cell(&row, "users");
            row.users = match users.parse::<f64>() {
                Ok(n) if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= MAX_USERS => {
                    n as u64
                }
                _ => {
                    return Err(error(
                        Some(line),
                        &["users"],
                        format!("{} is not a whole number of users", quoted(users)),
                    ));
                }
            };
            if row.users == 0 {
                return Err(error(
                    Some(line),
                    &["users"],
                    format!(
                        "variant \"{}\" has 0 users; every variant needs units to compare",
                        row.variation
                    ),
                ));
            }
            if table.has_weights {
                let weight = table.number(&row, "weight")?;
                if weight <= 0.0 {
                    return Err(error(
                        Some(line),
                        &["weight"],
                        format!(
                            "weight {} is not positive; a weight is the variant's intended share of traffic",
                            quoted(table.cell(&row, "weight"))
                        ),
                    ));
                }
                row.weight = Some(weight);
            }
            if let Some(first) = table.rows.iter().find(|r| r.variation == row.variation) {
                return Err(error(
                    None,
                    &["variation"],
                    format!(
                        "variant \"{}\" appears twice, in rows {} and {}",
                        row.variation, first.line, line
                    ),
                ));
            }
            table.rows.push(row);
        }
        if table.rows.is_empty() {
            return Err(error(
                None,
                &[],
                "no rows after the header; expected one row per variant".to_owned(),
            ));
        }
        Ok(table)
    }

    /// The rows, in the file's order; never empty.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    pub fn has_column(&self, name: &str) -> bool {
        self.columns.contains_key(name)
    }

    /// The cell of `row` in `column`, which must exist (checked before reading cells).
    fn cell<'a>(&self, row: &'a Row, column: &str) -> &'a str {
        self.columns
            .get(column)
            .and_then(|i| row.cells.get(*i))
            .map_or("", String::as_str)
    }

    /// A finite number from the cell of `row` in `column`.
    pub fn number(&self, row: &Row, column: &str) -> Result<f64, Error> {
        let text = self.cell(row, column);
        let why = match text.parse::<f64>() {
            Ok(value) if value.is_finite() => return Ok(value),
            Ok(_) => "is not a finite number",
            Err(_) if text.is_empty() => "is empty; expected a number",
            Err(_) => "is not a number",
        };
        Err(self.error(row, &[column], format!("{} {why}", quoted(text))))
    }

    /// An error located at `row` and `columns`.
    pub fn error(&self, row: &Row, columns: &[&str], message: String) -> Error {
        Error {
            file: self.file.clone(),
            row: Some(row.line),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            message,
        }
    }
}

/// The line of the file at byte `offset`. The reader may place a record at the `\n` of the
/// previous line's CRLF, which counts as the start of the next line.
/// A cell's text for a message: `"abc"`, or `the cell` when empty.
fn quoted(text: &str) -> String {
    if text.is_empty() {
        "the cell".to_owned()
    } else {
        format!("\"{text}\"")
    }
}
