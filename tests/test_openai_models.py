"""The OpenAI models, driven through the real ``openai`` client against a fake server.

The tests assert what goes over the wire (the exact request bodies) and what
tether makes of the answers (items, usage, response ids, stream events, errors).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import openai
import pytest

import tether.models
from openai_server import FakeOpenAIServer
from tether import Usage, UserError
from tether.errors import ModelNotAllowedError, ModelProviderError
from tether.items import Item, function_call, function_call_output, message_text, user_message
from tether.models import (
    Model,
    ModelRequest,
    ModelResponse,
    ModelSettings,
    ModelStreamEvent,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    OutputSchema,
    ProviderEvents,
    ResponseDone,
    TextDelta,
    ToolCallDelta,
    ToolSpec,
)

MODEL = "gpt-test"
WEATHER_PARAMS = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}
WEATHER = ToolSpec(name="get_weather", description="Weather in a city.", parameters=WEATHER_PARAMS)
WEATHER_TOOL_WIRE = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city.",
    "parameters": WEATHER_PARAMS,
    "strict": True,
}
"""``WEATHER`` as the Responses API receives it."""
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "celsius": {"type": "number"}},
    "required": ["city", "celsius"],
    "additionalProperties": False,
}
TWO_CALLS = [
    ("get_weather", {"city": "Oakland"}, "call_1"),
    ("get_weather", {"city": "Paris"}, "call_2"),
]


def responses_model(server: FakeOpenAIServer) -> OpenAIResponsesModel:
    return OpenAIResponsesModel(MODEL, client=server.client)


def chat_model(server: FakeOpenAIServer) -> OpenAIChatCompletionsModel:
    return OpenAIChatCompletionsModel(MODEL, client=server.client)


async def collect(model: Model, request: ModelRequest) -> list[ModelStreamEvent]:
    return [event async for event in model.stream_response(request)]


def weather_call(call_id: str, city: str) -> Item:
    """A ``get_weather`` function call item, as the Responses API shapes it."""
    return function_call("get_weather", json.dumps({"city": city}), call_id)


def chat_tool_call(call_id: str, city: str) -> dict[str, Any]:
    """A ``get_weather`` call, as a Chat Completions assistant message carries it."""
    arguments = json.dumps({"city": city})
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": "get_weather", "arguments": arguments},
    }


def calls_in(output: list[Item]) -> list[tuple[str, str, Any]]:
    return [
        (item["call_id"], item["name"], json.loads(item["arguments"]))
        for item in output
        if item.get("type") == "function_call"
    ]


STREAMED_TEXT = "Checking the weather now."
STREAMED_DELTAS = [
    TextDelta(delta="Checking "),
    TextDelta(delta="the "),
    TextDelta(delta="weather "),
    TextDelta(delta="now."),
    # The fake server streams arguments in pieces of 8 characters.
    ToolCallDelta(call_id="call_1", name="get_weather", delta='{"city":'),
    ToolCallDelta(call_id="call_1", name="get_weather", delta=' "Oaklan'),
    ToolCallDelta(call_id="call_1", name="get_weather", delta='d"}'),
    ToolCallDelta(call_id="call_2", name="get_weather", delta='{"city":'),
    ToolCallDelta(call_id="call_2", name="get_weather", delta=' "Paris"'),
    ToolCallDelta(call_id="call_2", name="get_weather", delta="}"),
]
"""What streaming ``STREAMED_TEXT`` and ``TWO_CALLS`` yields before ``ResponseDone``."""


def final_response(events: list[ModelStreamEvent]) -> ModelResponse:
    """The response of the ``ResponseDone`` that ends ``events``."""
    done = events[-1]
    assert isinstance(done, ResponseDone)
    return done.response


# --- Responses API ---------------------------------------------------------------------


async def test_responses_plain_text_sends_only_what_is_set(openai_server: FakeOpenAIServer) -> None:
    openai_server.responses.add(text="Hello!", usage=(12, 3))

    response = await responses_model(openai_server).get_response(
        ModelRequest(input=[user_message("Hi")])
    )

    assert openai_server.responses.requests == [
        {"model": MODEL, "input": [{"role": "user", "content": "Hi"}]}
    ]
    served = openai_server.responses.by_id[response.response_id or ""]
    assert response.output == served["output"]
    assert message_text(response.output[0]) == "Hello!"
    assert response.usage == Usage(requests=1, input_tokens=12, output_tokens=3, total_tokens=15)


async def test_responses_sends_instructions_tools_and_settings(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.responses.add(text="Done.")
    settings = ModelSettings(
        temperature=0.2,
        top_p=0.9,
        max_tokens=256,
        tool_choice="get_weather",
        parallel_tool_calls=False,
    )
    request = ModelRequest(
        input=[user_message("Weather in Oakland?")],
        instructions="You are terse.",
        tools=[WEATHER],
        settings=settings,
    )

    await responses_model(openai_server).get_response(request)

    assert openai_server.responses.requests[0] == {
        "model": MODEL,
        "input": [{"role": "user", "content": "Weather in Oakland?"}],
        "instructions": "You are terse.",
        "tools": [WEATHER_TOOL_WIRE],
        "temperature": 0.2,
        "top_p": 0.9,
        "max_output_tokens": 256,
        "tool_choice": {"type": "function", "name": "get_weather"},
        "parallel_tool_calls": False,
    }


@pytest.mark.parametrize("mode", ["auto", "required", "none"])
async def test_responses_tool_choice_modes_pass_as_strings(
    openai_server: FakeOpenAIServer, mode: str
) -> None:
    openai_server.responses.add(text="ok")
    request = ModelRequest(
        input=[user_message("Hi")], tools=[WEATHER], settings=ModelSettings(tool_choice=mode)
    )
    await responses_model(openai_server).get_response(request)
    assert openai_server.responses.requests[0]["tool_choice"] == mode


async def test_responses_parallel_tool_calls_and_output_round_trip(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.responses.add(tool_calls=TWO_CALLS)
    openai_server.responses.add(text="Sunny in both.")
    model = responses_model(openai_server)
    history = [user_message("Weather in Oakland and Paris?")]

    first = await model.get_response(ModelRequest(input=history, tools=[WEATHER]))
    assert calls_in(first.output) == [
        ("call_1", "get_weather", {"city": "Oakland"}),
        ("call_2", "get_weather", {"city": "Paris"}),
    ]
    assert first.output == openai_server.responses.by_id[first.response_id or ""]["output"]

    # The output items go back as input unchanged, followed by the tool outputs.
    outputs = [function_call_output("call_1", "Sunny"), function_call_output("call_2", "Sunny")]
    second_input = [*history, *first.output, *outputs]
    second = await model.get_response(ModelRequest(input=second_input, tools=[WEATHER]))

    sent = openai_server.responses.requests[1]["input"]
    assert sent == second_input
    assert sent[-2:] == [
        {"type": "function_call_output", "call_id": "call_1", "output": "Sunny"},
        {"type": "function_call_output", "call_id": "call_2", "output": "Sunny"},
    ]
    assert message_text(second.output[0]) == "Sunny in both."
    assert second.response_id != first.response_id


async def test_responses_structured_output_and_server_state(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.responses.add(text='{"city": "Oakland", "celsius": 20}')
    request = ModelRequest(
        input=[user_message("Weather?")],
        output_schema=OutputSchema(name="weather", schema=WEATHER_SCHEMA),
        previous_response_id="resp_previous",
        conversation_id="conv_1",
    )

    response = await responses_model(openai_server).get_response(request)

    assert openai_server.responses.requests[0] == {
        "model": MODEL,
        "input": [{"role": "user", "content": "Weather?"}],
        "text": {
            "format": {
                "type": "json_schema",
                "name": "weather",
                "schema": WEATHER_SCHEMA,
                "strict": True,
            }
        },
        "previous_response_id": "resp_previous",
        "conversation": "conv_1",
    }
    assert json.loads(message_text(response.output[0])) == {"city": "Oakland", "celsius": 20}


async def test_responses_stream_matches_get_response(openai_server: FakeOpenAIServer) -> None:
    openai_server.responses.add(text=STREAMED_TEXT, tool_calls=TWO_CALLS)
    model = responses_model(openai_server)
    request = ModelRequest(input=[user_message("Weather?")], tools=[WEATHER])

    events = await collect(model, request)

    (served,) = openai_server.responses.by_id.values()
    *deltas, tail, _ = events
    assert deltas == STREAMED_DELTAS
    # Every event the server streamed is handed on, typed and in order: each delta with
    # the events since the previous one (its own last), the rest just before the end.
    assert isinstance(tail, ProviderEvents)
    handed = [e for d in deltas for e in d.provider_events] + list(tail.events)
    assert [e.sequence_number for e in handed] == list(range(len(handed)))
    assert [d.provider_events[-1].delta for d in deltas] == [d.delta for d in deltas]
    assert handed[0].type == "response.created" and handed[-1].type == "response.completed"
    streamed = final_response(events)
    assert openai_server.responses.requests[0] == {
        "model": MODEL,
        "input": [{"role": "user", "content": "Weather?"}],
        "tools": [WEATHER_TOOL_WIRE],
        "stream": True,
    }
    # The same answer, unstreamed, gives the same response.
    openai_server.responses.add(body={k: v for k, v in served.items() if k != "id"})
    plain = await model.get_response(request)
    assert streamed == replace(plain, response_id=streamed.response_id)
    assert streamed.response_id == served["id"]


async def test_responses_stream_cut_off_raises(openai_server: FakeOpenAIServer) -> None:
    # created, in_progress, item added, content part added, first delta: then the line drops.
    openai_server.responses.add(text="Hello there, friend.", cut_after=5)
    received: list[ModelStreamEvent] = []

    with pytest.raises(ModelProviderError, match="cut short"):
        async for event in responses_model(openai_server).stream_response(
            ModelRequest(input=[user_message("Hi")])
        ):
            received.append(event)

    assert received == [TextDelta(delta="Hello ")]


def response_body(status: str, **fields: Any) -> dict[str, Any]:
    """A Responses API response object with no output, as a stream's last event carries it."""
    return {
        "id": f"resp_{status}",
        "object": "response",
        "created_at": 0,
        "model": MODEL,
        "status": status,
        "output": [],
        "tools": [],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        **fields,
    }


