// node make_fixtures.mjs OUT_DIR
// Writes the run states of fixtures.mjs, made by @openai/agents-core 0.20.0
// (the version package.json pins), as OUT_DIR/<scenario>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as core from '@openai/agents-core';
import { z } from 'zod';
import { makeFixtures } from './fixtures.mjs';

const [out] = process.argv.slice(2);
if (!out) throw new Error('usage: node make_fixtures.mjs OUT_DIR');
mkdirSync(out, { recursive: true });
for (const [name, text] of Object.entries(await makeFixtures(core, z))) {
  writeFileSync(join(out, `${name}.json`), text);
}
