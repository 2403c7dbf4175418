"""A ``Model`` on the OpenAI Responses API (``client.responses.create``).

tether's items already have the Responses API's shapes, so input goes out as
it is and output items come back as the JSON the API sent (``null`` fields
dropped), ready to be sent again as input.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

from openai.types.responses import (
    FunctionToolParam,
    Response,
    ResponseCompletedEvent,
    ResponseErrorEvent,
    ResponseFailedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseIncompleteEvent,
    ResponseInputParam,
    ResponseOutputItemAddedEvent,
    ResponseTextDeltaEvent,
    ResponseUsage,
    ToolChoiceOptions,
    ToolParam,
    response_create_params,
)

from .._context import Usage
from .._json_text import replace_surrogates
from ..errors import ModelBehaviorError, ModelProviderError
from ._allowed import check_model_requests_allowed
from ._openai_common import OpenAIClientModel, openai_errors
from ._protocol import (
    ModelRequest,
    ModelResponse,
    ModelStreamEvent,
    ProviderEvents,
    ResponseDone,
    TextDelta,
    ToolCallDelta,
)

__all__ = ["OpenAIResponsesModel"]

_TOOL_CHOICE_MODES: dict[str, ToolChoiceOptions] = {
    "auto": "auto",
    "required": "required",
    "none": "none",
}


class OpenAIResponsesModel(OpenAIClientModel):
    """A model served through the OpenAI Responses API, or any server speaking it.

        model = OpenAIResponsesModel("gpt-4.1-mini", client=AsyncOpenAI(base_url=...))
        agent = Agent(name="Assistant", model=model)

    Without ``client`` a default ``AsyncOpenAI()`` is created on first use, reading
    ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` from the environment.
    """

    async def get_response(self, request: ModelRequest) -> ModelResponse:
        """Send ``request`` and return the whole response."""
        check_model_requests_allowed(self.model)
        with openai_errors("Responses", self.model):
            params = self._params(request)
            try:
                response = await self.client.responses.create(**params)
            except UnicodeEncodeError:  # a lone surrogate: not sendable as UTF-8
                response = await self.client.responses.create(**replace_surrogates(params))
        return _model_response(response)

    async def stream_response(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        """Send ``request`` and yield text and tool-call deltas, then one ``ResponseDone``."""
        check_model_requests_allowed(self.model)
        # Argument deltas name only their output slot; the call's id and name were
        # announced when the item was added.
        calls: dict[int, tuple[str, str]] = {}
        final: Response | None = None
        # The provider's events since the last one yielded, handed on with the next.
        seen: list[Any] = []
        with openai_errors("Responses", self.model):
            params = self._params(request)
            try:
                stream = await self.client.responses.create(**params, stream=True)
            except UnicodeEncodeError:  # a lone surrogate: not sendable as UTF-8
                params = replace_surrogates(params)
                stream = await self.client.responses.create(**params, stream=True)
            async with stream:
                async for event in stream:
                    seen.append(event)
                    if isinstance(event, ResponseOutputItemAddedEvent):
                        if event.item.type == "function_call":
                            calls[event.output_index] = (event.item.call_id, event.item.name)
                    elif isinstance(event, ResponseTextDeltaEvent):
                        yield TextDelta(delta=event.delta, provider_events=tuple(seen))
                        seen.clear()
                    elif isinstance(event, ResponseFunctionCallArgumentsDeltaEvent):
                        call_id, name = _announced_call(calls, event.output_index)
                        yield ToolCallDelta(
                            call_id=call_id,
                            name=name,
                            delta=event.delta,
                            provider_events=tuple(seen),
                        )
                        seen.clear()
                    elif isinstance(event, ResponseCompletedEvent | ResponseIncompleteEvent):
                        # An incomplete response (token limit, content filter) is still an
                        # answer, as it is from get_response; the run decides what to do.
                        final = event.response
                    elif isinstance(event, ResponseFailedEvent):
                        raise ModelProviderError(_failure_message(self.model, event.response))
                    elif isinstance(event, ResponseErrorEvent):
                        raise ModelProviderError(
                            f"The OpenAI Responses API stream for model {self.model!r} reported "
                            f"an error ({event.code or 'no code'}): {event.message}"
                        )
        if final is None:
            raise ModelProviderError(
                f"The OpenAI Responses API stream for model {self.model!r} ended before "
                "response.completed: the connection was cut short. Retry the request."
            )
        if seen:
            yield ProviderEvents(tuple(seen))
        yield ResponseDone(response=_model_response(final))

    def _params(self, request: ModelRequest) -> response_create_params.ResponseCreateParamsBase:
        """The ``responses.create`` arguments for ``request``; unset options are left out."""
        # Items are JSON objects already in the API's input shapes; the cast only
        # tells the type checker so.
        params: response_create_params.ResponseCreateParamsBase = {
            "model": self.model,
            "input": cast(ResponseInputParam, request.input),
        }
        if request.instructions is not None:
            params["instructions"] = request.instructions
        if request.tools:
            params["tools"] = [
                cast(ToolParam, tool.hosted)
                if tool.hosted is not None
                else FunctionToolParam(
                    type="function",
                    name=tool.name,
                    description=tool.description,
                    parameters=tool.parameters,
                    strict=tool.strict,
                )
                for tool in request.tools
            ]
        if request.output_schema is not None:
            schema = request.output_schema
            params["text"] = {
                "format": {
                    "type": "json_schema",
                    "name": schema.name,
                    "schema": schema.schema,
                    "strict": schema.strict,
                }
            }
        if request.previous_response_id is not None:
            params["previous_response_id"] = request.previous_response_id
        if request.conversation_id is not None:
            params["conversation"] = request.conversation_id
        settings = request.settings
        if settings.temperature is not None:
            params["temperature"] = settings.temperature
        if settings.top_p is not None:
            params["top_p"] = settings.top_p
        if settings.max_tokens is not None:
            params["max_output_tokens"] = settings.max_tokens
        if settings.tool_choice is not None:
            params["tool_choice"] = _tool_choice(settings.tool_choice)
        if settings.parallel_tool_calls is not None:
            params["parallel_tool_calls"] = settings.parallel_tool_calls
        return params


def _tool_choice(choice: str) -> response_create_params.ToolChoice:
    """``"auto"``, ``"required"`` and ``"none"`` as they are; any other value names a tool."""
    mode = _TOOL_CHOICE_MODES.get(choice)
    if mode is not None:
        return mode
    return {"type": "function", "name": choice}


def _announced_call(calls: dict[int, tuple[str, str]], output_index: int) -> tuple[str, str]:
    try:
        return calls[output_index]
    except KeyError:
        raise ModelBehaviorError(
            f"The Responses API streamed arguments for output {output_index} before "
            "announcing a function call there; the stream cannot be used."
        ) from None


def _model_response(response: Response) -> ModelResponse:
    if response.status == "failed" or response.error is not None:
        raise ModelProviderError(_failure_message(response.model, response))
    return ModelResponse(
        output=[item.to_dict(mode="json", exclude_none=True) for item in response.output],
        usage=_usage(response.usage),
        response_id=response.id,
    )


def _usage(usage: ResponseUsage | None) -> Usage:
    if usage is None:
        return Usage(requests=1)
    return Usage(
        requests=1,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
    )


def _failure_message(model: str, response: Response) -> str:
    error = response.error
    detail = f"{error.code}: {error.message}" if error is not None else "no reason given"
    return f"Response {response.id!r} of model {model!r} failed ({detail}). Retry the request."