FAILED_RESPONSE = response_body("failed", error={"code": "server_error", "message": "Overloaded."})
FIRST_DELTA = {
    "type": "response.output_text.delta",
    "item_id": "msg_1",
    "output_index": 0,
    "content_index": 0,
    "delta": "Hel",
    "logprobs": [],
}
ERROR_EVENT = {"type": "error", "code": "server_error", "message": "Crashed.", "param": None}


@pytest.mark.parametrize(
    ("events", "message"),
    [
        pytest.param([FIRST_DELTA], "ended before response.completed", id="no-completed"),
        pytest.param([ERROR_EVENT], "Crashed.", id="error-event"),
        pytest.param(
            [{"type": "response.failed", "response": FAILED_RESPONSE}],
            "Overloaded.",
            id="response-failed",
        ),
    ],
)
async def test_responses_stream_failures_raise(
    openai_server: FakeOpenAIServer, events: list[dict[str, Any]], message: str
) -> None:
    openai_server.responses.add_events(events)
    with pytest.raises(ModelProviderError, match=message):
        await collect(responses_model(openai_server), ModelRequest(input=[user_message("Hi")]))


async def test_responses_incomplete_stream_still_ends_with_the_response(
    openai_server: FakeOpenAIServer,
) -> None:
    # Hitting max_output_tokens is an answer, as get_response returns it, not a provider failure.
    incomplete = response_body("incomplete", incomplete_details={"reason": "max_output_tokens"})
    openai_server.responses.add_events([{"type": "response.incomplete", "response": incomplete}])

    events = await collect(responses_model(openai_server), ModelRequest(input=[user_message("Hi")]))

    provider, done = events
    assert isinstance(provider, ProviderEvents)
    assert [event.type for event in provider.events] == ["response.incomplete"]
    assert done == ResponseDone(
        ModelResponse(output=[], usage=Usage(requests=1), response_id="resp_incomplete")
    )


