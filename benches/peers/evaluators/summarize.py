#!/usr/bin/env python3
"""Summarize divan outputs of `cargo bench --bench compare` (one file per run).

    python3 summarize.py run1.txt run2.txt run3.txt

Prints, per benchmark, each run's median and the median of those medians (ns), then the
table of scenarios with ratios flagstone / peer (the median of the runs' medians), and
each run's own ratios.
"""
import re
import statistics
import sys

UNITS = {"ps": 1e-3, "ns": 1.0, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}
ROW = re.compile(r"^[\s│├╰─]*([a-z0-9_]+)\s+([0-9.]+ \S+)\s+│\s+([0-9.]+ \S+)\s+│\s+([0-9.]+ \S+)\s+│")


def ns(text):
    value, unit = text.split()
    return float(value) * UNITS[unit]


def parse(path):
    """({"group::bench" or "group/subgroup::bench": median ns}, {the same: fastest ns}) from
    one divan output."""
    medians, fastest, headers = {}, {}, []  # headers: (column, name) of the enclosing groups
    for line in open(path, encoding="utf-8"):
        name = re.match(r"^[\s│├╰─]*([a-z0-9_]+)\s", line)
        if not name or not ("│" in line or line.startswith("compare")):
            continue
        column = name.start(1)
        headers = [(c, n) for c, n in headers if c < column]
        m = ROW.match(line)
        if m:
            groups = "/".join(n for c, n in headers if c > 0)
            medians[f"{groups}::{m.group(1)}"] = ns(m.group(4))
            fastest[f"{groups}::{m.group(1)}"] = ns(m.group(2))
        else:
            headers.append((column, name.group(1)))
    return medians, fastest


def main():
    parsed = [parse(p) for p in sys.argv[1:]]
    runs = [m for m, _ in parsed]
    keys = list(runs[0])
    med = {}
    print(f"{'benchmark':<60} " + " ".join(f"{'run' + str(i + 1):>10}" for i in range(len(runs))) + f" {'median':>10}")
    for k in keys:
        vals = [r[k] for r in runs if k in r]
        med[k] = statistics.median(vals)
        print(f"{k:<60} " + " ".join(f"{v:>10.1f}" for v in vals) + f" {med[k]:>10.1f}")
    print()
    print("| scenario | flagstone | yggdrasil | flagstone / yggdrasil | LaunchDarkly | flagstone / LaunchDarkly |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, g, yg in [
        ("(a) no rules", "a_no_rules", "yggdrasil"),
        ("(a) no rules, yggdrasil get_variant", "a_no_rules", "yggdrasil_get_variant"),
        ("(b) rule + 50/50 split", "b_rule_split", "yggdrasil"),
        ("(c) 10 rules x 3 conditions, all 30 run", "c_ten_rules", "yggdrasil"),
        ("(c) same, yggdrasil get_variant", "c_ten_rules", "yggdrasil_get_variant"),
    ]:
        f, y, l = med[f"{g}::flagstone"], med[f"{g}::{yg}"], med[f"{g}::launchdarkly"]
        print(f"| {label} | {f:.1f} ns | {y:.1f} ns | {f / y:.2f} | {l:.1f} ns | {f / l:.2f} |")
    print()
    # The ratios run by run, each from one run's medians (so a noisy run shows), and their
    # median: the figure to compare with the targets.
    print("ratios run by run, flagstone / yggdrasil (flagstone / LaunchDarkly), then their median")
    for label, g, yg in [("(a)", "a_no_rules", "yggdrasil"), ("(b)", "b_rule_split", "yggdrasil"),
                         ("(c)", "c_ten_rules", "yggdrasil")]:
        to_y = [r[f"{g}::flagstone"] / r[f"{g}::{yg}"] for r in runs]
        to_l = [r[f"{g}::flagstone"] / r[f"{g}::launchdarkly"] for r in runs]
        cells = [f"{y:.3f} ({l:.3f})" for y, l in zip(to_y, to_l)]
        print(f"{label} " + "  ".join(cells)
              + f"  median {statistics.median(to_y):.3f} ({statistics.median(to_l):.3f})")
    print()
    # The fastest sample of each benchmark, least disturbed by the other work on the machine.
    print("fastest sample (the smallest over the runs), and its ratios")
    for label, g, yg in [("(a)", "a_no_rules", "yggdrasil"), ("(b)", "b_rule_split", "yggdrasil"),
                         ("(c)", "c_ten_rules", "yggdrasil")]:
        f, y, l = (min(r[f"{g}::{e}"] for _, r in parsed) for e in ("flagstone", yg, "launchdarkly"))
        print(f"{label} flagstone {f:.1f} ns, yggdrasil {y:.1f} ns, LaunchDarkly {l:.1f} ns: "
              f"{f / y:.3f}, {f / l:.3f}")

if __name__ == "__main__":
    main()
