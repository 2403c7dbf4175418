"""Agents used as tools: a nested run per call, journaled inside the outer run.

    research = researcher.as_tool("ask_researcher", "Ask the researcher.", needs_approval=False)
    lead = Agent(name="Lead", tools=[research])

A call of such a tool runs the inner agent as a nested run with the call's
``input`` argument. The nested run's events go into the outer journal as
``NestedRunRecorded`` events of that call, so one saved state holds both runs:

- the nested run finishes: its events, then the call's ``ToolCompleted`` with
  the nested final output (what the outer model reads);
- the nested run needs a human decision: its events with ``paused``; the
  outer run stops with the nested interruptions (each ``item.parent`` is the
  outer call, naming the outer agent); deciding one records the nested
  ``approval_decided`` as one more ``NestedRunRecorded``;
- the outer run resumes: the call runs again, which resumes the nested run
  from its journal, so no nested turn that has a response is asked again.

The call is started (``ToolStarted``) before each stretch of the nested run and
recorded after it: a crash in between leaves the call in doubt, as any tool.

A tool given ``as_tool(on_stream=)`` runs the same nested run, streamed: each
stretch's stream events (``_stream_events``) go to the callback as
``AgentToolStreamEvent``s, in order, from a task beside the run.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, cast

from .._agent import Agent, AgentTool
from .._context import RunContext
from .._tool_output import ToolOutput
from ..items import to_input_items
from ..journal import Call, Journal
from ..journal._binding import key_maker
from ..journal._events import Event, NestedRunRecorded, RunResumed, RunStarted, events_adapter
from ..tools import FunctionTool
from ._result import RunResult
from ._run import Driver, Run
from ._stream_events import AgentToolStreamEvent, AgentUpdatedEvent, StreamEvent, attach_stream

__all__ = ["NestedOutcome", "recorded", "run_nested", "start_call"]

logger = logging.getLogger("tether")

_END = object()


@dataclass(frozen=True, slots=True)
class NestedOutcome:
    """What one stretch of a nested run did: its new events, and its output if it finished."""

    agent: str
    events: list[Event]
    output: str | None


async def run_nested(tool: AgentTool, outer: Run, call: Call, drive: Driver) -> NestedOutcome:
    """Run, or resume, the nested run of ``call`` of the agent tool ``tool``, one stretch:
    until it finishes or waits for a person."""
    if call.nested_view is None:
        try:
            given = await tool.nested_input(call.arguments)
        except ValueError as exc:
            return NestedOutcome(
                tool.agent.name,
                [],
                f"Invalid arguments for tool {call.name!r}: {exc}. Please call it again.",
            )
        journal = Journal()
        start: RunStarted | None = RunStarted(
            run_id=f"run_{uuid.uuid4().hex}",
            agent=tool.agent.name,
            input=to_input_items(given),
            max_turns=tool.max_turns,
            rejection_message=outer.view.rejection_message,
        )
    else:
        journal = Journal(call.nested_events)
        start = None
    nested = Run(
        root=tool.agent,
        journal=journal,
        ctx=RunContext(outer.ctx.context, _facts=journal.view),
        # No session, no store of its own: the outer run stores what its model sees and
        # keeps the nested events in its own journal. Streamed only for ``on_stream``.
        options=replace(
            outer.options, stream=tool.on_stream is not None, session=None, durable=None
        ),
        graph=tool.agent.graph(),
        start=start,
    )
    if tool.on_stream is None:
        await _drive(nested, start is None, drive)
    else:
        await _streamed(nested, start is None, drive, _Forward(tool.on_stream, call))
    completed = journal.view.completed
    output = None if completed is None else _as_text(completed.output)
    if completed is not None and tool.output_extractor is not None:
        extracted = tool.output_extractor(RunResult(nested))
        output = _as_text(await extracted if inspect.isawaitable(extracted) else extracted)
    return NestedOutcome(tool.agent.name, journal.events_since(len(call.nested_events)), output)


async def _drive(nested: Run, resumed: bool, drive: Driver) -> None:
    if resumed:
        nested.append(RunResumed())
    await drive(nested)


@dataclass(slots=True)
class _Forward:
    """Hands the stream events of one call's nested run to the tool's ``on_stream``."""

    on_stream: Callable[[Any], Any]
    call: Call
    agent: Agent[Any] | None = None

    async def __call__(self, event: StreamEvent) -> None:
        if isinstance(event, AgentUpdatedEvent):
            self.agent = event.new_agent
        assert self.agent is not None  # a stream begins with the agent that runs
        call = self.call
        given = AgentToolStreamEvent(
            event, self.agent, call.call_id, call.name, call.arguments or "{}"
        )
        try:
            shown = self.on_stream(given)
            if inspect.isawaitable(shown):
                await shown
        except Exception:  # the callback only watches: its failure is not the run's
            logger.exception("on_stream of the agent tool %r failed", call.name)


async def _streamed(nested: Run, resumed: bool, drive: Driver, forward: _Forward) -> None:
    """Drive ``nested`` streamed, each of its events handed to ``forward`` in order, in a
    task of its own (the run does not wait for the callback, and the callback sees every
    event before the call ends)."""
    queue: asyncio.Queue[object] = asyncio.Queue()
    attach_stream(nested, queue)

    async def hand_on() -> None:
        while (event := await queue.get()) is not _END:
            await forward(cast(StreamEvent, event))

    task = asyncio.ensure_future(hand_on())
    try:
        await _drive(nested, resumed, drive)
    except Exception:  # the run failed: the callback still sees what led to it
        queue.put_nowait(_END)
        await task
        raise
    except BaseException:  # cancelled: so is the callback
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise
    queue.put_nowait(_END)
    await task


def _as_text(output: Any) -> str:
    return output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)


def start_call(
    run: Run, call: Call, tool: FunctionTool, drive: Driver
) -> ToolOutput | Awaitable[ToolOutput]:
    """Start a call: an agent tool's as a nested run (its outcome is a ``NestedOutcome``),
    any other tool's as ``tool.start`` does."""
    function = getattr(tool.function, "__wrapped__", None)
    if isinstance(function, AgentTool):
        # The loop awaits it like any tool's output, then records it with ``record_nested``.
        return cast(Awaitable[ToolOutput], run_nested(function, run, call, drive))
    return tool.start(run.ctx.for_call(call.call_id, key_maker(run.view, call)), call.arguments)


def recorded(call: Call, outcome: NestedOutcome) -> NestedRunRecorded:
    """The outer journal's event for a stretch of the nested run of ``call``."""
    return NestedRunRecorded(
        call.call_id,
        outcome.agent,
        events_adapter().dump_python(outcome.events, mode="json"),
        paused=outcome.output is None,
    )
