#!/usr/bin/env bash
# End-to-end `flagstone check` on synthetic repositories: median wall time and peak memory
# (maximum resident set size) of the release binary over RUNS runs.
#   benches/check_binary.sh [RUNS]      (from the repository root)
set -euo pipefail
runs=${1:-11}
cargo build --release --quiet --bin flagstone --example synth_repo
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%-8s %12s %12s %14s\n' flags "median s" "min s" "median peak MB"
for flags in 1000 10000; do
  target/release/examples/synth_repo "$flags" "$work/$flags"
  for _ in $(seq "$runs"); do
    /usr/bin/time -f '%e %M' -o "$work/time" target/release/flagstone check "$work/$flags" --now 2026-11-26 >/dev/null
    cat "$work/time"
  done >"$work/runs"
  wall=$(cut -d' ' -f1 "$work/runs" | sort -n)
  peak=$(cut -d' ' -f2 "$work/runs" | sort -n)
  median() { sed -n "$(( ($(wc -l <<<"$1") + 1) / 2 ))p" <<<"$1"; }
  printf '%-8s %12s %12s %14s\n' "$flags" "$(median "$wall")" "$(head -1 <<<"$wall")" \
    "$(awk '{ printf "%.1f", $1 / 1024 }' <<<"$(median "$peak")")"
done
