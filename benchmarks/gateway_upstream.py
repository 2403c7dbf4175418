"""The upstream MCP server of benchmarks/gateway_latency.py: one tool that does nothing.

python gateway_upstream.py                 # stdio
python gateway_upstream.py http PORT       # streamable HTTP on 127.0.0.1:PORT/mcp
"""

from __future__ import annotations

import sys

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

upstream = MCPServer("echo")


@upstream.tool(annotations=ToolAnnotations(read_only_hint=True))
def echo(text: str) -> str:
    """Say ``text`` back."""
    return text


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        upstream.run(transport="streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        upstream.run()
