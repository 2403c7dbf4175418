"""Run by test_agent_tools.py in separate processes: an outer run paused by an approval inside
an agent used as a tool, decided and resumed in another process."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from runners import run_plain, run_streamed
from tether import Agent, RunState
from tether.testing import ScriptedModel, message, tool_call
from weather_app import RUNS, get_temperature


def agents(inner: ScriptedModel, outer: ScriptedModel) -> Agent[None]:
    weather = Agent(name="Weather", model=inner, tools=[get_temperature])
    ask = weather.as_tool("ask_weather", "Ask the weather agent.")
    return Agent(name="Lead", model=outer, tools=[ask])


async def main(stage: str, state_file: Path, mode: str) -> object:
    run = run_streamed if mode == "streamed" else run_plain
    if stage == "interrupt":
        inner = ScriptedModel([tool_call("get_temperature", {"city": "Oakland"}, "call_in")])
        outer = ScriptedModel([tool_call("ask_weather", {"input": "Oakland?"}, "call_out")])
        result = await run(agents(inner, outer), "How warm is Oakland?")
        state_file.write_text(result.to_state().to_string())
        return {
            "interruptions": [
                [i.agent_name, i.tool_name, i.call_id, i.parent and i.parent.agent_name]
                for i in result.interruptions
            ]
            + [[i.parent.tool_name, i.parent.call_id] for i in result.interruptions if i.parent],
            "inner_calls": len(inner.requests),
            "outer_calls": len(outer.requests),
        }
    inner = ScriptedModel([message("It is 20°C in Oakland.")])
    outer = ScriptedModel([message("The weather agent says 20°C.")])
    agent = agents(inner, outer)
    state = RunState.from_string(agent, state_file.read_text())
    for item in state.interruptions:
        if stage == "approve":
            state.approve(item)
        else:
            state.reject(item, message="No lookups today.")
    saved = state.to_string()  # the decision survives a save before the resume
    result = await run(agent, RunState.from_string(agent, saved))
    state_file.write_text(result.to_state().to_string())
    return {
        "final_output": result.final_output,
        "tool_runs": RUNS["get_temperature"],
        "inner_calls": len(inner.requests),
        "outer_calls": len(outer.requests),
        "inner_saw": inner.requests[0].input[-1]["output"] if inner.requests else None,
        "outer_saw": outer.requests[0].input[-1]["output"] if outer.requests else None,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], Path(sys.argv[2]), sys.argv[3]))))
