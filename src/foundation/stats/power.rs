//! Sample size and duration of a fixed-horizon experiment, for the test `flagstone analyze`
//! runs: a two-sided test of the relative lift (variant mean / control mean − 1) with its
//! variance by the delta method, each arm with its own variance (Welch).
//!
//! With control mean μ, variant mean μ(1 + mde) and per-unit variances σ_c², σ_v², the
//! lift's variance with n units per arm is (σ_v² + σ_c²(1 + mde)²) / (n μ²), so detecting
//! `mde` at level α with probability `power` takes
//!
//! ```text
//! n = (z_{1−α/2} + z_{power})² · (σ_v²/μ² + σ_c²·(1 + mde)²/μ²) / mde²
//! ```
//!
//! units per variant, rounded up.

use std::fmt;

use super::dist::normal_quantile;

/// What is expected of the control arm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Baseline {
    /// A conversion rate in (0, 1); each arm's variance is p(1 − p) for its own p.
    Rate(f64),
    /// A mean and the per-unit standard deviation, taken for both arms.
    Mean { mean: f64, stddev: f64 },
}

/// Why a size cannot be computed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PowerError {
    /// The rate must lie in (0, 1).
    Rate(f64),
    /// A rate raised by the MDE must stay below 1.
    RateAboveOne {
        rate: f64,
        mde: f64,
    },
    /// The mean must be finite and non-zero: the lift is relative to it.
    Mean(f64),
    Stddev(f64),
    Mde(f64),
    Alpha(f64),
    Power(f64),
    DailyUnits(f64),
    /// The share of units in the experiment, or of an arm, must be in (0, 1].
    Share(f64),
    /// More units or days than can be counted: the MDE is far too small.
    TooLarge,
}

impl fmt::Display for PowerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PowerError::Rate(p) => {
                write!(f, "a baseline rate must be above 0 and below 1, not {p}")
            }
            PowerError::RateAboveOne { rate, mde } => write!(
                f,
                "a baseline rate of {rate} raised by {mde} is {}, which is not below 1",
                rate * (1.0 + mde)
            ),
            PowerError::Mean(m) => {
                write!(f, "a baseline mean must be finite and non-zero, not {m}")
            }
            PowerError::Stddev(s) => write!(f, "a standard deviation must be positive, not {s}"),
            PowerError::Mde(m) => write!(f, "the MDE must be positive, not {m}"),
            PowerError::Alpha(a) => write!(f, "alpha must be above 0 and below 1, not {a}"),
            PowerError::Power(p) => write!(f, "power must be above 0 and below 1, not {p}"),
            PowerError::DailyUnits(d) => write!(f, "daily units must be positive, not {d}"),
            PowerError::Share(s) => {
                write!(f, "a share of units must be above 0 and at most 1, not {s}")
            }
            PowerError::TooLarge => {
                f.write_str("the experiment would need more than 10^15 units or days")
            }
        }
    }
}

impl std::error::Error for PowerError {}

/// Above this, a count is not a plan.
const LIMIT: f64 = 1e15;

fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

fn probability(x: f64) -> bool {
    x > 0.0 && x < 1.0
}

/// Units per variant to detect a relative change of `mde` with a two-sided test at level
/// `alpha` with probability `power`.
pub fn units_per_variant(
    baseline: Baseline,
    mde: f64,
    alpha: f64,
    power: f64,
) -> Result<u64, PowerError> {
    if !positive(mde) {
        return Err(PowerError::Mde(mde));
    }
    if !probability(alpha) {
        return Err(PowerError::Alpha(alpha));
    }
    if !probability(power) {
        return Err(PowerError::Power(power));
    }
    // The relative variances σ²/μ² of each arm.
    let (control, variant) = match baseline {
        Baseline::Rate(p) => {
            if !probability(p) {
                return Err(PowerError::Rate(p));
            }
            let q = p * (1.0 + mde);
            if q >= 1.0 {
                return Err(PowerError::RateAboveOne { rate: p, mde });
            }
            ((1.0 - p) / p, q * (1.0 - q) / (p * p))
        }
        Baseline::Mean { mean, stddev } => {
            if !mean.is_finite() || mean == 0.0 {
                return Err(PowerError::Mean(mean));
            }
            if !positive(stddev) {
                return Err(PowerError::Stddev(stddev));
            }
            let relative = (stddev / mean).powi(2);
            (relative, relative)
        }
    };
    let z = normal_quantile(1.0 - alpha / 2.0) + normal_quantile(power);
    let n = z * z * (variant + control * (1.0 + mde).powi(2)) / (mde * mde);
    count(n)
}

/// Days until every arm has `units_per_variant` units, when `daily_units` reach the split
/// each day, a share `in_experiment` of them is in the experiment (not held out, in the
/// layer slice) and each arm gets its share in `arm_shares` (each in (0, 1]).
pub fn days_needed(
    units_per_variant: u64,
    daily_units: f64,
    in_experiment: f64,
    arm_shares: &[f64],
) -> Result<u64, PowerError> {
    if !positive(daily_units) {
        return Err(PowerError::DailyUnits(daily_units));
    }
    let share_ok = |s: f64| s > 0.0 && s <= 1.0;
    if !share_ok(in_experiment) {
        return Err(PowerError::Share(in_experiment));
    }
    // The arm with the smallest share fills last.
    let smallest = arm_shares.iter().copied().fold(1.0, f64::min);
    if let Some(bad) = arm_shares.iter().copied().find(|s| !share_ok(*s)) {
        return Err(PowerError::Share(bad));
    }
    count(units_per_variant as f64 / (daily_units * in_experiment * smallest))
}

fn count(x: f64) -> Result<u64, PowerError> {
    if !x.is_finite() || x > LIMIT {
        return Err(PowerError::TooLarge);
    }
    Ok(x.ceil().max(1.0) as u64)
}
