"""``handoff`` as the reference SDK builds it: tether's handoff with the reference's
default tool description, which the model reads."""

from __future__ import annotations

from typing import Any

from .._agent import Agent
from ..handoffs import Handoff, InputFilter
from ..handoffs import handoff as _handoff
from ..tools import IsEnabled

__all__ = ["default_tool_description", "handoff"]


def default_tool_description(agent: Agent[Any]) -> str:
    """The reference's description of a handoff tool (its trailing space included)."""
    extra = agent.handoff_description or ""
    return f"Handoff to the {agent.name} agent to handle the request. {extra}"


def handoff(
    agent: Agent[Any],
    *,
    tool_name_override: str | None = None,
    tool_description_override: str | None = None,
    on_handoff: Any = None,
    input_type: Any = None,
    input_filter: InputFilter | None = None,
    is_enabled: IsEnabled = True,
) -> Handoff:
    """tether's ``handoff`` (see ``tether.handoffs.handoff``), described to the model as
    the reference SDK describes it."""
    return _handoff(
        agent,
        tool_name_override=tool_name_override,
        tool_description_override=tool_description_override or default_tool_description(agent),
        on_handoff=on_handoff,
        input_type=input_type,
        input_filter=input_filter,
        is_enabled=is_enabled,
    )
