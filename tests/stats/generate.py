#!/usr/bin/env python3
"""Golden values for flagstone's experiment statistics, computed by GrowthBook's gbstats.

Every comparison here is run through the real gbstats 0.8.0 test classes, configured as its
get_configured_test does (EffectBayesianABTest with prior_type "relative", TwoSidedTTest,
SequentialTwoSidedTTest), on sufficient statistics from fixed pseudo-random datasets. The
distributions come from scipy, the sample ratio check from gbstats.utils.check_srm, the
Benjamini-Hochberg correction from scipy.stats.false_discovery_control and Holm's from the
textbook definition written out below. tests/test_stats.rs checks flagstone against this
file with the tolerance rule of docs/statistics.md.

Where gbstats returns its uninformative "default output" the file records the reason
flagstone must give instead (`unavailable`), after checking that gbstats did give up. Two
paths where flagstone deliberately computes what gbstats does not are recorded from
gbstats's own formulas (see `absolute_over_zero_mean`).

Usage:
    python3 tests/stats/generate.py           # (re)write tests/stats/gbstats.json
    python3 tests/stats/generate.py --check   # exit 1 unless the file is reproduced byte for byte

Requires `pip install gbstats==0.8.0 scipy==1.17.1 numpy==1.26.4` (the versions used are
recorded in the file; CI pins them). The output is deterministic: seeded random.Random
datasets, sorted keys, floats written with repr.
"""

import argparse
import difflib
import importlib.metadata
import json
import math
import random
import sys
import warnings
from pathlib import Path

try:
    from gbstats.bayesian.tests import (
        EffectBayesianABTest,
        EffectBayesianConfig,
        GaussianPrior,
    )
    from gbstats.frequentist.tests import (
        FrequentistConfig,
        SequentialConfig,
        SequentialTwoSidedTTest,
        TwoSidedTTest,
    )
    from gbstats.models.statistics import (
        ProportionStatistic,
        RatioStatistic,
        RegressionAdjustedStatistic,
        SampleMeanStatistic,
        compute_theta,
    )
    from gbstats.utils import check_srm
    from scipy import special, stats
except ImportError:
    sys.exit(
        "generate.py needs gbstats: pip install gbstats==0.8.0 scipy==1.17.1 numpy==1.26.4"
    )

# gbstats's e-value overflows to inf for strong effects (its p-value is then 0, as intended),
# and scipy's truncated-normal skewness, which gbstats computes but never uses, warns.
warnings.simplefilter("ignore", RuntimeWarning)

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "gbstats.json"
# gbstats's metric default prior standard deviation, used (improper) when none is set.
DEFAULT_PRIOR_STDDEV = 0.1


# --- Arms: flagstone's summaries and the gbstats statistics they stand for ----------------


def binomial(sum_):
    return {"sum": float(sum_)}


def moments(sum_, sum_squares):
    return {"sum": float(sum_), "sum_squares": float(sum_squares)}


def gb_moments(m, n):
    if "sum_squares" in m:
        return SampleMeanStatistic(n=n, sum=m["sum"], sum_squares=m["sum_squares"])
    return ProportionStatistic(n=n, sum=m["sum"])


def gb_statistic(arm):
    n = arm["users"]
    kind = arm["kind"]
    if kind == "plain":
        return gb_moments(arm["moments"], n)
    if kind == "ratio":
        return RatioStatistic(
            n=n,
            m_statistic=gb_moments(arm["numerator"], n),
            d_statistic=gb_moments(arm["denominator"], n),
            m_d_sum_of_products=arm["sum_product"],
        )
    return RegressionAdjustedStatistic(
        n=n,
        post_statistic=gb_moments(arm["post"], n),
        pre_statistic=gb_moments(arm["pre"], n),
        post_pre_sum_of_products=arm["sum_product"],
        theta=0,
    )


def unadjusted(statistic):
    """The statistic flagstone describes: before any CUPED adjustment."""
    if isinstance(statistic, RegressionAdjustedStatistic):
        return statistic.post_statistic
    return statistic


