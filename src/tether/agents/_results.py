"""Run results and stream events as ``openai-agents`` code reads them.

``RunResult`` and ``RunResultStreaming`` wrap tether's results: the same run, with the
reference SDK's ``context_wrapper``, run items with a ``type``, approval items with their
``agent``, and ``to_state()`` giving this package's ``RunState``. Stream events carry the
reference's event classes; a raw event's ``data`` is each event the OpenAI Responses API
streamed, as the ``openai`` client typed it (the model hands them on), or, from a model
that hands on none, an ``openai`` ``ResponseTextDeltaEvent`` made for each text delta, so
``isinstance(event.data, ResponseTextDeltaEvent)`` holds.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from .._agent import Agent
from .._context import RunContext, Usage
from ..items import Item
from ..journal import HandoffTaken, ModelResponded
from ..journal import ToolApprovalItem as _ApprovalItem
from ..models import ModelResponse, TextDelta, ToolCallDelta
from ..run import AgentUpdatedEvent, RawResponseEvent, RunItemEvent
from ..run import RunResult as _RunResult
from ..run import RunResultStreaming as _RunResultStreaming
from ._items import (
    HandoffOutputItem,
    RunItem,
    ToolApprovalItem,
    approval_item,
    output_item,
    reference_order,
    run_item,
)
from ._state import RunState, compat_state
from .usage import Usage as ReferenceUsage

__all__ = [
    "AgentToolStreamEvent",
    "AgentUpdatedStreamEvent",
    "RawResponsesStreamEvent",
    "RunItemStreamEvent",
    "RunResult",
    "RunResultStreaming",
    "StreamEvent",
    "reference_events",
]


@dataclass(frozen=True, slots=True)
class AgentUpdatedStreamEvent(AgentUpdatedEvent):
    """A new agent is running (``new_agent``): tether's ``AgentUpdatedEvent`` (a subclass,
    so ``isinstance`` holds for both) under the reference SDK's name."""


@dataclass(frozen=True, slots=True)
class RawResponsesStreamEvent:
    """A raw model event: ``data`` is an ``openai.types.responses`` stream event (the
    server's own, or a ``ResponseTextDeltaEvent`` / ``ResponseFunctionCallArgumentsDeltaEvent``
    made for a delta of a model that hands on none)."""

    data: Any
    type: Literal["raw_response_event"] = "raw_response_event"


@dataclass(frozen=True, slots=True)
class RunItemStreamEvent:
    """A run item was created: ``name`` says what happened, ``item`` is the run item."""

    name: str
    item: RunItem
    type: Literal["run_item_stream_event"] = "run_item_stream_event"


StreamEvent = RawResponsesStreamEvent | RunItemStreamEvent | AgentUpdatedStreamEvent

_NAMES = {
    "approval_requested": "tool_approval_requested",
    # The reference SDK has no output review: a review is the approval it knows.
    "output_review_requested": "tool_approval_requested",
    "handoff_occurred": "handoff_occured",  # the reference SDK's spelling
}


