"""How often a PASS is wrong: the simulation behind docs/evals.md's minimum number of cases.

Differences are -1, 0 or +1 (a pass/fail grader), 0 with probability p0, and their true mean is
0: on the margin of 0, where a PASS should come at most alpha/2 = 2.5% of the time. For each
number of cases n, 4,000 datasets are drawn, each bootstrapped with 2,000 resamples (the
percentile interval, as flagstone computes it), and the share of datasets whose interval's
lower end clears the margin is printed: touching it (lower end >= 0, the rule before the
minimum) and strictly above it (lower end > 0, flagstone's rule).

    python3 tests/evals/false_pass.py     # numpy; about two minutes
"""

import numpy as np


def false_pass(rng, n, p0, reps=4000, resamples=2000):
    touching = above = 0
    for _ in range(reps):
        d = rng.choice([-1.0, 0.0, 1.0], size=n, p=[(1 - p0) / 2, p0, (1 - p0) / 2])
        means = d[rng.integers(0, n, size=(resamples, n))].mean(axis=1)
        low = np.quantile(means, 0.025)
        touching += low >= 0
        above += low > 0
    return touching / reps, above / reps


def main():
    rng = np.random.default_rng(1)
    sizes = [2, 5, 10, 20, 30, 50]
    print("p0    rule   " + "  ".join(f"n={n:<4}" for n in sizes))
    for p0 in [0.5, 0.8, 0.9]:
        rows = [false_pass(rng, n, p0) for n in sizes]
        for label, column in [(">= 0", 0), ("> 0", 1)]:
            cells = "  ".join(f"{100 * r[column]:5.1f}%" for r in rows)
            print(f"{p0:<5} {label:<6} {cells}")


if __name__ == "__main__":
    main()
