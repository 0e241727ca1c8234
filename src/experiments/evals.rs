//! Comparing an AI feature's eval scores before and after a change (a prompt or a model):
//! per-case scores of a baseline and a candidate, the paired tests on their differences, a
//! paired bootstrap interval, the cases that regressed most, and a verdict against a
//! tolerated regression. docs/evals.md defines every statistic exactly.
//!
//! The rank and sign tests reproduce `scipy.stats.wilcoxon` (defaults, scipy 1.17) and
//! `scipy.stats.binomtest`; tests/evals/reference.json holds scipy's own results.

use std::collections::HashMap;
use std::fmt;

use crate::csv_input::Lines;
use crate::stats::dist;

/// Scores beyond ±1e100 are refused: squares of differences of larger scores could overflow.
pub const SCORE_LIMIT: f64 = 1e100;
/// The bootstrap keeps every resample's mean in memory (8 bytes each).
pub const MAX_RESAMPLES: u32 = 10_000_000;
/// The bootstrap seed when none is given.
pub const DEFAULT_SEED: u64 = 42;
/// scipy.stats.wilcoxon's "auto": the exact null distribution up to this many differences.
const EXACT_MAX: usize = 50;
/// ... and, with ties or zeros, the full sign-flip distribution up to this many.
const PERMUTATION_MAX: usize = 13;
/// scipy.stats.binomtest's relative tolerance when it compares outcome probabilities.
const BINOMTEST_RELATIVE_ERROR: f64 = 1.0 + 1e-7;

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
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Empty { file } => write!(
                f,
                "{file}: the file is empty; expected a header `case_id,baseline,candidate` and one row per case"
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
        }
    }
}

impl std::error::Error for Error {}

const COLUMNS: [&str; 3] = ["case_id", "baseline", "candidate"];

/// Reads cases from CSV bytes: a header naming `case_id`, `baseline` and `candidate` (in any
/// order, among any other columns), then one row per case. A UTF-8 byte-order mark, CRLF
/// line ends and blank space around fields are accepted. `file` names the source in errors,
/// whose line numbers are the file's.
pub fn parse_cases(file: &str, bytes: &[u8]) -> Result<Vec<Case>, Error> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::Empty {
            file: file.to_owned(),
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
    let mut index = [0usize; 3];
    for (slot, column) in index.iter_mut().zip(COLUMNS) {
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
        *slot = first;
    }
    let mut cases = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    // Raw bytes: only the three columns used need to be UTF-8 (and trimming copies nothing).
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record).map_err(csv_error)? {
        let line = record
            .position()
            .map_or(0, |p| lines.borrow_mut().line_at(p.byte()));
        let field = |slot: usize| {
            std::str::from_utf8(&record[index[slot]])
                .map(str::trim)
                .map_err(|_| malformed(line, "not valid UTF-8".to_owned()))
        };
        let id = field(0)?;
        if id.is_empty() {
            return Err(Error::EmptyId {
                file: file.to_owned(),
                line,
            });
        }
        let score = |slot: usize| {
            let value = field(slot)?;
            let problem = match value.parse::<f64>() {
                Err(_) => "is not a number",
                Ok(x) if !x.is_finite() => "is not a finite number",
                Ok(x) if x.abs() > SCORE_LIMIT => "is beyond ±1e100, the largest score compared",
                Ok(x) => return Ok(x),
            };
            Err(Error::BadScore {
                file: file.to_owned(),
                line,
                column: COLUMNS[slot],
                value: value.to_owned(),
                problem,
            })
        };
        let baseline = score(1)?;
        let candidate = score(2)?;
        if let Some(&first_line) = seen.get(id) {
            return Err(Error::DuplicateCase {
                file: file.to_owned(),
                id: id.to_owned(),
                first_line,
                line,
            });
        }
        seen.insert(id.to_owned(), line);
        cases.push(Case {
            id: id.to_owned(),
            baseline,
            candidate,
        });
    }
    if cases.is_empty() {
        return Err(Error::NoCases {
            file: file.to_owned(),
        });
    }
    Ok(cases)
}

/// The tolerated regression.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Margin {
    /// In score units.
    Absolute(f64),
    /// A fraction of the magnitude of the baseline mean (`2%` is 0.02).
    Relative(f64),
}

impl std::str::FromStr for Margin {
    type Err = Error;

