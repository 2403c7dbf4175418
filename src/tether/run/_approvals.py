"""What a person is asked to decide, and the fingerprint that binds a decision to a call."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

__all__ = ["ToolApprovalItem", "canonical_arguments", "fingerprint"]


@dataclass(frozen=True, slots=True)
class ToolApprovalItem:
    """A tool call waiting for a human decision (one entry of ``result.interruptions``)."""

    agent_name: str
    """The agent whose model asked for the call."""
    tool_name: str
    call_id: str
    arguments: str
    """The arguments exactly as the model wrote them (a JSON string)."""
    fingerprint: str
    """Binds a decision to this exact call: tool, call id and canonical arguments."""
    server_name: str | None = None
    """For a tool of an MCP server (``tether.mcp``), the server's name."""
    parent: ToolApprovalItem | None = None
    """For a call inside an agent used as a tool (``Agent.as_tool``): the outer call that runs
    that agent (its ``agent_name`` is the outer agent). Decide on the item as it is."""

    @property
    def parsed_arguments(self) -> dict[str, Any] | None:
        """The arguments as a dict, or ``None`` if the model's JSON is not an object."""
        try:
            parsed = json.loads(self.arguments)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None

    @property
    def name(self) -> str:
        """Alias of ``tool_name``."""
        return self.tool_name


def canonical_arguments(arguments: str) -> str:
    """Arguments in a canonical form: sorted keys, no spaces; the raw text if not JSON."""
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return arguments
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(agent: str, tool: str, call_id: str, arguments: str) -> str:
    """SHA-256 over the call's identity and canonical arguments."""
    canonical = json.dumps(
        [agent, tool, call_id, canonical_arguments(arguments)], ensure_ascii=False
    )
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
