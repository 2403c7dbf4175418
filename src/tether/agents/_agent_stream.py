"""``Agent.as_tool(on_stream=)``: each event of the agent tool's nested run handed to the
program's callback as the reference SDK hands it.

The nested run is tether's, journaled in the calling run as without ``on_stream``
(``tether.run._agent_tools``): it streams its model calls, and tether's
``as_tool(on_stream=)`` hook is given each of its stream events. This module only
translates: each event becomes the reference's stream events (``reference_events``, as
the facade's ``Runner.run_streamed`` yields them), each given to the callback in the
reference's dict, ``{"event", "agent", "tool_call"}``.

A decision the nested run waits for is not streamed to the callback (the reference
streams none): it pauses the calling run, which lists it in ``interruptions`` (and a
streamed calling run yields it). On resume, the nested run's stream begins again with
the agent that runs, then the decided call's output, as the reference's does.
"""

from __future__ import annotations

import inspect
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .._agent import Agent
from ..run import AgentToolStreamEvent, RunItemEvent
from ._results import reference_events

__all__ = ["reference_stream_handler"]

logger = logging.getLogger("tether")

_NOT_STREAMED = frozenset({"approval_requested", "output_review_requested"})


def reference_stream_handler(
    agent: Agent[Any], on_stream: Callable[[Any], Any]
) -> Callable[[AgentToolStreamEvent], Awaitable[None]]:
    """tether's ``on_stream`` hook for ``agent``'s tool, calling the reference-shaped
    ``on_stream`` (sync or async) with each of the reference's events."""
    numbers = itertools.count()
    names: dict[str, str] = {}  # call id -> tool name, for the outputs' tool origin

    async def handle(given: AgentToolStreamEvent) -> None:
        from openai.types.responses import ResponseFunctionToolCall

        event = given.event
        if isinstance(event, RunItemEvent) and event.name in _NOT_STREAMED:
            return
        call = ResponseFunctionToolCall(
            arguments=given.arguments,
            call_id=given.call_id,
            name=given.tool_name,
            type="function_call",
        )
        graph = agent.graph() if isinstance(event, RunItemEvent) else {}
        for out in reference_events(event, graph, numbers, names):
            try:
                shown = on_stream({"event": out, "agent": given.agent, "tool_call": call})
                if inspect.isawaitable(shown):
                    await shown
            except Exception:  # as the reference: logged, and the run goes on
                logger.exception("on_stream of the agent tool %r failed", given.tool_name)

    return handle
