"""An MCP server whose writing tools need approval, on the scripted model (no API key needed).

uv run --extra mcp python examples/mcp_approval.py          # asks y/n for each writing call
uv run --extra mcp python examples/mcp_approval.py --yes    # approves every call

The notes server (mcp_notes_server.py beside this file) is started over stdio.
Reading a note needs no approval; writing or deleting one does. The run pauses,
its state is saved to result.json, and a second "process" (here: a new server
connection, a new agent and the state loaded from the file) decides and resumes.
The server logs every call it receives, so you can see that only approved
calls reached it, once each.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from tether import Agent, Runner, RunState
from tether.mcp import MCPServerStdio
from tether.testing import ScriptedModel, message, tool_call

SERVER = Path(__file__).resolve().parent / "mcp_notes_server.py"


def notes(folder: str) -> MCPServerStdio:
    return MCPServerStdio(
        "notes",
        command=sys.executable,
        args=[str(SERVER), folder],
        require_approval={"write_note": "always", "delete_note": "always"},
    )


async def main(approve_all: bool) -> None:
    folder = tempfile.mkdtemp(prefix="notes-")
    model = ScriptedModel(
        [
            [
                tool_call("read_note", {"name": "todo"}),
                tool_call("write_note", {"name": "todo", "text": "Buy milk"}),
                tool_call("delete_note", {"name": "old"}),
            ],
            message("I wrote your to-do note."),
        ]
    )
    async with notes(folder) as server:
        agent = Agent(name="Note Keeper", model=model, tools=await server.list_tools())
        result = await Runner.run(agent, "Put 'Buy milk' on my to-do note.")
    Path("result.json").write_text(result.to_state().to_string())
    print("Run interrupted - approval needed; state saved to result.json")

    # Later, perhaps in another process: connect again, load the state, decide, resume.
    async with notes(folder) as server:
        agent = Agent(name="Note Keeper", model=model, tools=await server.list_tools())
        state = RunState.from_string(agent, Path("result.json").read_text())
        for item in state.interruptions:
            print(f"  {item.server_name}.{item.tool_name} {item.arguments}")
            answer = "y" if approve_all else await asyncio.to_thread(input, "  Approve? (y/n): ")
            answer = answer.strip().lower()
            if answer == "y":
                state.approve(item)
                print(f"  ✓ Approved: {item.tool_name}")
            else:
                state.reject(item, message="The user said no.")
                print(f"  ✗ Rejected: {item.tool_name}")
        result = await Runner.run(agent, state)
    print("The server saw:")
    print((Path(folder) / "calls.log").read_text().rstrip())
    print(f"Final output: {result.final_output}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--yes", action="store_true", help="approve every call")
    asyncio.run(main(parser.parse_args().yes))
