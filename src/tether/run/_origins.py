"""Where a pending call's tool runs, added to its approval item for the person deciding.

The fold knows calls, not tools, so the items it lists are completed here with
what the agent graph says about each tool (the MCP server it belongs to).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .._agent import Agent
from ..journal import ToolApprovalItem

__all__ = ["with_origins"]


def with_origins(
    items: list[ToolApprovalItem], graph: dict[str, Agent[Any]]
) -> list[ToolApprovalItem]:
    """``items``, each naming the MCP server of its tool where there is one."""
    described = []
    for item in items:
        agent = graph.get(item.agent_name)
        tool = None if agent is None else agent.function_tools.get(item.tool_name)
        function = getattr(tool, "function", None)
        server = getattr(getattr(function, "__wrapped__", function), "server_name", None)
        if isinstance(server, str) and item.server_name is None:
            item = dataclasses.replace(item, server_name=server)
        described.append(item)
    return described
