// Evaluates flags through OpenFeature's server SDK (@openfeature/server-sdk) and its OFREP
// provider (@openfeature/ofrep-provider) against a running `flagstone serve`, for
// tests/test_serve.rs. Input and output: as evaluate.py's.
import { OpenFeature } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const job = JSON.parse(Buffer.concat(chunks).toString('utf8'));

const headers = job.token ? [['Authorization', `Bearer ${job.token}`]] : [];
await OpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl: job.base_url, headers }));
const client = OpenFeature.getClient();
const resolvers = {
  boolean: (...a) => client.getBooleanDetails(...a),
  string: (...a) => client.getStringDetails(...a),
  integer: (...a) => client.getNumberDetails(...a),
  float: (...a) => client.getNumberDetails(...a),
  object: (...a) => client.getObjectDetails(...a),
};
const answers = [];
for (const c of job.cases) {
  const details = await resolvers[c.type](c.flag, c.default, c.context);
  answers.push({
    value: details.value,
    variant: details.variant ?? null,
    reason: details.reason ?? null,
    error_code: details.errorCode ?? null,
    metadata: details.flagMetadata ?? {},
  });
}
process.stdout.write(JSON.stringify(answers));
await OpenFeature.close();
