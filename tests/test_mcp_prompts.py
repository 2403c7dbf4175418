"""An MCP server's prompts (``list_prompts``, ``get_prompt``) and how its undescribed tools
are described, by tether's servers and by tether.agents' (as the reference describes them).

Against a real server written with the mcp package, on stdio, started here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from mcp.shared.exceptions import MCPError

from tether.agents.mcp import MCPServerStdio as ReferenceStdio
from tether.errors import MCPServerError
from tether.mcp import MCPServerStdio

SERVER = '''
from mcp.server.mcpserver import MCPServer

server = MCPServer("desk")


@server.prompt()
def review(focus: str, language: str = "python") -> str:
    """Instructions for a code review."""
    return f"Review the {language} code for {focus}."


@server.tool()
def ping() -> str:
    return "pong"


@server.tool(title="Shout it")
def shout(text: str) -> str:
    return text.upper()


server.run()
'''


@pytest.fixture
def script(tmp_path: Path) -> str:
    path = tmp_path / "desk_server.py"
    path.write_text(SERVER)
    return str(path)


async def test_prompts_are_listed_and_filled_in(script: str) -> None:
    async with MCPServerStdio("desk", command=sys.executable, args=[script]) as server:
        listed = await server.list_prompts()
        [prompt] = listed.prompts
        assert (prompt.name, prompt.description) == ("review", "Instructions for a code review.")
        assert [(a.name, a.required) for a in prompt.arguments or []] == [
            ("focus", True),
            ("language", False),
        ]
        filled = await server.get_prompt("review", {"focus": "security"})
        [said] = filled.messages
        assert said.content.text == "Review the python code for security."  # type: ignore[union-attr]
        with pytest.raises(MCPError):  # the server's own answer: an unknown prompt
            await server.get_prompt("no_such_prompt")


async def test_prompts_need_a_connection(script: str) -> None:
    server = MCPServerStdio("desk", command=sys.executable, args=[script])
    with pytest.raises(MCPServerError, match="MCP server 'desk' is not connected"):
        await server.list_prompts()


async def test_undescribed_tools_are_described_by_tether_and_left_blank_by_the_facade(
    script: str,
) -> None:
    async with MCPServerStdio("desk", command=sys.executable, args=[script]) as server:
        ours = {tool.name: tool.description for tool in await server.list_tools()}
    assert ours == {"ping": "The ping tool of MCP server desk.", "shout": "Shout it"}
    async with ReferenceStdio({"command": sys.executable, "args": [script]}) as server:
        theirs = {tool.name: tool.description for tool in await server.list_tools()}
    assert theirs == {"ping": "", "shout": "Shout it"}
