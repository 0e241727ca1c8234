//! Comparing an AI feature's eval scores before and after a change (a prompt or a model):
//! per-case scores of a baseline and a candidate, the paired tests on their differences
//! ([`crate::stats::paired`]), a paired bootstrap interval, the cases that regressed most, and
//! a verdict against a tolerated regression. docs/evals.md defines every statistic exactly.

use std::collections::HashMap;
use std::fmt;

use crate::csv_input::Lines;
use crate::stats::paired;
// The tests' results, which the report holds, are named here too.
pub use crate::stats::paired::{
    Bootstrap, Conclusion, MAX_RESAMPLES, MIN_CASES, Margin, SCORE_LIMIT, SignTest, TTest,
    TTestUndefined, Verdict, Wilcoxon, WilcoxonMethod, WorstCase,
};

/// The bootstrap seed when none is given.
pub const DEFAULT_SEED: u64 = 42;

/// One eval case: its scores under the baseline and the candidate.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    pub id: String,
    pub baseline: f64,
    pub candidate: f64,
}

/// Why cases could not be read or compared. `Display` is the message for the user.
#[derive(Clone, Debug, PartialEq)]
pub enum Error {
    /// No bytes at all (or only a byte-order mark and blank space).
    Empty {
        file: String,
        /// The columns expected, comma-separated.
        header: String,
    },
    /// The header lacks a required column.
    MissingColumn {
        file: String,
        column: &'static str,
        found: Vec<String>,
    },
    /// A required column is in the header twice (1-based column numbers).
    DuplicateColumn {
        file: String,
        column: &'static str,
        first: usize,
        second: usize,
    },
    /// The CSV itself is malformed at `line`.
    Malformed {
        file: String,
        line: u64,
        message: String,
    },
    /// A score that is not a number, not finite, or beyond [`SCORE_LIMIT`].
    BadScore {
        file: String,
        line: u64,
        column: &'static str,
        value: String,
        problem: &'static str,
    },
    EmptyId {
        file: String,
        line: u64,
    },
    DuplicateCase {
        file: String,
        id: String,
        first_line: u64,
        line: u64,
    },
    /// A row's payload hash is not the one compared: the scores are of another version.
    OtherPayload {
        file: String,
        line: u64,
        column: &'static str,
        found: String,
        expected: String,
    },
    /// A harness scored a case for one side only.
    UnpairedCase {
        id: String,
        scored: &'static str,
        unscored: &'static str,
    },
    /// A header and no rows.
    NoCases {
        file: String,
    },
    TooFewCases {
        count: usize,
    },
    /// A case given to [`compare`] directly with a score that is not finite or too large.
    BadCaseScore {
        index: usize,
        id: String,
    },
    Alpha(f64),
    Resamples(u32),
    Margin(String),
    MinCases(usize),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Empty { file, header } => write!(
                f,
                "{file}: the file is empty; expected a header `{header}` and one row per case"
            ),
            Error::MissingColumn {
                file,
                column,
                found,
            } => {
                let found: Vec<String> = found.iter().map(|c| format!("`{c}`")).collect();
                write!(
                    f,
                    "{file}:1: no `{column}` column; the header has {}",
                    found.join(", ")
                )
            }
            Error::DuplicateColumn {
                file,
                column,
                first,
                second,
            } => write!(
                f,
                "{file}:1: the header has `{column}` twice (columns {first} and {second})"
            ),
            Error::Malformed {
                file,
                line,
                message,
            } => write!(f, "{file}:{line}: {message}"),
            Error::BadScore {
                file,
                line,
                column,
                value,
                problem,
            } => write!(f, "{file}:{line}: column `{column}`: {value:?} {problem}"),
            Error::EmptyId { file, line } => write!(f, "{file}:{line}: the case_id is empty"),
            Error::DuplicateCase {
                file,
                id,
                first_line,
                line,
            } => write!(
                f,
                "{file}:{line}: case {id:?} is already on line {first_line}"
            ),
            Error::NoCases { file } => write!(f, "{file}: a header but no cases"),
            Error::UnpairedCase {
                id,
                scored,
                unscored,
            } => write!(
                f,
                "case {id:?} is scored for the {scored} but not for the {unscored}: a paired comparison needs both"
            ),
            Error::TooFewCases { count } => write!(
                f,
                "{count} case{}: at least 2 are needed to compare",
                if *count == 1 { "" } else { "s" }
            ),
            Error::BadCaseScore { index, id } => write!(
                f,
                "case {id:?} (number {}) has a score that is not a finite number within ±1e100",
                index + 1
            ),
            Error::Alpha(alpha) => write!(
                f,
                "alpha must be greater than 0 and less than 1, not {alpha}"
            ),
            Error::Resamples(n) => write!(
                f,
                "the number of bootstrap resamples must be from 1 to {MAX_RESAMPLES}, not {n}"
            ),
            Error::Margin(value) => write!(
                f,
                "the tolerated regression must be a number ≥ 0, or a percentage such as `2%`, not {value:?}"
            ),
            Error::OtherPayload {
                file,
                line,
                column,
                found,
                expected,
            } => write!(
                f,
                "{file}:{line}: column `{column}`: {found:?} is not the payload compared ({expected}): these scores are of another version of the variant"
            ),
            Error::MinCases(n) => write!(
                f,
                "the fewest cases a pass needs must be at least 2, not {n}"
            ),
        }
    }
}

