"""Handoff options: the tool a model calls to hand off, what the next agent sees, and when
the handoff is offered.

    handoff(
        refunds,
        tool_name_override="escalate_refund",
        input_type=RefundReason,                 # the model gives a reason...
        on_handoff=log_reason,                   # ...which this receives: (ctx, reason)
        input_filter=drop_tool_calls,            # the refunds agent sees less
        is_enabled=lambda ctx, agent: ctx.context["plan"] == "pro",
    )

An agent's ``handoffs`` list takes agents and ``handoff(...)`` entries alike.
``input_filter`` (or ``RunConfig.handoff_input_filter``) changes only what the
next agent's model is sent: the conversation kept in the journal (and a session)
is unchanged, and the filtered view is journaled with the handoff, so a resumed
run sends exactly what the filter chose. ``on_handoff`` runs before the handoff
is recorded; like a tool without a journaled start, it may run again if the
process dies in between.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from ._context import RunContext
from ._strict_schema import strict_json_schema
from .errors import AgentDefinitionError
from .items import Item
from .tools import IsEnabled, ask_enabled, check_is_enabled

if TYPE_CHECKING:
    from ._agent import Agent

__all__ = ["Handoff", "HandoffInputData", "handoff", "handoff_tool_name"]

_EMPTY_OBJECT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {},
    "additionalProperties": False,
    "required": [],
}


@dataclass(frozen=True, slots=True)
class HandoffInputData:
    """What an input filter receives at a handoff, and returns changed.

    ``input_history`` is the conversation before the run's own items (session
    history and the run's input); ``pre_handoff_items`` the items the run produced
    before the turn that handed off; ``new_items`` that turn's items (the handoff
    call and its output among them).
    """

    input_history: tuple[Item, ...]
    pre_handoff_items: tuple[Item, ...]
    new_items: tuple[Item, ...]

    def all_items(self) -> list[Item]:
        """Everything, in order: what the next agent's model is sent."""
        return [*self.input_history, *self.pre_handoff_items, *self.new_items]


InputFilter = Callable[[HandoffInputData], HandoffInputData]


@dataclass(frozen=True, slots=True)
class Handoff:
    """A handoff to ``agent``, with its options. Build one with ``handoff()``."""

    agent: Agent[Any]
    tool_name: str
    tool_description: str
    input_json_schema: dict[str, Any]
    input_type: Any = None
    """The type the model's arguments validate as; ``on_handoff`` receives the value."""
    on_handoff: Callable[..., Any] | None = None
    """``(ctx)`` or, with an ``input_type``, ``(ctx, input)``; sync or async."""
    input_filter: InputFilter | None = None
    is_enabled: IsEnabled = True
    """Whether the model is offered this handoff: a bool, or ``(ctx, agent) -> bool``."""

    async def enabled(self, ctx: RunContext[Any], agent: Agent[Any]) -> bool:
        """Whether the handoff is offered on this model call."""
        return await ask_enabled(self.is_enabled, ctx, agent)

    def parse_input(self, arguments: str) -> Any:
        """The model's arguments as ``input_type`` (``ValueError`` saying why not)."""
        if self.input_type is None:
            return None
        try:
            return TypeAdapter(self.input_type).validate_json(arguments or "{}")
        except Exception as exc:  # pydantic's ValidationError, with the details
            raise ValueError(str(exc)) from None

    async def call_on_handoff(self, ctx: RunContext[Any], value: Any) -> None:
        """Run ``on_handoff``, if there is one."""
        if self.on_handoff is None:
            return
        result = (
            self.on_handoff(ctx, value) if self.input_type is not None else self.on_handoff(ctx)
        )
        if inspect.isawaitable(result):
            await result


def handoff_tool_name(agent_name: str) -> str:
    """The tool a model calls to hand off to an agent: ``transfer_to_<snake_name>``."""
    return "transfer_to_" + re.sub(r"[^a-zA-Z0-9]+", "_", agent_name).strip("_").lower()


def handoff(
    agent: Agent[Any],
    *,
    tool_name_override: str | None = None,
    tool_description_override: str | None = None,
    on_handoff: Callable[..., Any] | None = None,
    input_type: Any = None,
    input_filter: InputFilter | None = None,
    is_enabled: IsEnabled = True,
) -> Handoff:
    """A handoff to ``agent`` with options, for an agent's ``handoffs`` list.

    ``input_type`` (a pydantic model, dataclass or TypedDict) makes the model give
    arguments of that type, passed to ``on_handoff(ctx, input)``; an ``input_type``
    needs an ``on_handoff`` to receive it.
    """
    if input_type is not None and on_handoff is None:
        raise AgentDefinitionError(
            f"handoff to {agent.name!r}: input_type needs an on_handoff(ctx, input) to receive "
            "the model's input."
        )
    check_is_enabled(is_enabled, f"handoff to {agent.name!r}")
    schema = _EMPTY_OBJECT_SCHEMA
    if input_type is not None:
        try:
            schema = strict_json_schema(TypeAdapter(input_type).json_schema())
        except Exception as exc:
            raise AgentDefinitionError(
                f"handoff to {agent.name!r}: input_type {input_type!r} has no JSON schema ({exc})."
            ) from None
    description = tool_description_override or (
        f"Hand off to the {agent.name} agent to handle the request."
        + (f" {agent.handoff_description}" if agent.handoff_description else "")
    )
    return Handoff(
        agent=agent,
        tool_name=tool_name_override or handoff_tool_name(agent.name),
        tool_description=description,
        input_json_schema=schema,
        input_type=input_type,
        on_handoff=on_handoff,
        input_filter=input_filter,
        is_enabled=is_enabled,
    )
