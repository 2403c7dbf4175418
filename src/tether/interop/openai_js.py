"""Exchange run states with the TypeScript OpenAI Agents SDK (``@openai/agents-core``).

Pause a run in one language and resume it in the other:

    from tether.interop import from_openai_js, to_openai_js

    text = to_openai_js(result.to_state())            # give to RunState.fromString(agent, text)
    state = from_openai_js(agent, text_from_node)      # a paused TypeScript run, now tether's
    for item in state.interruptions:
        state.approve(item)
    result = await Runner.run(agent, state)

Both sides need agent graphs with the same agent names and tools. Decisions
taken on either side travel with the state and are bound to the exact call
they were taken on. What cannot be carried (hosted tools, agents as tools,
sessions, guardrail results, ...) raises ``InteropError`` naming it; see
docs/interop.md for the full mapping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._agent import Agent
from ..run import RunState
from . import _js_read, _js_write
from ._js_fingerprint import WRITTEN_VERSION

__all__ = ["READ_VERSIONS", "VERIFIED_PACKAGE", "WRITTEN_VERSION", "from_openai_js", "to_openai_js"]

VERIFIED_PACKAGE = "@openai/agents-core@0.20.0"
"""The TypeScript package both directions are tested against."""

READ_VERSIONS = _js_read.READ_VERSIONS
"""The TypeScript schema versions ``from_openai_js`` reads."""


def to_openai_js(state: RunState, *, context_serializer: Callable[[Any], Any] | None = None) -> str:
    """A paused or completed tether run as a TypeScript run state (schema 1.22), as JSON text.

    ``RunState.fromString(agent, text)`` of ``@openai/agents-core`` 0.20.0
    accepts it for an agent graph with the same names and tools, and resuming
    there honours the decisions already taken in tether. The context must
    serialise to a JSON object (``context_serializer`` as in
    ``RunState.to_json``). Raises ``InteropError`` for what the TypeScript
    format cannot hold.
    """
    context = state.to_json(context_serializer=context_serializer)["context"]
    return _js_write.write(state, {} if context is None else context)


def from_openai_js(agent: Agent[Any], text: str | bytes, *, context: Any = None) -> RunState:
    """A run state written by the TypeScript SDK (``RunState.toString()``) as a tether ``RunState``.

    ``agent`` is the root of the agent graph (the agent the TypeScript side
    passed to ``RunState.fromString``). Pending approvals, decisions already
    taken (per call and "always"), rejection messages, history, usage, the
    turn count and handoffs carry over. The stored context (a JSON object; an
    empty one becomes ``None``) is used unless ``context`` is given. Raises
    ``InteropError`` naming anything tether cannot carry.
    """
    return _js_read.read(agent, text, context)
