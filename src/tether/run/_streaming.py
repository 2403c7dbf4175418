"""Streaming runs: the same loop, with each journal event and model delta forwarded.

``Runner.run_streamed`` drives the ordinary loop in a task whose sink turns
journal events into stream events (``events_for``) and passes model deltas
through. Nothing here decides anything, so a streamed run and a plain one
cannot drift apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .._agent import Agent
from ..errors import RunError, UserError
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
from ._cancellation import attach_run_state
from ._loop import drive
from ._origins import with_origins
from ._result import RunResult
from ._run import Run, StopMode

__all__ = [
    "AgentUpdatedEvent",
    "RawResponseEvent",
    "RunItemEvent",
    "RunItemName",
    "RunResultStreaming",
    "StreamEvent",
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

_END = object()

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


class RunResultStreaming(RunResult):
    """A run in progress. Iterate ``stream_events()``; afterwards it reads like a ``RunResult``.

    ``final_output``, ``interruptions``, ``to_state()`` and ``usage`` are
    complete once the stream has ended.
    """

    def __init__(self, run: Run, queue: asyncio.Queue[object]) -> None:
        super().__init__(run)
        self._queue = queue
        self._task: asyncio.Task[None] | None = None
        self._began = False
        self._stop: StopMode | None = None

    @property
    def is_complete(self) -> bool:
        """Whether the run has stopped (finished, interrupted, cancelled or failed)."""
        return self._task is not None and self._task.done()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._drive())
        # A callback, not a ``finally`` in ``_drive``: a task cancelled before it ever ran
        # never enters its coroutine, and the stream must end all the same.
        self._task.add_done_callback(lambda _: self._queue.put_nowait(_END))

    async def _drive(self) -> None:
        self._began = True
        try:
            await drive(self._run, lambda: self._stop)
        except RunError as exc:
            exc.run_state = self.to_state()  # as Runner.run does
            raise

    async def stream_events(self) -> AsyncIterator[StreamEvent]:
        """Events in the order they happen; raises the run's error, if it failed, at the end.

        If the task iterating is cancelled (for example by ``asyncio.timeout``),
        the run is cancelled too, at once, and the cancellation goes on with
        ``run_state_of(error)`` giving the state.
        """
        try:
            while (event := await self._queue.get()) is not _END:
                assert isinstance(event, RawResponseEvent | RunItemEvent | AgentUpdatedEvent)
                yield event
        except asyncio.CancelledError as exc:
            await self._stop_at_once()
            if self._run.start is None:  # else the run never recorded its start
                attach_run_state(exc, self.to_state())
            raise
        assert self._task is not None and self._task.done()
        if self._task.cancelled():
            if self._stop is None:  # cancelled by someone else than ``cancel()``
                raise asyncio.CancelledError
            return
        self._task.result()  # the run's error, if it failed

    def cancel(self, mode: StopMode = "immediate") -> None:
        """Stop the run; the stream then ends and ``to_state()`` resumes it.

        ``"immediate"``: tools that are running are cancelled, and a call cut
        short is left in doubt (started, no output: it may have had effects; it
        runs again on resume only if the tool is idempotent). ``"after_turn"``:
        the current turn (its model call and its tools) finishes and is recorded,
        and the run stops before the next model call. Either way, cancelling
        before ``stream_events()`` is iterated ends the stream at once.
        """
        if mode not in ("immediate", "after_turn"):
            raise UserError(f"cancel mode must be 'immediate' or 'after_turn', got {mode!r}.")
        if self._stop != "immediate":
            self._stop = mode
        # A run that has not begun stops at its first step, after recording its start,
        # so its state is a valid one; a run under way is stopped where it is.
        began = self._began and self._run.start is None
        if mode == "immediate" and began and self._task is not None and not self._task.done():
            self._task.cancel()

    async def _stop_at_once(self) -> None:
        self.cancel("immediate")
        if self._task is not None:
            await asyncio.wait([self._task])


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
