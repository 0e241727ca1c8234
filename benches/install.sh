#!/usr/bin/env bash
# The GitHub Action's download and install steps (action.yml), run as the runner runs them,
# with the release binary built here served as a release from 127.0.0.1: how long the Action
# takes to get its binary when a release exists (the network excepted). Median and fastest
# wall time over RUNS runs.
#   benches/install.sh [RUNS]      (from the repository root; needs python3 and curl)
set -euo pipefail
runs=${1:-11}
cargo build --release --quiet --bin flagstone
bin=$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd)/flagstone
work=$(mktemp -d)
server=
cleanup() {
  [[ -z "$server" ]] || kill "$server"
  rm -rf "$work"
}
trap cleanup EXIT

# The release: this machine's archive and its SHA256SUMS, as the release workflow makes them.
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
source release/targets.sh
archive=$(flagstone_archive "$version" x86_64-unknown-linux-gnu)
release="$work/www/v$version"
mkdir -p "$release"
tar -czf "$release/$archive" -C "$(dirname "$bin")" flagstone
(cd "$release" && sha256sum "$archive" >SHA256SUMS)
echo "$archive: $(stat -c %s "$release/$archive") bytes, binary $(stat -c %s "$bin") bytes"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$work/www" "$port" >/dev/null 2>&1 &
server=$!
until curl -fs -o /dev/null "http://127.0.0.1:$port/v$version/SHA256SUMS"; do sleep 0.1; done

# The steps' scripts, from action.yml.
python3 - "$work" <<'PY'
import sys, yaml
steps = yaml.safe_load(open("action.yml"))["runs"]["steps"]
for step in steps:
    if step.get("id") in ("download", "cache-key", "install"):
        open(f"{sys.argv[1]}/{step['id']}.sh", "w").write(step["run"])
PY

median() { sed -n "$(( ($(wc -l <<<"$1") + 1) / 2 ))p" <<<"$1"; }
for _ in $(seq "$runs"); do
  temp=$(mktemp -d "$work/run.XXXXXX")
  start=$(date +%s.%N)
  for step in download cache-key install; do
    : >"$temp/$step.out"
    downloaded=$(sed -n 's/^path=//p' "$temp/download.out" 2>/dev/null || true)
    build=$(sed -n 's/^build=//p' "$temp/download.out" 2>/dev/null || true)
    env -i PATH="$PATH" HOME="$HOME" RUNNER_TEMP="$temp" RUNNER_OS=Linux RUNNER_ARCH=X64 \
      GITHUB_ACTION_PATH="$PWD" GITHUB_OUTPUT="$temp/$step.out" FLAGSTONE_PATH= \
      RELEASE_URL="http://127.0.0.1:$port/v$version" ACTION_REPOSITORY= \
      DOWNLOADED="$downloaded" BUILD="$build" \
      bash --noprofile --norc -eo pipefail "$work/$step.sh" >"$temp/$step.log"
  done
  end=$(date +%s.%N)
  grep -q "^path=$temp/flagstone-release" "$temp/install.out" || {
    echo "the install step did not use the downloaded binary" >&2
    cat "$temp"/*.log >&2
    exit 1
  }
  echo "$end - $start" | bc
  rm -rf "$temp"
done >"$work/times"
times=$(sort -n "$work/times")
printf '%-40s %10s %10s\n' "" "median s" "min s"
printf '%-40s %10.3f %10.3f\n' "download and install steps" "$(median "$times")" "$(head -1 <<<"$times")"
