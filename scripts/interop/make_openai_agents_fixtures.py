"""Write run states of the Python ``openai-agents`` SDK for tether's interop tests.

This script is not part of tether and does not import it. It runs inside a
throwaway virtual environment that has the other SDK installed:

    uv venv /tmp/oa --python 3.11
    uv pip install --python /tmp/oa openai-agents==0.24.0
    /tmp/oa/bin/python scripts/interop/make_openai_agents_fixtures.py

The agents run on a scripted model written against that SDK's ``Model``
interface, so nothing reaches the network. Each scenario runs until the run
pauses for approval and writes ``RunState.to_string()`` to
``tests/fixtures/openai_agents_python/<scenario>.json``. The agent names,
tool names and tool schemas must stay in step with
``tests/interop/test_openai_agents_python.py``, which loads these files.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from agents import Agent, Model, ModelResponse, Runner, function_tool, set_tracing_disabled
from agents.usage import Usage
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

VERSION = "0.24.0"
OUT = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "openai_agents_python"

Turn = Callable[[list[Any]], list[Any]]


def call(name: str, arguments: dict[str, Any], call_id: str) -> ResponseFunctionToolCall:
    return ResponseFunctionToolCall(
        type="function_call",
        id=f"fc_{call_id}",
        call_id=call_id,
        name=name,
        arguments=json.dumps(arguments),
        status="completed",
    )


def say(text: str, item_id: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        type="message",
        id=item_id,
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
    )


class ScriptedModel(Model):
    """Answers each model call with the next scripted output; never calls an API."""

    def __init__(self, turns: list[list[Any]]) -> None:
        self.turns = list(turns)
        self.calls = 0

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        if self.calls >= len(self.turns):
            raise RuntimeError(f"the script has {len(self.turns)} turns; call {self.calls + 1}")
        output = self.turns[self.calls]
        self.calls += 1
        usage = Usage(requests=1, input_tokens=10, output_tokens=5, total_tokens=15)
        return ModelResponse(output=output, usage=usage, response_id=f"resp_{self.calls}")

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError("the fixtures are written from non-streamed runs")


@function_tool(needs_approval=True)
def get_temperature(city: str) -> str:
    """Get the temperature for a city.

    Args:
        city: The city to look up.
    """
    return f"The temperature in {city} is 20C"


@function_tool
def get_time() -> str:
    """Get the time; needs no approval."""
    return "12:00"


def weather_agent(model: Model) -> Agent[Any]:
    return Agent(
        name="Weather agent",
        instructions="You help with the weather.",
        model=model,
        tools=[get_temperature, get_time],
    )


async def interrupted() -> str:
    """One call waiting for approval."""
    model = ScriptedModel([[call("get_temperature", {"city": "Oakland"}, "call_oak")]])
    result = await Runner.run(weather_agent(model), "What is the temperature in Oakland?")
    assert len(result.interruptions) == 1, result.interruptions
    return result.to_state().to_string()


async def two_pending_after_a_tool() -> str:
    """A tool that needs no approval ran in turn one; turn two waits on two calls."""
    model = ScriptedModel(
        [
            [call("get_time", {}, "call_time")],
            [
                call("get_temperature", {"city": "Oakland"}, "call_oak"),
                call("get_temperature", {"city": "Paris"}, "call_par"),
            ],
        ]
    )
    result = await Runner.run(weather_agent(model), "Time, then Oakland and Paris?")
    assert len(result.interruptions) == 2, result.interruptions
    return result.to_state().to_string()


async def approved_before_saving() -> str:
    """One call approved in the other SDK, then saved before resuming."""
    model = ScriptedModel([[call("get_temperature", {"city": "Oakland"}, "call_oak")]])
    result = await Runner.run(weather_agent(model), "What is the temperature in Oakland?")
    state = result.to_state()
    state.approve(result.interruptions[0])
    return state.to_string()


SCENARIOS = {
    "interrupted": interrupted,
    "two_pending_after_a_tool": two_pending_after_a_tool,
    "approved_before_saving": approved_before_saving,
}


async def main() -> None:
    from importlib.metadata import version

    if version("openai-agents") != VERSION:
        sys.exit(f"run this with openai-agents=={VERSION}, not {version('openai-agents')}")
    set_tracing_disabled(True)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, scenario in SCENARIOS.items():
        text = await scenario()
        path = OUT / f"{name}.json"
        path.write_text(json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {path.relative_to(OUT.parents[2])}")


if __name__ == "__main__":
    asyncio.run(main())
