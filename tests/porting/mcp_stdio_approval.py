"""A local MCP server whose writes need approval, written against openai-agents 0.24: the
caller starts and connects the server, the agent lists its tools per run, a write waits for
a decision and reaches the server once."""

import asyncio
import os
import sys
from pathlib import Path

from agents import (
    Agent,
    Runner,
    gen_trace_id,
    set_default_openai_client,
    set_tracing_disabled,
    trace,
)
from agents.mcp import MCPServer, MCPServerStdio
from openai import AsyncOpenAI

NOTES_SERVER = Path(__file__).resolve().parents[2] / "examples" / "mcp_notes_server.py"


async def run(server: MCPServer) -> None:
    agent = Agent(
        name="Note taker",
        instructions="Use the notes tools to read and write notes.",
        mcp_servers=[server],
    )
    result = await Runner.run(agent, "Save a note 'groceries' saying 'eggs, milk'.")
    while result.interruptions:
        state = result.to_state()
        for interruption in result.interruptions:
            print(f"Approve {interruption.name} {interruption.arguments}? yes")
            state.approve(interruption)
        result = await Runner.run(agent, state)
    print(result.final_output)

    streamed = Runner.run_streamed(agent, "Read me the note 'groceries'.")
    async for event in streamed.stream_events():
        if event.type == "run_item_stream_event" and event.item.type == "tool_call_item":
            print(f"[calling {event.item.raw_item.name}]")
    print(streamed.final_output)

    result = await Runner.run(agent, "Delete the note 'groceries'.")
    for interruption in result.interruptions:
        print(f"Approve {interruption.name} {interruption.arguments}? no")
        state = result.to_state()
        state.reject(interruption)
        result = await Runner.run(agent, state)
    print(result.final_output)


async def main() -> None:
    # --- local server: point the client at it (the test scripts the model) ---
    set_default_openai_client(
        AsyncOpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"])
    )
    set_tracing_disabled(True)
    # --- end local server ---

    async with MCPServerStdio(
        name="Notes server",
        params={"command": sys.executable, "args": [str(NOTES_SERVER), "notes"]},
        require_approval={"always": {"tool_names": ["write_note", "delete_note"]}},
    ) as server:
        trace_id = gen_trace_id()
        with trace(workflow_name="MCP notes", trace_id=trace_id):
            await run(server)
    print(f"Note on disk: {Path('notes/groceries.txt').read_text()}")
    print(f"Server calls: {Path('notes/calls.log').read_text().count(chr(10))}")


if __name__ == "__main__":
    asyncio.run(main())
