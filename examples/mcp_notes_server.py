"""A small MCP server keeping notes in a folder: one reading tool, two writing tools.

    python mcp_notes_server.py FOLDER                      # over stdio
    python mcp_notes_server.py FOLDER http PORT            # streamable HTTP on 127.0.0.1
    python mcp_notes_server.py FOLDER sse PORT             # HTTP + SSE on 127.0.0.1

Every call it receives is appended to FOLDER/calls.log (one JSON line), so one
can check which calls reached it. Used by examples/mcp_approval.py and the tests.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

folder = Path(sys.argv[1])
folder.mkdir(parents=True, exist_ok=True)
notes = MCPServer("notes")


def log(tool: str, **arguments: str) -> None:
    with (folder / "calls.log").open("a") as calls:
        calls.write(json.dumps({"tool": tool, **arguments}) + "\n")


@notes.tool(annotations=ToolAnnotations(read_only_hint=True))
def read_note(name: str) -> str:
    """Read a note."""
    log("read_note", name=name)
    path = folder / f"{name}.txt"
    return path.read_text() if path.exists() else f"There is no note {name!r}."


@notes.tool()
def write_note(name: str, text: str) -> str:
    """Write (or overwrite) a note."""
    log("write_note", name=name, text=text)
    (folder / f"{name}.txt").write_text(text)
    return f"Wrote note {name!r}."


@notes.tool()
def delete_note(name: str) -> str:
    """Delete a note."""
    log("delete_note", name=name)
    path = folder / f"{name}.txt"
    if not path.exists():
        raise ToolError(f"There is no note {name!r}.")
    path.unlink()
    return f"Deleted note {name!r}."


if __name__ == "__main__":
    transport = sys.argv[2] if len(sys.argv) > 2 else "stdio"
    if transport == "http":
        notes.run("streamable-http", host="127.0.0.1", port=int(sys.argv[3]))
    elif transport == "sse":
        notes.run("sse", host="127.0.0.1", port=int(sys.argv[3]))
    else:
        notes.run()
