// The TypeScript run states tether's interop tests read, made by the real SDK.
//
// Each fixture is one shape a saved run can have: paused for approval (with and
// without tracing), decided but not resumed (approve once, approve always, reject
// always with a message), paused after a handoff, finished after a resume, and two
// shapes tether refuses (a hosted MCP approval, a nested agent-as-tool run).
//
// The SDK is passed in, not imported, so the same scenarios run on 0.20.0
// (interop/js) and on 0.18.0 (interop/js-0.18). Models are scripted: nothing
// reaches the network. tests/interop/test_openai_js_fixtures.py builds the
// matching tether graph (agent names, tool names, answers) and must stay in step.

const QUESTION = 'What is the temperature in Oakland?';

/** A model that answers each call with the next scripted output (items in the SDK's shapes). */
class ScriptedModel {
  constructor(core, outputs, usage = true) {
    this.core = core;
    this.outputs = outputs;
    this.usage = usage;
    this.calls = 0;
  }

  async getResponse() {
    const output = this.outputs[this.calls];
    this.calls += 1;
    if (!output) throw new Error('the scripted model has no answer left');
    const usage = this.usage
      ? new this.core.Usage({ requests: 1, inputTokens: 10, outputTokens: 5, totalTokens: 15 })
      : new this.core.Usage();
    return { usage, output, responseId: this.usage ? `resp_${this.calls}` : undefined };
  }

  async *getStreamedResponse() {
    throw new Error('the fixtures do not stream');
  }
}

const oaklandCall = (callId, id) => ({
  ...(id ? { id } : {}),
  type: 'function_call',
  callId,
  name: 'get_temperature',
  status: 'completed',
  arguments: JSON.stringify({ city: 'Oakland' }),
});

const answer = (text) => ({
  id: 'msg_1',
  type: 'message',
  role: 'assistant',
  status: 'completed',
  content: [{ type: 'output_text', text }],
});

function getTemperature(core, z, description = 'Get the temperature for a city') {
  return core.tool({
    name: 'get_temperature',
    description,
    parameters: z.object({ city: z.string() }),
    needsApproval: true,
    execute: async ({ city }) => `The temperature in ${city} is 20C`,
  });
}

function weatherAgent(core, z, outputs, usage = true, description = undefined) {
  return new core.Agent({
    name: 'Weather agent',
    instructions: 'You help with the weather.',
    model: new ScriptedModel(core, outputs, usage),
    tools: [getTemperature(core, z, description)],
  });
}

/** The weather agent paused on its call of get_temperature: [agent, result]. */
async function paused(core, z, outputs = [[oaklandCall('call_1', 'fc_1')]]) {
  const agent = weatherAgent(core, z, outputs);
  const result = await new core.Runner().run(agent, QUESTION);
  if (result.interruptions.length !== 1) throw new Error('the run did not pause for approval');
  return [agent, result];
}

/** A state saved, loaded back (as another process would) and decided, not yet resumed. */
async function decided(core, z, decide) {
  const [agent, result] = await paused(core, z);
  const state = await core.RunState.fromString(agent, result.state.toString());
  decide(state, state.getInterruptions()[0]);
  return state.toString();
}

/** Scenario name -> async (core, z) => the RunState text. */
export const SCENARIOS = {
  async interrupted(core, z) {
    core.setTracingDisabled(false);
    core.setTraceProcessors([]); // traced (ids and span in the state), exported nowhere
    try {
      return (await paused(core, z))[1].state.toString();
    } finally {
      core.setTracingDisabled(true);
    }
  },

  async interrupted_no_tracing(core, z) {
    return (await paused(core, z))[1].state.toString();
  },

  async after_approve_before_resume(core, z) {
    return decided(core, z, (state, item) => state.approve(item));
  },

  async after_approve_always(core, z) {
    return decided(core, z, (state, item) => state.approve(item, { alwaysApprove: true }));
  },

  async after_reject_always_with_message(core, z) {
    return decided(core, z, (state, item) =>
      state.reject(item, { alwaysReject: true, message: 'User declined' }));
  },

  async handoff_then_interrupted(core, z) {
    const weather = weatherAgent(core, z, [[oaklandCall('call_w')]], false, 'd');
    const triage = new core.Agent({
      name: 'Triage',
      instructions: 'Route weather questions.',
      model: new ScriptedModel(core, [[
        { type: 'reasoning', id: 'rs_1', content: [{ type: 'input_text', text: 'route to weather' }] },
        {
          type: 'function_call', callId: 'call_h', name: 'transfer_to_Weather_agent',
          arguments: '{}', status: 'completed',
        },
      ]], false),
      handoffs: [weather],
    });
    const result = await new core.Runner().run(triage, 'temp in Oakland?');
    return result.state.toString();
  },

  async final_after_resume(core, z) {
    const [agent, result] = await paused(
      core, z, [[oaklandCall('call_1', 'fc_1')], [answer('It is 20C in Oakland.')]]);
    const state = await core.RunState.fromString(agent, result.state.toString());
    state.approve(state.getInterruptions()[0]);
    const final = await new core.Runner().run(agent, state);
    if (final.finalOutput !== 'It is 20C in Oakland.') throw new Error('the run did not finish');
    return final.state.toString();
  },

  async hosted_mcp_interrupted(core) {
    const agent = new core.Agent({
      name: 'MCP agent',
      model: new ScriptedModel(core, [[{
        providerData: {
          type: 'mcp_approval_request', id: 'mcpr_1', server_label: 'deepwiki',
          name: 'ask_question', arguments: JSON.stringify({ q: 'x' }),
        },
        id: 'mcpr_1', type: 'hosted_tool_call', name: 'mcp_approval_request', status: 'in_progress',
      }]], false),
      tools: [core.hostedMcpTool({
        serverLabel: 'deepwiki', serverUrl: 'https://mcp.deepwiki.com/mcp', requireApproval: 'always',
      })],
    });
    const result = await new core.Runner().run(agent, 'ask');
    return result.state.toString();
  },

  async nested_agent_as_tool_interrupted(core, z) {
    const inner = new core.Agent({
      name: 'Inner',
      model: new ScriptedModel(core, [[oaklandCall('inner_call')]], false),
      tools: [getTemperature(core, z, 'd')],
    });
    const outer = new core.Agent({
      name: 'Outer',
      model: new ScriptedModel(core, [[{
        type: 'function_call', callId: 'outer_call', name: 'ask_inner',
        arguments: JSON.stringify({ input: 'weather?' }), status: 'completed',
      }]], false),
      tools: [inner.asTool({ toolName: 'ask_inner', toolDescription: 'ask' })],
    });
    const result = await new core.Runner().run(outer, 'hi');
    return result.state.toString();
  },
};

/** Run every scenario on `core`; returns {scenario: pretty-printed state}. */
export async function makeFixtures(core, z, names = Object.keys(SCENARIOS)) {
  core.setTracingDisabled(true);
  const made = {};
  for (const name of names) {
    const text = await SCENARIOS[name](core, z);
    made[name] = `${JSON.stringify(JSON.parse(text), null, 2)}\n`;
  }
  return made;
}
