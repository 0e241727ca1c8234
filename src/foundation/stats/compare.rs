//! The comparison of one variant with control: the per-arm statistics (gbstats's
//! ProportionStatistic, SampleMeanStatistic, RatioStatistic, RegressionAdjustedStatistic)
//! and the three engines (EffectBayesianABTest with a relative prior, TwoSidedTTest,
//! SequentialTwoSidedTTest). Operations follow gbstats's order, so results agree to the last
//! few bits except where docs/statistics.md lists a deliberate difference.

use super::dist::{normal_cdf, normal_loss, normal_quantile, student_t_quantile, student_t_sf};
use super::{
    Arm, Bayesian, Both, Comparison, Describe, Frequentist, Moments, Settings, Summary, Unavailable,
};

/// One arm as the tests see it.
#[derive(Clone, Copy)]
struct Stat {
    n: f64,
    /// The mean the difference is taken of (CUPED-adjusted when adjusted).
    mean: f64,
    /// The mean before adjustment: the denominator of relative lifts.
    unadjusted: f64,
    /// The variance of one unit's value.
    variance: f64,
}

fn moments_sum(m: Moments) -> f64 {
    match m {
        Moments::Binomial { sum } | Moments::Mean { sum, .. } => sum,
    }
}

fn moments_mean(m: Moments, n: f64) -> f64 {
    if n == 0.0 { 0.0 } else { moments_sum(m) / n }
}

/// p(1 − p) for a proportion; the sample variance (Σx² − (Σx)²/n)/(n − 1) otherwise.
fn moments_variance(m: Moments, n: f64) -> f64 {
    match m {
        Moments::Binomial { .. } => {
            let p = moments_mean(m, n);
            p * (1.0 - p)
        }
        Moments::Mean { sum, sum_squares } => {
            if n <= 1.0 {
                0.0
            } else {
                (sum_squares - sum * sum / n) / (n - 1.0)
            }
        }
    }
}

/// The sample covariance (Σxy − Σx·Σy/n)/(n − 1).
fn covariance(sum_product: f64, x: Moments, y: Moments, n: f64) -> f64 {
    if n <= 1.0 {
        0.0
    } else {
        (sum_product - moments_sum(x) * moments_sum(y) / n) / (n - 1.0)
    }
}

/// Two arms' moments pooled over both. Proportions stay proportions; a proportion pooled
/// with a mean (the caller broke the same-kind contract) becomes a mean, using Σx² = Σx.
fn pool(a: Moments, b: Moments) -> Moments {
    match (a, b) {
        (Moments::Binomial { sum: x }, Moments::Binomial { sum: y }) => {
            Moments::Binomial { sum: x + y }
        }
        _ => {
            let squares = |m| match m {
                Moments::Binomial { sum } => sum,
                Moments::Mean { sum_squares, .. } => sum_squares,
            };
            Moments::Mean {
                sum: moments_sum(a) + moments_sum(b),
                sum_squares: squares(a) + squares(b),
            }
        }
    }
}

/// The CUPED coefficient θ = Cov(post, pre)/Var(pre) over both arms pooled (gbstats's
/// compute_theta), or 0 when either pooled variance is exactly zero or θ is not finite.
fn theta(control: &Arm, variant: &Arm) -> f64 {
    let (
        Summary::Adjusted {
            post: post_a,
            pre: pre_a,
            sum_product: sp_a,
        },
        Summary::Adjusted {
            post: post_b,
            pre: pre_b,
            sum_product: sp_b,
        },
    ) = (control.summary, variant.summary)
    else {
        return 0.0;
    };
    let n = control.users as f64 + variant.users as f64;
    let post = pool(post_a, post_b);
    let pre = pool(pre_a, pre_b);
    let pre_variance = moments_variance(pre, n);
    if pre_variance == 0.0 || moments_variance(post, n) == 0.0 {
        return 0.0;
    }
    let theta = covariance(sp_a + sp_b, post, pre, n) / pre_variance;
    if theta.is_finite() { theta } else { 0.0 }
}

/// One arm's statistic, CUPED-adjusted by `theta` (0: the plain post statistic).
fn statistic(arm: &Arm, theta: f64) -> Stat {
    let n = arm.users as f64;
    match arm.summary {
        Summary::Plain(m) => {
            let mean = moments_mean(m, n);
            Stat {
                n,
                mean,
                unadjusted: mean,
                variance: moments_variance(m, n),
            }
        }
        Summary::Ratio {
            numerator,
            denominator,
            sum_product,
        } => {
            let d_sum = moments_sum(denominator);
            let mean = if d_sum == 0.0 {
                0.0
            } else {
                moments_sum(numerator) / d_sum
            };
            // The delta method: Var(M/D) from the components' variances and covariance.
            let m_mean = moments_mean(numerator, n);
            let d_mean = moments_mean(denominator, n);
            let variance = if d_mean == 0.0 || n <= 1.0 {
                0.0
            } else {
                let cov = covariance(sum_product, numerator, denominator, n);
                moments_variance(numerator, n) / (d_mean * d_mean)
                    - 2.0 * cov * m_mean / d_mean.powi(3)
                    + m_mean * m_mean * moments_variance(denominator, n) / d_mean.powi(4)
            };
            Stat {
                n,
                mean,
                unadjusted: mean,
                variance,
            }
        }
        Summary::Adjusted {
            post,
            pre,
            sum_product,
        } => {
            let post_mean = moments_mean(post, n);
            let post_variance = moments_variance(post, n);
            if theta == 0.0 {
                return Stat {
                    n,
                    mean: post_mean,
                    unadjusted: post_mean,
                    variance: post_variance,
                };
            }
            let variance = if n <= 1.0 {
                0.0
            } else {
                post_variance + theta * theta * moments_variance(pre, n)
                    - 2.0 * theta * covariance(sum_product, post, pre, n)
            };
            Stat {
                n,
                mean: post_mean - theta * moments_mean(pre, n),
                unadjusted: post_mean,
                variance,
            }
        }
    }
}

