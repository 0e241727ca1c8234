//! Experiment results from per-variant sufficient statistics: reads a summary CSV (one row
//! per variant), compares every variant with control on every metric with [`crate::stats`],
//! checks the sample ratio, corrects for multiple comparisons, and decides.
//!
//! docs/analyze.md describes the CSV, every output field and the decision rule.

mod decision;
mod table;

use crate::stats::{self, Arm, Comparison, Correction, Moments, Settings, Summary, Unavailable};

pub use crate::metric::{Estimator, MetricSpec, Role, parse_metrics, valid_name};
pub use decision::{Call, Decision, VariantCall, Verdict};
pub use table::SummaryTable;

/// The sample ratio check flags a mismatch below this p-value.
pub const SRM_THRESHOLD: f64 = 0.001;

/// What to analyse. The command line builds it from `--metric` and the other options; an
/// experiment file gives the metrics, the control, the flag's variants and their weights.
#[derive(Clone, Debug)]
pub struct Request {
    /// The metrics, in the order to report them; exactly one is [`Role::Primary`].
    pub metrics: Vec<MetricSpec>,
    /// The control variant; `None` is the summary's first row.
    pub control: Option<String>,
    /// The flag's variants, when known: every row must be one of them, and each must have
    /// a row.
    pub known_variants: Option<Vec<String>>,
    /// Each variant's intended share of traffic (any positive scale), used when the summary
    /// has no `weight` column; `None` (and no column) is equal shares.
    pub weights: Option<Vec<(String, f64)>>,
    /// `alpha` and the prior and sequential tuning; `inverse` comes from each metric.
    pub settings: Settings,
    pub correction: Correction,
    /// The smallest relative lift worth detecting (0.02 is 2%), for the "keep running"
    /// estimate; `None` uses the observed lift.
    pub mde: Option<f64>,
}

impl Request {
    /// A request for these metrics with the default settings.
    pub fn new(metrics: Vec<MetricSpec>) -> Request {
        Request {
            metrics,
            control: None,
            known_variants: None,
            weights: None,
            settings: Settings::default(),
            correction: Correction::None,
            mde: None,
        }
    }
}

/// Bad input: which file, row (its line in the file) and columns, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub file: String,
    pub row: Option<u64>,
    pub columns: Vec<String>,
    pub message: String,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(row) = self.row {
            write!(f, ": row {row}")?;
        }
        match self.columns.as_slice() {
            [] => {}
            [column] => write!(f, ", column `{column}`")?,
            columns => write!(f, ", columns `{}`", columns.join("`, `"))?,
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for Error {}

/// One variant of the summary.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    pub name: String,
    /// The summary's line for it.
    pub row: u64,
    pub users: u64,
    /// The intended share of units (the weights normalised to sum to 1).
    pub expected_share: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Srm {
    pub p_value: f64,
    /// `p_value` < [`SRM_THRESHOLD`]: the results cannot be trusted.
    pub mismatch: bool,
}

/// A result, or why there is none, in words.
pub type Estimate<T> = Result<T, String>;

/// The relative (lift over control's mean) and absolute (difference of means) results.
#[derive(Clone, Debug, PartialEq)]
pub struct Lift<T> {
    pub relative: Estimate<T>,
    pub absolute: Estimate<T>,
}

/// A frequentist result, with its p-value adjusted for multiple comparisons when a
/// correction is on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Test {
    pub result: stats::Frequentist,
    pub adjusted_p_value: Option<f64>,
}

/// A guardrail's verdict for one variant.
#[derive(Clone, Debug, PartialEq)]
pub enum Guardrail {
    /// Not significantly worse than the tolerated regression.
    Pass,
    /// Significantly worse than the tolerated regression: blocks shipping.
    Fail,
    /// No relative result to judge by.
    Unknown(String),
}

/// One variant against control on one metric.
#[derive(Clone, Debug, PartialEq)]
pub struct VariantResult {
    pub variant: String,
    pub control: stats::Describe,
    pub treatment: stats::Describe,
    pub theta: Option<f64>,
    pub bayesian: Lift<stats::Bayesian>,
    pub frequentist: Lift<Test>,
    pub sequential: Lift<stats::Frequentist>,
    /// For guardrail metrics.
    pub guardrail: Option<Guardrail>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MetricResult {
    pub spec: MetricSpec,
    /// One per variant other than control, in the summary's order.
    pub variants: Vec<VariantResult>,
}

/// The whole analysis.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub file: String,
    pub control: String,
    /// Control first, then the other variants in the summary's order.
    pub variants: Vec<Variant>,
    pub srm: Srm,
    pub settings: Settings,
    pub correction: Correction,
    pub mde: Option<f64>,
    pub metrics: Vec<MetricResult>,
    pub decision: Decision,
}