# --- Chat Completions API --------------------------------------------------------------


async def test_chat_text_with_instructions_tools_and_settings(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.chat.add(text="It is sunny.", usage=(20, 4))
    settings = ModelSettings(
        temperature=0.2,
        top_p=0.9,
        max_tokens=256,
        tool_choice="get_weather",
        parallel_tool_calls=False,
    )
    request = ModelRequest(
        input=[user_message("Weather?")],
        instructions="You are terse.",
        tools=[WEATHER],
        settings=settings,
    )

    response = await chat_model(openai_server).get_response(request)

    assert openai_server.chat.requests == [
        {
            "model": MODEL,
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Weather?"},
            ],
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "description": "Weather in a city.",
                        "parameters": WEATHER_PARAMS,
                        "strict": True,
                    },
                }
            ],
            "temperature": 0.2,
            "top_p": 0.9,
            "max_completion_tokens": 256,
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "parallel_tool_calls": False,
        }
    ]
    assert response.output == [
        {
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "It is sunny.", "annotations": []}],
        }
    ]
    assert response.usage == Usage(requests=1, input_tokens=20, output_tokens=4, total_tokens=24)
    assert response.response_id in openai_server.chat.by_id


async def test_chat_leaves_out_tool_settings_without_tools(openai_server: FakeOpenAIServer) -> None:
    openai_server.chat.add(text="Hi.")
    settings = ModelSettings(tool_choice="auto", parallel_tool_calls=True)
    await chat_model(openai_server).get_response(
        ModelRequest(input=[user_message("Hi")], settings=settings)
    )
    assert openai_server.chat.requests[0] == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Hi"}],
    }