# --- Running gbstats ----------------------------------------------------------------------


def reason(test, relative):
    """The Unavailable flagstone gives, by its documented order: units, then (relative only)
    a zero control mean, then a variance that is not positive or an arm of one unit."""
    a, b = test.stat_a, test.stat_b
    for s, who in ((a, "control"), (b, "variant")):
        if s.n == 0:
            return f"no_units_{who}"
    if relative and a.unadjusted_mean == 0:
        return "zero_control_mean"
    for s, who in ((a, "control"), (b, "variant")):
        if s.n <= 1 or s.variance <= 0:
            return f"zero_variance_{who}"
    return None


def frequentist_values(test):
    """A t-test's numbers from gbstats's own properties, plus the exact p-value: scipy's
    sf at gbstats's t statistic and degrees of freedom (gbstats's 2·(1 − cdf) is 0 below
    about 1e-16)."""
    ci = [float(x) for x in test.confidence_interval]
    values = {"expected": float(test.point_estimate), "ci": ci, "p_value": float(test.p_value)}
    if isinstance(test, TwoSidedTTest) and not isinstance(test, SequentialTwoSidedTTest):
        values["p_value_exact"] = float(
            2 * stats.t.sf(abs(test.critical_value), test.dof)
        )
    return values


def run_frequentist(control, variant, settings, relative, sequential):
    a, b = gb_statistic(control), gb_statistic(variant)
    difference = "relative" if relative else "absolute"
    if sequential:
        test = SequentialTwoSidedTTest(
            a,
            b,
            SequentialConfig(
                difference_type=difference,
                alpha=settings["alpha"],
                sequential_tuning_parameter=settings["sequential_tuning"],
            ),
        )
    else:
        test = TwoSidedTTest(
            a, b, FrequentistConfig(difference_type=difference, alpha=settings["alpha"])
        )
    expected_reason = reason(test, relative)
    result = test.compute_result()
    gave_up = result.error_message is not None
    if expected_reason is not None:
        assert gave_up, ("gbstats computed what flagstone calls unavailable", control, variant)
        return {"unavailable": expected_reason}, False
    if gave_up:
        # gbstats refuses any control mean of 0, but an absolute difference over it is well
        # defined: flagstone computes it, recorded here from gbstats's own formulas.
        assert not relative and test.stat_a.mean == 0, (result.error_message, control, variant)
        return frequentist_values(test), True
    values = frequentist_values(test)
    assert values["p_value"] == result.p_value and values["ci"] == result.ci
    return values, False


def normal_loss(z):
    """E[max(Z − z, 0)] = φ(z) − z·sf(z) for a standard normal Z, the risk of a posterior in
    units of its standard deviation. For z > 0 it is φ(z)·(1 − z·R(z)) with the Mills ratio
    R(z) = √(π/2)·erfcx(z/√2) from scipy, which keeps its relative precision (to about
    1e-16·z²) where φ(z) and z·sf(z) would cancel."""
    if z <= 0:
        return float(stats.norm.pdf(z) - z * stats.norm.sf(z))
    mills = math.sqrt(math.pi / 2) * special.erfcx(z / math.sqrt(2))
    return float(stats.norm.pdf(z) * (1 - z * mills))


