"""Test doubles for agents: a model that plays back a script and records what it was sent.

    from tether.testing import ScriptedModel, message, tool_call

    model = ScriptedModel([
        tool_call("get_temperature", {"city": "Oakland"}),
        message("It is 20°C in Oakland."),
    ])
    agent = Agent(name="Weather", model=model, tools=[get_temperature])
    result = await Runner.run(agent, "How warm is Oakland?")
    assert model.requests[1].input[-1]["type"] == "function_call_output"

Each turn is one model response: an item, a list of items, an exception to
raise, or a function ``(request) -> item | list[item]`` for answers that depend
on what the model was sent.

A ``ScriptedModel``'s turns are taken in order by whoever calls it, so one script
serves one run. Where many runs share a model (an inbox's workers, another
process resuming), use a ``FunctionModel``: its answer is a function of the
request alone, the same in every run and every process::

    def weather(request: ModelRequest) -> Item | list[Item]:
        if any(item.get("type") == "function_call_output" for item in request.input):
            return message("Done.")
        return tool_call("get_temperature", {"city": "Oakland"}, "call_0")

    agent = Agent(name="Weather", model=FunctionModel(weather), tools=[get_temperature])

A ``ReplayModel`` plays back what a model answered in a stored run, so the run can be
rerun offline (``tether replay`` does this for a whole run and diffs the outcome)::

    stored = await store.load("run-42")
    model = ReplayModel.from_run(stored, agent_name="Weather")
    result = await Runner.run(agent.clone(model=model), "How warm is Oakland?")

It raises ``ReplayDivergedError`` when the rerun asks for more turns than were recorded,
or sends the model a tool output other than the one the recorded run's model read.
"""

from __future__ import annotations

import inspect
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias

from ._context import Usage
from .errors import ReplayDivergedError, UserError
from .items import Item, assistant_message, function_call, is_function_call, message_text
from .models import (
    ModelRequest,
    ModelResponse,
    ModelStreamEvent,
    ResponseDone,
    TextDelta,
    ToolCallDelta,
)

__all__ = ["FunctionModel", "ReplayModel", "ScriptedModel", "Turn", "message", "tool_call"]

Turn: TypeAlias = (
    Item
    | Sequence[Item]
    | BaseException
    | Callable[[ModelRequest], "Item | Sequence[Item] | Awaitable[Item | Sequence[Item]]"]
)
"""One scripted model response."""


def message(text: str) -> Item:
    """An assistant message saying ``text``."""
    return assistant_message(text, id=f"msg_{uuid.uuid4().hex[:24]}")


