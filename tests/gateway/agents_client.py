"""An openai-agents 0.24 program whose agent reaches the bank through the tether gateway: its
own ``MCPServerStdio`` starts the gateway, its ``MCPServerStreamableHttp`` reaches one
already listening. Run on the reference SDK's side environment by test_gateway_agents.py.

    python agents_client.py GATEWAY_PYTHON CONFIG HTTP_URL

Three runs, in order: pay acme 12 over stdio, pay acme 13 over HTTP, pay evil 9 over HTTP.
Each prints one JSON line: the transport, the final output and the tool's output as the
agent received it. The model is the test's local OpenAI server (OPENAI_BASE_URL).
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


async def pay(server: MCPServer, transport: str, request: str) -> None:
    agent = Agent(name="Payer", instructions="Pay what you are asked to.", mcp_servers=[server])
    result = await Runner.run(agent, request)
    outputs = [item.output for item in result.new_items if isinstance(item, ToolCallOutputItem)]
    line = {"transport": transport, "final": result.final_output, "tool_outputs": outputs}
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
            "args": ["-m", "tether.gateway", config],
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
        await pay(stdio, "stdio", "Pay acme 12 EUR.")
    async with http:
        await pay(http, "http", "Pay acme 13 EUR.")
        await pay(http, "http", "Pay evil 9 EUR.")


if __name__ == "__main__":
    asyncio.run(main())