class RunResult:
    """A finished or paused run, read as in ``openai-agents``."""

    def __init__(self, result: _RunResult) -> None:
        self._result = result

    @property
    def final_output(self) -> Any:
        """The final output; ``None`` while the run waits for decisions."""
        return self._result.final_output

    def final_output_as(self, cls: type[Any], raise_if_incorrect_type: bool = False) -> Any:
        """The final output, checked to be a ``cls`` if asked."""
        output = self.final_output
        if raise_if_incorrect_type and not isinstance(output, cls):
            from ..errors import UserError

            raise UserError(f"The final output is a {type(output).__name__}, not a {cls}.")
        return output

    @property
    def interruptions(self) -> list[ToolApprovalItem]:
        """Calls waiting for a decision, each with its ``agent``."""
        graph = self._graph
        return [approval_item(item, graph) for item in self._result.interruptions]

    @property
    def new_items(self) -> list[RunItem]:
        """The items the run produced, as run items."""
        return self._run_items()

    @property
    def input(self) -> list[Item]:
        """The run's input items."""
        return self._result.input

    @property
    def last_agent(self) -> Agent[Any]:
        """The agent that produced the final output (or runs next)."""
        return self._result.last_agent

    @property
    def raw_responses(self) -> list[ModelResponse]:
        """Every model response of the run."""
        return self._result.raw_responses

    @property
    def context_wrapper(self) -> RunContext[Any]:
        """The run context: ``.context`` (yours) and ``.usage`` (the whole run's, with
        ``request_usage_entries``)."""
        ctx = self._result._run.ctx
        return RunContext(ctx.context, _facts=_RequestUsages(ctx._facts, self._result._run.view))

    @property
    def usage(self) -> Usage:
        """Requests and tokens of the whole run, with ``request_usage_entries``."""
        view = self._result._run.view
        return ReferenceUsage.of_requests(view.usage, [r.usage for r in view.responses])

    @property
    def current_turn(self) -> int:
        """Model responses so far."""
        return self._result.current_turn

    @property
    def last_response_id(self) -> str | None:
        """The id of the last model response."""
        return self._result.last_response_id

    def to_input_list(self) -> list[Item]:
        """The input followed by the new items: the next run's input for a follow-up (a
        tool's output keyed in the reference SDK's order)."""
        return [*self._result.input, *map(reference_order, self._result.new_items)]

    def to_state(self) -> RunState:
        """The run as a ``RunState`` to save, decide on and resume."""
        return compat_state(self._result.to_state())

    @property
    def _graph(self) -> dict[str, Agent[Any]]:
        return self._result._run.graph

    def _run_items(self) -> list[RunItem]:
        run, graph = self._result._run, self._graph
        owners, handoffs = _owners(run.journal)
        items: list[RunItem] = []
        name = next(iter(owners.values()), run.view.agent)
        for item in run.view.new_items:
            call_id = str(item.get("call_id", ""))
            name = owners.get(call_id) or owners.get(str(item.get("id", ""))) or name
            taken = handoffs.get(call_id) if item.get("type") == "function_call_output" else None
            if taken is None:
                items.append(run_item(item, graph[name]))
                continue
            source, target = graph[taken.from_agent], graph[taken.to_agent]
            items.append(HandoffOutputItem(source, reference_order(item), source, target))
        return items

    def __repr__(self) -> str:
        return repr(self._result)


class RunResultStreaming(RunResult):
    """A streamed run: iterate ``stream_events()``; afterwards it reads like a ``RunResult``.

    Built by the facade's ``Runner.run_streamed``: ``start`` (when given) begins the run
    once ``prepare`` (listing ``mcp_servers`` tools) is done, on the first iteration;
    ``decide`` and ``resume`` go on after hosted MCP approvals a function decides, in the
    same stream, as the reference does.
    """

    _result: _RunResultStreaming

    def __init__(
        self,
        result: _RunResultStreaming | None,
        *,
        prepare: Callable[[], Awaitable[None]] | None = None,
        start: Callable[[], _RunResultStreaming] | None = None,
        decide: Callable[[RunState, RunResult], Awaitable[bool]] | None = None,
        resume: Callable[[RunState], _RunResultStreaming] | None = None,
    ) -> None:
        if result is not None:
            super().__init__(result)
        self._prepare = prepare
        self._start = start
        self._decide = decide
        self._resume = resume

    @property
    def is_complete(self) -> bool:
        """Whether the run has stopped."""
        return self._started()._result.is_complete

    def cancel(self, mode: Literal["immediate", "after_turn"] = "immediate") -> None:
        """Stop the run (see tether's ``RunResultStreaming.cancel``)."""
        self._started()._result.cancel(mode)

    def _started(self) -> RunResultStreaming:
        if self._start is not None:
            from ..errors import UserError

            raise UserError(
                "This streamed run starts when stream_events() is first iterated (its agents' "
                "MCP servers are listed first); iterate it before reading the result."
            )
        return self

    async def stream_events(self) -> AsyncIterator[StreamEvent]:
        """The run's events as the reference SDK's stream event classes."""
        from ..errors import GuardrailTripwireTriggered
        from ._errors import reference_error

        if self._start is not None:
            if self._prepare is not None:
                await self._prepare()
            self._result, self._start = self._start(), None
        numbers = itertools.count()
        names: dict[str, str] = {}  # call id -> tool name, for the outputs' tool origin
        while True:
            graph = self._graph
            try:
                async for event in self._result.stream_events():
                    for out in reference_events(event, graph, numbers, names):
                        yield out
            except GuardrailTripwireTriggered as exc:
                raise reference_error(exc) from None
            if self._decide is None or self._resume is None or not self._result.interruptions:
                return
            state = self.to_state()
            if not await self._decide(state, self):
                return
            self._result = self._resume(state)


