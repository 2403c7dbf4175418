// node inspect.mjs SCENARIO STATE_FILE
// Loads a run state with RunState.fromString for SCENARIO's agent graph and prints
// what that SDK sees in it: {history, interruptions, usage}. Nothing runs.
import { readFileSync } from 'node:fs';
import { RunState } from '@openai/agents-core';
import { describe, rootAgent } from './weather.mjs';

const [scenario, file] = process.argv.slice(2);
const state = await RunState.fromString(rootAgent(scenario), readFileSync(file, 'utf8'));
process.stdout.write(JSON.stringify({
  history: state.history.map(describe),
  interruptions: state.getInterruptions().map((item) => item.rawItem.callId),
  usage: { requests: state.usage.requests, totalTokens: state.usage.totalTokens },
}));
