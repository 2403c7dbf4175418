"""``Agent(prompt=)``: a prompt kept on the OpenAI platform (its id, version and variables),
or a function of the run that returns one, sent with each of the agent's Responses
requests as the reference SDK sends it.

The agent resolves its prompt when its instructions are asked for, just before each model
call, and leaves it in a context variable that the facade's Responses model reads when it
builds that call's parameters (tether's ``ModelRequest`` has no field for it).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, NotRequired

from typing_extensions import TypedDict

from ..errors import UserError

__all__ = ["GenerateDynamicPromptData", "Prompt", "current_prompt", "resolve_prompt"]


class Prompt(TypedDict):
    """A prompt on the OpenAI platform."""

    id: str
    version: NotRequired[str]
    variables: NotRequired[dict[str, Any]]


@dataclass
class GenerateDynamicPromptData:
    """What a function given as ``Agent(prompt=)`` is called with."""

    context: Any
    """The run context (``RunContextWrapper``)."""
    agent: Any
    """The agent whose prompt is asked for."""


DynamicPromptFunction = Callable[[GenerateDynamicPromptData], Any]

_CURRENT: ContextVar[dict[str, Any] | None] = ContextVar("tether_agents_prompt", default=None)


async def resolve_prompt(agent: Any, context: Any) -> None:
    """Resolve ``agent.prompt`` for its next model call (``None`` when it has none)."""
    prompt = agent.prompt
    if prompt is not None and not isinstance(prompt, dict):
        if not callable(prompt):
            raise UserError(f"Agent {agent.name!r}: prompt must be a dict or a function.")
        prompt = prompt(GenerateDynamicPromptData(context=context, agent=agent))
        if inspect.isawaitable(prompt):
            prompt = await prompt
        if not isinstance(prompt, dict):
            raise UserError(f"Agent {agent.name!r}: its prompt function must return a dict.")
    if prompt is not None:
        keys = ("id", "version", "variables")
        prompt = {key: prompt.get(key) for key in keys}
    _CURRENT.set(prompt)


def current_prompt() -> dict[str, Any] | None:
    """The prompt resolved for the model call being made, if any."""
    return _CURRENT.get()