impl std::error::Error for Error {}

const COLUMNS: [&str; 5] = [
    "case_id",
    "baseline",
    "candidate",
    "baseline_payload",
    "candidate_payload",
];

/// The payloads a report's scores must be of, by their [`crate::bundle::payload_hash`]es.
#[derive(Clone, Copy, Debug)]
pub struct Payloads<'a> {
    pub baseline: &'a str,
    pub candidate: &'a str,
}

/// Reads cases from CSV bytes: a header naming `case_id`, `baseline` and `candidate` (in any
/// order, among any other columns), then one row per case. A UTF-8 byte-order mark, CRLF
/// line ends and blank space around fields are accepted. `file` names the source in errors,
/// whose line numbers are the file's.
pub fn parse_cases(file: &str, bytes: &[u8]) -> Result<Vec<Case>, Error> {
    read_cases(file, bytes, None)
}

/// Reads cases as [`parse_cases`] does, from a report that also names on every row the
/// payloads scored (columns `baseline_payload` and `candidate_payload`, their hashes), and
/// refuses a row whose payloads are not `payloads`: scores of another version of a variant
/// say nothing about this one.
pub fn parse_report(file: &str, bytes: &[u8], payloads: Payloads) -> Result<Vec<Case>, Error> {
    read_cases(file, bytes, Some(payloads))
}

fn read_cases(file: &str, bytes: &[u8], payloads: Option<Payloads>) -> Result<Vec<Case>, Error> {
    let columns = if payloads.is_some() {
        &COLUMNS[..]
    } else {
        &COLUMNS[..3]
    };
    let mut cases = Vec::new();
    read_rows(file, bytes, columns, |line, fields| {
        let baseline = score(file, line, COLUMNS[1], fields[1])?;
        let candidate = score(file, line, COLUMNS[2], fields[2])?;
        if let Some(payloads) = payloads {
            for (slot, expected) in [(3, payloads.baseline), (4, payloads.candidate)] {
                if !fields[slot].eq_ignore_ascii_case(expected) {
                    return Err(Error::OtherPayload {
                        file: file.to_owned(),
                        line,
                        column: COLUMNS[slot],
                        found: fields[slot].to_owned(),
                        expected: expected.to_owned(),
                    });
                }
            }
        }
        cases.push(Case {
            id: fields[0].to_owned(),
            baseline,
            candidate,
        });
        Ok(())
    })?;
    Ok(cases)
}

