//! Statistics: the distributions; the experiments' comparison of one variant with control
//! from per-variant sufficient statistics (Bayesian, frequentist fixed-horizon and
//! sequential), CUPED, the sample ratio check and multiple-comparison corrections; and the
//! tests on paired differences that compare eval scores ([`paired`]), with their generator
//! ([`rng`]).
//!
//! The experiment methods follow GrowthBook's open stats engine (gbstats 0.8.0);
//! docs/statistics.md lists every formula and each deliberate difference.

mod compare;
pub mod dist;
pub mod paired;
pub mod power;
pub mod rng;

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

/// How to compare. Values outside their domain (alpha not in (0, 1), a tuning parameter
/// that is not positive) make the results they affect [`Unavailable`]; a prior standard
/// deviation that is not a positive number is the flat prior.
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
    /// An arm's metric has zero (or negative, from rounding) variance, or a single unit.
    /// Also reported when a number leaves the floating-point range: for an arm whose mean or
    /// variance is not finite, and as control's when the combined variance underflows or
    /// overflows or the settings are outside their domain.
    ZeroVariance { control: bool },
    /// A relative lift over a control mean of zero; or, for the Bayesian absolute difference
    /// with a proper prior, a relative prior that cannot be scaled to a control mean of zero.
    ZeroControlMean,
}

/// One arm's descriptive statistics (means before any CUPED adjustment; for a ratio, the
/// ratio of sums and its delta-method standard deviation). A value that is not finite (from
/// sums beyond the floating-point range) is reported as 0.
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

/// Compares `variant` with `control`. Both arms must be the same kind of summary (if they
/// are not, each arm is summarized on its own and CUPED is left out). Never panics and
/// never returns NaN or infinity: anything not computable is an [`Unavailable`].
pub fn compare(control: &Arm, variant: &Arm, settings: &Settings) -> Comparison {
    compare::compare(control, variant, settings)
}

/// The sample ratio mismatch p-value: Pearson's χ² test of the observed units against the
/// intended shares `weights` (any positive scale). Arms with weight 0 are left out.
/// As gbstats's check_srm, the χ² has one degree of freedom fewer than there are arms
/// (weight 0 or not); a count without a weight, or with a weight that is not a positive
/// number, is left out. No units, fewer than two arms or no positive weight give 1.
pub fn srm_p_value(users: &[u64], weights: &[f64]) -> f64 {
    let weight = |i: usize| {
        weights
            .get(i)
            .copied()
            .filter(|w| *w > 0.0 && w.is_finite())
    };
    let observed: f64 = users.iter().map(|&u| u as f64).sum();
    let total_weight: f64 = (0..users.len()).filter_map(weight).sum();
    if observed == 0.0 || users.len() < 2 || !(total_weight > 0.0 && total_weight.is_finite()) {
        return 1.0;
    }
    let statistic: f64 = users
        .iter()
        .enumerate()
        .filter_map(|(i, &o)| {
            let expected = weight(i)? / total_weight * observed;
            Some((o as f64 - expected).powi(2) / expected)
        })
        .sum();
    let p = dist::chi_squared_sf(statistic, (users.len() - 1) as f64);
    if p.is_finite() { p } else { 0.0 }
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

/// Adjusted p-values, in the order given. Holm multiplies the i-th smallest of m by
/// m − i + 1 and makes the sequence non-decreasing from the smallest up; Benjamini–Hochberg
/// multiplies it by m/i and makes it non-increasing from the largest down; both are capped
/// at 1. An input that is NaN or above 1 counts as 1, below 0 as 0.
pub fn adjust_p_values(p_values: &[f64], correction: Correction) -> Vec<f64> {
    let clean: Vec<f64> = p_values
        .iter()
        .map(|&p| if p.is_nan() { 1.0 } else { p.clamp(0.0, 1.0) })
        .collect();
    let m = clean.len() as f64;
    let mut order: Vec<usize> = (0..clean.len()).collect();
    order.sort_by(|&i, &j| clean[i].total_cmp(&clean[j]).then(i.cmp(&j)));
    let mut adjusted = clean.clone();
    match correction {
        Correction::None => {}
        Correction::Holm => {
            let mut running = 0.0f64;
            for (rank, &i) in order.iter().enumerate() {
                running = running.max(((m - rank as f64) * clean[i]).min(1.0));
                adjusted[i] = running;
            }
        }
        Correction::BenjaminiHochberg => {
            let mut running = 1.0f64;
            for (rank, &i) in order.iter().enumerate().rev() {
                running = running.min((m / (rank as f64 + 1.0) * clean[i]).min(1.0));
                adjusted[i] = running;
            }
        }
    }
    adjusted
}
