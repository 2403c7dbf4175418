// node resume.mjs SCENARIO STATE_FILE [DECISIONS_JSON]
// Loads a run state (written by tether or by this SDK) for SCENARIO's agent graph,
// takes DECISIONS on the calls waiting for one (see decide() in weather.mjs), runs
// to the final output (or the next pause) and prints
// {finalOutput, toolRuns, modelInputs, interruptions, state}; state is the
// RunState.toString() of a run that paused again, else null.
import { readFileSync } from 'node:fs';
import { RunState, Runner } from '@openai/agents-core';
import { decide, modelInputs, rootAgent, toolRuns } from './weather.mjs';

const [scenario, file, decisions = '{}'] = process.argv.slice(2);
const agent = rootAgent(scenario);
const state = await RunState.fromString(agent, readFileSync(file, 'utf8'));
decide(state, JSON.parse(decisions));
const result = await new Runner().run(agent, state);
process.stdout.write(JSON.stringify({
  finalOutput: result.finalOutput ?? null,
  toolRuns,
  modelInputs,
  interruptions: result.interruptions.map((item) => item.rawItem.callId),
  state: result.interruptions.length > 0 ? result.state.toString() : null,
}));
