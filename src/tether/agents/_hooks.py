"""Hooks written for the reference SDK, called by tether's run loop.

tether calls hooks with its ``RunContext``; the reference passes ``AgentHookContext``
(with ``turn_input``) to agent-start hooks and ``ToolContext`` to tool hooks. These
adapters hand the user's hooks those contexts and forward everything else; they hold no
run state (the run's input comes from a context variable the facade's ``Runner`` sets).
"""

from __future__ import annotations

import contextvars
from typing import Any

from .._context import RunContext
from ..lifecycle import AgentHooks, RunHooks
from .run_context import AgentHookContext
from .tool_context import ToolContext

__all__ = ["AgentHooksAdapter", "RunHooksAdapter", "run_input"]

run_input: contextvars.ContextVar[tuple[Any, ...]] = contextvars.ContextVar(
    "tether_agents_run_input", default=()
)
"""The input items of the run in progress, for ``AgentHookContext.turn_input``."""

_ADAPTED = {"on_agent_start", "on_start", "on_tool_start", "on_tool_end", "on_handoff"}


class _Forwarding:
    """Forwards every ``on_*`` hook it does not adapt to the user's hooks object."""

    hooks: Any

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("on_") and name not in _ADAPTED:
            return getattr(object.__getattribute__(self, "hooks"), name)
        return object.__getattribute__(self, name)

    async def on_tool_start(self, context: RunContext[Any], agent: Any, tool: Any) -> None:
        await self.hooks.on_tool_start(_tool_context(context, tool, done=False), agent, tool)

    async def on_tool_end(
        self, context: RunContext[Any], agent: Any, tool: Any, result: str
    ) -> None:
        await self.hooks.on_tool_end(_tool_context(context, tool, done=True), agent, tool, result)


def _tool_context(context: RunContext[Any], tool: Any, *, done: bool) -> ToolContext[Any]:
    """The ``ToolContext`` of the call a tool hook is about. tether's hooks are told the
    tool, not the call; the run's view knows the turn's calls, so when exactly one call of
    this tool is about to start (or has just finished) its id and arguments are given,
    else they are empty strings."""
    calls = getattr(getattr(context, "_facts", None), "calls", None)
    matching = [
        call
        for call in (calls.values() if isinstance(calls, dict) else ())
        if call.name == tool.name
        and not getattr(call, "hosted", False)
        and (call.done if done else not (call.started or call.done))
    ]
    if len(matching) != 1:
        return ToolContext(context, tool.name)
    call = matching[0]
    return ToolContext(context, tool.name, call.call_id, call.arguments)


class RunHooksAdapter(_Forwarding, RunHooks[Any]):
    """The user's ``RunHooks``, given the reference SDK's contexts."""

    def __init__(self, hooks: RunHooks[Any]) -> None:
        self.hooks = hooks

    async def on_agent_start(self, context: RunContext[Any], agent: Any) -> None:
        turn_input = list(run_input.get())
        await self.hooks.on_agent_start(AgentHookContext(context, turn_input), agent)

    async def on_handoff(self, context: RunContext[Any], from_agent: Any, to_agent: Any) -> None:
        await self.hooks.on_handoff(context, from_agent, to_agent)
        # The reference calls the hooks of the agent handing off (not, as tether does, of
        # the agent handed to), with ``agent=`` the new agent and ``source=`` itself.
        source = getattr(from_agent, "hooks", None)
        if isinstance(source, AgentHooksAdapter):
            await source.hooks.on_handoff(context, to_agent, from_agent)


class AgentHooksAdapter(_Forwarding, AgentHooks[Any]):
    """An agent's ``AgentHooks``, given the reference SDK's contexts."""

    def __init__(self, hooks: AgentHooks[Any]) -> None:
        self.hooks = hooks

    async def on_start(self, context: RunContext[Any], agent: Any) -> None:
        turn_input = list(run_input.get())
        await self.hooks.on_start(AgentHookContext(context, turn_input), agent)

    async def on_handoff(self, context: RunContext[Any], agent: Any, source: Any) -> None:
        """Called by tether on the agent handed to; the facade's run hooks call the
        handing-off agent's instead, as the reference does."""
