"""The benchmark workloads on the reference SDK, openai-agents (prints JSON).

Runs in the reference SDK's own virtual environment, never tether's:

    benchmarks/.venv-ref/bin/python benchmarks/workloads_openai_agents.py [--quick]

(``benchmarks/run.py`` creates that environment.) The agent's model is
``PrebuiltModel``, an implementation of the SDK's ``Model`` interface that
hands back ``ModelResponse`` objects built before the timer starts. Tracing is
switched off, as tether has none: its cost is not counted against the SDK.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import workloads
from agents import (
    Agent,
    Model,
    ModelResponse,
    RunConfig,
    Runner,
    RunResult,
    RunState,
    SQLiteSession,
    Usage,
    function_tool,
    set_tracing_disabled,
)
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)
from workloads import Call, Step

RUN_CONFIG = RunConfig(tracing_disabled=True)


class PrebuiltModel(Model):
    """The SDK's ``Model`` interface, returning responses built beforehand, in order."""

    def __init__(self) -> None:
        self.responses: list[ModelResponse] = []
        self.next = 0

    def load(self, responses: list[ModelResponse]) -> None:
        self.responses = responses
        self.next = 0

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        response = self.responses[self.next]
        self.next += 1
        return response

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError("the benchmarks do not stream")


def _item(step: Step) -> Any:
    if isinstance(step, Call):
        return ResponseFunctionToolCall(
            type="function_call",
            id=f"fc_{step.call_id}",
            call_id=step.call_id,
            name=step.tool,
            arguments=step.arguments,
            status="completed",
        )
    return ResponseOutputMessage(
        type="message",
        id=step.id,
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=step.text, annotations=[])],
    )


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


class OpenAIAgents:
    name = "openai-agents"
    module = "agents"
    version = version("openai-agents")

    def agent(self, kind: str) -> Agent[Any]:
        if kind == "sync":
            tools = [function_tool(_lookup, name_override="lookup")]
        elif kind == "async":
            tools = [function_tool(_lookup_async, name_override="lookup")]
        elif kind == "twenty":
            tools = [function_tool(_lookup, name_override=f"lookup_{i:02d}") for i in range(20)]
        else:
            tools = [function_tool(_send_email, name_override="send_email", needs_approval=True)]
        return Agent(
            name="Weather",
            instructions="You answer questions about the weather.",
            model=PrebuiltModel(),
            tools=tools,
        )

    def script(
        self, agent: Agent[Any], steps: Sequence[Step], *, scripted_model: bool = False
    ) -> None:
        assert not scripted_model, "only tether compares its own test model"
        assert isinstance(agent.model, PrebuiltModel)
        agent.model.load(
            [
                ModelResponse(
                    output=[_item(step)], usage=Usage(requests=1), response_id=f"resp_{index:05d}"
                )
                for index, step in enumerate(steps)
            ]
        )

    async def run(self, agent: Agent[Any], items: list[dict[str, Any]], max_turns: int) -> Any:
        return await Runner.run(agent, items, max_turns=max_turns, run_config=RUN_CONFIG)

    def final_output(self, result: RunResult) -> Any:
        return result.final_output

    def interruptions(self, result: RunResult) -> int:
        return len(result.interruptions)

    def to_state(self, result: RunResult) -> RunState[Any, Any]:
        return result.to_state()

    def dumps(self, state: RunState[Any, Any]) -> str:
        return state.to_string()

    async def loads(self, agent: Agent[Any], text: str) -> RunState[Any, Any]:
        return await RunState.from_string(agent, text)

    def approve_all(self, state: RunState[Any, Any]) -> None:
        for item in state.get_interruptions():
            state.approve(item)

    async def resume(self, agent: Agent[Any], state: Any, max_turns: int) -> RunResult:
        return await Runner.run(agent, state, max_turns=max_turns, run_config=RUN_CONFIG)

    def session(self, path: Path) -> SQLiteSession:
        return SQLiteSession("bench", path)

    async def close_session(self, session: SQLiteSession) -> None:
        session.close()

    def append_store(self, path: Path) -> None:
        return None  # a RunState is saved whole; there is no append-only form


if __name__ == "__main__":
    set_tracing_disabled(True)
    workloads.main(OpenAIAgents(), sys.argv[1:])