/// Reads one side's scores, as an eval harness prints them: a header naming `case_id` and
/// `score` (among any other columns), then one row per case, read as [`parse_cases`] reads
/// cases. In file order.
pub fn parse_scores(file: &str, bytes: &[u8]) -> Result<Vec<(String, f64)>, Error> {
    let mut scores = Vec::new();
    read_rows(file, bytes, &["case_id", "score"], |line, fields| {
        scores.push((fields[0].to_owned(), score(file, line, "score", fields[1])?));
        Ok(())
    })?;
    Ok(scores)
}

/// A report, as [`parse_report`] reads it, of the scores a harness gave the baseline and the
/// candidate, case by case in the baseline's order. Every case must be scored on both sides.
pub fn write_report(
    baseline: &[(String, f64)],
    candidate: &[(String, f64)],
    payloads: Payloads,
) -> Result<Vec<u8>, Error> {
    let unpaired = |id: &str, scored, unscored| Error::UnpairedCase {
        id: id.to_owned(),
        scored,
        unscored,
    };
    let candidates: HashMap<&str, f64> =
        candidate.iter().map(|(id, x)| (id.as_str(), *x)).collect();
    let baselines: HashMap<&str, f64> = baseline.iter().map(|(id, x)| (id.as_str(), *x)).collect();
    if let Some((id, _)) = candidate
        .iter()
        .find(|(id, _)| !baselines.contains_key(id.as_str()))
    {
        return Err(unpaired(id, "candidate", "baseline"));
    }
    // Writing to memory cannot fail; a field cannot make a record invalid.
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(COLUMNS);
    for (id, score) in baseline {
        let Some(other) = candidates.get(id.as_str()) else {
            return Err(unpaired(id, "baseline", "candidate"));
        };
        let row = [
            id.as_str(),
            &score.to_string(),
            &other.to_string(),
            payloads.baseline,
            payloads.candidate,
        ];
        let _ = writer.write_record(row);
    }
    Ok(writer.into_inner().unwrap_or_default())
}

/// Calls `row` with the line number and the trimmed `columns` (at most as many as
/// [`COLUMNS`]) of each row of a CSV file whose header names them (among any others); the
/// first column is a case id, which must be non-empty and unique.
fn read_rows(
    file: &str,
    bytes: &[u8],
    columns: &[&'static str],
    mut row: impl FnMut(u64, &[&str]) -> Result<(), Error>,
) -> Result<(), Error> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::Empty {
            file: file.to_owned(),
            header: columns.join(","),
        });
    }
    let malformed = |line: u64, message: String| Error::Malformed {
        file: file.to_owned(),
        line,
        message,
    };
    let lines = std::cell::RefCell::new(Lines::new(bytes));
    let csv_error = |e: csv::Error| {
        let line = e
            .position()
            .map_or(1, |p| lines.borrow_mut().line_at(p.byte()));
        let message = crate::csv_input::problem(&e, "fields");
        malformed(line, message)
    };
    let mut reader = csv::ReaderBuilder::new().from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(csv_error)?
        .iter()
        .map(|name| name.trim().to_owned())
        .collect();
    let mut index = Vec::with_capacity(columns.len());
    for &column in columns {
        let mut positions = header
            .iter()
            .enumerate()
            .filter(|(_, name)| *name == column);
        let Some((first, _)) = positions.next() else {
            return Err(Error::MissingColumn {
                file: file.to_owned(),
                column,
                found: header.clone(),
            });
        };
        if let Some((second, _)) = positions.next() {
            return Err(Error::DuplicateColumn {
                file: file.to_owned(),
                column,
                first: first + 1,
                second: second + 1,
            });
        }
        index.push(first);
    }
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut rows = 0usize;
    // Raw bytes: only the columns used need to be UTF-8 (and trimming copies nothing).
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record).map_err(csv_error)? {
        let line = record
            .position()
            .map_or(0, |p| lines.borrow_mut().line_at(p.byte()));
        let mut fields = [""; COLUMNS.len()];
        for (field, &i) in fields.iter_mut().zip(&index) {
            *field = std::str::from_utf8(&record[i])
                .map_err(|_| malformed(line, "not valid UTF-8".to_owned()))?
                .trim();
        }
        let id = fields[0];
        if id.is_empty() {
            return Err(Error::EmptyId {
                file: file.to_owned(),
                line,
            });
        }
        if let Some(&first_line) = seen.get(id) {
            return Err(Error::DuplicateCase {
                file: file.to_owned(),
                id: id.to_owned(),
                first_line,
                line,
            });
        }
        seen.insert(id.to_owned(), line);
        row(line, &fields[..columns.len()])?;
        rows += 1;
    }
    if rows == 0 {
        return Err(Error::NoCases {
            file: file.to_owned(),
        });
    }
    Ok(())
}