async def test_chat_converts_a_responses_history(openai_server: FakeOpenAIServer) -> None:
    openai_server.chat.add(text="Both sunny.")
    history: list[Item] = [
        {"role": "developer", "content": "Prefer Celsius."},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Weather?"},
                {
                    "type": "input_image",
                    "image_url": "https://example.com/sky.png",
                    "detail": "low",
                },
            ],
        },
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Let me check.", "annotations": []}],
        },
        {**weather_call("call_1", "Oakland"), "id": "fc_1", "status": "completed"},
        weather_call("call_2", "Paris"),
        function_call_output("call_1", "Sunny"),
        function_call_output("call_2", "Sunny"),
        weather_call("call_3", "Rome"),
        function_call_output("call_3", "Sunny"),
    ]

    await chat_model(openai_server).get_response(
        ModelRequest(input=history, instructions="Be brief.", tools=[WEATHER])
    )

    def tool_call(call_id: str, city: str) -> dict[str, Any]:
        arguments = json.dumps({"city": city})
        return {
            "id": call_id,
            "type": "function",
            "function": {"name": "get_weather", "arguments": arguments},
        }

    assert openai_server.chat.requests[0]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": "Prefer Celsius."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather?"},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/sky.png", "detail": "low"},
                },
            ],
        },
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [chat_tool_call("call_1", "Oakland"), chat_tool_call("call_2", "Paris")],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "Sunny"},
        {"role": "assistant", "tool_calls": [chat_tool_call("call_3", "Rome")]},
        {"role": "tool", "tool_call_id": "call_3", "content": "Sunny"},
    ]


