#!/usr/bin/env bash
# End to end: the release binary's `check` and `build` on synthetic repositories of 1,000 and
# 10,000 flags, `test` with 500 cases on 5,000 flags, and `diff`, `stale`, `refs` and `review`
# in git. Median and fastest wall time and median peak memory (maximum resident set size) over
# RUNS runs.
#   benches/commands.sh [RUNS]      (from the repository root)
#
# With --memory, only `check` and `build` on 10,000 and 100,000 flags: the peak memory per
# flag. Given another flagstone binary (say, the previous commit's release build), it is
# measured right after this one on the same repositories, and must build the same bytes.
#   benches/commands.sh --memory [RUNS] [OTHER_BINARY]
set -euo pipefail
memory=false
if [[ ${1:-} == --memory ]]; then
  memory=true
  shift
fi
runs=${1:-11}
other=${2:-}
cargo build --release --quiet --bin flagstone --example synth_repo
# Where cargo put them (CARGO_TARGET_DIR, or target/), as an absolute path.
bin=$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin/examples/synth_repo" 1000 "$work/1000"
"$bin/examples/synth_repo" 10000 "$work/10000"
if ! $memory; then
"$bin/examples/synth_repo" 5000 "$work/5000" 500
# A git repository of 10,000 flags, and a work tree that changes 100 of them: 50 raise a
# rollout (blast radius exact) and 50 widen a condition (blast radius estimated by sampling).
"$bin/examples/synth_repo" 10000 "$work/git/flags"
git -C "$work/git" init --quiet
git -C "$work/git" add --all
git -C "$work/git" -c user.name=bench -c user.email=bench@example.com commit --quiet -m flags
for f in $(seq 0 99); do
  file="$work/git/flags/flags/area-$(printf %02d $((f % 100)))/flag-$(printf %05d "$f").toml"
  if ((f % 2)); then
    sed -i '0,/values = \["US", "CA"\]/s//values = ["US", "CA", "DE"]/' "$file"
  else
    sed -i '0,/^rollout = \([0-9]*\)$/s//rollout = 100/' "$file"
  fi
done
# The review benchmark's git repository: 10,000 flags with a review policy, schedules,
# prerequisites and payloads (synth_repo --review), and a head commit changing 100 of them
# (--review-head): 15 kills of flags that others depend on, 30 rollout raises, 30 widened
# conditions, 10 payload changes and 15 schedule changes. No reviews yet: approvals missing.
"$bin/examples/synth_repo" 10000 "$work/review/flags" --review
git -C "$work/review" init --quiet
git -C "$work/review" add --all
git -C "$work/review" -c user.name=bench -c user.email=bench@example.com commit --quiet -m base
"$bin/examples/synth_repo" 10000 "$work/review/flags" --review-head
git -C "$work/review" -c user.name=bench -c user.email=bench@example.com commit --quiet -am head
echo '[]' >"$work/reviews.json"
# A source tree of 5,000 files of 43 lines for `refs` on the 10,000 flags: each file reads two
# flags, by key and by SCREAMING_SNAKE_CASE alias, and has a route in a flag's area (a string
# the undefined-flag rule must compare and let go).
mkdir -p "$work"/src/m{00..49}
awk -v dir="$work/src" 'BEGIN {
  for (i = 0; i < 5000; i++) {
    file = sprintf("%s/m%02d/file%04d.ts", dir, i % 50, i)
    a = i % 100; f = (i * 7) % 10000; g = (i * 13 + 1) % 10000
    printf "import { flags, FLAGS } from \"../flags\";\n" > file
    printf "const on = flags.bool(\"area-%02d/flag-%05d\", false);\n", f % 100, f > file
    printf "const other = flags.bool(FLAGS.AREA_%02d_FLAG_%05d);\n", g % 100, g > file
    printf "router.get(\"area-%02d/settings\", handler);\n", a > file
    for (l = 0; l < 39; l++)
      printf "export function handler%d(request, response) { return response.send(request.body.value%d); }\n", l, l > file
    close(file)
  }
}'
fi

median() { sed -n "$(( ($(wc -l <<<"$1") + 1) / 2 ))p" <<<"$1"; }
# measure [--status N] LABEL COMMAND...: N is the exit status the command must end with
# (default 0); /usr/bin/time then writes a line before its own, so only its last is read.
measure() {
  local expect=0
  if [[ $1 == --status ]]; then
    expect=$2
    shift 2
  fi
  local label=$1
  shift
  for _ in $(seq "$runs"); do
    local status=0
    /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null || status=$?
    if ((status != expect)); then
      echo "$label: exit status $status, expected $expect" >&2
      exit 1
    fi
    tail -1 "$work/time"
  done >"$work/runs"
  local wall peak
  wall=$(cut -d' ' -f1 "$work/runs" | sort -n)
  peak=$(cut -d' ' -f2 "$work/runs" | sort -n)
  printf '%-28s %10s %10s %16s\n' "$label" "$(median "$wall")" "$(head -1 <<<"$wall")" \
    "$(awk '{ printf "%.1f", $1 / 1024 }' <<<"$(median "$peak")")"
}

printf '%-28s %10s %10s %16s\n' command "median s" "min s" "median peak MB"
if $memory; then
  "$bin/examples/synth_repo" 100000 "$work/100000"
  for flags in 10000 100000; do
    for binary in "$bin/flagstone" ${other:+"$other"}; do
      name=$([[ $binary == "$bin/flagstone" ]] && echo this || echo other)
      measure "check, $flags flags, $name" "$binary" check --dir "$work/$flags" --now 2026-11-26
      measure "build, $flags flags, $name" \
        "$binary" build --dir "$work/$flags" --out "$work/out-$name" --now 2026-11-26
    done
    if [[ -n $other ]] && ! diff -r "$work/out-this" "$work/out-other" >/dev/null; then
      echo "the two binaries built different bundles" >&2
      exit 1
    fi
    rm -rf "$work"/out-*
  done
  exit 0
fi
for flags in 1000 10000; do
  measure "check, $flags flags" "$bin/flagstone" check --dir "$work/$flags" --now 2026-11-26
done
measure "build, 10000 flags x 3 envs" \
  "$bin/flagstone" build --dir "$work/10000" --out "$work/out" --now 2026-11-26
measure "test, 500 cases, 5000 flags" \
  "$bin/flagstone" test --dir "$work/5000" --now 2026-11-26
(cd "$work/git" && measure "diff, 10000 flags, 100 changed" \
  "$bin/flagstone" diff --dir flags --now 2026-11-26)
(cd "$work/git" && measure "stale, 10000 flags" \
  "$bin/flagstone" stale --dir flags --now 2026-11-26)
(cd "$work/git" && measure "refs, 10000 flags, 5000 files" \
  "$bin/flagstone" refs --dir flags --code "$work/src" --now 2026-11-26)
(cd "$work/review" && measure --status 1 "review, 10000 flags, 100 changed" \
  "$bin/flagstone" review --dir flags --base HEAD~1 --head HEAD \
  --reviews "$work/reviews.json" --author someone --now 2026-11-26 --format json)
