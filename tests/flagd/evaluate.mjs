// Evaluates flags of a flagd flag-definition file with @openfeature/flagd-core (flagd's
// JavaScript evaluator), for tests/test_export.rs.
// stdin: a JSON array of jobs {"flags": "<a file's text>", "keys": [flag key, ...],
// "contexts": [context, ...]}
// stdout: a JSON array with, per job, an array: for each key, for each context,
// {"variant", "value"} or {"error"}.
import { FlagdCore } from '@openfeature/flagd-core';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const defaults = { boolean: false, string: '', number: 0, object: {} };

function run(job) {
  const core = new FlagdCore(undefined, silent);
  core.setConfigurations(job.flags);
  const definitions = JSON.parse(job.flags).flags;
  const results = [];
  for (const key of job.keys) {
    const type = typeof Object.values(definitions[key].variants)[0];
    for (const context of job.contexts) {
      const resolution = core.resolve(type, key, defaults[type], context, silent);
      results.push(
        resolution.errorCode
          ? { error: `${resolution.errorCode}: ${resolution.errorMessage}` }
          : { variant: resolution.variant ?? null, value: resolution.value },
      );
    }
  }
  return results;
}

process.stdout.write(JSON.stringify(input.map(run)));
