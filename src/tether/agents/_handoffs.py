"""``handoff`` as the reference SDK builds it: tether's handoff with the reference's
default tool description, which the model reads, an ``input_filter`` given the
reference's ``HandoffInputData`` (run items), and ``nest_handoff_history``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .._agent import Agent
from ..handoffs import Handoff as _Handoff
from ..handoffs import handoff as _handoff
from ..tools import IsEnabled
from ._handoff_input import HandoffInputFilter, ReferenceFilter

__all__ = ["Handoff", "default_tool_description", "handoff"]


@dataclass(frozen=True, slots=True)
class Handoff(_Handoff):
    """tether's ``Handoff`` with the reference's ``nest_handoff_history``: ``None`` follows
    the run's ``RunConfig.nest_handoff_history``; ``True`` / ``False`` decides for this
    handoff. Nesting happens only for a handoff without an input filter (its own or the
    run's), and only in runs of this package's ``Runner``."""

    nest_handoff_history: bool | None = None


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
    input_filter: HandoffInputFilter | None = None,
    nest_handoff_history: bool | None = None,
    is_enabled: IsEnabled = True,
) -> Handoff:
    """tether's ``handoff`` (see ``tether.handoffs.handoff``), described to the model as
    the reference SDK describes it. ``input_filter`` receives this package's
    ``HandoffInputData``, whose items are run items (``ToolCallItem``, ...), and returns
    one (or tether's, of item dicts)."""
    made = _handoff(
        agent,
        tool_name_override=tool_name_override,
        tool_description_override=tool_description_override or default_tool_description(agent),
        on_handoff=on_handoff,
        input_type=input_type,
        input_filter=None if input_filter is None else ReferenceFilter(input_filter, agent),
        is_enabled=is_enabled,
    )
    fields = {field.name: getattr(made, field.name) for field in dataclasses.fields(made)}
    return Handoff(**fields, nest_handoff_history=nest_handoff_history)
