"""A ``Model`` on the OpenAI Chat Completions API (``client.chat.completions.create``).

tether keeps items in the Responses API's shapes; this module translates them
to chat messages on the way out, and the answer back into items.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from openai.types import CompletionUsage
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionAssistantMessageParam,
    ChatCompletionChunk,
    ChatCompletionContentPartParam,
    ChatCompletionContentPartTextParam,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
    ChatCompletionToolChoiceOptionParam,
    completion_create_params,
)
from openai.types.chat.chat_completion_content_part_image_param import ImageURL

from .._context import Usage
from .._json_text import replace_surrogates
from ..errors import ModelBehaviorError, ModelProviderError, UserError
from ..items import Item, function_call, message_text
from ._allowed import check_model_requests_allowed
from ._openai_common import OpenAIClientModel, openai_errors
from ._protocol import (
    ModelRequest,
    ModelResponse,
    ModelStreamEvent,
    ResponseDone,
    TextDelta,
    ToolCallDelta,
    refuse_hosted_tools,
)

__all__ = ["OpenAIChatCompletionsModel"]

_TOOL_CHOICE_MODES: dict[str, Literal["auto", "required", "none"]] = {
    "auto": "auto",
    "required": "required",
    "none": "none",
}

logger = logging.getLogger("tether.models")


class OpenAIChatCompletionsModel(OpenAIClientModel):
    """A model served through the Chat Completions API, or any server speaking it.

        model = OpenAIChatCompletionsModel("llama3.1", client=AsyncOpenAI(base_url=...))

    Chat Completions keeps no server-side conversation: a request with
    ``previous_response_id`` or ``conversation_id`` raises ``UserError``.
    """

    async def get_response(self, request: ModelRequest) -> ModelResponse:
        """Send ``request`` and return the whole response."""
        check_model_requests_allowed(self.model)
        params = self._params(request)
        with openai_errors("Chat Completions", self.model):
            try:
                completion = await self.client.chat.completions.create(**params)
            except UnicodeEncodeError:  # a lone surrogate: not sendable as UTF-8
                completion = await self.client.chat.completions.create(**replace_surrogates(params))
        return _model_response(completion)

    async def stream_response(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        """Send ``request`` and yield text and tool-call deltas, then one ``ResponseDone``."""
        check_model_requests_allowed(self.model)
        params = self._params(request)
        collected = _StreamedCompletion()
        # Usage comes in one last chunk, and only when asked for.
        params["stream_options"] = {"include_usage": True}
        with openai_errors("Chat Completions", self.model):
            try:
                stream = await self.client.chat.completions.create(**params, stream=True)
            except UnicodeEncodeError:  # a lone surrogate: not sendable as UTF-8
                params = replace_surrogates(params)
                stream = await self.client.chat.completions.create(**params, stream=True)
            async with stream:
                async for chunk in stream:
                    for event in collected.add(chunk):
                        yield event
        if not collected.finished:
            raise ModelProviderError(
                f"The Chat Completions stream for model {self.model!r} ended before a "
                "finish_reason: the connection was cut short. Retry the request."
            )
        yield ResponseDone(response=collected.response())

    def _params(self, request: ModelRequest) -> completion_create_params.CompletionCreateParamsBase:
        """The ``chat.completions.create`` arguments for ``request``; unset options are left out."""
        if request.previous_response_id is not None or request.conversation_id is not None:
            raise UserError(
                "Chat Completions keeps no conversation on the server, so previous_response_id "
                "and conversation_id cannot be used with OpenAIChatCompletionsModel. Send the "
                "whole history as input, or use OpenAIResponsesModel."
            )
        params: completion_create_params.CompletionCreateParamsBase = {
            "model": self.model,
            "messages": _chat_messages(request.instructions, request.input),
        }
        refuse_hosted_tools(request.tools, type(self).__name__)
        if request.tools:
            params["tools"] = [
                ChatCompletionFunctionToolParam(
                    type="function",
                    function={
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                        "strict": tool.strict,
                    },
                )
                for tool in request.tools
            ]
        if request.output_schema is not None:
            schema = request.output_schema
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": schema.name,
                    "schema": schema.schema,
                    "strict": schema.strict,
                },
            }
        settings = request.settings
        if settings.temperature is not None:
            params["temperature"] = settings.temperature
        if settings.top_p is not None:
            params["top_p"] = settings.top_p
        if settings.max_tokens is not None:
            # OpenAI deprecates max_tokens in favour of max_completion_tokens, which also
            # counts reasoning tokens and is the only one o-series models accept.
            params["max_completion_tokens"] = settings.max_tokens
        # The API rejects tool_choice and parallel_tool_calls in a request without tools.
        if request.tools and settings.tool_choice is not None:
            params["tool_choice"] = _tool_choice(settings.tool_choice)
        if request.tools and settings.parallel_tool_calls is not None:
            params["parallel_tool_calls"] = settings.parallel_tool_calls
        return params


def _chat_messages(
    instructions: str | None, items: Sequence[Item]
) -> list[ChatCompletionMessageParam]:
    """Chat messages for ``instructions`` (as a first system message) and Responses-shaped items.

    Consecutive function calls become one assistant message with ``tool_calls``,
    joined to the assistant message just before them if there is one. Reasoning
    items are dropped: Chat Completions has no way to send them back.
    """
    messages: list[ChatCompletionMessageParam] = []
    if instructions is not None:
        messages.append({"role": "system", "content": instructions})
    # The assistant message further function calls join, while nothing else came between.
    assistant: ChatCompletionAssistantMessageParam | None = None
    calls: list[ChatCompletionMessageFunctionToolCallParam] = []
    for item in items:
        kind = item.get("type", "message")
        if kind == "reasoning":
            continue
        if kind == "function_call":
            if assistant is None:
                assistant = {"role": "assistant"}
                messages.append(assistant)
            if "tool_calls" not in assistant:
                calls = []
                assistant["tool_calls"] = calls
            calls.append(
                {
                    "id": item["call_id"],
                    "type": "function",
                    "function": {"name": item["name"], "arguments": item["arguments"]},
                }
            )
            continue
        assistant = None
        if kind == "function_call_output":
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": item["call_id"],
                    "content": _tool_output(item["output"]),
                }
            )
        elif kind == "message" and item.get("role") == "assistant":
            assistant = _assistant_message(item)
            messages.append(assistant)
        elif kind == "message" and item.get("role") in ("user", "system", "developer"):
            messages.append(_input_message(item))
        else:
            raise UserError(
                f"An item of type {kind!r} cannot be sent through Chat Completions. "
                "Use OpenAIResponsesModel for conversations that contain it."
            )
    return messages


def _assistant_message(item: Item) -> ChatCompletionAssistantMessageParam:
    message: ChatCompletionAssistantMessageParam = {"role": "assistant"}
    text = message_text(item)
    if text:
        message["content"] = text
    content = item.get("content")
    refusals = [
        part["refusal"]
        for part in (content if isinstance(content, list) else [])
        if isinstance(part, dict) and part.get("type") == "refusal"
    ]
    if refusals:
        message["refusal"] = "".join(refusals)
    return message


def _input_message(item: Item) -> ChatCompletionMessageParam:
    role, content = item["role"], item["content"]
    if role == "user":
        if isinstance(content, str):
            return {"role": "user", "content": content}
        return {"role": "user", "content": [_content_part(part) for part in content]}
    # System and developer messages take text only.
    text = content if isinstance(content, str) else [_text_part(part) for part in content]
    if role == "system":
        return {"role": "system", "content": text}
    return {"role": "developer", "content": text}


def _content_part(part: dict[str, Any]) -> ChatCompletionContentPartParam:
    if part.get("type") == "input_image" and isinstance(part.get("image_url"), str):
        image_url: ImageURL = {"url": part["image_url"]}
        if part.get("detail") is not None:
            image_url["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image_url}
    return _text_part(part)


OMITTED_TOOL_OUTPUT = "[tool output omitted]"
"""What a model reads through Chat Completions of a tool output with no text part."""
_TEXT_PARTS = ("input_text", "output_text", "text")


def _text_part(part: dict[str, Any]) -> ChatCompletionContentPartTextParam:
    if part.get("type") in _TEXT_PARTS:
        return {"type": "text", "text": part["text"]}
    raise UserError(
        f"A content part of type {part.get('type')!r} cannot be sent through Chat Completions "
        "here. Use OpenAIResponsesModel, or send the content as text."
    )


def _tool_output(
    output: str | list[dict[str, Any]],
) -> str | list[ChatCompletionContentPartTextParam]:
    """A tool message's content: Chat Completions reads a tool's text, not its images or files;
    a tool output of content parts is sent as its text parts, or as ``OMITTED_TOOL_OUTPUT``
    if it has none (with a warning)."""
    if isinstance(output, str):
        return output
    texts = [_text_part(part) for part in output if part.get("type") in _TEXT_PARTS]
    if not texts:
        logger.warning(
            "A tool output with no text part (an image or a file only) cannot be read through "
            "Chat Completions; the model reads %r instead. Use OpenAIResponsesModel to send it.",
            OMITTED_TOOL_OUTPUT,
        )
        return OMITTED_TOOL_OUTPUT
    return texts


def _tool_choice(choice: str) -> ChatCompletionToolChoiceOptionParam:
    """``"auto"``, ``"required"`` and ``"none"`` as they are; any other value names a tool."""
    mode = _TOOL_CHOICE_MODES.get(choice)
    if mode is not None:
        return mode
    return {"type": "function", "function": {"name": choice}}


def _model_response(completion: ChatCompletion) -> ModelResponse:
    if not completion.choices:
        raise ModelBehaviorError(
            f"Chat completion {completion.id!r} has no choices; there is no answer to use."
        )
    message = completion.choices[0].message
    calls: list[tuple[str, str, str]] = []
    for call in message.tool_calls or []:
        if call.type != "function":
            raise ModelBehaviorError(
                f"The model made a {call.type!r} tool call; tether only offers function tools."
            )
        calls.append((call.id, call.function.name, call.function.arguments))
    return ModelResponse(
        output=_output_items(message.content, message.refusal, calls),
        usage=_usage(completion.usage),
        response_id=completion.id,
    )


def _output_items(
    text: str | None, refusal: str | None, calls: Sequence[tuple[str, str, str]]
) -> list[Item]:
    """The answer as Responses items: a message if there is text, then one item per call."""
    items: list[Item] = []
    content: list[dict[str, Any]] = []
    if text:
        content.append({"type": "output_text", "text": text, "annotations": []})
    if refusal:
        content.append({"type": "refusal", "refusal": refusal})
    if content:
        # No id: a chat completion id is not a Responses item id, and the item may
        # later be sent to the Responses API.
        items.append(
            {"type": "message", "role": "assistant", "status": "completed", "content": content}
        )
    items.extend(function_call(name, arguments, call_id) for call_id, name, arguments in calls)
    return items


def _usage(usage: CompletionUsage | None) -> Usage:
    if usage is None:
        return Usage(requests=1)
    return Usage(
        requests=1,
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


@dataclass
class _StreamedCall:
    call_id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class _StreamedCompletion:
    """A chat completion put together from its chunks."""

    completion_id: str | None = None
    text: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    calls: dict[int, _StreamedCall] = field(default_factory=dict)
    usage: CompletionUsage | None = None
    finished: bool = False
    """Whether a finish_reason arrived: without one the stream was cut short."""

    def add(self, chunk: ChatCompletionChunk) -> Iterator[ModelStreamEvent]:
        """Take in one chunk, yielding the deltas it carries."""
        self.completion_id = chunk.id
        if chunk.usage is not None:
            self.usage = chunk.usage
        for choice in chunk.choices:
            if choice.index != 0:
                continue  # tether never asks for n > 1
            delta = choice.delta
            if delta.content:
                self.text.append(delta.content)
                yield TextDelta(delta=delta.content)
            if delta.refusal:
                self.refusal.append(delta.refusal)
            for fragment in delta.tool_calls or []:
                # The first fragment of a call carries its id and name; later ones
                # only pieces of the arguments, under the same index.
                call = self.calls.setdefault(fragment.index, _StreamedCall())
                call.call_id = fragment.id or call.call_id
                function = fragment.function
                if function is None:
                    continue
                call.name = function.name or call.name
                if function.arguments:
                    call.arguments.append(function.arguments)
                    yield ToolCallDelta(
                        call_id=call.call_id, name=call.name, delta=function.arguments
                    )
            if choice.finish_reason is not None:
                self.finished = True

    def response(self) -> ModelResponse:
        """The whole response, as ``get_response`` would have returned it."""
        calls = [
            (call.call_id, call.name, "".join(call.arguments))
            for _, call in sorted(self.calls.items())
        ]
        return ModelResponse(
            output=_output_items("".join(self.text), "".join(self.refusal), calls),
            usage=_usage(self.usage),
            response_id=self.completion_id,
        )
