"""An openai-agents 0.24 program whose agent reaches the bank through the tether gateway: its
own ``MCPServerStdio`` starts the gateway, its ``MCPServerStreamableHttp`` reaches one
already listening. Run on the reference SDK's side environment by test_gateway_matrix.py.

    python agents_client.py GATEWAY_PYTHON CONFIG HTTP_URL

Two runs, in order: over stdio, then over HTTP. The model (the test's local OpenAI server,
OPENAI_BASE_URL) answers each run's first turn with the test's five calls at once, and its
second with text. Each run prints one JSON line: the transport, the final output, and each
call's output as the agent received it (by call id, as a list of texts).
"""

import asyncio
import json
import os
import sys

from agents import Agent, Runner, set_default_openai_client, set_tracing_disabled
from agents.items import ToolCallOutputItem
from agents.mcp import MCPServer, MCPServerStdio, MCPServerStreamableHttp
from openai import AsyncOpenAI

WAIT = 120  # seconds a call may wait for its decision (the client's read timeout)


def texts(output: object) -> list[str]:
    """An MCP tool's output as the SDK hands it over: one text part, a list, or a string."""
    parts = output if isinstance(output, list) else [output]
    return [part["text"] if isinstance(part, dict) else str(part) for part in parts]


async def calls(server: MCPServer, transport: str) -> None:
    agent = Agent(name="Banker", instructions="Do what you are asked to.", mcp_servers=[server])
    result = await Runner.run(agent, "Do this morning's five operations.")
    outputs = {
        item.raw_item["call_id"]: texts(item.output)
        for item in result.new_items
        if isinstance(item, ToolCallOutputItem) and isinstance(item.raw_item, dict)
    }
    line = {"transport": transport, "final": result.final_output, "outputs": outputs}
    print(json.dumps(line), flush=True)


async def main() -> None:
    python, config, url = sys.argv[1:4]
    set_default_openai_client(
        AsyncOpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"])
    )
    set_tracing_disabled(True)
    stdio = MCPServerStdio(
        name="bank via tether",
        params={
            "command": python,
            "args": ["-m", "tether.gateway", config, "--client", "agents-stdio"],
            "env": dict(os.environ),
        },
        client_session_timeout_seconds=WAIT,
    )
    http = MCPServerStreamableHttp(
        name="bank via tether (http)",
        params={"url": url, "sse_read_timeout": WAIT},
        client_session_timeout_seconds=WAIT,
    )
    async with stdio:
        await calls(stdio, "stdio")
    async with http:
        await calls(http, "http")


if __name__ == "__main__":
    asyncio.run(main())
