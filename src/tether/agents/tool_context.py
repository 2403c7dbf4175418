"""``agents.tool_context``: the context a tool hook receives, with the call's details."""

from __future__ import annotations

from typing import TypeVar

from .._context import RunContext

__all__ = ["ToolContext"]

TContext = TypeVar("TContext")


class ToolContext(RunContext[TContext]):
    """The run context with the tool call it is about: ``tool_name``, ``tool_call_id``,
    ``tool_arguments``. Tool guardrails get all three; in tool hooks the call is found
    from the run's view and ``tool_call_id`` / ``tool_arguments`` are empty strings when
    the model called the same tool more than once in the turn (docs/migrating.md)."""

    __slots__ = ("tool_arguments", "tool_call_id", "tool_name")

    def __init__(
        self,
        context: RunContext[TContext],
        tool_name: str,
        tool_call_id: str = "",
        tool_arguments: str = "",
    ) -> None:
        super().__init__(context.context, _facts=context._facts)
        self.tool_name = tool_name
        self.tool_call_id = tool_call_id
        self.tool_arguments = tool_arguments
