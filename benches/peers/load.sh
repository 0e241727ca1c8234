#!/usr/bin/env bash
# Bundle size and load time of flagstone, LaunchDarkly, Unleash, Featurevisor and flagd from the same
# flags, in one run, as ratios to the best peer (see BENCHMARKS.md, "Peers: size and load").
#
#   benches/peers/load.sh [FLAGS] [RUNS]        (defaults: 10000 flags, 21 loads each)
#
# Run from the repository root. Builds benches/peers/evaluators' `load` example (flagstone,
# LaunchDarkly's and Unleash's Rust evaluators, in one process), installs the pinned
# Featurevisor CLI and SDK from npm into a temporary directory, writes the equivalent
# Featurevisor project with generate.mjs, builds its datafiles, and lets the example time
# Featurevisor's load in Node; likewise flagd's JavaScript in-process evaluator
# (@openfeature/flagd-core), on a flagd configuration flagd/load.mjs writes for the same flags. Needs Node.js and npm (the npm registry is the only network
# access besides crates.io for the example's dependencies). PEER_TARGET sets the example's
# cargo target directory (default /tmp/peer-target).
set -euo pipefail

FLAGS=${1:-10000}
RUNS=${2:-21}
FV_CLI=1.11.1
FV_SDK=1.27.2
FLAGD_CORE=4.0.1
OPENFEATURE_CORE=1.12.0
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ -f Cargo.toml && -d benches/peers ]] || { echo "load.sh: run it from the repository root" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/peer-load.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

echo '{"private": true}' > "$WORK/package.json"
npm install --prefix "$WORK" --no-audit --no-fund --loglevel=error \
  "@featurevisor/cli@$FV_CLI" "@featurevisor/sdk@$FV_SDK" \
  "@openfeature/flagd-core@$FLAGD_CORE" "@openfeature/core@$OPENFEATURE_CORE" >&2
node "$HERE/featurevisor/generate.mjs" "$FLAGS" "$WORK/fv" >/dev/null
(cd "$WORK/fv" && "$WORK/node_modules/.bin/featurevisor" build >/dev/null)

(cd "$HERE/evaluators" && CARGO_TARGET_DIR=${PEER_TARGET:-/tmp/peer-target} \
  cargo build --quiet --release --example load)
echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine: $(nproc) cores, load average $(cut -d ' ' -f 1-3 /proc/loadavg)"
echo "node:    $(node --version)"
FLAGD_SDK=$WORK FEATUREVISOR_SDK=$WORK FEATUREVISOR_DATAFILE=$WORK/fv/dist/production/datafile-tag-all.json \
  "${PEER_TARGET:-/tmp/peer-target}/release/examples/load" "$FLAGS" "$RUNS"