    /// `0.05` (score units) or `5%` (of the baseline mean); never negative.
    fn from_str(s: &str) -> Result<Margin, Error> {
        let text = s.trim();
        let (number, percent) = match text.strip_suffix('%') {
            Some(number) => (number.trim_end(), true),
            None => (text, false),
        };
        match number.parse::<f64>() {
            Ok(x) if (0.0..=SCORE_LIMIT).contains(&x) => Ok(if percent {
                Margin::Relative(x / 100.0)
            } else {
                Margin::Absolute(x)
            }),
            _ => Err(Error::Margin(s.to_owned())),
        }
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

/// The paired t-test on the differences, two-sided.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TTest {
    pub t: f64,
    pub df: f64,
    pub p_value: f64,
    /// The (1 − alpha) confidence interval of the mean difference.
    pub ci: [f64; 2],
}

/// Why the t-test has no result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TTestUndefined {
    /// Every difference is the same (or their spread is too small for double precision), so
    /// the standard error is 0 and t would be ±∞ or 0/0.
    ZeroVariance,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WilcoxonMethod {
    /// The exact null distribution of W+ (no ties, no zeros, at most 50 differences).
    Exact,
    /// Every sign flip of the differences enumerated, tied ranks as they are (ties or zeros,
    /// at most 13 differences): scipy's permutation test, which is exact at that size.
    Permutation,
    /// The normal approximation with the tie-corrected variance, no continuity correction.
    Normal,
    /// Every difference is zero: nothing to rank, p = 1.
    NoDifferences,
}

/// The Wilcoxon signed-rank test, zero differences dropped (Wilcoxon's method).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Wilcoxon {
    /// The non-zero differences ranked.
    pub ranked: usize,
    /// The zero differences dropped.
    pub zeros: usize,
    /// Whether some non-zero |differences| are tied.
    pub ties: bool,
    /// The rank sums of the positive and of the negative differences.
    pub w_plus: f64,
    pub w_minus: f64,
    /// min(W+, W−), scipy's two-sided statistic.
    pub statistic: f64,
    pub method: WilcoxonMethod,
    /// (W+ − mean) / sd, for the normal approximation only.
    pub z: Option<f64>,
    pub p_value: f64,
}

/// The two-sided exact binomial test of the signs of the non-zero differences.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SignTest {
    /// How many differences are positive (candidate above baseline), of how many non-zero.
    pub positive: usize,
    pub nonzero: usize,
    pub p_value: f64,
}

/// The paired bootstrap percentile interval of the mean difference.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bootstrap {
    pub resamples: u32,
    pub seed: u64,
    /// The (1 − alpha) interval of the mean of candidate − baseline.
    pub ci: [f64; 2],
}

#[derive(Clone, Debug, PartialEq)]
pub struct WorstCase {
    /// The position among the cases (0-based, file order).
    pub index: usize,
    pub id: String,
    pub baseline: f64,
    pub candidate: f64,
    /// candidate − baseline.
    pub difference: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conclusion {
    /// Non-inferiority shown: the interval's lower end is at or above −margin.
    Pass,
    /// Significantly worse by more than the margin: the interval's upper end is below it.
    Regression,
    Inconclusive,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Verdict {
    pub outcome: Conclusion,
    /// The tolerated regression in score units (a percentage already applied).
    pub margin: f64,
    /// The bootstrap interval of the improvement: the mean difference, negated when lower is
    /// better, so that negative is worse.
    pub improvement: [f64; 2],
    /// When inconclusive: about how many more cases would make the interval clear the margin
    /// on one side, if the mean and spread of the differences stayed as they are.
    pub more_cases: Option<u64>,
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
    let stddev_difference = stddev(&differences, mean_difference);
    let sign = if options.lower_is_better { -1.0 } else { 1.0 };
    let better = |d: f64| sign * d > 0.0;
    let improved = differences.iter().filter(|&&d| better(d)).count();
    let unchanged = differences.iter().filter(|&&d| d == 0.0).count();
    let bootstrap = bootstrap(&differences, options);
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
        t_test: t_test(mean_difference, stddev_difference, n, options.alpha),
        wilcoxon: wilcoxon(&differences),
        sign_test: sign_test(&differences),
        worst: worst(cases, &differences, sign, options.worst),
        verdict: verdict(&bootstrap, sign, margin, n),
        bootstrap,
    })
}

/// The sample standard deviation; exactly 0 when every value is the same (a computed mean
/// can differ from the common value by rounding, which would leave a spurious spread).
fn stddev(values: &[f64], mean: f64) -> f64 {
    let first = values[0];
    if values.iter().all(|&v| v == first) {
        return 0.0;
    }
    let squares: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    (squares / (values.len() - 1) as f64).sqrt()
}