fn describe(arm: &Arm) -> Describe {
    let s = statistic(arm, 0.0);
    let finite_or_zero = |x: f64| if x.is_finite() { x } else { 0.0 };
    Describe {
        users: arm.users,
        mean: finite_or_zero(s.mean),
        stddev: if s.variance > 0.0 {
            finite_or_zero(s.variance.sqrt())
        } else {
            0.0
        },
    }
}

pub(super) fn compare(control: &Arm, variant: &Arm, settings: &Settings) -> Comparison {
    let theta = theta(control, variant);
    let a = statistic(control, theta);
    let b = statistic(variant, theta);
    let relative = difference(&a, &b, true);
    let absolute = difference(&a, &b, false);
    // The quantiles are the costly part, and both differences share α and ν (which depends
    // on the arms only): each is computed once for the four intervals.
    let critical = match relative.or(absolute) {
        Ok(d) => Critical {
            t: -student_t_quantile(0.5 * settings.alpha, d.dof),
            z: [
                normal_quantile(0.5 * settings.alpha),
                normal_quantile(1.0 - 0.5 * settings.alpha),
            ],
        },
        Err(_) => Critical {
            t: 0.0,
            z: [0.0; 2],
        },
    };
    let each = |diff: Result<Difference, Unavailable>| {
        (
            diff.and_then(|d| bayesian(&d, &a, &critical, settings)),
            diff.and_then(|d| frequentist(&d, &critical)),
            diff.and_then(|d| sequential(&d, settings)),
        )
    };
    let (bayes_rel, freq_rel, seq_rel) = each(relative);
    let (bayes_abs, freq_abs, seq_abs) = each(absolute);
    Comparison {
        control: describe(control),
        variant: describe(variant),
        theta: (theta != 0.0).then_some(theta),
        bayesian: Both {
            relative: bayes_rel,
            absolute: bayes_abs,
        },
        frequentist: Both {
            relative: freq_rel,
            absolute: freq_abs,
        },
        sequential: Both {
            relative: seq_rel,
            absolute: seq_abs,
        },
    }
}

/// The two-sided (1 − α) critical values.
struct Critical {
    /// t_ν(1 − α/2).
    t: f64,
    /// Φ⁻¹(α/2) and Φ⁻¹(1 − α/2).
    z: [f64; 2],
}

/// The estimated difference and what the engines need besides.
#[derive(Clone, Copy)]
struct Difference {
    relative: bool,
    /// The point estimate: mean_b − mean_a, over control's unadjusted mean when relative.
    estimate: f64,
    /// Its variance by the delta method (gbstats's frequentist_variance).
    variance: f64,
    /// Welch–Satterthwaite degrees of freedom.
    dof: f64,
    /// Units in both arms.
    units: f64,
}

/// The difference of the arms, or why there is none. The checks come in a fixed order:
/// units, then control's mean (relative only), then variances.
fn difference(a: &Stat, b: &Stat, relative: bool) -> Result<Difference, Unavailable> {
    for (s, control) in [(a, true), (b, false)] {
        if s.n == 0.0 {
            return Err(Unavailable::NoUnits { control });
        }
    }
    if relative && a.unadjusted == 0.0 {
        return Err(Unavailable::ZeroControlMean);
    }
    for (s, control) in [(a, true), (b, false)] {
        // One unit has no sample variance; a non-finite mean or variance (from sums beyond
        // the floating-point range) is no more usable than a zero one.
        let usable = s.n > 1.0
            && s.variance > 0.0
            && s.variance.is_finite()
            && s.mean.is_finite()
            && s.unadjusted.is_finite();
        if !usable {
            return Err(Unavailable::ZeroVariance { control });
        }
    }
    let (estimate, variance) = if relative {
        let ua = a.unadjusted;
        (
            (b.mean - a.mean) / ua,
            b.variance / (ua * ua * b.n)
                + a.variance * (b.unadjusted * b.unadjusted) / (ua.powi(4) * a.n),
        )
    } else {
        (b.mean - a.mean, b.variance / b.n + a.variance / a.n)
    };
    let dof = (b.variance / b.n + a.variance / a.n).powi(2)
        / (b.variance.powi(2) / (b.n * b.n * (b.n - 1.0))
            + a.variance.powi(2) / (a.n * a.n * (a.n - 1.0)));
    let usable = estimate.is_finite()
        && variance > 0.0
        && variance.is_finite()
        && dof > 0.0
        && dof.is_finite();
    if !usable {
        // The combined variance left the floating-point range (say, a tiny control mean).
        return Err(Unavailable::ZeroVariance { control: true });
    }
    Ok(Difference {
        relative,
        estimate,
        variance,
        dof,
        units: a.n + b.n,
    })
}

