// Loads a Featurevisor datafile as an application does — JSON.parse the text already read,
// create an SDK instance — RUNS times, and prints the datafile's size and the median load
// time, then every time on a line of its own. (The SDK keeps the parsed arrays as they are; a segment's conditions, a JSON string
// in the datafile, are parsed again at each evaluation that needs them.)
//
//   node --expose-gc load.mjs SDK_DIR DATAFILE [RUNS]
//
// With --expose-gc, garbage from the run before is collected before each timed run, so a run
// is not charged for its predecessor.
// SDK_DIR is a directory whose node_modules holds @featurevisor/sdk.
import { readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const [sdkDir, datafile, runsArg] = process.argv.slice(2);
if (!sdkDir || !datafile) {
  console.error("usage: node load.mjs SDK_DIR DATAFILE [RUNS]");
  process.exit(2);
}
const runs = Number(runsArg ?? 21);
const require = createRequire(path.join(path.resolve(sdkDir), "package.json"));
const { createInstance } = require("@featurevisor/sdk");

const text = readFileSync(datafile, "utf8");
const times = [];
let enabled;
for (let i = 0; i < runs; i++) {
  globalThis.gc?.();
  const t0 = process.hrtime.bigint();
  const instance = createInstance({
    datafile: JSON.parse(text),
    logger: { debug() {}, info() {}, warn() {}, error() {}, setLevels() {}, log() {} },
  });
  const t1 = process.hrtime.bigint();
  times.push(Number(t1 - t0) / 1e6);
  // flag-00003, production: a US user on 2.3.0 matches the `countries` rule.
  enabled = instance.isEnabled("flag-00003", { userId: "unit-x", country: "US", app_version: "2.3.0", seats: 1 });
}
if (enabled !== true) {
  console.error("load.mjs: flag-00003 is not enabled for a US user on 2.3.0");
  process.exit(1);
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
console.log(`featurevisor ${statSync(datafile).size} bytes, load median ${median.toFixed(2)} ms, fastest ${times[0].toFixed(2)} ms (${runs} runs)`);
console.log(`times ${times.map((t) => t.toFixed(3)).join(" ")}`);