fn t_test(mean: f64, stddev: f64, n: usize, alpha: f64) -> Result<TTest, TTestUndefined> {
    let standard_error = stddev / (n as f64).sqrt();
    let t = mean / standard_error;
    // A spread so small against the mean that t overflows is as undefined as none at all.
    if stddev == 0.0 || !t.is_finite() {
        return Err(TTestUndefined::ZeroVariance);
    }
    let df = (n - 1) as f64;
    let critical = dist::student_t_quantile(1.0 - alpha / 2.0, df);
    let half_width = critical * standard_error;
    Ok(TTest {
        t,
        df,
        p_value: (2.0 * dist::student_t_sf(t.abs(), df)).min(1.0),
        ci: [mean - half_width, mean + half_width],
    })
}

/// The Wilcoxon signed-rank test as scipy.stats.wilcoxon with `zero_method="wilcox",
/// correction=False, method="auto"`.
fn wilcoxon(differences: &[f64]) -> Wilcoxon {
    let n = differences.len();
    let mut nonzero: Vec<f64> = differences.iter().copied().filter(|&d| d != 0.0).collect();
    nonzero.sort_by(|a, b| a.abs().total_cmp(&b.abs()));
    let m = nonzero.len();
    // Average ranks are multiples of ½, so twice the ranks are integers and sums are exact.
    let mut doubled_ranks = Vec::with_capacity(m);
    let (mut plus, mut minus) = (0u64, 0u64);
    let mut tie_sum = 0.0;
    let mut ties = false;
    let mut start = 0;
    while start < m {
        let magnitude = nonzero[start].abs();
        let end = start
            + nonzero[start..]
                .iter()
                .take_while(|d| d.abs() == magnitude)
                .count();
        // Ranks start+1 ..= end share their average (start + 1 + end) / 2.
        let doubled = (start + 1 + end) as u64;
        for &d in &nonzero[start..end] {
            doubled_ranks.push(doubled);
            if d > 0.0 {
                plus += doubled;
            } else {
                minus += doubled;
            }
        }
        let size = (end - start) as f64;
        tie_sum += size * size * size - size;
        ties |= end - start > 1;
        start = end;
    }
    let w_plus = plus as f64 / 2.0;
    let w_minus = minus as f64 / 2.0;
    let base = Wilcoxon {
        ranked: m,
        zeros: n - m,
        ties,
        w_plus,
        w_minus,
        statistic: w_plus.min(w_minus),
        method: WilcoxonMethod::NoDifferences,
        z: None,
        p_value: 1.0,
    };
    if m == 0 {
        return base;
    }
    // scipy's "auto" decides on the number of differences including the zeros.
    let method = if n > EXACT_MAX {
        WilcoxonMethod::Normal
    } else if !ties && m == n {
        WilcoxonMethod::Exact
    } else if n <= PERMUTATION_MAX {
        WilcoxonMethod::Permutation
    } else {
        WilcoxonMethod::Normal
    };
    if method != WilcoxonMethod::Normal {
        return Wilcoxon {
            method,
            p_value: sign_flip_p_value(&doubled_ranks, plus),
            ..base
        };
    }
    let m = m as f64;
    let mean = m * (m + 1.0) / 4.0;
    let sd = ((m * (m + 1.0) * (2.0 * m + 1.0) - tie_sum / 2.0) / 24.0).sqrt();
    let z = (w_plus - mean) / sd;
    Wilcoxon {
        method,
        z: Some(z),
        p_value: (2.0 * dist::normal_sf(z.abs())).min(1.0),
        ..base
    }
}

/// The two-sided p-value of a rank sum `observed` (in doubled ranks) under the null
/// distribution where each rank's sign is + or − with probability ½ independently:
/// 2·min(P(S ≤ observed), P(S ≥ observed)), at most 1. Counts by dynamic programming over
/// the ranks; at most 50 ranks, so counts stay below 2^50 and are exact.
fn sign_flip_p_value(doubled_ranks: &[u64], observed: u64) -> f64 {
    let total: u64 = doubled_ranks.iter().sum();
    let mut counts = vec![0u64; total as usize + 1];
    counts[0] = 1;
    let mut reach = 0usize;
    for &rank in doubled_ranks {
        let rank = rank as usize;
        for sum in (0..=reach).rev() {
            counts[sum + rank] += counts[sum];
        }
        reach += rank;
    }
    let observed = observed as usize;
    let lower: u64 = counts[..=observed].iter().sum();
    let upper: u64 = counts[observed..].iter().sum();
    let outcomes = (doubled_ranks.len() as f64).exp2();
    (2.0 * lower.min(upper) as f64 / outcomes).min(1.0)
}