/// A score field: a finite number within ±[`SCORE_LIMIT`].
fn score(file: &str, line: u64, column: &'static str, value: &str) -> Result<f64, Error> {
    let problem = match value.parse::<f64>() {
        Err(_) => "is not a number",
        Ok(x) if !x.is_finite() => "is not a finite number",
        Ok(x) if x.abs() > SCORE_LIMIT => "is beyond ±1e100, the largest score compared",
        Ok(x) => return Ok(x),
    };
    Err(Error::BadScore {
        file: file.to_owned(),
        line,
        column,
        value: value.to_owned(),
        problem,
    })
}

impl std::str::FromStr for Margin {
    type Err = Error;

    /// `0.05` (score units) or `5%` (of the baseline mean); never negative.
    fn from_str(s: &str) -> Result<Margin, Error> {
        Margin::parse(s).ok_or_else(|| Error::Margin(s.to_owned()))
    }
}

/// How to compare.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Options {
    /// Intervals are (1 − alpha); in (0, 1).
    pub alpha: f64,
    /// Lower scores are better (a latency, a cost, an error rate).
    pub lower_is_better: bool,
    pub resamples: u32,
    pub seed: u64,
    /// How many of the most regressed cases to list.
    pub worst: usize,
    pub margin: Margin,
    /// Bootstrap threads; 0 uses every available core. Results do not depend on it.
    pub threads: usize,
    /// The fewest cases a PASS needs: below, a passing interval is inconclusive
    /// ([`MIN_CASES`] by default; docs/evals.md says why).
    pub min_cases: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            alpha: 0.05,
            lower_is_better: false,
            resamples: 10_000,
            seed: DEFAULT_SEED,
            worst: 10,
            margin: Margin::Absolute(0.0),
            threads: 0,
            min_cases: MIN_CASES,
        }
    }
}

/// The comparison of a candidate with its baseline. Every number is finite.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub n: usize,
    pub alpha: f64,
    pub lower_is_better: bool,
    pub baseline_mean: f64,
    pub candidate_mean: f64,
    /// The mean of candidate − baseline (not direction-adjusted).
    pub mean_difference: f64,
    /// The sample standard deviation (n − 1) of the differences.
    pub stddev_difference: f64,
    /// Cases whose score moved in the better direction, the worse one, or not at all.
    pub improved: usize,
    pub regressed: usize,
    pub unchanged: usize,
    pub t_test: Result<TTest, TTestUndefined>,
    pub wilcoxon: Wilcoxon,
    pub sign_test: SignTest,
    pub bootstrap: Bootstrap,
    /// The most regressed cases, worst first; ties in file order.
    pub worst: Vec<WorstCase>,
    pub verdict: Verdict,
}

