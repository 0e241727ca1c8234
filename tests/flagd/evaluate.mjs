// Evaluates flags of a flagd flag-definition file with @openfeature/flagd-core (flagd's
// JavaScript evaluator), for tests/test_export.rs.
// stdin: {"flags": "<the file's text>", "cases": [[flag key, context], ...]}
// stdout: one JSON array, per case {"variant", "value"} or {"error"}.
import { FlagdCore } from '@openfeature/flagd-core';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const core = new FlagdCore(undefined, silent);
core.setConfigurations(input.flags);
const definitions = JSON.parse(input.flags).flags;

const defaults = { boolean: false, string: '', number: 0, object: {} };
const results = input.cases.map(([key, context]) => {
  const values = Object.values(definitions[key].variants);
  const type = typeof values[0];
  const resolution = core.resolve(type, key, defaults[type], context, silent);
  if (resolution.errorCode) return { error: `${resolution.errorCode}: ${resolution.errorMessage}` };
  return { variant: resolution.variant ?? null, value: resolution.value };
});
process.stdout.write(JSON.stringify(results));
