// node fingerprint.mjs TOOL_KEY ARGUMENTS_JSON_ARRAY
// Prints the invocation fingerprint @openai/agents-core computes for a function call
// with each of the given argument strings, so tether's port can be checked against it.
// The function is internal to the package, so it is loaded from its file directly.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

const require = createRequire(import.meta.url);
const { getToolInvocationFingerprint } = require(
  resolve('node_modules/@openai/agents-core/dist/toolInvocation.js'),
);
const [toolKey, cases] = process.argv.slice(2);
const fingerprints = JSON.parse(cases).map((args) =>
  getToolInvocationFingerprint(toolKey, { type: 'function_call', callId: 'c', name: 't', arguments: args }));
process.stdout.write(JSON.stringify(fingerprints));