async def test_chat_parallel_tool_calls_round_trip(openai_server: FakeOpenAIServer) -> None:
    openai_server.chat.add(tool_calls=TWO_CALLS)
    openai_server.chat.add(text="Sunny in both.")
    model = chat_model(openai_server)
    history = [user_message("Weather in Oakland and Paris?")]

    first = await model.get_response(ModelRequest(input=history, tools=[WEATHER]))
    assert first.output == [weather_call("call_1", "Oakland"), weather_call("call_2", "Paris")]

    outputs = [function_call_output("call_1", "Sunny"), function_call_output("call_2", "Cloudy")]
    second = await model.get_response(
        ModelRequest(input=[*history, *first.output, *outputs], tools=[WEATHER])
    )

    assert openai_server.chat.requests[1]["messages"] == [
        {"role": "user", "content": "Weather in Oakland and Paris?"},
        {
            "role": "assistant",
            "tool_calls": [chat_tool_call("call_1", "Oakland"), chat_tool_call("call_2", "Paris")],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "Cloudy"},
    ]
    assert message_text(second.output[0]) == "Sunny in both."


async def test_chat_structured_output(openai_server: FakeOpenAIServer) -> None:
    openai_server.chat.add(text='{"city": "Oakland", "celsius": 20}')
    request = ModelRequest(
        input=[user_message("Weather?")],
        output_schema=OutputSchema(name="weather", schema=WEATHER_SCHEMA),
    )

    response = await chat_model(openai_server).get_response(request)

    assert openai_server.chat.requests[0]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "weather", "schema": WEATHER_SCHEMA, "strict": True},
    }
    assert json.loads(message_text(response.output[0])) == {"city": "Oakland", "celsius": 20}


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(ModelRequest(input=[], previous_response_id="resp_1"), id="previous"),
        pytest.param(ModelRequest(input=[], conversation_id="conv_1"), id="conversation"),
    ],
)
async def test_chat_refuses_server_side_state(
    openai_server: FakeOpenAIServer, request_: ModelRequest
) -> None:
    request = replace(request_, input=[user_message("Hi")])
    with pytest.raises(UserError, match="Chat Completions keeps no conversation"):
        await chat_model(openai_server).get_response(request)
    with pytest.raises(UserError, match="Chat Completions keeps no conversation"):
        await collect(chat_model(openai_server), request)
    assert openai_server.chat.requests == []


async def test_chat_refuses_items_it_cannot_express(openai_server: FakeOpenAIServer) -> None:
    request = ModelRequest(input=[{"type": "web_search_call", "id": "ws_1", "status": "completed"}])
    with pytest.raises(UserError, match="'web_search_call' cannot be sent"):
        await chat_model(openai_server).get_response(request)


async def test_chat_stream_matches_get_response(openai_server: FakeOpenAIServer) -> None:
    openai_server.chat.add(text=STREAMED_TEXT, tool_calls=TWO_CALLS, usage=(30, 9))
    model = chat_model(openai_server)
    request = ModelRequest(input=[user_message("Weather?")], tools=[WEATHER])

    events = await collect(model, request)

    (served,) = openai_server.chat.by_id.values()
    assert events[:-1] == STREAMED_DELTAS
    streamed = final_response(events)
    assert openai_server.chat.requests[0]["stream"] is True
    assert openai_server.chat.requests[0]["stream_options"] == {"include_usage": True}
    assert streamed.usage == Usage(requests=1, input_tokens=30, output_tokens=9, total_tokens=39)
    assert streamed.response_id == served["id"]

    openai_server.chat.add(body={k: v for k, v in served.items() if k != "id"})
    plain = await model.get_response(request)
    assert streamed == replace(plain, response_id=streamed.response_id)


