#!/usr/bin/env node
// Writes a Featurevisor (v1.x, @featurevisor/cli 1.11.1) project equivalent to the synthetic
// flagstone repository of benches/support/synth.rs, for N features.
//
//   node generate.mjs N DIR [--countries-in=segments|force]
//
// Correspondence with synth.rs (see RESULTS.md for the full discussion):
// - environments development, staging, production (featurevisor.config.js);
// - attributes country, plan, app_version (semver), seats (double), email, org.id, plus userId,
//   which stands in for flagstone's built-in targeting_key (the bucketing unit, and the key that
//   segments' `include` lists name);
// - segments segment-00 .. segment-49: "included, or meets every condition", written as
//   `or: [userId in [unit-s, unit-(s+1000)], seats >= s*10]`;
// - features flag-00000 .. flag-(N-1): description, tags [all, area-XX] (`featurevisor build`
//   writes one datafile per environment for the tag `all`: every feature), bucketBy userId, and in each
//   environment three rules in flagstone's order: "segment" (segment-XX, 100%), "countries"
//   (country in [US, CA] and app_version >= 2.K.0, 100%) and "gradual" (everyone, P%).
//   Featurevisor 1.x rules can only target segments, not inline conditions, so by default the
//   "countries" rule targets one of 10 extra segments countries-v2-0 .. countries-v2-9 holding
//   those two conditions (--countries-in=segments). With --countries-in=force the two
//   conditions are instead written inline in every feature and environment as a `force` entry
//   (`conditions: {and: [...]}, enabled: true`), which gives the same outcome (every rule
//   serves "on") and makes the linter validate the conditions per feature, as flagstone does.
// - Featurevisor 1.x lists features with a flat readdir of features/, so the 100 area
//   subdirectories of synth.rs cannot be mirrored: all features are in features/ directly, and
//   the area survives only as a tag.
// Deterministic: the same arguments give the same files.

import fs from "node:fs";
import path from "node:path";

const ENVIRONMENTS = ["development", "staging", "production"];
const SEGMENTS = 50;

function usage(message) {
  if (message) console.error(`generate.mjs: ${message}`);
  console.error("usage: node generate.mjs N DIR [--countries-in=segments|force]");
  process.exit(2);
}

const positional = [];
let countriesIn = "segments";
for (const arg of process.argv.slice(2)) {
  if (arg.startsWith("--countries-in=")) {
    countriesIn = arg.slice("--countries-in=".length);
    if (countriesIn !== "segments" && countriesIn !== "force") usage(`bad ${arg}`);
  } else if (arg.startsWith("--")) {
    usage(`unknown option ${arg}`);
  } else {
    positional.push(arg);
  }
}
if (positional.length !== 2) usage();
const flags = Number(positional[0]);
if (!Number.isInteger(flags) || flags < 0) usage(`bad N: ${positional[0]}`);
const dir = positional[1];

const pad = (n, width) => String(n).padStart(width, "0");

function config() {
  return `module.exports = {
  environments: ${JSON.stringify(ENVIRONMENTS)},
  tags: ["all"],
};
`;
}

const ATTRIBUTES = [
  ["userId", "string", "Unit key; stands in for flagstone's built-in targeting_key"],
  ["country", "string", "Country (flagstone restricts it to US, CA, DE, FR, JP)"],
  ["plan", "string", "Plan (flagstone restricts it to free, pro, enterprise)"],
  ["app_version", "semver", "App version"],
  ["seats", "double", "Seats"],
  ["email", "string", "Email"],
  ["org.id", "string", "Organisation id"],
];

function attribute([, type, description]) {
  return `description: ${JSON.stringify(description)}\ntype: ${type}\n`;
}

function segment(s) {
  return `description: Synthetic segment ${s}
conditions:
  or:
    - attribute: userId
      operator: in
      value: ["unit-${s}", "unit-${s + 1000}"]
    - attribute: seats
      operator: greaterThanOrEquals
      value: ${s * 10}
`;
}

function countriesConditions(k, indent) {
  const i = " ".repeat(indent);
  return `${i}and:
${i}  - attribute: country
${i}    operator: in
${i}    value: ["US", "CA"]
${i}  - attribute: app_version
${i}    operator: semverGreaterThanOrEquals
${i}    value: "2.${k}.0"
`;
}

function countriesSegment(k) {
  return `description: Country in US, CA and app_version >= 2.${k}.0
conditions:
${countriesConditions(k, 2)}`;
}

function feature(f) {
  let out = `description: Synthetic flag ${f}
tags:
  - all
  - area-${pad(f % 100, 2)}
bucketBy: userId
environments:
`;
  ENVIRONMENTS.forEach((env, e) => {
    out += `  ${env}:\n`;
    if (countriesIn === "force") {
      out += `    force:
      - conditions:
${countriesConditions(f % 10, 10)}        enabled: true
`;
    }
    out += `    rules:
      - key: segment
        segments: segment-${pad((f + e) % SEGMENTS, 2)}
        percentage: 100
`;
    if (countriesIn === "segments") {
      out += `      - key: countries
        segments: countries-v2-${f % 10}
        percentage: 100
`;
    }
    out += `      - key: gradual
        segments: "*"
        percentage: ${(f * 7 + e * 13) % 101}
`;
  });
  return out;
}

for (const sub of ["attributes", "segments", "features"]) {
  fs.mkdirSync(path.join(dir, sub), { recursive: true });
}
fs.writeFileSync(path.join(dir, "featurevisor.config.js"), config());
for (const a of ATTRIBUTES) {
  fs.writeFileSync(path.join(dir, "attributes", `${a[0]}.yml`), attribute(a));
}
for (let s = 0; s < SEGMENTS; s++) {
  fs.writeFileSync(path.join(dir, "segments", `segment-${pad(s, 2)}.yml`), segment(s));
}
if (countriesIn === "segments") {
  for (let k = 0; k < 10; k++) {
    fs.writeFileSync(path.join(dir, "segments", `countries-v2-${k}.yml`), countriesSegment(k));
  }
}
for (let f = 0; f < flags; f++) {
  fs.writeFileSync(path.join(dir, "features", `flag-${pad(f, 5)}.yml`), feature(f));
}
