"""Run by test_mcp.py in separate processes: MCP calls interrupted in one process, decided
and resumed in another, against a server on stdio or on loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from runners import run_plain, run_streamed
from tether import Agent, RunState
from tether.mcp import MCPServer, MCPServerSse, MCPServerStdio, MCPServerStreamableHttp
from tether.testing import ScriptedModel, message, tool_call

SERVER = Path(__file__).resolve().parent.parent / "examples" / "mcp_notes_server.py"
WRITING = {"write_note": "always", "delete_note": "always"}


def notes_server(transport: str, folder: Path, url: str) -> MCPServer:
    if transport == "stdio":
        return MCPServerStdio(
            "notes",
            command=sys.executable,
            args=[str(SERVER), str(folder)],
            require_approval=WRITING,
        )
    if transport == "sse":
        return MCPServerSse("notes", url=url, require_approval=WRITING)
    return MCPServerStreamableHttp("notes", url=url, require_approval=WRITING)


async def main(stage: str, transport: str, folder: Path, url: str, mode: str) -> object:
    run = run_streamed if mode == "streamed" else run_plain
    state_file = folder / "state.json"
    async with notes_server(transport, folder, url) as server:
        tools = await server.list_tools()
        if stage == "interrupt":
            model = ScriptedModel(
                [
                    [
                        tool_call("write_note", {"name": "plan", "text": "v1"}, "call_write"),
                        tool_call("delete_note", {"name": "old"}, "call_delete"),
                        tool_call("read_note", {"name": "plan"}, "call_read"),
                    ]
                ]
            )
            result = await run(Agent(name="Notes", model=model, tools=tools), "Update the notes.")
            state_file.write_text(result.to_state().to_string())
            return [[i.server_name, i.tool_name, i.call_id] for i in result.interruptions]
        model = ScriptedModel(
            [
                tool_call("write_note", {"name": "plan", "text": "v2"}, "call_again"),
                message("Done."),
            ]
        )
        agent = Agent(name="Notes", model=model, tools=tools)
        state = RunState.from_string(agent, state_file.read_text())
        for item in state.interruptions:
            if item.tool_name == "write_note":
                state.approve(item, always=True)
            else:
                state.reject(item, message="Keep the old note.")
        result = await run(agent, state)
        state_file.write_text(result.to_state().to_string())
        return {
            "final_output": result.final_output,
            "interruptions": len(result.interruptions),
            "model_calls": len(model.requests),
            "outputs": {
                item["call_id"]: item["output"]
                for request in model.requests[:1]
                for item in request.input
                if item.get("type") == "function_call_output"
            },
        }


if __name__ == "__main__":
    stage, transport, folder, url, mode = sys.argv[1:6]
    print(json.dumps(asyncio.run(main(stage, transport, Path(folder), url, mode))))
