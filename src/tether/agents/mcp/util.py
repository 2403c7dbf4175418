"""``agents.mcp.util``: tool filters and ``MCPUtil``, over tether's MCP servers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypedDict

from ...tools import FunctionTool

__all__ = ["MCPUtil", "ToolFilterStatic", "create_static_tool_filter", "filtered"]


class ToolFilterStatic(TypedDict, total=False):
    """Which tools of a server the agent sees: only ``allowed_tool_names`` (if given), none
    of ``blocked_tool_names``."""

    allowed_tool_names: list[str]
    blocked_tool_names: list[str]


def create_static_tool_filter(
    allowed_tool_names: list[str] | None = None,
    blocked_tool_names: list[str] | None = None,
) -> ToolFilterStatic | None:
    """A filter keeping ``allowed_tool_names`` and dropping ``blocked_tool_names``;
    ``None`` when both are ``None``."""
    if allowed_tool_names is None and blocked_tool_names is None:
        return None
    result: ToolFilterStatic = {}
    if allowed_tool_names is not None:
        result["allowed_tool_names"] = list(allowed_tool_names)
    if blocked_tool_names is not None:
        result["blocked_tool_names"] = list(blocked_tool_names)
    return result


def filtered(tools: Iterable[FunctionTool], tool_filter: Any) -> list[FunctionTool]:
    """``tools`` through a static filter (a function filter is refused where it is set)."""
    kept = list(tools)
    if not tool_filter:
        return kept
    allowed = tool_filter.get("allowed_tool_names")
    blocked = set(tool_filter.get("blocked_tool_names") or ())
    if allowed is not None:
        kept = [tool for tool in kept if tool.name in set(allowed)]
    return [tool for tool in kept if tool.name not in blocked]


class MCPUtil:
    """Listing the tools of MCP servers, as ``agents.mcp.util.MCPUtil`` does."""

    @classmethod
    async def get_all_function_tools(
        cls,
        servers: Sequence[Any],
        convert_schemas_to_strict: bool = False,
        run_context: Any = None,
        agent: Any = None,
        **_: Any,
    ) -> list[FunctionTool]:
        """The tools of every server, in order (each server's filter applied).
        ``convert_schemas_to_strict`` is accepted; tether sends an MCP tool's schema as the
        server gives it."""
        tools: list[FunctionTool] = []
        for server in servers:
            tools.extend(await server.list_tools())
        return tools