impl Options {
    /// Whether [`compare`] accepts these options.
    pub fn validate(&self) -> Result<(), Error> {
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(Error::Alpha(self.alpha));
        }
        if self.resamples == 0 || self.resamples > MAX_RESAMPLES {
            return Err(Error::Resamples(self.resamples));
        }
        if self.min_cases < 2 {
            return Err(Error::MinCases(self.min_cases));
        }
        match self.margin {
            Margin::Absolute(x) | Margin::Relative(x) if !(0.0..=SCORE_LIMIT).contains(&x) => {
                Err(Error::Margin(x.to_string()))
            }
            _ => Ok(()),
        }
    }
}

/// Compares the candidate with the baseline over `cases`.
pub fn compare(cases: &[Case], options: &Options) -> Result<Report, Error> {
    options.validate()?;
    if cases.len() < 2 {
        return Err(Error::TooFewCases { count: cases.len() });
    }
    if let Some((index, case)) = cases
        .iter()
        .enumerate()
        .find(|(_, c)| !(c.baseline.abs() <= SCORE_LIMIT && c.candidate.abs() <= SCORE_LIMIT))
    {
        return Err(Error::BadCaseScore {
            index,
            id: case.id.clone(),
        });
    }
    let n = cases.len();
    let differences: Vec<f64> = cases.iter().map(|c| c.candidate - c.baseline).collect();
    let mean = |values: &mut dyn Iterator<Item = f64>| values.sum::<f64>() / n as f64;
    let baseline_mean = mean(&mut cases.iter().map(|c| c.baseline));
    let candidate_mean = mean(&mut cases.iter().map(|c| c.candidate));
    let mean_difference = mean(&mut differences.iter().copied());
    let stddev_difference = paired::stddev(&differences, mean_difference);
    let sign = if options.lower_is_better { -1.0 } else { 1.0 };
    let better = |d: f64| sign * d > 0.0;
    let improved = differences.iter().filter(|&&d| better(d)).count();
    let unchanged = differences.iter().filter(|&&d| d == 0.0).count();
    let bootstrap = paired::bootstrap(
        &differences,
        options.resamples,
        options.seed,
        options.alpha,
        options.threads,
    );
    let margin = match options.margin {
        Margin::Absolute(x) => x,
        Margin::Relative(fraction) => fraction * baseline_mean.abs(),
    };
    Ok(Report {
        n,
        alpha: options.alpha,
        lower_is_better: options.lower_is_better,
        baseline_mean,
        candidate_mean,
        mean_difference,
        stddev_difference,
        improved,
        regressed: n - improved - unchanged,
        unchanged,
        t_test: paired::t_test(mean_difference, stddev_difference, n, options.alpha),
        wilcoxon: paired::wilcoxon(&differences),
        sign_test: paired::sign_test(&differences),
        worst: worst(cases, &differences, sign, options.worst),
        verdict: paired::verdict(&bootstrap, sign, margin, n, options.min_cases),
        bootstrap,
    })
}

/// The most regressed cases (negative direction-adjusted difference), worst first; ties in
/// file order. Differences equal to 12 significant digits tie: 0.55 − 0.35 and 0.7 − 0.5
/// differ in binary floating point, not to the reader.
fn worst(cases: &[Case], differences: &[f64], sign: f64, count: usize) -> Vec<WorstCase> {
    let mut regressed: Vec<(f64, usize)> = (0..cases.len())
        .filter(|&i| sign * differences[i] < 0.0)
        .map(|i| {
            let rounded = format!("{:.11e}", sign * differences[i]);
            (rounded.parse().unwrap_or(sign * differences[i]), i)
        })
        .collect();
    // A stable sort keeps file order among equal differences.
    regressed.sort_by(|a, b| a.0.total_cmp(&b.0));
    regressed
        .into_iter()
        .take(count)
        .map(|(_, index)| WorstCase {
            index,
            id: cases[index].id.clone(),
            baseline: cases[index].baseline,
            candidate: cases[index].candidate,
            difference: differences[index],
        })
        .collect()
}
