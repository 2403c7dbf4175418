"""Run by test_run_state.py in separate processes: interrupt in one, resume in another."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from tether import Runner, RunState
from tether.testing import ScriptedModel, message, tool_call
from weather_app import RUNS, weather_agent


async def main(stage: str, path: Path) -> dict[str, object]:
    if stage == "interrupt":
        model = ScriptedModel([tool_call("get_temperature", {"city": "Oakland"}, "call_oak")])
        result = await Runner.run(weather_agent(model), "What's the temperature in Oakland?")
        path.write_text(result.to_state().to_string())
        return {
            "interruptions": [i.call_id for i in result.interruptions],
            "tool_runs": RUNS.total(),
        }
    model = ScriptedModel([message("It is 20°C in Oakland.")])
    agent = weather_agent(model)
    state = RunState.from_string(agent, path.read_text())
    for item in state.interruptions:
        state.approve(item)
    result = await Runner.run(agent, state)
    return {
        "final_output": result.final_output,
        "tool_runs": RUNS.total(),
        "model_calls": len(model.requests),
        "model_input": model.requests[0].input,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], Path(sys.argv[2])))))
