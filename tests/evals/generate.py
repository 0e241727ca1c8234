#!/usr/bin/env python3
"""Reference results for `flagstone evals compare`, computed by scipy itself.

For deterministic datasets (Python's random.Random(seed); ties, zeros, tiny and large
samples, both sides of the exact Wilcoxon threshold, constant and all-equal differences), this
writes each dataset as tests/evals/cases/NAME.csv and scipy's results on it into
tests/evals/reference.json:

    t_test     scipy.stats.ttest_rel(candidate, baseline): t, df, p, and the
               (1 - alpha) confidence interval of the mean difference
    wilcoxon   scipy.stats.wilcoxon(candidate, baseline) with its defaults
               (zero_method="wilcox", correction=False, method="auto"): the two-sided
               statistic min(W+, W-), W+ (alternative="greater"), and p
    sign_test  scipy.stats.binomtest(#positive, #non-zero, 0.5), two-sided

NaN (scipy's answer for an undefined statistic) is written as null. flagstone's tests
(tests/test_evals.rs) compare its results with these.

Usage:
    python3 tests/evals/generate.py           # (re)write the CSV files and reference.json
    python3 tests/evals/generate.py --check   # exit 1 unless both are reproduced byte for byte

Requires numpy and scipy (CI pins scipy==1.17.1 and numpy==1.26.4; the versions used are
recorded in reference.json).
"""

import argparse
import difflib
import json
import math
import random
import sys
import warnings
from pathlib import Path

try:
    import numpy as np
    import scipy
    from scipy import stats
except ImportError:
    sys.exit("generate.py needs scipy: pip install scipy==1.17.1 numpy==1.26.4")

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"
OUTPUT = HERE / "reference.json"


# --- Score generators: each returns (baseline, candidate) lists of floats ----------------


def continuous(rng, n, shift, spread, decimals=6):
    """Scores in [0, 1) and candidates moved by N(shift, spread), rounded."""
    baseline = [round(rng.random(), decimals) for _ in range(n)]
    candidate = [round(b + rng.gauss(shift, spread), decimals) for b in baseline]
    return baseline, candidate


def graded(rng, n, improve):
    """A grader's 0, 0.25, ..., 1 scale: many ties and zero differences."""
    levels = [0.0, 0.25, 0.5, 0.75, 1.0]
    baseline = [rng.choice(levels) for _ in range(n)]
    candidate = []
    for b in baseline:
        step = rng.choices([-1, 0, 1], weights=[1, 2, 1 + improve])[0]
        candidate.append(levels[min(4, max(0, levels.index(b) + step))])
    return baseline, candidate


def binary(rng, n, p_baseline, p_candidate):
    baseline = [float(rng.random() < p_baseline) for _ in range(n)]
    candidate = [float(rng.random() < p_candidate) for _ in range(n)]
    return baseline, candidate


def ratings(rng, n):
    """1-5 ratings: integers, heavy ties."""
    baseline = [float(rng.randint(1, 5)) for _ in range(n)]
    candidate = [float(min(5, max(1, b + rng.randint(-1, 2)))) for b in baseline]
    return baseline, candidate


def latency(rng, n, factor):
    """Milliseconds (lower is better): large values, a multiplicative change."""
    baseline = [round(rng.lognormvariate(6, 0.5), 1) for _ in range(n)]
    candidate = [round(b * factor * rng.lognormvariate(0, 0.1), 1) for b in baseline]
    return baseline, candidate


def no_ties(baseline, candidate):
    magnitudes = [abs(c - b) for b, c in zip(baseline, candidate)]
    return 0.0 not in magnitudes and len(set(magnitudes)) == len(magnitudes)


def distinct(rng, n, shift, spread):
    """Continuous scores whose differences are non-zero and untied (the exact path)."""
    while True:
        baseline, candidate = continuous(rng, n, shift, spread)
        if no_ties(baseline, candidate):
            return baseline, candidate


