"""The upstream MCP server of benchmarks/gateway_latency.py: one tool, ``echo``, that does
nothing, or waits ``--tool-ms`` milliseconds first (an upstream that does work).

python gateway_upstream.py [--tool-ms N]                 # stdio
python gateway_upstream.py [--tool-ms N] http PORT       # streamable HTTP on 127.0.0.1:PORT/mcp
"""

from __future__ import annotations

import argparse
import asyncio

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

upstream = MCPServer("echo")
TOOL_SECONDS = 0.0


@upstream.tool(annotations=ToolAnnotations(read_only_hint=True))
async def echo(text: str) -> str:
    """Say ``text`` back (after ``--tool-ms``)."""
    if TOOL_SECONDS:
        await asyncio.sleep(TOOL_SECONDS)
    return text


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tool-ms", type=float, default=0.0)
    parser.add_argument("transport", nargs="*", help="nothing (stdio), or: http PORT")
    options = parser.parse_args()
    TOOL_SECONDS = options.tool_ms / 1000
    if options.transport[:1] == ["http"]:
        upstream.run(transport="streamable-http", host="127.0.0.1", port=int(options.transport[1]))
    else:
        upstream.run()