async def test_chat_stream_cut_off_raises(openai_server: FakeOpenAIServer) -> None:
    # The role chunk and the first word arrive, then the line drops.
    openai_server.chat.add(text="Hello there, friend.", cut_after=2)
    received: list[ModelStreamEvent] = []

    with pytest.raises(ModelProviderError, match="cut short"):
        async for event in chat_model(openai_server).stream_response(
            ModelRequest(input=[user_message("Hi")])
        ):
            received.append(event)

    assert received == [TextDelta(delta="Hello ")]


async def test_chat_stream_without_finish_reason_raises(openai_server: FakeOpenAIServer) -> None:
    chunk = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": MODEL,
        "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}],
    }
    openai_server.chat.add_events([chunk])
    with pytest.raises(ModelProviderError, match="ended before a finish_reason"):
        await collect(chat_model(openai_server), ModelRequest(input=[user_message("Hi")]))


# --- Both APIs -------------------------------------------------------------------------

MODELS: dict[str, Callable[[FakeOpenAIServer], Model]] = {
    "responses": responses_model,
    "chat": chat_model,
}


@pytest.mark.parametrize("api", ["responses", "chat"])
@pytest.mark.parametrize("stream", [False, True], ids=["get", "stream"])
@pytest.mark.parametrize(
    ("status", "kind", "message"),
    [
        (500, "server_error", "The server had an error."),
        (401, "invalid_request_error", "Incorrect API key provided."),
    ],
)
async def test_http_errors_raise_model_provider_error(
    openai_server: FakeOpenAIServer, api: str, stream: bool, status: int, kind: str, message: str
) -> None:
    endpoint = openai_server.responses if api == "responses" else openai_server.chat
    endpoint.add_error(status, message, type=kind)
    model = MODELS[api](openai_server)
    request = ModelRequest(input=[user_message("Hi")])

    with pytest.raises(ModelProviderError, match=f"HTTP {status}") as caught:
        if stream:
            await collect(model, request)
        else:
            await model.get_response(request)

    assert message in str(caught.value)
    assert not isinstance(caught.value, openai.OpenAIError)


@pytest.mark.parametrize("api", ["responses", "chat"])
@pytest.mark.parametrize("stream", [False, True], ids=["get", "stream"])
async def test_requests_refused_while_not_allowed(
    openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, api: str, stream: bool
) -> None:
    monkeypatch.setattr(tether.models, "ALLOW_MODEL_REQUESTS", False)
    model = MODELS[api](openai_server)
    request = ModelRequest(input=[user_message("Hi")])

    with pytest.raises(ModelNotAllowedError, match=MODEL):
        if stream:
            await collect(model, request)
        else:
            await model.get_response(request)

    assert openai_server.responses.requests == []
    assert openai_server.chat.requests == []


# --- What the API cannot take ----------------------------------------------------------


@pytest.mark.parametrize("api", ["responses", "chat"])
@pytest.mark.parametrize("stream", [False, True])
async def test_a_lone_surrogate_is_sent_as_the_replacement_character(
    openai_server: FakeOpenAIServer, api: str, stream: bool
) -> None:
    """The API takes UTF-8 only; a half surrogate pair in the conversation (valid JSON, for
    example from a model's earlier answer) goes as U+FFFD instead of failing the request."""
    endpoint = openai_server.responses if api == "responses" else openai_server.chat
    endpoint.add(text="Noted.")
    model = responses_model(openai_server) if api == "responses" else chat_model(openai_server)
    request = ModelRequest(input=[user_message("odd: \ud800!")])

    if stream:
        response = final_response([event async for event in model.stream_response(request)])
    else:
        response = await model.get_response(request)

    assert message_text(response.output[0]) == "Noted."
    sent = endpoint.requests[0]
    text = sent["input"][0]["content"] if api == "responses" else sent["messages"][0]["content"]
    assert text == "odd: \ufffd!"
