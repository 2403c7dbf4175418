// node interrupt.mjs SCENARIO [DECISIONS_JSON]
// Runs SCENARIO until it pauses for approval, optionally decides some calls
// (see decide() in weather.mjs), and prints RunState.toString().
import { Runner } from '@openai/agents-core';
import { decide, rootAgent } from './weather.mjs';

const [scenario, decisions = '{}'] = process.argv.slice(2);
const result = await new Runner().run(rootAgent(scenario), 'What is the temperature in Oakland?');
if (result.interruptions.length === 0) throw new Error('the run did not pause for approval');
decide(result.state, JSON.parse(decisions));
process.stdout.write(result.state.toString());
