// The agent graph and scripted model shared by interrupt.mjs and resume.mjs.
//
// tests/interop/weather_policy.py builds the same graph for tether: the same agent
// names, tools and tool outputs, and a model that answers the same way. The model
// is a pure function of what it is sent, so a run paused on one side and resumed on
// the other gets the answers it would have got without the move.

import { Agent, Usage, setTracingDisabled, tool } from '@openai/agents-core';
import { z } from 'zod';

setTracingDisabled(true);

/** How many times each tool really ran in this process. */
export const toolRuns = {};
/** What the model was sent on each call, each item as [kind, id, text]. */
export const modelInputs = [];

const counted = (name, fn) => async (args) => {
  toolRuns[name] = (toolRuns[name] ?? 0) + 1;
  return fn(args);
};

const getTemperature = tool({
  name: 'get_temperature',
  description: 'Get the temperature for a city.',
  parameters: z.object({ city: z.string() }),
  needsApproval: true,
  execute: counted('get_temperature', ({ city }) => `The temperature in ${city} is 20C`),
});

const getTime = tool({
  name: 'get_time',
  description: 'Get the time; needs no approval.',
  parameters: z.object({}),
  execute: counted('get_time', () => '12:00'),
});

// Each scenario is the batches of calls the weather agent makes, one batch a turn.
const SCENARIOS = {
  one: [[['call_oak', 'get_temperature', { city: 'Oakland' }]]],
  two: [
    [['call_time', 'get_time', {}]],
    [
      ['call_oak', 'get_temperature', { city: 'Oakland' }],
      ['call_par', 'get_temperature', { city: 'Paris' }],
    ],
  ],
  handoff: [[['call_w', 'get_temperature', { city: 'Oakland' }]]],
  again: [
    [['call_oak', 'get_temperature', { city: 'Oakland' }]],
    [['call_par', 'get_temperature', { city: 'Paris' }]],
  ],
};

export function describe(item) {
  if (item.type === 'function_call') return ['function_call', item.callId, item.arguments];
  if (item.type === 'function_call_result') {
    const output = typeof item.output === 'string' ? item.output : item.output?.text;
    return ['function_call_output', item.callId, output];
  }
  if (item.type === 'reasoning') return ['reasoning', item.id ?? null, item.content?.[0]?.text];
  const content = typeof item.content === 'string'
    ? item.content
    : (item.content ?? []).map((part) => part.text ?? '').join('');
  return ['message', item.role, content];
}

const usage = () => new Usage({ requests: 1, inputTokens: 10, outputTokens: 5, totalTokens: 15 });

class PolicyModel {
  constructor(scenario, role) {
    this.batches = SCENARIOS[scenario];
    this.role = role;
  }

  answer(input) {
    const items = typeof input === 'string' ? [{ role: 'user', content: input }] : input;
    const calls = items.filter((i) => i.type === 'function_call');
    const results = items.filter((i) => i.type === 'function_call_result');
    if (this.role === 'triage') {
      return [{ type: 'reasoning', id: 'rs_1', content: [{ type: 'input_text', text: 'route to weather' }] },
        { type: 'function_call', callId: 'call_h', name: 'transfer_to_Weather_agent', arguments: '{}', status: 'completed' }];
    }
    const made = new Set(calls.map((c) => c.callId));
    const next = this.batches.find((batch) => !made.has(batch[0][0]));
    if (next) {
      return next.map(([callId, name, args]) => ({
        type: 'function_call', id: `fc_${callId}`, callId, name, arguments: JSON.stringify(args), status: 'completed',
      }));
    }
    const text = results
      .filter((r) => r.name !== 'transfer_to_Weather_agent')
      .map((r) => `${r.callId}=${describe(r)[2]}`).join('; ');
    return [{ type: 'message', id: 'msg_final', role: 'assistant', status: 'completed',
      content: [{ type: 'output_text', text: `Done: ${text}` }] }];
  }

  async getResponse(request) {
    const input = typeof request.input === 'string' ? [{ role: 'user', content: request.input }] : request.input;
    modelInputs.push(input.map(describe));
    return { usage: usage(), output: this.answer(request.input), responseId: `resp_${modelInputs.length}` };
  }

  async *getStreamedResponse(request) {
    const response = await this.getResponse(request);
    yield { type: 'response_done', response: { id: response.responseId,
      usage: { requests: 1, inputTokens: 10, outputTokens: 5, totalTokens: 15 }, output: response.output } };
  }
}

/** The root agent of a scenario: the weather agent, or a triage agent handing off to it. */
export function rootAgent(scenario) {
  const weather = new Agent({
    name: 'Weather agent',
    instructions: 'You help with the weather.',
    model: new PolicyModel(scenario, 'weather'),
    tools: [getTemperature, getTime],
  });
  if (scenario !== 'handoff') return weather;
  return new Agent({
    name: 'Triage',
    instructions: 'Route weather questions.',
    model: new PolicyModel(scenario, 'triage'),
    handoffs: [weather],
  });
}

/** Apply decisions `{callId: {approve: true, always?} | {reject: message|null, always?}}`. */
export function decide(state, decisions) {
  for (const item of state.getInterruptions()) {
    const decision = decisions[item.rawItem.callId];
    if (!decision) continue;
    if ('approve' in decision) state.approve(item, { alwaysApprove: Boolean(decision.always) });
    else state.reject(item, { alwaysReject: Boolean(decision.always), message: decision.reject ?? undefined });
  }
}
