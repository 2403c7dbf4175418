"""The benchmark workloads on tether (run by ``benchmarks/run.py``; prints JSON).

    uv run python benchmarks/workloads_tether.py [--quick] [--only per_turn hitl ...]

The agent's model is ``PrebuiltModel``: it hands back ``ModelResponse`` objects
built before the timer starts, so a timed run contains tether's work only.
``tether.testing.ScriptedModel`` copies every item, makes a random response id
and records each request; that is the test double's cost, not the SDK's, so it
is measured in one extra row for comparison and used nowhere else.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import workloads
from workloads import Call, Step

import tether
from tether import Agent, Runner, RunResult, RunState, Usage, function_tool
from tether.journal import CURRENT_VERSION
from tether.journal._events import events_adapter
from tether.models import ModelRequest, ModelResponse, ModelStreamEvent
from tether.testing import ScriptedModel


class PrebuiltModel:
    """A ``tether.Model`` returning responses built beforehand, in order, without copying."""

    def __init__(self) -> None:
        self.responses: list[ModelResponse] = []
        self.next = 0

    def load(self, responses: list[ModelResponse]) -> None:
        self.responses = responses
        self.next = 0

    async def get_response(self, request: ModelRequest) -> ModelResponse:
        response = self.responses[self.next]
        self.next += 1
        return response

    async def stream_response(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        raise NotImplementedError("the benchmarks do not stream")
        yield  # pragma: no cover  (makes this an async generator)


def _item(step: Step) -> dict[str, Any]:
    if isinstance(step, Call):
        return {
            "type": "function_call",
            "id": f"fc_{step.call_id}",
            "call_id": step.call_id,
            "name": step.tool,
            "arguments": step.arguments,
            "status": "completed",
        }
    return {
        "type": "message",
        "id": step.id,
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": step.text, "annotations": []}],
    }


def _lookup(city: str) -> str:
    """Look up the weather in a city.

    Args:
        city: The city.
    """
    return workloads.tool_result(city)


async def _lookup_async(city: str) -> str:
    """Look up the weather in a city.

    Args:
        city: The city.
    """
    return workloads.tool_result(city)


def _send_email(city: str) -> str:
    """Send the weather report for a city by email.

    Args:
        city: The city.
    """
    return workloads.tool_result(city)


class JournalFile:
    """A minimal append-only checkpoint of a run: one line of new events per save.

    tether's journal only ever grows at its end, so a store needs to write only
    the events appended since its last save; a save costs the same at turn 1,000
    as at turn 10. This is what a durable store (a database table of events, a
    log) does; this file-based one exists to measure the idea.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.saved = 0
        self._file: BinaryIO | None = None  # kept open, as a store keeps its connection

    def save(self, state: RunState) -> int:
        journal = state.journal
        assert len(journal) >= self.saved, "a journal never shrinks"
        data = events_adapter().dump_json(list(journal[self.saved :])) + b"\n"
        if self._file is None:
            self._file = self.path.open("ab")
        self._file.write(data)
        self._file.flush()
        self.saved = len(journal)
        return len(data)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def load(self, agent: Agent[Any]) -> RunState:
        if self._file is not None:
            self._file.flush()
        events: list[Any] = []
        for line in self.path.read_bytes().splitlines():
            events.extend(json.loads(line))
        document = {
            "format": "tether.run_state",
            "version": CURRENT_VERSION,
            "root_agent": agent.name,
            "journal": events,
            "context": None,
        }
        return RunState.from_json(agent, document)


class Tether:
    name = "tether"
    module = "tether"
    version = tether.__version__

    def agent(self, kind: str) -> Agent[Any]:
        if kind == "sync":
            tools = [function_tool(_lookup, name="lookup")]
        elif kind == "async":
            tools = [function_tool(_lookup_async, name="lookup")]
        elif kind == "twenty":
            tools = [function_tool(_lookup, name=f"lookup_{i:02d}") for i in range(20)]
        else:
            tools = [function_tool(_send_email, name="send_email", needs_approval=True)]
        return Agent(
            name="Weather",
            instructions="You answer questions about the weather.",
            model=PrebuiltModel(),
            tools=tools,
        )

    def script(
        self, agent: Agent[Any], steps: Sequence[Step], *, scripted_model: bool = False
    ) -> None:
        if scripted_model:
            agent.model = ScriptedModel([_item(step) for step in steps])
            return
        if not isinstance(agent.model, PrebuiltModel):
            agent.model = PrebuiltModel()
        agent.model.load(
            [
                ModelResponse([_item(step)], Usage(requests=1), f"resp_{index:05d}")
                for index, step in enumerate(steps)
            ]
        )

    async def run(self, agent: Agent[Any], items: list[dict[str, Any]], max_turns: int) -> Any:
        return await Runner.run(agent, items, max_turns=max_turns)

    def final_output(self, result: RunResult) -> Any:
        return result.final_output

    def interruptions(self, result: RunResult) -> int:
        return len(result.interruptions)

    def to_state(self, result: RunResult) -> RunState:
        return result.to_state()

    def dumps(self, state: RunState) -> str:
        return state.to_string()

    async def loads(self, agent: Agent[Any], text: str) -> RunState:
        return RunState.from_string(agent, text)

    def approve_all(self, state: RunState) -> None:
        for item in state.interruptions:
            state.approve(item)

    async def resume(self, agent: Agent[Any], state: RunState, max_turns: int) -> RunResult:
        return await Runner.run(agent, state, max_turns=max_turns)

    def session(self, path: Path) -> Any | None:
        try:
            from tether.sessions import SQLiteSession
        except ImportError:
            return None
        return SQLiteSession("bench", path)

    async def close_session(self, session: Any) -> None:
        await session.close()

    def append_store(self, path: Path) -> JournalFile:
        return JournalFile(path)


if __name__ == "__main__":
    workloads.main(Tether(), sys.argv[1:])
