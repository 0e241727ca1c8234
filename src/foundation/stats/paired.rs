//! Tests on paired differences (candidate − baseline, case by case): the paired t-test, the
//! Wilcoxon signed-rank test, the sign test and the paired bootstrap percentile interval of
//! the mean difference. docs/evals.md defines every statistic exactly.
//!
//! The rank and sign tests reproduce `scipy.stats.wilcoxon` (defaults, scipy 1.17) and
//! `scipy.stats.binomtest`; tests/evals/reference.json holds scipy's own results. Callers
//! ensure at least two differences and at least one resample, as the eval comparison
//! (`flagstone evals compare`) does.

use super::dist;
use super::rng::Xoshiro256PlusPlus;

/// scipy.stats.wilcoxon's "auto": the exact null distribution up to this many differences.
const EXACT_MAX: usize = 50;
/// ... and, with ties or zeros, the full sign-flip distribution up to this many.
const PERMUTATION_MAX: usize = 13;
/// scipy.stats.binomtest's relative tolerance when it compares outcome probabilities.
const BINOMTEST_RELATIVE_ERROR: f64 = 1.0 + 1e-7;
/// Resamples computed together by one thread.
const LANES: usize = 4;
/// The fewest cases a PASS needs by default. With fewer, the percentile bootstrap's interval
/// is too narrow: in simulations of differences of −1, 0 and +1 whose true mean is on the
/// margin, 10 cases passed up to 3.4% of the time where 2.5% is the nominal rate, 20 cases at
/// most 2.5% (tests/evals/false_pass.py, docs/evals.md).
pub const MIN_CASES: usize = 20;
/// The bootstrap keeps every resample's mean in memory (8 bytes each).
pub const MAX_RESAMPLES: u32 = 10_000_000;
/// Scores beyond ±1e100 are refused: squares of differences of larger scores could overflow.
pub const SCORE_LIMIT: f64 = 1e100;

/// The tolerated regression of a non-inferiority comparison. Here, not with the eval
/// comparison, because a review policy (the model) names one too.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Margin {
    /// In score units.
    Absolute(f64),
    /// A fraction of the magnitude of the baseline mean (`2%` is 0.02).
    Relative(f64),
}

impl Margin {
    /// `0.05` (score units) or `5%` (of the baseline mean); `None` for anything else,
    /// a negative number or one beyond [`SCORE_LIMIT`].
    pub fn parse(text: &str) -> Option<Margin> {
        let text = text.trim();
        let (number, percent) = match text.strip_suffix('%') {
            Some(number) => (number.trim_end(), true),
            None => (text, false),
        };
        let x = number.parse::<f64>().ok()?;
        (0.0..=SCORE_LIMIT).contains(&x).then_some(if percent {
            Margin::Relative(x / 100.0)
        } else {
            Margin::Absolute(x)
        })
    }
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

/// The sample standard deviation; exactly 0 when every value is the same (a computed mean
/// can differ from the common value by rounding, which would leave a spurious spread).
pub(crate) fn stddev(values: &[f64], mean: f64) -> f64 {
    let first = values[0];
    if values.iter().all(|&v| v == first) {
        return 0.0;
    }
    let squares: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    (squares / (values.len() - 1) as f64).sqrt()
}

pub(crate) fn t_test(
    mean: f64,
    stddev: f64,
    n: usize,
    alpha: f64,
) -> Result<TTest, TTestUndefined> {
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
pub(crate) fn wilcoxon(differences: &[f64]) -> Wilcoxon {
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
pub(crate) fn sign_test(differences: &[f64]) -> SignTest {
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

/// The (1 − alpha) percentile interval of the mean difference over `resamples` bootstrap
/// resamples (see [`bootstrap_means`]).
pub(crate) fn bootstrap(
    differences: &[f64],
    resamples: u32,
    seed: u64,
    alpha: f64,
    threads: usize,
) -> Bootstrap {
    let means = bootstrap_means(differences, resamples, seed, threads);
    let mut sorted = means;
    sorted.sort_by(f64::total_cmp);
    Bootstrap {
        resamples,
        seed,
        ci: [
            quantile(&sorted, alpha / 2.0),
            quantile(&sorted, 1.0 - alpha / 2.0),
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

#[cfg(test)]
mod tests {
    use super::*;

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
    /// Non-inferiority shown: the interval's lower end is above −margin, from at least
    /// `min_cases` cases.
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
    /// The interval cleared the margin, but from fewer cases than a PASS needs.
    pub too_few_cases: bool,
}

/// The non-inferiority verdict on the bootstrap interval of the mean difference: `sign` is −1
/// when lower scores are better, `margin` the tolerated regression in score units, `n` the
/// number of cases and `min_cases` the fewest a pass needs.
pub fn verdict(
    bootstrap: &Bootstrap,
    sign: f64,
    margin: f64,
    n: usize,
    min_cases: usize,
) -> Verdict {
    let [low, high] = bootstrap.ci;
    let improvement = if sign > 0.0 {
        [low, high]
    } else {
        [-high, -low]
    };
    // Strictly above: an interval that only touches the margin is the degenerate one of
    // cases that (nearly) all score the same, which a worse candidate gives too.
    let clears = improvement[0] > -margin;
    let too_few_cases = clears && n < min_cases;
    let outcome = if clears && !too_few_cases {
        Conclusion::Pass
    } else if improvement[1] < -margin {
        Conclusion::Regression
    } else {
        Conclusion::Inconclusive
    };
    let more_cases = if too_few_cases {
        Some((min_cases - n) as u64)
    } else {
        (outcome == Conclusion::Inconclusive)
            .then(|| {
                // The interval narrows as 1/√n: n' = n·(half-width / distance to the margin)².
                let half_width = (improvement[1] - improvement[0]) / 2.0;
                let distance = ((improvement[0] + improvement[1]) / 2.0 + margin).abs();
                if distance == 0.0 {
                    return None;
                }
                let needed = n as f64 * (half_width / distance).powi(2);
                let more = (needed - n as f64).ceil().max(1.0);
                // Beyond 2^53 the count means little; a mean on the margin gives no estimate.
                (more.is_finite() && more < 9.0e15).then_some(more as u64)
            })
            .flatten()
    };
    Verdict {
        outcome,
        margin,
        improvement,
        more_cases,
        too_few_cases,
    }
}