def run_bayesian(control, variant, settings, relative):
    a, b = gb_statistic(control), gb_statistic(variant)
    sd = settings["prior_stddev"]
    config = dict(
        difference_type="relative" if relative else "absolute",
        inverse=settings["inverse"],
        alpha=settings["alpha"],
    )
    prior = GaussianPrior(
        mean=0,
        variance=(sd if sd is not None else DEFAULT_PRIOR_STDDEV) ** 2,
        proper=sd is not None,
    )
    test = EffectBayesianABTest(
        a, b, EffectBayesianConfig(**config, prior_effect=prior, prior_type="relative")
    )
    expected_reason = reason(test, relative)
    zero_mean_absolute = not relative and test.stat_a.unadjusted_mean == 0
    if expected_reason is None and zero_mean_absolute:
        if sd is not None:
            # A proper relative prior cannot be scaled to a control mean of 0 (gbstats
            # divides by the zero prior variance).
            return {"unavailable": "zero_control_mean"}, True
        # The flat prior's variance, rescaled by the control mean, is 0 too, and gbstats
        # divides by it even though the flat prior ignores it; an absolute flat prior
        # gives the same, well-defined, answer.
        test = EffectBayesianABTest(
            gb_statistic(control),
            gb_statistic(variant),
            EffectBayesianConfig(
                **config, prior_effect=GaussianPrior(0, 1, False), prior_type="absolute"
            ),
        )
    result = test.compute_result()
    gave_up = result.error_message is not None
    if expected_reason is not None:
        assert gave_up, ("gbstats computed what flagstone calls unavailable", control, variant)
        return {"unavailable": expected_reason}, False
    assert not gave_up, (result.error_message, control, variant)
    mean, sd_post = test.mean_diff, test.std_diff
    gain = sd_post * normal_loss(-mean / sd_post)
    loss = sd_post * normal_loss(mean / sd_post)
    keep, ship = (loss, gain) if settings["inverse"] else (gain, loss)
    return {
        "expected": float(result.expected),
        "ci": [float(x) for x in result.ci],
        "chance_to_win": float(result.chance_to_win),
        # scipy's cdf/sf directly, where gbstats's 1 − sf loses the inverse metric's tail.
        "chance_to_win_exact": float(
            stats.norm.cdf(0, mean, sd_post)
            if settings["inverse"]
            else stats.norm.sf(0, mean, sd_post)
        ),
        "risk_keep": float(result.risk[0]),
        "risk_ship": float(result.risk[1]),
        # gbstats's truncated-normal means underflow to 0 in the far tail; these do not.
        "risk_keep_exact": float(keep),
        "risk_ship_exact": float(ship),
        "posterior_stddev": float(sd_post),
    }, zero_mean_absolute


def run_case(name, control, variant, settings):
    a, b = gb_statistic(control), gb_statistic(variant)
    theta = None
    if isinstance(a, RegressionAdjustedStatistic):
        t = compute_theta(a, b)
        theta = None if t == 0 else float(t)
    expected = {"theta": theta}
    special = []
    for relative in (True, False):
        key = "relative" if relative else "absolute"
        for engine, run in (
            ("bayesian", lambda: run_bayesian(control, variant, settings, relative)),
            (
                "frequentist",
                lambda: run_frequentist(control, variant, settings, relative, False),
            ),
            (
                "sequential",
                lambda: run_frequentist(control, variant, settings, relative, True),
            ),
        ):
            values, differs = run()
            expected.setdefault(engine, {})[key] = values
            if differs:
                special.append(f"{engine}.{key}")
    describe = {}
    for who, arm in (("control", control), ("variant", variant)):
        s = unadjusted(gb_statistic(arm))
        describe[who] = {"mean": float(s.mean), "stddev": float(s.stddev)}
    expected["describe"] = describe
    return {
        "name": name,
        "control": control,
        "variant": variant,
        "settings": settings,
        "expected": expected,
        "absolute_over_zero_mean": special,
    }


# --- Datasets -----------------------------------------------------------------------------


def mean_moments(n, mean, sd):
    """Σx and Σx² of n values with this sample mean and standard deviation."""
    s = mean * n
    return moments(s, (n - 1) * sd * sd + s * s / n if n > 0 else 0.0)


def correlated(n, mx, sx, my, sy, rho):
    """Moments of two metrics over n units with sample correlation rho, and Σxy."""
    x, y = mean_moments(n, mx, sx), mean_moments(n, my, sy)
    sum_product = rho * sx * sy * (n - 1) + x["sum"] * y["sum"] / n
    return x, y, sum_product


def simulated(rng, n, draw):
    """Moments of n simulated values, rounded to cents like real revenue data."""
    values = [round(draw(), 2) for _ in range(n)]
    return values, moments(sum(values), sum(v * v for v in values))


def plain(users, m):
    return {"users": users, "kind": "plain", "moments": m}