/// The sign test: scipy.stats.binomtest(positive, nonzero, 0.5), two-sided — the total
/// probability of the outcomes no more likely than the observed one (within a relative
/// 1e-7, as scipy).
fn sign_test(differences: &[f64]) -> SignTest {
    let positive = differences.iter().filter(|&&d| d > 0.0).count();
    let nonzero = differences.iter().filter(|&&d| d != 0.0).count();
    let result = SignTest {
        positive,
        nonzero,
        p_value: 1.0,
    };
    if nonzero == 0 || 2 * positive == nonzero {
        return result;
    }
    let n = nonzero as u64;
    // Binomial(n, ½) is symmetric: the p-value of k is that of n − k, so take the lower k.
    let k = (positive as u64).min(n - positive as u64);
    let ln_n = dist::ln_gamma(n as f64 + 1.0) - n as f64 * std::f64::consts::LN_2;
    // The sum in the same order for i and n − i makes the pmf exactly symmetric.
    let pmf = |i: u64| {
        (ln_n - (dist::ln_gamma(i as f64 + 1.0) + dist::ln_gamma((n - i) as f64 + 1.0))).exp()
    };
    let threshold = pmf(k) * BINOMTEST_RELATIVE_ERROR;
    // The upper tail starts at the first outcome above the mode no more likely than k.
    let mut first_upper = n - k;
    while 2 * (first_upper - 1) > n && pmf(first_upper - 1) <= threshold {
        first_upper -= 1;
    }
    let p = dist::binomial_cdf(k, n, 0.5) + dist::binomial_cdf(n - first_upper, n, 0.5);
    SignTest {
        p_value: p.min(1.0),
        ..result
    }
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

fn verdict(bootstrap: &Bootstrap, sign: f64, margin: f64, n: usize) -> Verdict {
    let [low, high] = bootstrap.ci;
    let improvement = if sign > 0.0 {
        [low, high]
    } else {
        [-high, -low]
    };
    let outcome = if improvement[0] >= -margin {
        Conclusion::Pass
    } else if improvement[1] < -margin {
        Conclusion::Regression
    } else {
        Conclusion::Inconclusive
    };
    let more_cases = (outcome == Conclusion::Inconclusive)
        .then(|| {
            // The interval narrows as 1/√n: n' = n·(half-width / distance to the margin)².
            let half_width = (improvement[1] - improvement[0]) / 2.0;
            let distance = ((improvement[0] + improvement[1]) / 2.0 + margin).abs();
            let needed = n as f64 * (half_width / distance).powi(2);
            let more = (needed - n as f64).ceil().max(1.0);
            // Beyond 2^53 the count means little; a mean on the margin gives no estimate.
            (more.is_finite() && more < 9.0e15).then_some(more as u64)
        })
        .flatten();
    Verdict {
        outcome,
        margin,
        improvement,
        more_cases,
    }
}

fn bootstrap(differences: &[f64], options: &Options) -> Bootstrap {
    let means = bootstrap_means(
        differences,
        options.resamples,
        options.seed,
        options.threads,
    );
    let mut sorted = means;
    sorted.sort_by(f64::total_cmp);
    Bootstrap {
        resamples: options.resamples,
        seed: options.seed,
        ci: [
            quantile(&sorted, options.alpha / 2.0),
            quantile(&sorted, 1.0 - options.alpha / 2.0),
        ],
    }
}

/// The q-quantile of sorted values, interpolating linearly between order statistics
/// (Hyndman and Fan's type 7, numpy's default): position (len − 1)·q.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = (sorted.len() - 1) as f64 * q;
    let below = position.floor() as usize;
    let fraction = position - below as f64;
    match sorted.get(below + 1) {
        Some(&above) if fraction > 0.0 => sorted[below] + fraction * (above - sorted[below]),
        _ => sorted[below],
    }
}

