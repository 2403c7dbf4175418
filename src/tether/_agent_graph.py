"""An agent graph copied with each agent changed: every agent reachable from a root through
handoffs and through agents used as tools (``Agent.as_tool``), links kept (cycles too).

    def on_script(agent, conversation):
        return agent.clone(model=models[conversation.name])

    scripted = copy_graph(root, on_script)

Each agent belongs to a conversation: the root's, which its handoff targets continue, or
the nested run of an agent used as a tool, which that agent starts and its own handoff
targets continue. The crash test and the replay give each conversation its own model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ._agent import Agent, AgentTool
from ._context import RunContext
from .handoffs import Handoff
from .tools import FunctionTool

__all__ = ["Change", "agent_tool", "conversations", "copy_graph"]

Change = Callable[[Agent[Any], Agent[Any]], Agent[Any]]
"""``(agent, conversation) -> its copy``: ``conversation`` is the agent that began the
conversation ``agent`` takes part in (the root, or an agent used as a tool)."""

_CACHED = ("function_tools", "handoff_entries", "handoff_tools", "enabled_checks", "tool_specs")


def agent_tool(tool: Any) -> AgentTool | None:
    """The agent behind ``tool`` if it is an agent used as a tool (``as_tool``), else ``None``."""
    wrapped = getattr(getattr(tool, "function", None), "__wrapped__", None)
    return wrapped if isinstance(tool, FunctionTool) and isinstance(wrapped, AgentTool) else None


def conversations(root: Agent[Any]) -> list[Agent[Any]]:
    """The agents that begin a conversation: ``root``, then each agent used as a tool by
    an agent reachable from it (nested ones too), each once, in the order found."""
    found: dict[int, Agent[Any]] = {id(root): root}
    queue = [root]
    while queue:
        for member in queue.pop(0).graph().values():
            for tool in member.tools:
                nested = agent_tool(tool)
                if nested is not None and id(nested.agent) not in found:
                    found[id(nested.agent)] = nested.agent
                    queue.append(nested.agent)
    return list(found.values())


def copy_graph(root: Agent[Any], change: Change) -> Agent[Any]:
    """``root`` and every agent reachable from it replaced by ``change(agent, conversation)``,
    each handoff and agent tool pointing at the copies."""
    made: dict[int, Agent[Any]] = {}

    def copy(agent: Agent[Any], conversation: Agent[Any]) -> Agent[Any]:
        if id(agent) in made:
            return made[id(agent)]
        clone = made[id(agent)] = change(agent, conversation)
        for name in _CACHED:  # read from the lists set below, not from the original's
            clone.__dict__.pop(name, None)
        clone.tools = [_copied_tool(tool, lambda a: copy(a, a)) for tool in clone.tools]
        clone.handoffs = [
            _copied_handoff(target, lambda a: copy(a, conversation)) for target in agent.handoffs
        ]
        return clone

    return copy(root, root)


def _copied_handoff(
    target: Agent[Any] | Handoff, copy: Callable[[Agent[Any]], Agent[Any]]
) -> Agent[Any] | Handoff:
    if isinstance(target, Handoff):
        return dataclasses.replace(target, agent=copy(target.agent))
    return copy(target)


def _copied_tool(tool: Any, copy: Callable[[Agent[Any]], Agent[Any]]) -> Any:
    nested = agent_tool(tool)
    if nested is None:
        return tool
    inner = dataclasses.replace(nested, agent=copy(nested.agent))

    def call(ctx: RunContext[Any], /, **args: Any) -> Any:
        return inner(ctx, args)

    call.__wrapped__ = inner  # type: ignore[attr-defined]  # the run finds the agent here
    return dataclasses.replace(tool, function=call)