def settings_for(rng):
    return {
        "alpha": rng.choice([0.01, 0.05, 0.1]),
        "inverse": rng.random() < 0.3,
        "prior_stddev": rng.choice([None, None, 0.05, 0.3]),
        "sequential_tuning": rng.choice([5000.0, 100.0]),
    }


SIZES = [2, 3, 5, 10, 30, 100, 1000, 10_000, 100_000, 1_000_000]
EFFECTS = [0.0, 1e-4, 0.01, 0.05, 0.2, 1.0]


def binomial_cases(rng, count):
    cases = []
    for i in range(count):
        n_a = rng.choice(SIZES[2:])
        n_b = max(2, int(n_a * rng.uniform(0.8, 1.2)))
        p = rng.choice([0.001, 0.02, 0.1, 0.3, 0.5, 0.9])
        lift = rng.choice(EFFECTS)
        s_a = max(1, min(n_a - 1, round(p * n_a)))
        s_b = max(1, min(n_b - 1, round(min(0.999, p * (1 + lift)) * n_b)))
        cases.append(
            (
                f"binomial {i}: n {n_a}/{n_b}, p {p}, lift {lift}",
                plain(n_a, binomial(s_a)),
                plain(n_b, binomial(s_b)),
                settings_for(rng),
            )
        )
    return cases


def mean_cases(rng, count):
    cases = []
    for i in range(count):
        n_a = rng.choice(SIZES[3:])
        n_b = max(2, int(n_a * rng.uniform(0.8, 1.2)))
        mu = rng.choice([-50.0, -1.5, 0.3, 2.0, 25.0, 1000.0])
        sd = abs(mu) * rng.choice([0.1, 1.0, 5.0])
        lift = rng.choice(EFFECTS) * rng.choice([1, -1])
        cases.append(
            (
                f"mean {i}: n {n_a}/{n_b}, mean {mu}, sd {sd}, lift {lift}",
                plain(n_a, mean_moments(n_a, mu, sd)),
                plain(n_b, mean_moments(n_b, mu * (1 + lift), sd * rng.uniform(0.7, 1.3))),
                settings_for(rng),
            )
        )
    return cases


def small_cases(rng, count):
    cases = []
    for i in range(count):
        n_a, n_b = rng.randint(2, 30), rng.randint(2, 30)
        shift = rng.choice([0.0, 0.5, 3.0])
        _, m_a = simulated(rng, n_a, lambda: rng.gauss(10.0, 4.0))
        _, m_b = simulated(rng, n_b, lambda: rng.gauss(10.0 + shift, 4.0))
        cases.append(
            (f"small {i}: n {n_a}/{n_b}, shift {shift}", plain(n_a, m_a), plain(n_b, m_b),
             settings_for(rng))
        )
    return cases


def ratio_cases(rng, count):
    cases = []
    for i in range(count):
        n = rng.choice(SIZES[3:])
        arms = []
        for lift in (0.0, rng.choice(EFFECTS)):
            users = max(2, int(n * rng.uniform(0.9, 1.1)))
            orders = rng.uniform(1.0, 3.0)
            if rng.random() < 0.3:
                # Orders per user counted as a proportion (did the user order at all).
                d = binomial(round(users * rng.uniform(0.2, 0.8)))
                d_mean = d["sum"] / users
                m = mean_moments(users, 40.0 * d_mean * (1 + lift), 30.0)
                # Only users who ordered have revenue: Σ revenue·ordered = Σ revenue.
                sp = m["sum"]
            else:
                m, d, sp = correlated(
                    users, 40.0 * orders * (1 + lift), 35.0, orders, 1.2, rng.uniform(0.2, 0.9)
                )
            arms.append(
                {"users": users, "kind": "ratio", "numerator": m, "denominator": d,
                 "sum_product": sp}
            )
        cases.append((f"ratio {i}: n {n}", arms[0], arms[1], settings_for(rng)))
    return cases


