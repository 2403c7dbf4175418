"""A weather run edited across processes: ``python edit_app.py STATE_FILE start|edit|resume``.

Each step is its own process, so nothing but the saved state carries the edit from the
approver's process to the one that runs the call.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from tether import Agent, Approver, Runner, RunState, function_tool
from tether.testing import ScriptedModel, message, tool_call

RAN: list[str] = []


@function_tool(needs_approval=True, editable=True)
def get_weather(city: str) -> str:
    """Get the weather for a city."""
    RAN.append(city)
    return f"sunny in {city}"


async def main(state_file: Path, step: str) -> str:
    model = ScriptedModel([[tool_call("get_weather", {"city": "Pariss"}, "c1")], message("ok")])
    if step == "resume":
        model = ScriptedModel([message("ok")])
    agent = Agent(name="Weather", model=model, tools=[get_weather])
    if step == "start":
        result = await Runner.run(agent, "Weather in Paris?")
        state_file.write_text(result.to_state().to_string())
        return "paused"
    state = RunState.from_string(agent, state_file.read_text())
    if step == "edit":
        state.approve("c1", arguments={"city": "Paris"}, by=Approver("ana"), reason="typo")
        state_file.write_text(state.to_string())
        return "edited"
    result = await Runner.run(agent, state)
    sent = [dict(item) for item in model.requests[-1].input if item.get("type") != "message"]
    return json.dumps({"ran": RAN, "sent": sent, "final": result.final_output})


if __name__ == "__main__":
    print(asyncio.run(main(Path(sys.argv[1]), sys.argv[2])))
