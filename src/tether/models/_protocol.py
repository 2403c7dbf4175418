"""The ``Model`` protocol: one request in, one response out (or a stream of deltas)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, Protocol, runtime_checkable

from .._context import Usage
from .._quick_init import quick_init
from ..errors import UserError
from ..items import Item

__all__ = [
    "Model",
    "ModelRequest",
    "ModelResponse",
    "ModelSettings",
    "ModelStreamEvent",
    "OutputSchema",
    "ProviderEvents",
    "ResponseDone",
    "TextDelta",
    "ToolCallDelta",
    "ToolSpec",
]


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """Sampling settings. ``None`` leaves a setting to the model's default."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    tool_choice: Literal["auto", "required", "none"] | str | None = None
    """``"auto"``, ``"required"``, ``"none"`` or the name of one tool."""
    parallel_tool_calls: bool | None = None

    def merged(self, override: ModelSettings | None) -> ModelSettings:
        """These settings with every non-``None`` field of ``override`` taking precedence."""
        if override is None:
            return self
        changes = {
            f.name: value
            for f in fields(override)
            if (value := getattr(override, f.name)) is not None
        }
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool as the model is told about it."""

    name: str
    description: str
    parameters: dict[str, Any]
    """JSON schema of the arguments object."""
    strict: bool = True
    hosted: dict[str, Any] | None = None
    """For a tool the API runs itself (``tether.hosted``): the API's tool object, sent as it
    is; ``None`` for a function tool."""


def refuse_hosted_tools(tools: list[ToolSpec], model: str) -> None:
    """Raise ``UserError`` if ``tools`` holds a hosted tool, which only the Responses API runs."""
    hosted = [tool.name for tool in tools if tool.hosted is not None]
    if hosted:
        raise UserError(
            f"{model} cannot offer hosted tools ({', '.join(hosted)}): only the OpenAI "
            "Responses API runs them. Use OpenAIResponsesModel, or remove these tools."
        )


@dataclass(frozen=True, slots=True)
class OutputSchema:
    """A structured final output the model must produce, as a JSON schema."""

    name: str
    schema: dict[str, Any]
    strict: bool = True


@quick_init  # one a model call
@dataclass(frozen=True, slots=True)
class ModelRequest:
    """Everything a model needs for one call."""

    input: list[Item]
    """Items to send. With a server-managed conversation only what the server has not seen."""
    instructions: str | None = None
    tools: list[ToolSpec] = field(default_factory=list)
    settings: ModelSettings = field(default_factory=ModelSettings)
    output_schema: OutputSchema | None = None
    previous_response_id: str | None = None
    conversation_id: str | None = None


@quick_init  # one a model call
@dataclass(frozen=True, slots=True)
class ModelResponse:
    """One model response."""

    output: list[Item]
    """Output items: messages, function calls, reasoning."""
    usage: Usage = field(default_factory=Usage)
    response_id: str | None = None
    """The provider's id for the response, where it keeps one."""


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of message text, as the model streams it."""

    delta: str
    type: Literal["text_delta"] = "text_delta"
    provider_events: tuple[Any, ...] = field(default=(), repr=False, compare=False)
    """The provider's own stream events since the previous delta, this one's last, as its
    client gave them (the OpenAI Responses adapter's typed events; empty elsewhere)."""


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a tool call's JSON arguments, as the model streams them."""

    call_id: str
    name: str
    delta: str
    type: Literal["tool_call_delta"] = "tool_call_delta"
    provider_events: tuple[Any, ...] = field(default=(), repr=False, compare=False)
    """The provider's own stream events since the previous delta, this one's last, as its
    client gave them (the OpenAI Responses adapter's typed events; empty elsewhere)."""


@dataclass(frozen=True, slots=True)
class ResponseDone:
    """The last event of a model stream: the whole response."""

    response: ModelResponse
    type: Literal["response_done"] = "response_done"


@dataclass(frozen=True, slots=True)
class ProviderEvents:
    """The provider's own stream events that came after the last delta (the OpenAI
    Responses adapter's typed ``...done`` and ``response.completed`` events), just before
    ``ResponseDone``. tether's stream shows no event for them; they are for a facade that
    shows the provider's own events (``tether.agents``)."""

    events: tuple[Any, ...]
    type: Literal["provider_events"] = "provider_events"


ModelStreamEvent = TextDelta | ToolCallDelta | ProviderEvents | ResponseDone


@runtime_checkable
class Model(Protocol):
    """What a model must do for tether.

    ``get_response`` answers a request with a whole response. ``stream_response``
    yields deltas as they arrive and ends with exactly one ``ResponseDone``.
    Provider failures raise ``ModelProviderError``.
    """

    async def get_response(self, request: ModelRequest) -> ModelResponse: ...

    def stream_response(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]: ...