def _owners(journal: Iterable[Any]) -> tuple[dict[str, str], dict[str, HandoffTaken]]:
    """Which agent's model gave each item of the run (by call id, or by item id for a
    message), and each handoff taken, by its call id."""
    owners: dict[str, str] = {}
    handoffs: dict[str, HandoffTaken] = {}
    for event in journal:
        if isinstance(event, ModelResponded):
            for item in event.output:
                for key in ("call_id", "id"):
                    if item.get(key):
                        owners.setdefault(str(item[key]), event.agent)
        elif isinstance(event, HandoffTaken):
            handoffs[event.call_id] = event
    return owners, handoffs


def reference_events(
    event: Any, graph: dict[str, Agent[Any]], numbers: Iterator[int], names: dict[str, str]
) -> Iterator[Any]:
    """The reference's stream events for one of tether's (``numbers`` numbers the deltas made
    here, ``names`` keeps each call's tool name for its output): a run item is preceded by
    the provider's events shown before it."""
    if isinstance(event, RawResponseEvent):
        for data in _raw(event.data, numbers):
            yield RawResponsesStreamEvent(data)
    elif isinstance(event, RunItemEvent):
        for data in event.provider_events:
            yield RawResponsesStreamEvent(data)
        yield RunItemStreamEvent(
            _NAMES.get(event.name, event.name), _stream_item(event, graph, names)
        )
    elif isinstance(event, AgentUpdatedEvent):
        yield AgentUpdatedStreamEvent(event.new_agent)
    else:
        yield event


def _stream_item(
    event: RunItemEvent, graph: dict[str, Agent[Any]], names: dict[str, str]
) -> RunItem:
    agent = graph[event.agent_name]
    item = event.item
    if isinstance(item, _ApprovalItem):
        return approval_item(item, graph)
    if event.name == "handoff_occurred":
        source, target = graph[str(item["from_agent"])], graph[str(item["to_agent"])]
        return HandoffOutputItem(agent, item, source, target)
    if event.name == "tool_output":
        tool = agent.function_tools.get(names.get(str(item.get("call_id")), ""))
        return output_item(item, agent, tool)
    if event.name == "tool_called" and item.get("type") == "function_call":
        names[str(item.get("call_id"))] = str(item.get("name"))
    return run_item(item, agent)


def _raw(data: TextDelta | ToolCallDelta, numbers: Iterator[int]) -> tuple[Any, ...]:
    """The provider's own events for a delta where it handed them on (the OpenAI Responses
    model's), else the ``openai`` package's event for the delta, made here."""
    if data.provider_events:
        return data.provider_events
    return (_made(data, next(numbers)),)


def _made(data: TextDelta | ToolCallDelta, number: int) -> Any:
    from openai.types.responses import (
        ResponseFunctionCallArgumentsDeltaEvent,
        ResponseTextDeltaEvent,
    )

    if isinstance(data, TextDelta):
        return ResponseTextDeltaEvent(
            type="response.output_text.delta",
            delta=data.delta,
            item_id="",
            output_index=0,
            content_index=0,
            logprobs=[],
            sequence_number=number,
        )
    return ResponseFunctionCallArgumentsDeltaEvent(
        type="response.function_call_arguments.delta",
        delta=data.delta,
        item_id=data.call_id,
        output_index=0,
        sequence_number=number,
    )


class AgentToolStreamEvent(TypedDict):
    """What ``Agent.as_tool(on_stream=)`` is given for each event of the nested agent's
    streamed run, as the reference SDK shapes it (a dict)."""

    event: StreamEvent
    """The nested run's stream event (this module's classes)."""
    agent: Agent[Any]
    """The nested agent."""
    tool_call: Any
    """The calling tool call, an ``openai`` ``ResponseFunctionToolCall``."""


class _RequestUsages:
    """A run's facts for ``context_wrapper``: its usage with one entry per request."""

    __slots__ = ("_facts", "_view")

    def __init__(self, facts: Any, view: Any) -> None:
        self._facts, self._view = facts, view

    @property
    def usage(self) -> Usage:
        return ReferenceUsage.of_requests(self._view.usage, [r.usage for r in self._view.responses])

    @property
    def turns(self) -> int:
        return int(self._facts.turns)

    @property
    def agent(self) -> str:
        return str(self._facts.agent)

    @property
    def run_id(self) -> str:
        return str(self._facts.run_id)
