"""``agents.run_context``: the run context a tool, an instruction function or a hook
receives, under the reference SDK's names."""

from __future__ import annotations

from typing import Any, TypeVar

from .._context import RunContext

__all__ = ["AgentHookContext", "RunContextWrapper"]

TContext = TypeVar("TContext")

RunContextWrapper = RunContext
"""The reference SDK's name for the run context: tether's ``RunContext``."""


class AgentHookContext(RunContext[TContext]):
    """The context ``on_agent_start`` / ``AgentHooks.on_start`` receive: the run context
    plus ``turn_input``, the input items the agent starts with."""

    __slots__ = ("turn_input",)

    def __init__(self, context: RunContext[TContext], turn_input: list[Any]) -> None:
        super().__init__(context.context, _facts=context._facts)
        self.turn_input = turn_input
        """The input items the agent starts its turn with."""