def adjusted_cases(rng, count):
    cases = []
    for i in range(count):
        n = rng.choice(SIZES[3:])
        rho = rng.choice([0.0, 0.3, 0.7, 0.95])
        lift = rng.choice(EFFECTS)
        binary = rng.random() < 0.25
        arms = []
        for arm_lift in (0.0, lift):
            users = max(2, int(n * rng.uniform(0.9, 1.1)))
            if binary:
                p_pre = rng.uniform(0.1, 0.4)
                post = binomial(round(users * p_pre * (1 + arm_lift)))
                pre = binomial(round(users * p_pre))
                # Σ post·pre for 0/1 metrics: the units converting both times.
                sp = float(round(min(post["sum"], pre["sum"]) * rng.uniform(0.3, 0.9)))
            else:
                post, pre, sp = correlated(users, 10.0 * (1 + arm_lift), 6.0, 9.0, 5.0, rho)
            arms.append(
                {"users": users, "kind": "adjusted", "post": post, "pre": pre,
                 "sum_product": sp}
            )
        cases.append(
            (f"cuped {i}: n {n}, rho {rho}, lift {lift}, binary {binary}", arms[0], arms[1],
             settings_for(rng))
        )
    return cases


def strong_effect_cases(rng):
    """p-values from 1e-10 down past 1e-300."""
    cases = []
    for i, (p_a, p_b) in enumerate(
        [(0.5, 0.505), (0.5, 0.51), (0.5, 0.52), (0.1, 0.13), (0.3, 0.4), (0.01, 0.05)]
    ):
        n = 1_000_000
        settings = settings_for(rng)
        cases.append(
            (f"strong binomial {i}: p {p_a} vs {p_b}", plain(n, binomial(p_a * n)),
             plain(n, binomial(p_b * n)), settings)
        )
    for i, lift in enumerate([0.02, 0.05, 0.1, 0.3]):
        n = 1_000_000
        cases.append(
            (f"strong mean {i}: lift {lift}", plain(n, mean_moments(n, 5.0, 2.0)),
             plain(n, mean_moments(n, 5.0 * (1 + lift), 2.0)), settings_for(rng))
        )
    return cases


def edge_cases(rng):
    """gbstats's default-output paths, and the absolute differences over a zero mean."""
    s = {"alpha": 0.05, "inverse": False, "prior_stddev": None, "sequential_tuning": 5000.0}
    proper = dict(s, prior_stddev=0.3)
    m = mean_moments(100, 3.0, 2.0)
    zero_mean = moments(0.0, 400.0)  # mean 0 with variance: revenue net of refunds
    cases = [
        ("no units in control", plain(0, moments(0, 0)), plain(100, m), s),
        ("no units in variant", plain(100, m), plain(0, moments(0, 0)), s),
        ("no units binomial control", plain(0, binomial(0)), plain(100, binomial(10)), s),
        ("one unit in control", plain(1, moments(3.0, 9.0)), plain(100, m), s),
        ("one unit binomial variant", plain(100, binomial(10)), plain(1, binomial(1)), s),
        ("constant control", plain(100, moments(300.0, 900.0)), plain(100, m), s),
        ("constant variant", plain(100, m), plain(100, moments(300.0, 900.0)), s),
        ("control never converts", plain(100, binomial(0)), plain(100, binomial(5)), s),
        ("variant always converts", plain(100, binomial(30)), plain(100, binomial(100)), s),
        ("zero control mean", plain(100, zero_mean), plain(100, m), s),
        ("zero control mean, proper prior", plain(100, zero_mean), plain(100, m), proper),
        ("zero control mean, inverse", plain(100, zero_mean), plain(120, m),
         dict(s, inverse=True, alpha=0.1)),
        (
            "ratio with no denominator in control",
            {"users": 50, "kind": "ratio", "numerator": moments(0, 0),
             "denominator": moments(0, 0), "sum_product": 0.0},
            {"users": 50, "kind": "ratio", "numerator": moments(100.0, 900.0),
             "denominator": moments(60.0, 100.0), "sum_product": 150.0},
            s,
        ),
        (
            "cuped with a constant covariate (theta 0)",
            {"users": 200, "kind": "adjusted", "post": mean_moments(200, 4.0, 3.0),
             "pre": moments(400.0, 800.0), "sum_product": 1600.0},
            {"users": 210, "kind": "adjusted", "post": mean_moments(210, 4.4, 3.0),
             "pre": moments(420.0, 840.0), "sum_product": 2.0 * 4.4 * 210},
            s,
        ),
        (
            "cuped with no covariate at all (theta 0)",
            {"users": 300, "kind": "adjusted", "post": binomial(60), "pre": binomial(0),
             "sum_product": 0.0},
            {"users": 300, "kind": "adjusted", "post": binomial(75), "pre": binomial(0),
             "sum_product": 0.0},
            proper,
        ),
    ]
    return cases


