"""``agents.mcp``: MCP servers taking the reference SDK's arguments (``params=``,
``tool_filter=``, ``client_session_timeout_seconds=``...), over ``tether.mcp``.

    async with MCPServerStdio(params={"command": "python", "args": ["server.py"]},
                              require_approval="always") as server:
        agent = Agent(name="Files", mcp_servers=[server])
        result = await Runner.run(agent, "...")

The caller connects the server; ``Runner`` lists its tools at the start of each run.
Calls are tether's: approved, journaled and resumed as every tool call is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ... import mcp as _mcp
from ...tools import FunctionTool
from .util import MCPUtil, ToolFilterStatic, create_static_tool_filter, filtered

if TYPE_CHECKING:
    from mcp import types

__all__ = [
    "MCPServer",
    "MCPServerSse",
    "MCPServerSseParams",
    "MCPServerStdio",
    "MCPServerStdioParams",
    "MCPServerStreamableHttp",
    "MCPServerStreamableHttpParams",
    "MCPUtil",
    "ToolFilterStatic",
    "create_static_tool_filter",
]

MCPServer = _mcp.MCPServer
"""The base class of MCP servers: tether's."""

MCPServerStdioParams = dict[str, Any]
"""``{"command": ..., "args": [...], "env": {...}, "cwd": ...}``."""
MCPServerStreamableHttpParams = dict[str, Any]
"""``{"url": ..., "headers": {...}}``."""
MCPServerSseParams = dict[str, Any]
"""``{"url": ..., "headers": {...}}``."""


def _options(
    cache_tools_list: bool,
    client_session_timeout_seconds: float | None,
    require_approval: Any,
) -> dict[str, Any]:
    return {
        "cache_tools_list": cache_tools_list,
        "read_timeout": client_session_timeout_seconds,
        "require_approval": "never" if require_approval is None else require_approval,
    }


class _Filtered:
    """``tool_filter`` applied to what ``list_tools`` returns; each tool described as the
    reference describes it."""

    tool_filter: Any = None

    async def list_tools(self, *args: Any, **kwargs: Any) -> list[FunctionTool]:
        tools = await super().list_tools(*args, **kwargs)  # type: ignore[misc]
        return filtered(tools, self.tool_filter)

    def describe_tool(self, tool: types.Tool) -> str:
        """The tool's description, else its title (its own or its annotations'), else
        nothing: the reference sends an undescribed tool with an empty description."""
        hints = tool.annotations
        return tool.description or tool.title or (hints.title if hints else None) or ""


def _check_filter(tool_filter: Any) -> Any:
    if callable(tool_filter):
        from ...errors import UserError

        raise UserError(
            "tether.agents.mcp takes a static tool_filter (create_static_tool_filter(...)); "
            "a function filter is not supported."
        )
    return tool_filter


class MCPServerStdio(_Filtered, _mcp.MCPServerStdio):
    """A server this process starts: ``params={"command": ..., "args": [...]}``."""

    def __init__(
        self,
        params: Mapping[str, Any],
        cache_tools_list: bool = False,
        name: str | None = None,
        client_session_timeout_seconds: float | None = 5,
        tool_filter: ToolFilterStatic | None = None,
        require_approval: Any = None,
        **_reference_only: Any,
    ) -> None:
        command = str(params["command"])
        args = list(params.get("args") or [])
        super().__init__(
            name or f"stdio: {command}",
            command=command,
            args=args,
            env=params.get("env"),
            cwd=params.get("cwd"),
            **_options(cache_tools_list, client_session_timeout_seconds, require_approval),
        )
        self.tool_filter = _check_filter(tool_filter)


class MCPServerStreamableHttp(_Filtered, _mcp.MCPServerStreamableHttp):
    """A server reached over streamable HTTP: ``params={"url": ..., "headers": {...}}``."""

    def __init__(
        self,
        params: Mapping[str, Any],
        cache_tools_list: bool = False,
        name: str | None = None,
        client_session_timeout_seconds: float | None = 5,
        tool_filter: ToolFilterStatic | None = None,
        require_approval: Any = None,
        **_reference_only: Any,
    ) -> None:
        super().__init__(
            name or f"streamable_http: {params['url']}",
            url=str(params["url"]),
            headers=params.get("headers"),
            **_options(cache_tools_list, client_session_timeout_seconds, require_approval),
        )
        self.tool_filter = _check_filter(tool_filter)


class MCPServerSse(_Filtered, _mcp.MCPServerSse):
    """A server reached over SSE: ``params={"url": ..., "headers": {...}}``."""

    def __init__(
        self,
        params: Mapping[str, Any],
        cache_tools_list: bool = False,
        name: str | None = None,
        client_session_timeout_seconds: float | None = 5,
        tool_filter: ToolFilterStatic | None = None,
        require_approval: Any = None,
        **_reference_only: Any,
    ) -> None:
        super().__init__(
            name or f"sse: {params['url']}",
            url=str(params["url"]),
            headers=params.get("headers"),
            **_options(cache_tools_list, client_session_timeout_seconds, require_approval),
        )
        self.tool_filter = _check_filter(tool_filter)
