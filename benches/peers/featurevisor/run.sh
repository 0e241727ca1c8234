#!/usr/bin/env bash
# Compare `flagstone check` with Featurevisor's `featurevisor lint` on equivalent synthetic
# repositories (see generate.mjs and RESULTS.md for how they correspond).
#
# Run from the repository root, with flagstone built:
#
#   cargo build --release && benches/peers/featurevisor/run.sh
#
# Environment:
#   FLAGSTONE   flagstone binary to measure       (default: target/release/flagstone)
#   SYNTH_REPO  prebuilt synth_repo example binary (default: `cargo run --release --example
#               synth_repo --`, which builds it if needed)
#   NOW         --now passed to flagstone check    (default: 2026-11-26)
#   RUNS        timed runs per tool and size       (default: 5)
#   SIZES       repository sizes                   (default: "1000 5000")
#   FV_ARGS     extra generate.mjs options, e.g. --countries-in=force (default: none)
#
# Needs Node.js and npm (the npm registry is the only network access), and GNU time at
# /usr/bin/time. Everything it creates goes in a temporary directory, removed on exit.
set -euo pipefail

FV_VERSION=1.11.1
FLAGSTONE=${FLAGSTONE:-target/release/flagstone}
NOW=${NOW:-2026-11-26}
RUNS=${RUNS:-5}
SIZES=${SIZES:-1000 5000}
FV_ARGS=${FV_ARGS:-}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

[[ -f Cargo.toml && -d benches/support ]] || { echo "run.sh: run it from the repository root" >&2; exit 2; }
[[ -x $FLAGSTONE ]] || { echo "run.sh: $FLAGSTONE is not an executable (build it, or set FLAGSTONE=...)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "run.sh: GNU time (/usr/bin/time) is needed" >&2; exit 2; }
FLAGSTONE=$(cd "$(dirname "$FLAGSTONE")" && pwd)/$(basename "$FLAGSTONE")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fv-peer.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# (a) Featurevisor, pinned, in the temporary directory.
mkdir -p "$WORK/fv"
echo '{"private": true}' > "$WORK/fv/package.json"
npm install --prefix "$WORK/fv" --no-audit --no-fund --loglevel=error "@featurevisor/cli@$FV_VERSION" >&2
FV="$WORK/fv/node_modules/.bin/featurevisor"

synth() {
  if [[ -n ${SYNTH_REPO:-} ]]; then
    "$SYNTH_REPO" "$@"
  else
    cargo run --quiet --release --example synth_repo -- "$@"
  fi
}

# One timed run: prints "wall_seconds peak_kb wall_ms"; fails if the tool does not exit 0.
# wall_seconds and peak_kb are GNU time's %e and %M; wall_ms is bash's $EPOCHREALTIME around
# the /usr/bin/time invocation (finer than %e's 10 ms steps, but it includes the subshell and
# starting /usr/bin/time itself: about 3 ms here, measured with `true` as the command).
timed() { # DIR_TO_RUN_IN CMD...
  local dir=$1; shift
  local out="$WORK/time.out" t0 t1
  t0=$EPOCHREALTIME
  if ! (cd "$dir" && /usr/bin/time -f "%e %M" -o "$out" "$@" >"$WORK/tool.log" 2>&1); then
    echo "run.sh: '$*' failed in $dir:" >&2
    cat "$WORK/tool.log" >&2
    exit 1
  fi
  t1=$EPOCHREALTIME
  echo "$(tail -n 1 "$out") $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }')"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "date:        $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine:     $(nproc) cores, $(uname -sr)"
echo "node:        $(node --version)"
echo "featurevisor: @featurevisor/cli $("$FV" --version)"
echo "flagstone:   $("$FLAGSTONE" --version) ($FLAGSTONE)"
echo "generate.mjs options: ${FV_ARGS:-(none)}"
echo

declare -A FVW FVM FVH FSW FSM FSH
for n in $SIZES; do
  # (b) Both repositories.
  synth "$n" "$WORK/fs-$n" >/dev/null
  # shellcheck disable=SC2086
  node "$HERE/generate.mjs" "$n" "$WORK/fv-$n" $FV_ARGS

  # Both must pass before anything is timed (this also warms the page cache).
  timed "$WORK/fv-$n" "$FV" lint >/dev/null
  timed "$WORK" "$FLAGSTONE" check "$WORK/fs-$n" --now "$NOW" >/dev/null

  # (c) Interleaved timed runs: fv, fs, fv, fs, ...
  : > "$WORK/fv-$n.times"; : > "$WORK/fs-$n.times"
  for ((i = 1; i <= RUNS; i++)); do
    timed "$WORK/fv-$n" "$FV" lint >> "$WORK/fv-$n.times"
    timed "$WORK" "$FLAGSTONE" check "$WORK/fs-$n" --now "$NOW" >> "$WORK/fs-$n.times"
  done
  echo "raw runs, $n flags (%e wall s, %M peak KB, EPOCHREALTIME wall ms):"
  paste -d ' ' "$WORK/fv-$n.times" "$WORK/fs-$n.times" \
    | awk '{ printf "  run %d   featurevisor %6s s %8s KB %8s ms   flagstone %6s s %8s KB %8s ms\n", NR, $1, $2, $3, $4, $5, $6 }'
  FVW[$n]=$(cut -d ' ' -f 1 "$WORK/fv-$n.times" | median)
  FVM[$n]=$(cut -d ' ' -f 2 "$WORK/fv-$n.times" | median)
  FVH[$n]=$(cut -d ' ' -f 3 "$WORK/fv-$n.times" | median)
  FSW[$n]=$(cut -d ' ' -f 1 "$WORK/fs-$n.times" | median)
  FSM[$n]=$(cut -d ' ' -f 2 "$WORK/fs-$n.times" | median)
  FSH[$n]=$(cut -d ' ' -f 3 "$WORK/fs-$n.times" | median)
done

# (d) Medians and ratios.
echo
echo "medians of $RUNS runs (fv = featurevisor lint, fs = flagstone check)"
printf "%-6s | %-9s %-9s %-6s | %-10s %-10s %-6s | %-10s %-10s %-6s\n" \
  flags "fv wall s" "fs wall s" "fv/fs" "fv peak KB" "fs peak KB" "fv/fs" "fv wall ms" "fs wall ms" "fv/fs"
for n in $SIZES; do
  awk -v n="$n" -v fw="${FVW[$n]}" -v sw="${FSW[$n]}" -v fm="${FVM[$n]}" -v sm="${FSM[$n]}" \
      -v fh="${FVH[$n]}" -v sh="${FSH[$n]}" 'BEGIN {
    wr = (sw > 0) ? sprintf("%.1f", fw / sw) : "inf"
    printf "%-6s | %-9s %-9s %-6s | %-10s %-10s %-6.1f | %-10s %-10s %-6.1f\n", n, fw, sw, wr, fm, sm, fm / sm, fh, sh, fh / sh
  }'
done
echo "(wall s and peak KB: /usr/bin/time %e and %M; wall ms: EPOCHREALTIME around /usr/bin/time, includes ~3 ms of subshell and time(1) start-up)"