def distribution_points():
    points = []

    def add(fn, args, value):
        value = float(value)
        if math.isfinite(value):
            points.append({"fn": fn, "args": [float(a) for a in args], "value": value})

    xs = [-37.5, -20, -10, -8.5, -5, -3, -1.75, -1, -0.3, 0, 1e-8, 0.2, 1, 1.5, 1.75, 2, 2.5,
          3, 5, 7.5, 10, 15, 20, 30, 37, 37.5]
    for x in xs:
        add("normal_pdf", [x], stats.norm.pdf(x))
        add("normal_cdf", [x], stats.norm.cdf(x))
        add("normal_sf", [x], stats.norm.sf(x))
    for p in [1e-300, 1e-200, 1e-50, 1e-20, 1e-10, 1e-5, 0.001, 0.01, 0.025, 0.05, 0.1, 0.3,
              0.4999, 0.5, 0.5001, 0.7, 0.9, 0.975, 0.999, 1 - 1e-10]:
        add("normal_quantile", [p], stats.norm.ppf(p))
    for df in [1, 2.5, 3, 7, 30, 99.5, 1e3, 4e3, 1e4, 1e5, 1e6, 1e8, 1e9]:
        for t in [-50, -10, -3, -1, 0.01, 0.5, 1, 2, 3, 5, 8, 10, 12, 20, 40, 100, 1e4, 1e8]:
            sf = stats.t.sf(t, df)
            if sf > 1e-300:
                add("student_t_sf", [t, df], sf)
            cdf = stats.t.cdf(t, df)
            if cdf > 1e-300:
                add("student_t_cdf", [t, df], cdf)
        for p in [1e-100, 1e-30, 1e-10, 1e-4, 0.01, 0.025, 0.05, 0.2, 0.45, 0.5, 0.6, 0.9,
                  0.975, 0.995]:
            add("student_t_quantile", [p, df], stats.t.ppf(p, df))
    for k in [1, 2, 3, 5, 10, 50, 1000]:
        for x in [1e-6, 0.1, 1, 2, 3.84, 10, 30, 100, 500, 1000, 2000]:
            sf = stats.chi2.sf(x, k)
            if sf > 1e-300:
                add("chi_squared_sf", [x, k], sf)
    for k, n, p in [(3, 10, 0.5), (0, 5, 0.2), (10, 100, 0.3), (50, 100, 0.3), (0, 1000, 0.01),
                    (5, 1000, 0.01), (499, 1000, 0.5), (4000, 10000, 0.5), (20, 30, 0.001),
                    (499000, 1000000, 0.5), (1, 2, 0.9999), (7, 7, 0.3)]:
        add("binomial_cdf", [k, n, p], stats.binom.cdf(k, n, p))
    for x in [1e-10, 0.1, 0.5, 1.5, 2.5, 3.7, 9.99, 10, 10.5, 100, 1e5, 1e9]:
        add("ln_gamma", [x], special.gammaln(x))
    return points