/// The mean of each bootstrap resample, in resample order. Resample r draws its case indices
/// from its own generator, [`Xoshiro256PlusPlus::for_resample`]`(seed, r)`, so the result is
/// the same for any number of threads.
pub fn bootstrap_means(differences: &[f64], resamples: u32, seed: u64, threads: usize) -> Vec<f64> {
    let mut means = vec![0.0; resamples as usize];
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        threads => threads,
    };
    let chunk = means
        .len()
        .div_ceil(threads)
        .next_multiple_of(LANES)
        .max(LANES);
    let n = differences.len() as u64;
    std::thread::scope(|scope| {
        for (chunk_index, chunk_means) in means.chunks_mut(chunk).enumerate() {
            scope.spawn(move || {
                let first = (chunk_index * chunk) as u64;
                // Four resamples at a time: four independent chains of additions and of
                // generator states keep the core busy; each resample's sum is unchanged.
                let done = chunk_means.len() - chunk_means.len() % LANES;
                let (grouped, rest) = chunk_means.split_at_mut(done);
                for (group, group_means) in grouped.chunks_exact_mut(LANES).enumerate() {
                    let r = first + (group * LANES) as u64;
                    let mut rngs: [Xoshiro256PlusPlus; LANES] = std::array::from_fn(|lane| {
                        Xoshiro256PlusPlus::for_resample(seed, r + lane as u64)
                    });
                    let mut sums = [0.0; LANES];
                    for _ in 0..n {
                        for (sum, rng) in sums.iter_mut().zip(&mut rngs) {
                            *sum += differences[rng.below(n) as usize];
                        }
                    }
                    for (mean, sum) in group_means.iter_mut().zip(sums) {
                        *mean = sum / n as f64;
                    }
                }
                for (offset, mean) in rest.iter_mut().enumerate() {
                    let mut rng =
                        Xoshiro256PlusPlus::for_resample(seed, first + (done + offset) as u64);
                    let mut sum = 0.0;
                    for _ in 0..n {
                        sum += differences[rng.below(n) as usize];
                    }
                    *mean = sum / n as f64;
                }
            });
        }
    });
    means
}

/// xoshiro256++ (Blackman and Vigna), the bootstrap's generator.
#[derive(Clone, Debug)]
pub struct Xoshiro256PlusPlus([u64; 4]);

/// Resamples computed together by one thread.
const LANES: usize = 4;

const SPLITMIX_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// splitmix64's output function (Steele, Lea and Flood).
fn splitmix64_mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Xoshiro256PlusPlus {
    /// The generator of resample `r`: its four state words are outputs 4r + 1 … 4r + 4 of
    /// splitmix64 started at `seed` (output k is mix(seed + k·0x9E3779B97F4A7C15), wrapping).
    /// Resamples thus use disjoint stretches of one splitmix64 stream.
    pub fn for_resample(seed: u64, r: u64) -> Self {
        let word = |k: u64| splitmix64_mix(seed.wrapping_add(k.wrapping_mul(SPLITMIX_GAMMA)));
        let k = r.wrapping_mul(4);
        Xoshiro256PlusPlus([
            word(k.wrapping_add(1)),
            word(k.wrapping_add(2)),
            word(k.wrapping_add(3)),
            word(k.wrapping_add(4)),
        ])
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// An index in [0, n): the high 64 bits of next_u64() · n (Lemire's multiply-shift,
    /// without the rejection step; the bias is below n / 2^64).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoshiro_matches_the_reference_sequence() {
        // Blackman and Vigna's xoshiro256plusplus.c from the state {1, 2, 3, 4}.
        let mut rng = Xoshiro256PlusPlus([1, 2, 3, 4]);
        let first: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(first, [41943041, 58720359, 3588806011781223]);
    }

    #[test]
    fn splitmix_matches_the_reference_sequence() {
        // Vigna's splitmix64.c from x = 0: the first output.
        assert_eq!(splitmix64_mix(SPLITMIX_GAMMA), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn sign_flip_counts_are_the_exact_wilcoxon_distribution() {
        // n = 3 without ties: W+ ∈ {0, 1, 2, 3, 3, 4, 5, 6}, each with probability 1/8.
        assert_eq!(sign_flip_p_value(&[2, 4, 6], 0), 0.25);
        assert_eq!(sign_flip_p_value(&[2, 4, 6], 2), 0.5);
        assert_eq!(sign_flip_p_value(&[2, 4, 6], 6), 1.0);
        assert_eq!(sign_flip_p_value(&[2, 4, 6], 12), 0.25);
    }

    #[test]
    fn quantiles_interpolate_between_order_statistics() {
        let sorted = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(quantile(&sorted, 0.0), 1.0);
        assert_eq!(quantile(&sorted, 0.5), 3.0);
        assert_eq!(quantile(&sorted, 1.0), 8.0);
        assert_eq!(quantile(&[5.0], 0.975), 5.0);
    }
}