/// Parses the summary CSV and analyses it.
pub fn analyze_csv(bytes: &[u8], file: &str, request: &Request) -> Result<Report, Error> {
    analyze(&SummaryTable::parse(bytes, file)?, request)
}

/// Analyses a parsed summary.
pub fn analyze(table: &SummaryTable, request: &Request) -> Result<Report, Error> {
    let fail = |message: String| Error {
        file: table.file.clone(),
        row: None,
        columns: Vec::new(),
        message,
    };
    request.validate().map_err(|e| fail(e.to_string()))?;
    let variants = variants(table, request)?;
    for metric in &request.metrics {
        check_columns(table, metric)?;
    }
    let rows: Vec<&table::Row> = variants
        .iter()
        .map(|v| {
            table
                .rows()
                .iter()
                .find(|r| r.variation == v.name)
                .expect("variants come from the table's rows")
        })
        .collect();
    // Every cell is read and checked before any statistics run.
    let arms = request
        .metrics
        .iter()
        .map(|spec| {
            rows.iter()
                .map(|row| arm(table, row, spec))
                .collect::<Result<Vec<Arm>, Error>>()
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let users: Vec<u64> = variants.iter().map(|v| v.users).collect();
    let shares: Vec<f64> = variants.iter().map(|v| v.expected_share).collect();
    let p_value = finite(stats::srm_p_value(&users, &shares)).ok_or_else(|| {
        fail("the sample ratio check gave no number for these users and weights".to_owned())
    })?;
    let srm = Srm {
        p_value,
        mismatch: p_value < SRM_THRESHOLD,
    };
    let mut metrics = Vec::with_capacity(request.metrics.len());
    for (spec, arms) in request.metrics.iter().zip(&arms) {
        let settings = Settings {
            inverse: spec.inverse,
            ..request.settings
        };
        let results = (1..arms.len())
            .map(|i| {
                let comparison = stats::compare(&arms[0], &arms[i], &settings);
                let reason = |u: Unavailable| unavailable(u, spec, rows[0], rows[i]);
                result(&variants[i].name, &comparison, spec, &reason)
            })
            .collect();
        metrics.push(MetricResult {
            spec: spec.clone(),
            variants: results,
        });
    }
    correct(&mut metrics, request.correction);
    let decision = decision::decide(&metrics, &variants, srm, request);
    Ok(Report {
        file: table.file.clone(),
        control: variants[0].name.clone(),
        variants,
        srm,
        settings: request.settings,
        correction: request.correction,
        mde: request.mde,
        metrics,
        decision,
    })
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

impl Request {
    /// What an experiment file says about its analysis: the variants its flag splits (each
    /// must have a row), their intended shares for the sample ratio check, control, alpha
    /// and MDE.
    pub fn for_design(design: &crate::experiment::Design<'_>) -> Request {
        let weights: Vec<(String, f64)> = design
            .weights
            .iter()
            .map(|(variant, weight)| ((*variant).to_owned(), *weight))
            .collect();
        Request {
            control: Some(design.control.to_owned()),
            known_variants: Some(weights.iter().map(|(v, _)| v.clone()).collect()),
            weights: Some(weights),
            settings: Settings {
                alpha: design.alpha,
                ..Settings::default()
            },
            mde: Some(design.mde),
            ..Request::new(design.metrics.clone())
        }
    }

    /// The request's own mistakes (settings out of range, no primary metric…), which
    /// [`analyze`] reports too, before reading any row.
    pub fn validate(&self) -> Result<(), RequestError> {
        validate(self)
    }
}

/// A request that cannot be analysed, whatever the data.
#[derive(Clone, Debug, PartialEq)]
pub enum RequestError {
    Alpha(f64),
    PriorStddev(f64),
    SequentialTuning(f64),
    Mde(f64),
    NoMetrics,
    InvalidName(String),
    NamedTwice(String),
    Guardrail { metric: String, max_regression: f64 },
    NoPrimary,
    SeveralPrimaries,
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestError::Alpha(alpha) => write!(f, "alpha {alpha} is not between 0 and 1"),
            RequestError::PriorStddev(prior) => write!(
                f,
                "the prior's standard deviation {prior} is not a positive number"
            ),
            RequestError::SequentialTuning(tuning) => write!(
                f,
                "the sequential tuning {tuning} is not a positive number of units"
            ),
            RequestError::Mde(mde) => write!(
                f,
                "the minimum detectable effect {mde} is not a positive relative lift"
            ),
            RequestError::NoMetrics => f.write_str("no metrics to analyse"),
            RequestError::InvalidName(name) => write!(f, "`{name}` is not a valid metric name"),
            RequestError::NamedTwice(name) => write!(f, "metric `{name}` is named twice"),
            RequestError::Guardrail {
                metric,
                max_regression,
            } => write!(
                f,
                "guardrail `{metric}` tolerates a regression of {max_regression}; expected a number ≥ 0"
            ),
            RequestError::NoPrimary => f.write_str("no primary metric: the decision needs one"),
            RequestError::SeveralPrimaries => {
                f.write_str("more than one primary metric; the decision needs exactly one")
            }
        }
    }
}

impl std::error::Error for RequestError {}

fn validate(request: &Request) -> Result<(), RequestError> {
    let s = &request.settings;
    if !(s.alpha > 0.0 && s.alpha < 1.0) {
        return Err(RequestError::Alpha(s.alpha));
    }
    if let Some(prior) = s.prior_stddev
        && !(prior.is_finite() && prior > 0.0)
    {
        return Err(RequestError::PriorStddev(prior));
    }
    if !(s.sequential_tuning.is_finite() && s.sequential_tuning > 0.0) {
        return Err(RequestError::SequentialTuning(s.sequential_tuning));
    }
    if let Some(mde) = request.mde
        && !(mde.is_finite() && mde > 0.0)
    {
        return Err(RequestError::Mde(mde));
    }
    if request.metrics.is_empty() {
        return Err(RequestError::NoMetrics);
    }
    for (i, metric) in request.metrics.iter().enumerate() {
        if !valid_name(&metric.name) {
            return Err(RequestError::InvalidName(metric.name.clone()));
        }
        if request.metrics[..i].iter().any(|m| m.name == metric.name) {
            return Err(RequestError::NamedTwice(metric.name.clone()));
        }
        if let Role::Guardrail { max_regression } = metric.role
            && !(max_regression.is_finite() && max_regression >= 0.0)
        {
            return Err(RequestError::Guardrail {
                metric: metric.name.clone(),
                max_regression,
            });
        }
    }
    match request
        .metrics
        .iter()
        .filter(|m| m.role == Role::Primary)
        .count()
    {
        1 => Ok(()),
        0 => Err(RequestError::NoPrimary),
        _ => Err(RequestError::SeveralPrimaries),
    }
}

/// The variants to compare, control first, with their intended shares.
fn variants(table: &SummaryTable, request: &Request) -> Result<Vec<Variant>, Error> {
    let fail = |row: Option<u64>, columns: &[&str], message: String| Error {
        file: table.file.clone(),
        row,
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        message,
    };
    if let Some(known) = &request.known_variants {
        for row in table.rows() {
            if !known.contains(&row.variation) {
                return Err(fail(
                    Some(row.line),
                    &["variation"],
                    format!(
                        "unknown variant \"{}\"; the flag's variants are {}",
                        row.variation,
                        list(known)
                    ),
                ));
            }
        }
        if let Some(missing) = known
            .iter()
            .find(|v| !table.rows().iter().any(|r| &r.variation == *v))
        {
            return Err(fail(
                None,
                &[],
                format!(
                    "no row for variant \"{missing}\"; the flag's variants are {}",
                    list(known)
                ),
            ));
        }
    }
    if table.rows().len() < 2 {
        return Err(fail(
            None,
            &[],
            format!(
                "only one variant (\"{}\"); a comparison needs control and at least one more",
                table.rows()[0].variation
            ),
        ));
    }
    let control = match &request.control {
        None => 0,
        Some(name) => table
            .rows()
            .iter()
            .position(|r| &r.variation == name)
            .ok_or_else(|| {
                let names: Vec<String> = table.rows().iter().map(|r| r.variation.clone()).collect();
                fail(
                    None,
                    &[],
                    format!(
                        "no row for the control \"{name}\"; the summary's variants are {}",
                        list(&names)
                    ),
                )
            })?,
    };
    let mut order: Vec<usize> = vec![control];
    order.extend((0..table.rows().len()).filter(|i| *i != control));
    let mut weights = Vec::with_capacity(order.len());
    for &i in &order {
        let row = &table.rows()[i];
        let weight = match (row.weight, &request.weights) {
            (Some(weight), _) => weight,
            (None, None) => 1.0,
            (None, Some(weights)) => weights
                .iter()
                .find(|(name, _)| name == &row.variation)
                .map(|(_, w)| *w)
                .filter(|w| w.is_finite() && *w > 0.0)
                .ok_or_else(|| {
                    fail(
                        None,
                        &[],
                        format!(
                            "no positive intended weight for variant \"{}\" (and no `weight` column)",
                            row.variation
                        ),
                    )
                })?,
        };
        weights.push(weight);
    }
    let total: f64 = weights.iter().sum();
    if !total.is_finite() {
        return Err(fail(
            None,
            &["weight"],
            "the weights are too large to add up".to_owned(),
        ));
    }
    Ok(order
        .iter()
        .zip(&weights)
        .map(|(&i, w)| {
            let row = &table.rows()[i];
            Variant {
                name: row.variation.clone(),
                row: row.line,
                users: row.users,
                expected_share: w / total,
            }
        })
        .collect())
}

/// `"a", "b" and "c"`.
fn list(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    match quoted.split_last() {
        None => "none".to_owned(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

fn sum(name: &str) -> String {
    format!("{name}__sum")
}

fn sum_squares(name: &str) -> String {
    format!("{name}__sum_squares")
}

/// `<a>__x__<b>__sum_product`, or the same with `a` and `b` swapped when only that exists.
fn product_column(table: &SummaryTable, a: &str, b: &str) -> String {
    let forward = format!("{a}__x__{b}__sum_product");
    let backward = format!("{b}__x__{a}__sum_product");
    if !table.has_column(&forward) && table.has_column(&backward) {
        backward
    } else {
        forward
    }
}

/// Every column the metric needs exists, or an error says which and why it is needed.
fn check_columns(table: &SummaryTable, spec: &MetricSpec) -> Result<(), Error> {
    let missing = |column: &str, why: String| Error {
        file: table.file.clone(),
        row: Some(1),
        columns: Vec::new(),
        message: format!("no column `{column}`; {why}"),
    };
    let need = |column: String, why: &dyn Fn() -> String| {
        if table.has_column(&column) {
            Ok(())
        } else {
            Err(missing(&column, why()))
        }
    };
    let name = &spec.name;
    match &spec.kind {
        Estimator::Binomial => need(sum(name), &|| {
            format!("the binomial metric `{name}` needs `{name}__sum`")
        })?,
        Estimator::Mean => {
            for column in [sum(name), sum_squares(name)] {
                need(column, &|| {
                    format!(
                        "the mean metric `{name}` needs `{name}__sum` and `{name}__sum_squares`"
                    )
                })?;
            }
        }
        Estimator::Ratio {
            numerator,
            denominator,
        } => {
            for part in [numerator, denominator] {
                for column in [sum(part), sum_squares(part)] {
                    need(column, &|| {
                        format!(
                            "the ratio metric `{name}` ({numerator}/{denominator}) needs `{part}__sum` and `{part}__sum_squares`"
                        )
                    })?;
                }
            }
            need(product_column(table, numerator, denominator), &|| {
                format!(
                    "the ratio metric `{name}` needs Σ {numerator}·{denominator} per variant (`{numerator}__x__{denominator}__sum_product`, or `{denominator}__x__{numerator}__sum_product`)"
                )
            })?;
        }
    }
    if let Some(covariate) = &spec.covariate {
        for column in [sum(covariate), sum_squares(covariate)] {
            need(column, &|| {
                format!(
                    "the covariate `{covariate}` of metric `{name}` needs `{covariate}__sum` and `{covariate}__sum_squares`"
                )
            })?;
        }
        need(product_column(table, name, covariate), &|| {
            format!(
                "the covariate `{covariate}` of metric `{name}` needs Σ {name}·{covariate} per variant (`{name}__x__{covariate}__sum_product`, or `{covariate}__x__{name}__sum_product`)"
            )
        })?;
    }
    Ok(())
}

/// How far sums may stray from consistency through the warehouse's rounding.
const TOLERANCE: f64 = 1e-9;

/// One component's moments from a row, checked for consistency.
fn moments(
    table: &SummaryTable,
    row: &table::Row,
    name: &str,
    binomial: bool,
) -> Result<Moments, Error> {
    let users = row.users as f64;
    let sum_column = sum(name);
    let total = table.number(row, &sum_column)?;
    if binomial {
        if !(0.0..=users).contains(&total) {
            return Err(table.error(
                row,
                &[&sum_column],
                format!(
                    "{total} conversions out of {} users; a binomial sum counts the units that converted",
                    row.users
                ),
            ));
        }
        return Ok(Moments::Binomial { sum: total });
    }
    let squares_column = sum_squares(name);
    let squares = table.number(row, &squares_column)?;
    // Σx² ≥ (Σx)²/n for any real values (the variance is never negative).
    let floor = total * total / users;
    if squares < 0.0 || squares < floor - TOLERANCE * floor.max(1.0) {
        return Err(table.error(
            row,
            &[&sum_column, &squares_column],
            format!(
                "Σx² = {squares} is less than (Σx)²/users = {floor}; no data has these sums (a negative variance)"
            ),
        ));
    }
    Ok(Moments::Mean {
        sum: total,
        sum_squares: squares,
    })
}

/// Σx and Σx² of a component, for the covariance check.
fn sums(m: &Moments) -> (f64, f64) {
    match *m {
        Moments::Binomial { sum } => (sum, sum),
        Moments::Mean { sum, sum_squares } => (sum, sum_squares),
    }
}

/// Σab, checked against Cauchy–Schwarz: |cov(a, b)| ≤ sd(a)·sd(b).
fn sum_product(
    table: &SummaryTable,
    row: &table::Row,
    column: &str,
    a: &Moments,
    b: &Moments,
) -> Result<f64, Error> {
    let value = table.number(row, column)?;
    let n = row.users as f64;
    let (sa, qa) = sums(a);
    let (sb, qb) = sums(b);
    let covariance = value - sa * sb / n;
    // Each subtraction loses digits relative to its terms, not to the difference: widen
    // the variances and the covariance by the sums' rounding before comparing.
    let spread = |q: f64, s: f64| (q - s * s / n).max(0.0) + TOLERANCE * q.abs();
    let bound = (spread(qa, sa) * spread(qb, sb)).sqrt();
    let rounding = TOLERANCE * (value.abs() + (sa * sb / n).abs()).max(1.0);
    if covariance.abs() > bound + rounding {
        return Err(table.error(
            row,
            &[column],
            format!(
                "Σ product = {value} is inconsistent with the two components' sums (their covariance would exceed the product of their standard deviations)"
            ),
        ));
    }
    Ok(value)
}

/// One variant's summary of one metric.
fn arm(table: &SummaryTable, row: &table::Row, spec: &MetricSpec) -> Result<Arm, Error> {
    let summary = match &spec.kind {
        Estimator::Ratio {
            numerator,
            denominator,
        } => {
            let n = moments(table, row, numerator, false)?;
            let d = moments(table, row, denominator, false)?;
            let column = product_column(table, numerator, denominator);
            Summary::Ratio {
                numerator: n,
                denominator: d,
                sum_product: sum_product(table, row, &column, &n, &d)?,
            }
        }
        kind => {
            let post = moments(table, row, &spec.name, *kind == Estimator::Binomial)?;
            match &spec.covariate {
                None => Summary::Plain(post),
                Some(covariate) => {
                    let pre = moments(table, row, covariate, false)?;
                    let column = product_column(table, &spec.name, covariate);
                    Summary::Adjusted {
                        post,
                        pre,
                        sum_product: sum_product(table, row, &column, &post, &pre)?,
                    }
                }
            }
        }
    };
    Ok(Arm {
        users: row.users,
        summary,
    })
}

/// Why a result is unavailable, in words, naming the rows and columns behind it.
fn unavailable(
    u: Unavailable,
    spec: &MetricSpec,
    control: &table::Row,
    variant: &table::Row,
) -> String {
    let at = |row: &table::Row, columns: Vec<String>| match columns.as_slice() {
        [column] => format!("row {}, column `{column}`", row.line),
        _ => format!("row {}, columns `{}`", row.line, columns.join("`, `")),
    };
    let which = |is_control: bool| if is_control { control } else { variant };
    match u {
        Unavailable::NoUnits { control: c } => format!(
            "\"{}\" has no units (row {}, column `users`)",
            which(c).variation,
            which(c).line
        ),
        Unavailable::ZeroVariance { control: c } => {
            let row = which(c);
            let columns = match &spec.kind {
                Estimator::Binomial => vec![sum(&spec.name)],
                Estimator::Mean => vec![sum(&spec.name), sum_squares(&spec.name)],
                Estimator::Ratio {
                    numerator,
                    denominator,
                } => vec![
                    sum(numerator),
                    sum_squares(numerator),
                    sum(denominator),
                    sum_squares(denominator),
                ],
            };
            format!(
                "zero variance: `{}` of \"{}\" ({}) has no spread to compare (every unit has the same value, or the sums are beyond floating-point range)",
                spec.name,
                row.variation,
                at(row, columns)
            )
        }
        Unavailable::ZeroControlMean => {
            let columns = match &spec.kind {
                Estimator::Ratio { numerator, .. } => vec![sum(numerator)],
                _ => vec![sum(&spec.name)],
            };
            format!(
                "the control mean of `{}` is zero ({})",
                spec.name,
                at(control, columns)
            )
        }
    }
}

/// A comparison's results, with every unavailable one (or any non-finite number, which the
/// statistics should never give) turned into a reason in words.
fn result(
    variant: &str,
    c: &Comparison,
    spec: &MetricSpec,
    reason: &dyn Fn(Unavailable) -> String,
) -> VariantResult {
    const NOT_FINITE: &str = "the statistics gave no finite number for these sums";
    let check = |values: &[f64]| values.iter().all(|v| v.is_finite());
    // A zero control mean leaves no relative lift, and no scale for a prior on it.
    let why = |u: Unavailable, relative: bool| match (u, relative) {
        (Unavailable::ZeroControlMean, true) => format!(
            "{}, so a relative lift is undefined; see the absolute difference",
            reason(u)
        ),
        (Unavailable::ZeroControlMean, false) => format!(
            "{}, so the prior on the relative lift cannot be scaled to the absolute difference (a flat prior can)",
            reason(u)
        ),
        _ => reason(u),
    };
    let bayes = |r: &Result<stats::Bayesian, Unavailable>, relative: bool| match r {
        Ok(b)
            if check(&[
                b.expected,
                b.ci[0],
                b.ci[1],
                b.chance_to_win,
                b.risk_ship,
                b.risk_keep,
            ]) =>
        {
            Ok(*b)
        }
        Ok(_) => Err(NOT_FINITE.to_owned()),
        Err(u) => Err(why(*u, relative)),
    };
    let freq = |r: &Result<stats::Frequentist, Unavailable>, relative: bool| match r {
        Ok(f) if check(&[f.expected, f.ci[0], f.ci[1], f.p_value]) => Ok(*f),
        Ok(_) => Err(NOT_FINITE.to_owned()),
        Err(u) => Err(why(*u, relative)),
    };
    let test = |r: &Result<stats::Frequentist, Unavailable>, relative: bool| {
        freq(r, relative).map(|result| Test {
            result,
            adjusted_p_value: None,
        })
    };
    let describe = |d: stats::Describe| stats::Describe {
        users: d.users,
        mean: finite(d.mean).unwrap_or(0.0),
        stddev: finite(d.stddev).unwrap_or(0.0),
    };
    VariantResult {
        variant: variant.to_owned(),
        control: describe(c.control),
        treatment: describe(c.variant),
        theta: c.theta.and_then(finite),
        bayesian: Lift {
            relative: bayes(&c.bayesian.relative, true),
            absolute: bayes(&c.bayesian.absolute, false),
        },
        frequentist: Lift {
            relative: test(&c.frequentist.relative, true),
            absolute: test(&c.frequentist.absolute, false),
        },
        sequential: Lift {
            relative: freq(&c.sequential.relative, true),
            absolute: freq(&c.sequential.absolute, false),
        },
        guardrail: None,
    }
    .with_guardrail(spec)
}

impl VariantResult {
    /// Judges a guardrail: it fails when the whole (1 − alpha) interval of the relative lift
    /// lies beyond the tolerated regression in the bad direction.
    fn with_guardrail(mut self, spec: &MetricSpec) -> VariantResult {
        if let Role::Guardrail { max_regression } = spec.role {
            self.guardrail = Some(match &self.frequentist.relative {
                Err(reason) => Guardrail::Unknown(reason.clone()),
                Ok(test) => {
                    let [low, high] = test.result.ci;
                    let fails = if spec.inverse {
                        low > max_regression
                    } else {
                        high < -max_regression
                    };
                    if fails {
                        Guardrail::Fail
                    } else {
                        Guardrail::Pass
                    }
                }
            });
        }
        self
    }
}

/// Adjusts the frequentist p-values across every metric × variant: the relative ones as
/// one family, the absolute ones as another.
fn correct(metrics: &mut [MetricResult], correction: Correction) {
    if correction == Correction::None {
        return;
    }
    for relative in [true, false] {
        let pick = if relative {
            relative_test
        } else {
            absolute_test
        };
        let p: Vec<f64> = metrics
            .iter_mut()
            .flat_map(|m| m.variants.iter_mut())
            .filter_map(|r| pick(r).map(|t| t.result.p_value))
            .collect();
        let adjusted = stats::adjust_p_values(&p, correction);
        let mut adjusted = adjusted.into_iter();
        for test in metrics
            .iter_mut()
            .flat_map(|m| m.variants.iter_mut())
            .filter_map(pick)
        {
            // An adjusted p-value is never below the raw one, nor above 1.
            test.adjusted_p_value = adjusted
                .next()
                .and_then(finite)
                .map(|p| p.max(test.result.p_value).min(1.0));
        }
    }
}

fn relative_test(r: &mut VariantResult) -> Option<&mut Test> {
    r.frequentist.relative.as_mut().ok()
}

fn absolute_test(r: &mut VariantResult) -> Option<&mut Test> {
    r.frequentist.absolute.as_mut().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Bayesian, Both, Describe, Frequentist};

    /// A comparison with these relative results (absolute ones are a tenth of them).
    fn comparison(expected: f64, ci: [f64; 2], p_value: f64, chance: f64) -> Comparison {
        let f = |scale: f64| Frequentist {
            expected: expected * scale,
            ci: [ci[0] * scale, ci[1] * scale],
            p_value,
        };
        let b = |scale: f64| Bayesian {
            expected: expected * scale,
            ci: [ci[0] * scale, ci[1] * scale],
            chance_to_win: chance,
            risk_ship: 0.001 * scale,
            risk_keep: 0.02 * scale,
        };
        let wide = |scale: f64| Frequentist {
            ci: [ci[0] * scale * 1.5, ci[1] * scale * 1.5],
            ..f(scale)
        };
        Comparison {
            control: Describe {
                users: 1000,
                mean: 0.1,
                stddev: 0.3,
            },
            variant: Describe {
                users: 1010,
                mean: 0.1 * (1.0 + expected),
                stddev: 0.3,
            },
            theta: None,
            bayesian: Both {
                relative: Ok(b(1.0)),
                absolute: Ok(b(0.1)),
            },
            frequentist: Both {
                relative: Ok(f(1.0)),
                absolute: Ok(f(0.1)),
            },
            sequential: Both {
                relative: Ok(wide(1.0)),
                absolute: Ok(wide(0.1)),
            },
        }
    }

    #[test]
    fn a_sample_report_decides_without_estimates() {
        let report = sample_report(false);
        assert_eq!(
            report.decision.summary,
            "Ship \"b<&>\": better at alpha 0.05: `converted` +12.34% [+2.00%, +22.68%], p = 0.0191; no guardrail fails."
        );
        let calls: Vec<(&str, &str, &str)> = report
            .decision
            .variants
            .iter()
            .map(|c| (c.variant.as_str(), c.call.label(), c.detail.as_str()))
            .collect();
        assert_eq!(
            calls,
            [
                (
                    "b<&>",
                    "wins",
                    "better at alpha 0.05: `converted` +12.34% [+2.00%, +22.68%], p = 0.0191"
                ),
                (
                    "c",
                    "fails_guardrail",
                    "fails guardrail `latency` +8.00% [+5.00%, +11.00%] is beyond the tolerated +2.00%"
                ),
            ]
        );
        let mismatch = sample_report(true);
        assert_eq!(mismatch.decision.verdict, Verdict::DontShip);
        assert_eq!(
            mismatch.decision.summary,
            "Don't ship: sample ratio mismatch (p < 0.0001 < 0.001). The variants did not get their intended shares of units, so no result can be trusted; find the cause (assignment, exposure logging, bot filtering) and restart."
        );
    }

    fn table() -> SummaryTable {
        let text =
            "variation,users,c__sum,r__sum,r__sum_squares\ncontrol,1000,0,5,9\nb,1010,3,6,10\n";
        SummaryTable::parse(text.as_bytes(), "s.csv").unwrap()
    }

    fn spec(text: &str) -> MetricSpec {
        MetricSpec::parse(text).unwrap()
    }

    #[test]
    fn unavailable_results_name_rows_and_columns() {
        let table = table();
        let (control, variant) = (&table.rows()[0], &table.rows()[1]);
        let mean = spec("r=mean");
        assert_eq!(
            unavailable(
                Unavailable::ZeroVariance { control: false },
                &mean,
                control,
                variant
            ),
            "zero variance: `r` of \"b\" (row 3, columns `r__sum`, `r__sum_squares`) has no spread to compare (every unit has the same value, or the sums are beyond floating-point range)"
        );
        assert_eq!(
            unavailable(
                Unavailable::ZeroControlMean,
                &spec("c=binomial"),
                control,
                variant
            ),
            "the control mean of `c` is zero (row 2, column `c__sum`)"
        );
        assert_eq!(
            unavailable(
                Unavailable::ZeroVariance { control: true },
                &spec("q=a/b"),
                control,
                variant
            ),
            "zero variance: `q` of \"control\" (row 2, columns `a__sum`, `a__sum_squares`, `b__sum`, `b__sum_squares`) has no spread to compare (every unit has the same value, or the sums are beyond floating-point range)"
        );
    }

    #[test]
    fn non_finite_statistics_become_reasons_never_numbers() {
        let mut c = comparison(0.1, [0.02, 0.18], 0.01, 0.99);
        c.frequentist.relative = Ok(Frequentist {
            expected: f64::NAN,
            ci: [0.0, 1.0],
            p_value: 0.5,
        });
        c.bayesian.absolute = Err(Unavailable::ZeroControlMean);
        c.variant.mean = f64::INFINITY;
        let r = result("b", &c, &spec("g=mean,guardrail=0.01"), &|_| {
            "why".to_owned()
        });
        assert_eq!(
            r.frequentist.relative,
            Err("the statistics gave no finite number for these sums".to_owned())
        );
        assert_eq!(
            r.bayesian.absolute,
            Err("why, so the prior on the relative lift cannot be scaled to the absolute difference (a flat prior can)".to_owned())
        );
        assert_eq!(r.treatment.mean, 0.0);
        assert_eq!(
            r.guardrail,
            Some(Guardrail::Unknown(
                "the statistics gave no finite number for these sums".to_owned()
            ))
        );
    }

    #[test]
    fn a_guardrail_fails_only_when_significantly_beyond_its_tolerance() {
        let judge = |text: &str, ci: [f64; 2]| {
            let c = comparison((ci[0] + ci[1]) / 2.0, ci, 0.01, 0.5);
            result("b", &c, &spec(text), &|_| String::new()).guardrail
        };
        assert_eq!(
            judge("g=mean,guardrail=0.02", [-0.08, -0.03]),
            Some(Guardrail::Fail)
        );
        assert_eq!(
            judge("g=mean,guardrail=0.02", [-0.08, -0.01]),
            Some(Guardrail::Pass)
        );
        assert_eq!(
            judge("g=mean,guardrail=0.02,inverse", [0.03, 0.08]),
            Some(Guardrail::Fail)
        );
        assert_eq!(
            judge("g=mean,guardrail=0.02,inverse", [-0.08, -0.03]),
            Some(Guardrail::Pass)
        );
        assert_eq!(judge("g=mean", [-0.08, -0.03]), None);
    }

    /// A report built by hand, to decide on without statistics.
    fn sample_report(srm_mismatch: bool) -> Report {
        let table = SummaryTable::parse(
            b"variation,users\ncontrol,1000\nb<&>,1010\nc,990\n",
            "s.csv",
        )
        .expect("a valid summary");
        let converted = MetricSpec::parse("converted=binomial").expect("a valid spec");
        let converted = MetricSpec {
            role: Role::Primary,
            ..converted
        };
        let latency =
            MetricSpec::parse("latency=mean,inverse,guardrail=0.02").expect("a valid spec");
        let reason = |u| unavailable(u, &converted, &table.rows()[0], &table.rows()[2]);
        let mut missing = comparison(0.0, [0.0, 0.0], 1.0, 0.5);
        missing.frequentist.relative = Err(Unavailable::ZeroControlMean);
        missing.sequential.relative = Err(Unavailable::ZeroControlMean);
        missing.bayesian.relative = Err(Unavailable::ZeroControlMean);
        let metrics = vec![
            MetricResult {
                variants: vec![
                    result(
                        "b<&>",
                        &comparison(0.1234, [0.02, 0.2268], 0.0191, 0.9876),
                        &converted,
                        &reason,
                    ),
                    result("c", &missing, &converted, &reason),
                ],
                spec: converted.clone(),
            },
            MetricResult {
                variants: vec![
                    result(
                        "b<&>",
                        &comparison(-0.01, [-0.03, 0.01], 0.32, 0.84),
                        &latency,
                        &reason,
                    ),
                    result(
                        "c",
                        &comparison(0.08, [0.05, 0.11], 0.00001, 0.0002),
                        &latency,
                        &reason,
                    ),
                ],
                spec: latency,
            },
        ];
        let variants = table
            .rows()
            .iter()
            .map(|r| Variant {
                name: r.variation.clone(),
                row: r.line,
                users: r.users,
                expected_share: 1.0 / 3.0,
            })
            .collect::<Vec<_>>();
        let srm = Srm {
            p_value: if srm_mismatch { 0.00002 } else { 0.91 },
            mismatch: srm_mismatch,
        };
        let request = Request::new(vec![converted]);
        Report {
            file: table.file.clone(),
            control: "control".to_owned(),
            decision: decision::decide(&metrics, &variants, srm, &request),
            variants,
            srm,
            settings: Settings::default(),
            correction: Correction::None,
            mde: None,
            metrics,
        }
    }
}