/// Results with a non-finite number (from settings outside their domain, or an extreme
/// arithmetic overflow) are withheld rather than returned.
fn finite<T>(result: T, numbers: &[f64]) -> Result<T, Unavailable> {
    if numbers.iter().all(|x| x.is_finite()) {
        Ok(result)
    } else {
        Err(Unavailable::ZeroVariance { control: true })
    }
}

/// Welch's two-sided t-test. The p-value is 2·sf(|t|) rather than gbstats's 2·(1 − cdf(|t|)),
/// which keeps its relative precision below 1e-16.
fn frequentist(d: &Difference, critical: &Critical) -> Result<Frequentist, Unavailable> {
    let se = d.variance.sqrt();
    let t = d.estimate / se;
    let p_value = (2.0 * student_t_sf(t.abs(), d.dof)).min(1.0);
    interval(d.estimate, critical.t * se, p_value)
}

/// The always-valid asymptotic confidence sequence of Waudby-Smith et al. (eq. 9, with ρ
/// from eq. 161 tuned to `sequential_tuning` units) and its p-value min(1, 1/e-value) (eq.
/// 155), computed as exp(−…)·√(Nρ² + 1) so the e-value itself never overflows.
fn sequential(d: &Difference, settings: &Settings) -> Result<Frequentist, Unavailable> {
    let alpha = settings.alpha;
    let n = d.units;
    let log_alpha = -2.0 * alpha.ln();
    let rho_squared = (log_alpha + (log_alpha + 1.0).ln()) / settings.sequential_tuning;
    let rho = rho_squared.sqrt();
    let s2 = d.variance * n;
    let tr2p1 = n * rho_squared + 1.0;
    let width =
        s2.sqrt() * ((2.0 * tr2p1) * (tr2p1.sqrt() / alpha).ln() / (n * rho).powi(2)).sqrt();
    let st2 = d.estimate * d.estimate * n / d.variance;
    let p_value = ((-rho_squared * st2 / (2.0 * tr2p1)).exp() * tr2p1.sqrt()).min(1.0);
    interval(d.estimate, width, p_value)
}

/// A frequentist result: the estimate ± `width`, and its p-value.
fn interval(estimate: f64, width: f64, p_value: f64) -> Result<Frequentist, Unavailable> {
    let ci = [estimate - width, estimate + width];
    finite(
        Frequentist {
            expected: estimate,
            ci,
            p_value,
        },
        &[ci[0], ci[1], p_value],
    )
}

/// The Bayesian effect test: a normal likelihood for the difference, with a flat prior or a
/// proper N(0, σ²) prior on the relative lift (σ·|control mean| for the absolute difference).
fn bayesian(
    d: &Difference,
    a: &Stat,
    critical: &Critical,
    settings: &Settings,
) -> Result<Bayesian, Unavailable> {
    let prior_variance = match settings.prior_stddev {
        Some(sd) if sd > 0.0 && sd.is_finite() => {
            let variance = sd * sd;
            let variance = if d.relative {
                variance
            } else {
                variance * (a.unadjusted * a.unadjusted)
            };
            if variance == 0.0 {
                // A relative prior cannot be scaled to a control mean of zero.
                return Err(Unavailable::ZeroControlMean);
            }
            Some(variance)
        }
        _ => None,
    };
    let (mean, precision) = match prior_variance {
        // The prior's mean is 0, so it only adds precision and shrinks the estimate.
        Some(pv) => {
            let precision = 1.0 / d.variance + 1.0 / pv;
            ((d.estimate / d.variance) / precision, precision)
        }
        None => (d.estimate, 1.0 / d.variance),
    };
    let sd = (1.0 / precision).sqrt();
    let z = mean / sd;
    let chance_to_win = if settings.inverse {
        normal_cdf(-z)
    } else {
        normal_cdf(z)
    };
    let ci = [mean + sd * critical.z[0], mean + sd * critical.z[1]];
    // E[max(D, 0)] and E[max(−D, 0)] for D ~ N(mean, sd²): what keeping control forgoes
    // when the variant is better, and what shipping loses when it is worse.
    let gain = sd * normal_loss(-z);
    let loss = sd * normal_loss(z);
    let (risk_keep, risk_ship) = if settings.inverse {
        (loss, gain)
    } else {
        (gain, loss)
    };
    finite(
        Bayesian {
            expected: mean,
            ci,
            chance_to_win,
            risk_ship,
            risk_keep,
        },
        &[mean, ci[0], ci[1], chance_to_win, risk_keep, risk_ship],
    )
}