def datasets():
    """(name, alpha, baseline, candidate), each from its own seeded generator."""
    out = []

    def add(name, alpha, make, seed):
        baseline, candidate = make(random.Random(seed))
        out.append((name, alpha, baseline, candidate))

    add("n2-distinct", 0.05, lambda r: distinct(r, 2, 0.1, 0.2), 1)
    add("n2-tied", 0.05, lambda r: ([0.5, 0.25], [0.75, 0.0]), 2)
    add("n2-one-zero", 0.05, lambda r: ([0.5, 0.25], [0.5, 0.75]), 3)
    add("n5-exact-up", 0.05, lambda r: distinct(r, 5, 0.2, 0.1), 4)
    add("n5-exact-mixed", 0.05, lambda r: distinct(r, 5, 0.0, 0.2), 5)
    add("n5-all-better", 0.05, lambda r: ([0.1, 0.2, 0.3, 0.4, 0.5], [0.2, 0.4, 0.6, 0.8, 1.0]), 6)
    add("n8-graded", 0.05, lambda r: graded(r, 8, 1), 7)
    add("n13-graded", 0.05, lambda r: graded(r, 13, 1), 8)
    add("n13-one-zero", 0.05, lambda r: ([0.5] + continuous(r, 12, 0.05, 0.1)[0], [0.5] + continuous(r, 12, 0.05, 0.1)[1]), 9)
    add("n14-graded", 0.05, lambda r: graded(r, 14, 1), 10)
    add("n20-exact", 0.05, lambda r: distinct(r, 20, 0.03, 0.1), 11)
    add("n30-exact-down", 0.05, lambda r: distinct(r, 30, -0.05, 0.1), 12)
    add("n49-exact", 0.05, lambda r: distinct(r, 49, 0.02, 0.1), 13)
    add("n50-exact", 0.05, lambda r: distinct(r, 50, -0.02, 0.1), 14)
    add("n50-all-better", 0.05, lambda r: ([i / 100 for i in range(50)], [i / 100 + (i + 1) / 1000 for i in range(50)]), 15)
    add("n50-one-zero", 0.05, lambda r: (lambda b, c: (b, [b[0]] + c[1:]))(*distinct(r, 50, 0.02, 0.1)), 16)
    add("n49-graded", 0.05, lambda r: graded(r, 49, 1), 17)
    add("n51-normal", 0.05, lambda r: distinct(r, 51, 0.02, 0.1), 18)
    add("n51-graded", 0.05, lambda r: graded(r, 51, 0), 19)
    add("n100-up", 0.05, lambda r: continuous(r, 100, 0.03, 0.15, 3), 20)
    add("n100-down", 0.05, lambda r: continuous(r, 100, -0.04, 0.15, 3), 21)
    add("n100-null", 0.05, lambda r: continuous(r, 100, 0.0, 0.15, 3), 22)
    add("n100-alpha-0.1", 0.1, lambda r: continuous(r, 100, 0.01, 0.15, 3), 23)
    add("n100-alpha-0.01", 0.01, lambda r: continuous(r, 100, 0.01, 0.15, 3), 24)
    add("n100-alpha-0.2", 0.2, lambda r: graded(r, 100, 1), 25)
    add("n200-binary", 0.05, lambda r: binary(r, 200, 0.6, 0.68), 26)
    add("n300-graded", 0.05, lambda r: graded(r, 300, 0), 27)
    add("n500-ratings", 0.05, lambda r: ratings(r, 500), 28)
    add("n400-latency", 0.05, lambda r: latency(r, 400, 0.95), 29)
    add("n60-negative", 0.05, lambda r: (lambda b, c: ([x - 10 for x in b], [x - 10 for x in c]))(*continuous(r, 60, 0.1, 0.5, 2)), 30)
    add("n2000-small-shift", 0.05, lambda r: continuous(r, 2000, 0.005, 0.1, 4), 31)
    add("n2000-graded", 0.05, lambda r: graded(r, 2000, 0), 32)
    add("n10-all-equal", 0.05, lambda r: ([0.5, 0.25] * 5, [0.5, 0.25] * 5), 33)
    add("n30-all-equal", 0.05, lambda r: ([0.75] * 30, [0.75] * 30), 34)
    add("n10-constant-shift", 0.05, lambda r: ([i / 8 for i in range(10)], [i / 8 + 0.25 for i in range(10)]), 35)
    add("n40-constant-shift", 0.05, lambda r: ([i / 64 for i in range(40)], [i / 64 - 0.5 for i in range(40)]), 36)
    add("n12-balanced-signs", 0.05, lambda r: ([0.5] * 12, [0.75, 0.25] * 6), 37)
    add("n15-one-off-balance", 0.05, lambda r: ([0.5] * 15, [0.75, 0.25] * 7 + [0.75]), 38)
    add("n60-strong", 0.05, lambda r: continuous(r, 60, 0.3, 0.05, 4), 39)
    add("n24-mostly-zero", 0.05, lambda r: ([0.5] * 24, [0.5] * 20 + [0.75, 1.0, 0.25, 0.75]), 40)
    return out


