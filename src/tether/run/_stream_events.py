"""Stream events: what a streamed run tells its caller, made from its journal events.

``attach_stream`` gives a run a sink that turns each journal event into stream events
(``events_for``) and passes model deltas through, onto a queue. ``Runner.run_streamed``
reads that queue (``_streaming``); so does the nested run of an agent tool given
``on_stream`` (``_agent_tools``), whose events go to the tool's callback.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from .._agent import Agent
from ..items import Item
from ..journal import (
    ApprovalRequested,
    Event,
    HandoffTaken,
    ModelResponded,
    NestedRunRecorded,
    OutputReviewed,
    OutputReviewRequested,
    ToolApprovalItem,
    ToolCompleted,
    ToolRejected,
    ToolTimedOut,
)
from ..models import ModelStreamEvent, ProviderEvents, ResponseDone, TextDelta, ToolCallDelta
from ._origins import with_origins
from ._run import Run

if TYPE_CHECKING:
    # Only for annotations: ``import tether`` does not load asyncio, a run does
    # (tests/test_import_cost.py).
    import asyncio

__all__ = [
    "AgentToolStreamEvent",
    "AgentUpdatedEvent",
    "RawResponseEvent",
    "RunItemEvent",
    "RunItemName",
    "StreamEvent",
    "attach_stream",
    "events_for",
]

RunItemName = Literal[
    "message_output_created",
    "reasoning_item_created",
    "tool_called",
    "tool_output",
    "approval_requested",
    "output_review_requested",
    "handoff_requested",
    "handoff_occurred",
]


@dataclass(frozen=True, slots=True)
class RawResponseEvent:
    """A delta from the model as it streams (text, or a tool call's arguments)."""

    data: TextDelta | ToolCallDelta
    type: Literal["raw_response_event"] = "raw_response_event"


@dataclass(frozen=True, slots=True)
class RunItemEvent:
    """Something happened to an item: a message, a tool call, its output, an approval."""

    name: RunItemName
    item: Item | ToolApprovalItem
    """The conversation item; for ``approval_requested``, the ``ToolApprovalItem``; for
    ``output_review_requested``, the ``ToolOutputReviewItem`` (the output is not in the
    conversation until a person releases, replaces or withholds it)."""
    agent_name: str
    type: Literal["run_item_stream_event"] = "run_item_stream_event"
    provider_events: tuple[Any, ...] = field(default=(), repr=False, compare=False)
    """On the first item of a model response: the provider's stream events after its last
    delta (``ProviderEvents``), for a facade that shows the provider's own."""


@dataclass(frozen=True, slots=True)
class AgentUpdatedEvent:
    """A new agent is running (at the start, and after a handoff)."""

    new_agent: Agent[Any]
    type: Literal["agent_updated_stream_event"] = "agent_updated_stream_event"


StreamEvent = RawResponseEvent | RunItemEvent | AgentUpdatedEvent


@dataclass(frozen=True, slots=True)
class AgentToolStreamEvent:
    """An event of the nested run of an agent tool, as ``as_tool(on_stream=)`` is given it."""

    event: StreamEvent
    """The stream event, as ``Runner.run_streamed`` would yield it for the nested run."""
    agent: Agent[Any]
    """The nested agent running (the last one handed to, after a handoff)."""
    call_id: str
    """The call of the agent tool, in the calling run."""
    tool_name: str
    arguments: str
    """The call's arguments, as the calling agent's model wrote them."""


_HOSTED_CALLS = frozenset(
    {
        "web_search_call",
        "file_search_call",
        "code_interpreter_call",
        "mcp_call",
        "mcp_list_tools",
        "mcp_approval_request",
        "image_generation_call",
    }
)
"""Output items of tools the API runs itself."""


def attach_stream(run: Run, queue: asyncio.Queue[object]) -> None:
    """Make ``run`` put stream events on ``queue``, starting with the agent that runs."""

    tail: tuple[Any, ...] = ()

    def sink(event: Event | ModelStreamEvent) -> None:
        nonlocal tail
        if isinstance(event, TextDelta | ToolCallDelta):
            queue.put_nowait(RawResponseEvent(event))
            return
        if isinstance(event, ProviderEvents):
            tail = event.events  # shown, by a facade, before the response's first item
            return
        if isinstance(event, ResponseDone):
            return  # the loop appends the response as ModelResponded
        outs = events_for(event, run)
        if isinstance(event, ModelResponded) and outs and isinstance(outs[0], RunItemEvent):
            outs[0] = replace(outs[0], provider_events=tail)
        if isinstance(event, ModelResponded):
            tail = ()
        for out in outs:
            queue.put_nowait(out)

    run.sink = sink
    queue.put_nowait(AgentUpdatedEvent(run.agent))


def events_for(event: Event, run: Run) -> list[StreamEvent]:
    """The stream events one journal event stands for (called after the fold applied it)."""
    if isinstance(event, ModelResponded):
        handoffs = run.graph[event.agent].handoff_tools
        return [_item_event(item, event.agent, handoffs) for item in event.output]
    if isinstance(event, ApprovalRequested):
        [approval] = with_origins(
            [
                ToolApprovalItem(
                    event.agent, event.tool, event.call_id, event.arguments, event.fingerprint
                )
            ],
            run.graph,
        )
        return [RunItemEvent("approval_requested", approval, event.agent)]
    if isinstance(event, ToolCompleted) and event.review:
        return []  # the model reads nothing yet; the request that follows says why
    if isinstance(event, OutputReviewRequested):
        [review] = with_origins([run.view.calls[event.call_id].approval_item()], run.graph)
        return [RunItemEvent("output_review_requested", review, review.agent_name)]
    if isinstance(event, ToolCompleted | ToolRejected | ToolTimedOut | OutputReviewed):
        call = run.view.calls[event.call_id]
        # The item the fold just added: a function_call_output, or a hosted approval response
        # (before it, for a call an approver edited in a server-managed conversation: a note).
        return [RunItemEvent("tool_output", _output_item(run), call.agent)]
    if isinstance(event, NestedRunRecorded) and event.paused:
        # What the nested run of an agent tool waits for, as the outer run will list it.
        waiting = [item for item in run.view.pending if _outermost(item).call_id == event.call_id]
        return [RunItemEvent("approval_requested", item, item.agent_name) for item in waiting]
    if isinstance(event, HandoffTaken):
        item = {
            "call_id": event.call_id,
            "from_agent": event.from_agent,
            "to_agent": event.to_agent,
        }
        return [
            RunItemEvent("handoff_occurred", item, event.from_agent),
            AgentUpdatedEvent(run.graph[event.to_agent]),
        ]
    return []


def _output_item(run: Run) -> Item:
    """The item the fold just added for a call's outcome (searched from the end: a note may
    follow it)."""
    items = run.view.items
    for item in reversed(items):
        if item.get("type") in ("function_call_output", "mcp_approval_response"):
            return item
    return items[-1]


def _outermost(item: ToolApprovalItem) -> ToolApprovalItem:
    while item.parent is not None:
        item = item.parent
    return item


def _item_event(item: Item, agent: str, handoffs: dict[str, Agent[Any]]) -> RunItemEvent:
    if item.get("type") in _HOSTED_CALLS:
        return RunItemEvent("tool_called", item, agent)
    if item.get("type") == "function_call":
        name: RunItemName = "handoff_requested" if item.get("name") in handoffs else "tool_called"
        return RunItemEvent(name, item, agent)
    if item.get("type") == "reasoning":
        return RunItemEvent("reasoning_item_created", item, agent)
    return RunItemEvent("message_output_created", item, agent)
