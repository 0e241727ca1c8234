//! Experiment statistics: the distributions, and the comparison of one variant with control
//! from per-variant sufficient statistics (Bayesian, frequentist fixed-horizon and
//! sequential), CUPED, the sample ratio check and multiple-comparison corrections.
//!
//! The methods follow GrowthBook's open stats engine (gbstats 0.8.0); docs/statistics.md
//! lists every formula and each deliberate difference.

pub mod dist;
pub mod power;

/// The sufficient statistics of one metric component over one variant's units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Moments {
    /// A 0/1 metric: how many units converted. Its variance is p(1 − p).
    Binomial { sum: f64 },
    /// Any numeric metric: Σx and Σx² over the units (units without a value count as 0).
    Mean { sum: f64, sum_squares: f64 },
}

/// One metric over one variant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Summary {
    Plain(Moments),
    /// Σnumerator / Σdenominator (e.g. revenue per order), by the delta method.
    Ratio {
        numerator: Moments,
        denominator: Moments,
        /// Σ numerator·denominator over units.
        sum_product: f64,
    },
    /// CUPED: the metric adjusted by a pre-experiment covariate.
    Adjusted {
        post: Moments,
        pre: Moments,
        /// Σ post·pre over units.
        sum_product: f64,
    },
}

/// One variant's units and its metric.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Arm {
    pub users: u64,
    pub summary: Summary,
}

/// How to compare.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// Two-sided level: intervals are (1 − alpha).
    pub alpha: f64,
    /// Lower is better (the metric's direction).
    pub inverse: bool,
    /// The standard deviation σ of a proper N(0, σ²) prior on the relative lift; `None` is
    /// the flat prior.
    pub prior_stddev: Option<f64>,
    /// The sequential test's tuning parameter (units), 5000 by default.
    pub sequential_tuning: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            alpha: 0.05,
            inverse: false,
            prior_stddev: None,
            sequential_tuning: 5000.0,
        }
    }
}

/// Why a result cannot be computed. Never a NaN: the reason instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// An arm has no units.
    NoUnits { control: bool },
    /// An arm's metric has zero (or negative, from rounding) variance.
    ZeroVariance { control: bool },
    /// A relative lift over a control mean of zero.
    ZeroControlMean,
}

/// One arm's descriptive statistics (means before any CUPED adjustment).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Describe {
    pub users: u64,
    pub mean: f64,
    pub stddev: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bayesian {
    /// The posterior mean of the lift.
    pub expected: f64,
    /// The (1 − alpha) credible interval.
    pub ci: [f64; 2],
    /// The probability that the variant is better than control (direction-aware).
    pub chance_to_win: f64,
    /// The expected loss of shipping the variant.
    pub risk_ship: f64,
    /// The expected loss of keeping control.
    pub risk_keep: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frequentist {
    pub expected: f64,
    pub ci: [f64; 2],
    pub p_value: f64,
}

/// A result for the relative and the absolute difference.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Both<T> {
    pub relative: Result<T, Unavailable>,
    pub absolute: Result<T, Unavailable>,
}

/// One variant against control, for one metric.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Comparison {
    pub control: Describe,
    pub variant: Describe,
    /// The CUPED coefficient, when the metric has a covariate with variance.
    pub theta: Option<f64>,
    pub bayesian: Both<Bayesian>,
    /// Welch's t-test, two-sided, fixed horizon.
    pub frequentist: Both<Frequentist>,
    /// Always-valid confidence sequence and p-value.
    pub sequential: Both<Frequentist>,
}

/// Compares `variant` with `control`. Both arms must be the same kind of summary.
pub fn compare(control: &Arm, variant: &Arm, settings: &Settings) -> Comparison {
    let _ = (control, variant, settings);
    todo!("stats-core")
}

/// The sample ratio mismatch p-value: Pearson's χ² test of the observed units against the
/// intended shares `weights` (any positive scale). Arms with weight 0 are left out.
pub fn srm_p_value(users: &[u64], weights: &[f64]) -> f64 {
    let _ = (users, weights);
    todo!("stats-core")
}

/// A multiple-comparison correction across every metric × variant p-value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Correction {
    None,
    /// Holm–Bonferroni: controls the family-wise error rate.
    Holm,
    /// Benjamini–Hochberg: controls the false discovery rate.
    BenjaminiHochberg,
}

/// Adjusted p-values, in the order given.
pub fn adjust_p_values(p_values: &[f64], correction: Correction) -> Vec<f64> {
    let _ = (p_values, correction);
    todo!("stats-core")
}