# --- scipy's results --------------------------------------------------------------------


def number(x):
    """A float for JSON; NaN (undefined) becomes null."""
    x = float(x)
    return None if math.isnan(x) else x


def reference(alpha, baseline, candidate):
    base = np.array(baseline)
    cand = np.array(candidate)
    d = cand - base
    result = {
        "alpha": alpha,
        "n": len(baseline),
        "baseline_mean": float(np.mean(base)),
        "candidate_mean": float(np.mean(cand)),
        "mean_difference": float(np.mean(d)),
        "stddev_difference": float(np.std(d, ddof=1)),
    }
    if np.all(d == d[0]):
        result["t_test"] = None  # scipy: t = ±inf or NaN
    else:
        t = stats.ttest_rel(cand, base)
        ci = t.confidence_interval(confidence_level=1 - alpha)
        result["t_test"] = {
            "t": float(t.statistic),
            "df": float(t.df),
            "p_value": float(t.pvalue),
            "ci": [float(ci.low), float(ci.high)],
        }
    w = stats.wilcoxon(cand, base)
    w_greater = stats.wilcoxon(cand, base, alternative="greater")
    result["wilcoxon"] = {
        "statistic": number(w.statistic),
        "w_plus": number(w_greater.statistic),
        "p_value": number(w.pvalue),
    }
    positive = int(np.sum(d > 0))
    nonzero = int(np.sum(d != 0))
    result["sign_test"] = {
        "positive": positive,
        "nonzero": nonzero,
        "p_value": float(stats.binomtest(positive, nonzero).pvalue) if nonzero else None,
    }
    return result


def csv_text(baseline, candidate):
    rows = ["case_id,baseline,candidate"]
    rows += [f"c{i + 1:04},{b!r},{c!r}" for i, (b, c) in enumerate(zip(baseline, candidate))]
    return "\n".join(rows) + "\n"


def build():
    """Every output file's path and text."""
    files = {}
    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns about ties and zero variance
        for name, alpha, baseline, candidate in datasets():
            files[CASES / f"{name}.csv"] = csv_text(baseline, candidate)
            results[name] = reference(alpha, baseline, candidate)
    document = {
        "generator": "tests/evals/generate.py",
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__},
        "datasets": results,
    }
    files[OUTPUT] = json.dumps(document, sort_keys=True, indent=1, allow_nan=False) + "\n"
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    files = build()
    if not args.check:
        CASES.mkdir(exist_ok=True)
        for path, text in files.items():
            path.write_text(text)
        print(f"wrote {len(files) - 1} datasets and {OUTPUT.relative_to(HERE.parent.parent)}")
        return 0
    stale = sorted(p for p in CASES.glob("*.csv") if p not in files)
    for path in stale:
        print(f"{path.relative_to(HERE.parent.parent)}: not produced by the generator")
    differ = False
    for path, text in files.items():
        committed = path.read_text() if path.exists() else ""
        if committed != text:
            differ = True
            name = str(path.relative_to(HERE.parent.parent))
            sys.stdout.writelines(
                list(difflib.unified_diff(committed.splitlines(True), text.splitlines(True), name, "generated"))[:40]
            )
    if differ or stale:
        print("the committed reference differs from what scipy computes now", file=sys.stderr)
        return 1
    print(f"{OUTPUT.name} and {len(files) - 1} datasets reproduced byte for byte")
    return 0


if __name__ == "__main__":
    sys.exit(main())