def srm_cases(rng):
    cases = [
        ([5000, 5000], [0.5, 0.5]),
        ([5100, 4900], [0.5, 0.5]),
        ([5300, 4700], [1, 1]),
        ([0, 0], [0.5, 0.5]),
        ([100, 0], [0.5, 0.5]),
        ([3000, 3000, 4000], [0.3, 0.3, 0.4]),
        ([3000, 3300, 4000], [0.3, 0.3, 0.4]),
        ([1000, 500, 700], [0.5, 0, 0.5]),
        ([1000, 1000, 0], [1, 1, 0]),
        ([100_000, 101_500], [50, 50]),
        ([100_000, 110_000], [1, 1]),
        ([10, 20, 30, 40], [1, 2, 3, 4]),
    ]
    for _ in range(12):
        k = rng.randint(2, 5)
        weights = [rng.choice([1, 1, 2, 3]) for _ in range(k)]
        total = rng.choice([100, 10_000, 1_000_000])
        users = [round(total * w / sum(weights) * rng.uniform(0.97, 1.03)) for w in weights]
        cases.append((users, weights))
    return [
        {"users": u, "weights": [float(w) for w in w_], "p_value": float(check_srm(u, w_))}
        for u, w_ in cases
    ]


def holm(ps):
    """Holm's step-down adjustment, from its definition."""
    m = len(ps)
    order = sorted(range(m), key=lambda i: (ps[i], i))
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        adjusted[i] = running
    return adjusted


def correction_cases(rng):
    sets = [
        [0.01, 0.04, 0.03, 0.005],
        [0.5],
        [0.01, 0.01, 0.02, 0.5, 0.9],
        [1e-30, 0.2, 0.049, 0.051, 1.0],
        [0.001 * i for i in range(1, 21)],
    ]
    for _ in range(8):
        sets.append([rng.choice([rng.random(), rng.random() ** 4, 1e-8 * rng.random()])
                     for _ in range(rng.randint(2, 40))])
    return [
        {
            "p_values": ps,
            "holm": holm(ps),
            "benjamini_hochberg": [float(x) for x in stats.false_discovery_control(ps)],
        }
        for ps in sets
    ]


def document() -> str:
    rng = random.Random(20260126)
    raw = (
        binomial_cases(rng, 60)
        + mean_cases(rng, 60)
        + small_cases(rng, 30)
        + ratio_cases(rng, 35)
        + adjusted_cases(rng, 40)
        + strong_effect_cases(rng)
        + edge_cases(rng)
    )
    comparisons = [run_case(*case) for case in raw]
    doc = {
        "about": "Generated by tests/stats/generate.py from gbstats and scipy; do not edit.",
        "versions": {
            "gbstats": importlib.metadata.version("gbstats"),
            "scipy": importlib.metadata.version("scipy"),
            "numpy": importlib.metadata.version("numpy"),
        },
        "comparisons": comparisons,
        "distributions": distribution_points(),
        "srm": srm_cases(rng),
        "corrections": correction_cases(rng),
    }
    return json.dumps(doc, sort_keys=True, indent=1) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 unless gbstats.json is reproduced byte for byte",
    )
    args = parser.parse_args()
    text = document()
    data = text.encode("utf-8")
    if args.check:
        try:
            committed = OUTPUT.read_bytes()
        except FileNotFoundError:
            print(f"{OUTPUT} is missing: run python3 tests/stats/generate.py", file=sys.stderr)
            return 1
        if committed == data:
            doc = json.loads(text)
            print(
                f"{OUTPUT.name} reproduced byte for byte ({len(doc['comparisons'])} comparisons, "
                f"{len(doc['distributions'])} distribution values, {len(doc['srm'])} SRM "
                f"checks, {len(doc['corrections'])} corrections)"
            )
            return 0
        diff = difflib.unified_diff(
            committed.decode("utf-8", errors="replace").splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"{OUTPUT.name} (committed)",
            tofile=f"{OUTPUT.name} (generated)",
        )
        sys.stderr.writelines(list(diff)[:200])
        print(
            f"\n{OUTPUT} differs from what the generator computes (see the diff above). If only "
            "the versions differ, install the recorded ones; otherwise the cases or the "
            "generator changed: investigate before regenerating.",
            file=sys.stderr,
        )
        return 1
    OUTPUT.write_bytes(data)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
