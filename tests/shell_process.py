"""Run by test_shell.py in separate processes: a shell call interrupted in one, decided and
resumed in another."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from tether import Agent, Runner, RunState
from tether.shell import ShellTool
from tether.testing import ScriptedModel, message, tool_call


def shell_agent(model: ScriptedModel, workdir: Path) -> Agent[None]:
    return Agent(name="Ops", model=model, tools=[ShellTool(cwd=workdir, timeout=30)])


async def main(stage: str, workdir: Path, command: str) -> dict[str, object]:
    state_file = workdir / "state.json"
    if stage == "interrupt":
        model = ScriptedModel([tool_call("shell", {"command": command}, "call_sh")])
        result = await Runner.run(shell_agent(model, workdir), "Do it.")
        state_file.write_text(result.to_state().to_string())
        return {"interruptions": [[i.tool_name, i.arguments] for i in result.interruptions]}
    model = ScriptedModel([message("Done.")])
    agent = shell_agent(model, workdir)
    state = RunState.from_string(agent, state_file.read_text())
    for item in state.interruptions:
        if stage == "approve":
            state.approve(item)
        else:
            state.reject(item, message="Not on this machine.")
    result = await Runner.run(agent, state)
    state_file.write_text(result.to_state().to_string())
    return {
        "final_output": result.final_output,
        "model_calls": len(model.requests),
        "tool_output": model.requests[0].input[-1]["output"] if model.requests else None,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], Path(sys.argv[2]), sys.argv[3]))))
