// Writes the flags of benches/support/synth.rs (production environment, N flags; the same as
// benches/peers/evaluators' `synth`) as a flagd flag configuration, then loads it into
// OpenFeature's flagd-core — the in-process evaluator of flagd's JavaScript provider — as an
// application does (`setConfigurations`: JSON.parse, schema validation, targeting rules
// prepared), RUNS times, and prints the configuration's size and the median load time, then
// every time on a line of its own.
//
//   node --expose-gc load.mjs SDK_DIR N [RUNS]
//
// SDK_DIR is a directory whose node_modules holds @openfeature/flagd-core and
// @openfeature/core. Segments are shared `$evaluators`, referenced with `$ref`. With
// --expose-gc, garbage from the run before is collected before each timed run.
import { createRequire } from "node:module";
import path from "node:path";

const [sdkDir, flagsArg, runsArg] = process.argv.slice(2);
if (!sdkDir || !flagsArg) {
  console.error("usage: node --expose-gc load.mjs SDK_DIR N [RUNS]");
  process.exit(2);
}
const flags = Number(flagsArg);
const runs = Number(runsArg ?? 21);
const require = createRequire(path.join(path.resolve(sdkDir), "package.json"));
const { FlagdCore } = require("@openfeature/flagd-core");

const ENVIRONMENT = 2; // production
const SEGMENTS = 50;
const pad = (n, width) => String(n).padStart(width, "0");

const evaluators = {};
for (let s = 0; s < SEGMENTS; s++) {
  evaluators[`segment-${pad(s, 2)}`] = {
    or: [
      { in: [{ var: "targetingKey" }, [`unit-${s}`, `unit-${s + 1000}`]] },
      { ">=": [{ var: "seats" }, s * 10] },
    ],
  };
}
const all = {};
for (let f = 0; f < flags; f++) {
  const rollout = (f * 7 + ENVIRONMENT * 13) % 101;
  all[`flag-${pad(f, 5)}`] = {
    state: "ENABLED",
    variants: { on: true, off: false },
    defaultVariant: "off",
    targeting: {
      if: [
        { $ref: `segment-${pad((f + ENVIRONMENT) % SEGMENTS, 2)}` },
        "on",
        {
          and: [
            { in: [{ var: "country" }, ["US", "CA"]] },
            { sem_ver: [{ var: "app_version" }, ">=", `2.${f % 10}.0`] },
          ],
        },
        "on",
        { fractional: [["on", rollout], ["off", 100 - rollout]] },
      ],
    },
  };
}
const text = JSON.stringify({ $evaluators: evaluators, flags: all });

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const times = [];
let core;
for (let i = 0; i < runs; i++) {
  globalThis.gc?.();
  const t0 = process.hrtime.bigint();
  core = new FlagdCore(undefined, silent);
  core.setConfigurations(text);
  const t1 = process.hrtime.bigint();
  times.push(Number(t1 - t0) / 1e6);
}
// flag-00003: a US user on 2.9.0 with one seat, outside every segment, matches `countries`.
const context = { targetingKey: "unit-x", country: "US", app_version: "2.9.0", seats: 1 };
const served = core.resolveBooleanEvaluation("flag-00003", false, context, silent);
if (served.value !== true) {
  console.error(`load.mjs: flag-00003 served ${JSON.stringify(served)}`);
  process.exit(1);
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
console.log(`flagd ${Buffer.byteLength(text)} bytes, load median ${median.toFixed(2)} ms, fastest ${times[0].toFixed(2)} ms (${runs} runs)`);
console.log(`times ${times.map((t) => t.toFixed(3)).join(" ")}`);