def tool_call(name: str, arguments: dict[str, Any] | str, call_id: str | None = None) -> Item:
    """The model calling tool ``name``. A string ``arguments`` is sent as is (even if not JSON)."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return function_call(name, raw, call_id or f"call_{uuid.uuid4().hex[:24]}")


class ScriptedModel:
    """A ``Model`` that answers with scripted turns, in order, and records every request."""

    def __init__(self, turns: Sequence[Turn], *, name: str = "scripted") -> None:
        self.name = name
        self.turns = list(turns)
        self.requests: list[ModelRequest] = []
        """Every request received, in order."""

    async def get_response(self, request: ModelRequest) -> ModelResponse:
        index = len(self.requests)
        self.requests.append(request)
        if index >= len(self.turns):
            raise UserError(
                f"ScriptedModel {self.name!r} was called {index + 1} times but has "
                f"{len(self.turns)} turns. Add a turn to the script."
            )
        turn = self.turns[index]
        if isinstance(turn, BaseException):
            raise turn
        return await _respond(turn(request) if callable(turn) else turn)

    async def stream_response(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        async for event in _stream(await self.get_response(request)):
            yield event


class FunctionModel:
    """A ``Model`` whose answer is ``answer(request)``: an item or a list of items (or an
    awaitable of one). With no state of its own, any number of runs, workers and processes
    can share it; the requests it was sent are recorded in ``requests``."""

    def __init__(
        self,
        answer: Callable[[ModelRequest], Item | Sequence[Item] | Awaitable[Item | Sequence[Item]]],
        *,
        name: str = "function",
    ) -> None:
        if not callable(answer):
            raise UserError(f"FunctionModel(answer) is a function of the request, not {answer!r}.")
        self.name = name
        self.answer = answer
        self.requests: list[ModelRequest] = []
        """Every request received, in order."""

    async def get_response(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        return await _respond(self.answer(request))

    async def stream_response(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        async for event in _stream(await self.get_response(request)):
            yield event


class ReplayModel:
    """A ``Model`` that answers each request with the next response one agent's model gave
    in a recorded run, and records every request.

    Build it with ``from_run`` from a stored run (``await store.load(run_id)``), a
    ``RunState`` or ``RunResult``, or the run's events. Each request is checked against the
    recording: a request past the last recorded response, or one whose tool outputs differ
    from what the recorded run's model read for the same calls, raises
    ``ReplayDivergedError`` (the recorded answer would no longer be an answer to it)."""

    def __init__(
        self,
        responses: Sequence[ModelResponse],
        *,
        outputs: Mapping[str, str] | None = None,
        name: str = "replay",
    ) -> None:
        self.name = name
        self.responses = list(responses)
        self.outputs = dict(outputs or {})
        """What the recorded run's model read for each call id (checked on each request)."""
        self.requests: list[ModelRequest] = []
        """Every request received, in order."""

    @classmethod
    def from_run(cls, run: Any, *, agent_name: str) -> ReplayModel:
        """The model of agent ``agent_name`` as recorded in ``run`` (a stored run, a run
        state or result: anything with ``events``; or a sequence of journal events)."""
        events: list[Any] = list(getattr(run, "events", run))
        responded = [e for e in events if getattr(e, "kind", None) == "model_responded"]
        mine = [
            ModelResponse(
                output=[dict(item) for item in e.output],
                usage=e.usage,
                response_id=e.response_id,
            )
            for e in responded
            if e.agent == agent_name
        ]
        if not mine:
            agents = ", ".join(sorted({e.agent for e in responded})) or "none"
            raise UserError(
                f"The run holds no model response of agent {agent_name!r} (agents that "
                f"answered: {agents}). Name one of them as agent_name."
            )
        return cls(mine, outputs=_recorded_outputs(events), name=f"replay of {agent_name}")

    async def get_response(self, request: ModelRequest) -> ModelResponse:
        index = len(self.requests)
        self.requests.append(request)
        if index >= len(self.responses):
            raise ReplayDivergedError(
                f"{self.name} was asked for response {index + 1}, but the recorded run has "
                f"{len(self.responses)}: the rerun went on where the recorded run ended."
            )
        self._check(request, index + 1)
        return self.responses[index]

    async def stream_response(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        async for event in _stream(await self.get_response(request)):
            yield event

    def _check(self, request: ModelRequest, turn: int) -> None:
        for item in request.input:
            if item.get("type") != "function_call_output":
                continue
            call_id, output = item.get("call_id"), item.get("output")
            expected = self.outputs.get(call_id) if isinstance(call_id, str) else None
            if expected is not None and isinstance(output, str) and output != expected:
                raise ReplayDivergedError(
                    f"{self.name}, response {turn}: the model would read {output!r} for "
                    f"call {call_id!r}, where the recorded run's model read {expected!r}."
                )


def _recorded_outputs(events: Iterable[Any]) -> dict[str, str]:
    """What the model read for each call of a run's events (by ``kind``): a tool's output,
    a rejection, a timeout, a settled doubt, or what an output review let through."""
    outputs: dict[str, str] = {}
    held: dict[str, str] = {}
    for event in events:
        kind = getattr(event, "kind", None)
        if kind == "tool_completed" and event.review:
            held[event.call_id] = event.output
        elif kind in ("tool_completed", "tool_rejected", "tool_timed_out") or (
            kind == "doubt_resolved" and event.output is not None
        ):
            outputs[event.call_id] = event.output
        elif kind == "output_reviewed":
            released = event.verdict == "released"
            outputs[event.call_id] = held.get(event.call_id, "") if released else event.output
    return outputs


async def _respond(answer: Any) -> ModelResponse:
    """One model response holding ``answer`` (awaited first if need be)."""
    if inspect.isawaitable(answer):
        answer = await answer
    output = [dict(answer)] if isinstance(answer, dict) else [dict(item) for item in answer]
    return ModelResponse(
        output=output, usage=Usage(requests=1), response_id=f"resp_{uuid.uuid4().hex[:24]}"
    )


async def _stream(response: ModelResponse) -> AsyncIterator[ModelStreamEvent]:
    """``response`` as a stream: tool-call deltas, text in small pieces, then the whole."""
    for item in response.output:
        if is_function_call(item):
            # Scripts may hold malformed calls on purpose: the runner judges them.
            call_id, name, arguments = (
                value if isinstance(value, str) else ""
                for value in (item.get("call_id"), item.get("name"), item.get("arguments"))
            )
            yield ToolCallDelta(call_id, name, arguments)
        elif item.get("type", "message") == "message":
            text = message_text(item)
            for start in range(0, len(text), 8):
                yield TextDelta(text[start : start + 8])
    yield ResponseDone(response)
