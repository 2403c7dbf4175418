// node make_fixtures.mjs OUT_DIR
// Writes the paused run of ../js/fixtures.mjs as @openai/agents-core 0.18.0 saves
// it (schema 1.20), as OUT_DIR/interrupted_written_by_0.18.0.json. Newer readers
// must handle, or refuse saying why, what older versions of the SDK wrote.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as core from '@openai/agents-core';
import { z } from 'zod';
import { makeFixtures } from '../js/fixtures.mjs';

const [out] = process.argv.slice(2);
if (!out) throw new Error('usage: node make_fixtures.mjs OUT_DIR');
mkdirSync(out, { recursive: true });
const made = await makeFixtures(core, z, ['interrupted_no_tracing']);
writeFileSync(join(out, 'interrupted_written_by_0.18.0.json'), made.interrupted_no_tracing);
