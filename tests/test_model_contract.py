"""One contract, every model: the OpenAI Responses and Chat Completions models (through
the real client against the fake server, which plays the model) and the embedded local
model (which decides for itself) answer the same requests in the same shapes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema
import pytest

from openai_server import FakeOpenAIServer
from tether import function_tool
from tether.items import Item, message_text, user_message
from tether.models import (
    Model,
    ModelRequest,
    ModelSettings,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    ResponseDone,
    TextDelta,
    ToolCallDelta,
)
from tether.models.local import LocalModel


@function_tool
def get_temperature(city: str) -> str:
    """Get the current temperature for a city.

    Args:
        city: The name of the city.
    """
    return f"20°C in {city}"


TOOL = get_temperature.spec


@dataclass
class Contract:
    """A model, and how to make it give the answer a test expects (a no-op for a real model)."""

    model: Model
    will_say: Callable[[str], None]
    will_call: Callable[[str, dict[str, Any]], None]


@pytest.fixture(scope="module")
def local_model() -> Iterator[LocalModel]:
    model = LocalModel()
    yield model
    model.close()


@pytest.fixture(params=["responses", "chat", "local"])
def contract(request: pytest.FixtureRequest) -> Contract:
    if request.param == "local":
        return Contract(request.getfixturevalue("local_model"), lambda _: None, lambda *_: None)
    server: FakeOpenAIServer = request.getfixturevalue("openai_server")
    if request.param == "responses":
        endpoint: Any = server.responses
        model: Model = OpenAIResponsesModel("gpt-test", client=server.client)
    else:
        endpoint = server.chat
        model = OpenAIChatCompletionsModel("gpt-test", client=server.client)
    return Contract(
        model,
        lambda text: endpoint.add(text),
        lambda name, args: endpoint.add(tool_calls=[(name, args)]),
    )


def ask(text: str, tools: bool = False) -> ModelRequest:
    return ModelRequest(
        input=[user_message(text)],
        instructions="You are a helpful assistant.",
        tools=[TOOL] if tools else [],
        settings=ModelSettings(temperature=0),
    )


def shape(output: list[Item]) -> list[dict[str, Any]]:
    """What must be equal between two answers: types, text, calls (not the ids)."""
    return [
        {"type": item.get("type", "message"), "text": message_text(item)}
        if item.get("type", "message") == "message"
        else {"type": item["type"], "name": item["name"], "arguments": item["arguments"]}
        for item in output
    ]


async def collect(stream: AsyncIterator[Any]) -> list[Any]:
    return [event async for event in stream]


async def test_plain_text(contract: Contract) -> None:
    contract.will_say("The capital of France is Paris.")

    response = await contract.model.get_response(ask("What is the capital of France?"))

    [item] = response.output
    assert item["type"] == "message" and item["role"] == "assistant"
    assert "Paris" in message_text(item)
    assert response.usage.requests == 1 and response.usage.output_tokens > 0


async def test_tool_call_with_schema_valid_arguments(contract: Contract) -> None:
    contract.will_call("get_temperature", {"city": "Oakland"})

    response = await contract.model.get_response(ask("What's the temperature in Oakland?", True))

    calls = [item for item in response.output if item.get("type") == "function_call"]
    assert [call["name"] for call in calls] == ["get_temperature"]
    arguments = json.loads(calls[0]["arguments"])
    jsonschema.validate(arguments, TOOL.parameters)
    assert "Oakland" in arguments["city"]
    assert calls[0]["call_id"]


@pytest.mark.parametrize("tools", [False, True], ids=["text", "tool-call"])
async def test_streaming_gives_deltas_and_the_same_response(
    contract: Contract, tools: bool
) -> None:
    request = ask("What's the temperature in Oakland?", tools)
    for _ in range(2):
        if tools:
            contract.will_call("get_temperature", {"city": "Oakland"})
        else:
            contract.will_say("I cannot check the weather, but Oakland is often mild.")

    whole = await contract.model.get_response(request)
    events = await collect(contract.model.stream_response(request))

    assert isinstance(events[-1], ResponseDone)
    assert not any(isinstance(event, ResponseDone) for event in events[:-1])
    streamed = events[-1].response
    assert shape(streamed.output) == shape(whole.output)
    deltas = [e for e in events if isinstance(e, TextDelta | ToolCallDelta)]
    assert deltas
    if tools:
        [call] = streamed.output
        pieces = [e.delta for e in deltas if isinstance(e, ToolCallDelta)]
        assert "".join(pieces) == call["arguments"]
    else:
        text = "".join(e.delta for e in deltas if isinstance(e, TextDelta))
        assert text == message_text(streamed.output[0])
