"""OpenAI models that send the reference SDK's model settings as well as tether's.

The facade's ``Runner`` resolves models given by name through ``ReferenceProvider``: the
same models as tether's (``OpenAIResponsesModel``, ``OpenAIChatCompletionsModel``), whose
request also carries what an agent's ``tether.agents.ModelSettings`` holds beyond tether's
five fields (``reasoning``, ``verbosity``, ``store`` ...), as the reference sends it.

The reference's own model classes and providers are here too, built the reference's way
(``OpenAIChatCompletionsModel(model=, openai_client=)``, ``OpenAIProvider(base_url=, ...)``,
a ``ModelProvider`` subclass given as ``RunConfig(model_provider=)``).
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from typing import Any, cast

from openai import AsyncOpenAI

from ..errors import UserError
from ..models import Model, ModelRequest, ModelResponse, ModelStreamEvent
from ..models import OpenAIProvider as _TetherProvider
from ..models.openai_chat import OpenAIChatCompletionsModel as _TetherChat
from ..models.openai_responses import OpenAIResponsesModel as _TetherResponses
from ._prompts import current_prompt
from ._retry_loop import retried, retried_stream
from .model_settings import MCP_TOOL_CHOICE

__all__ = [
    "ModelProvider",
    "OpenAIChatCompletionsModel",
    "OpenAIProvider",
    "OpenAIResponsesModel",
    "ReferenceProvider",
    "UserProvider",
]

_SAME_NAME_RESPONSES = (
    "store",
    "metadata",
    "truncation",
    "top_logprobs",
    "prompt_cache_retention",
    "prompt_cache_options",
    "context_management",
)
_SAME_NAME_CHAT = (
    "store",
    "metadata",
    "frequency_penalty",
    "presence_penalty",
    "top_logprobs",
    "prompt_cache_retention",
    "prompt_cache_options",
)
_REQUEST_OPTIONS = ("extra_headers", "extra_query", "extra_body", "timeout")
"""Options of the ``openai`` client's request itself, sent to either API as given."""


def _plain(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    return dump(exclude_none=True) if dump is not None else value


def _options(request: ModelRequest) -> dict[str, Any]:
    return dict(getattr(request.settings, "reference_options", {}) or {})


class _ResponsesModel(_TetherResponses):
    _model_is_explicit = True
    """False for the model an agent given no ``model=`` runs on: with a platform prompt,
    which names its own model, the request then names none (as the reference's)."""

    async def get_response(self, request: ModelRequest) -> ModelResponse:
        # ModelSettings(retry=): the call retried as its policy allows (_retry_loop).
        return await retried(
            self, request, lambda model: _TetherResponses.get_response(model, request)
        )

    def stream_response(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        return retried_stream(self, request, lambda m: _TetherResponses.stream_response(m, request))

    def _params(self, request: ModelRequest) -> Any:
        params = cast(dict[str, Any], super()._params(request))
        options = _options(request)
        prompt = current_prompt()
        if prompt is not None:
            params["prompt"] = prompt
            if not self._model_is_explicit:
                del params["model"]
        if "reasoning" in options:
            params["reasoning"] = _plain(options["reasoning"])
        if "verbosity" in options:
            params["text"] = {**params.get("text", {}), "verbosity": options["verbosity"]}
        mcp = options.get(MCP_TOOL_CHOICE)
        if mcp is not None and request.settings.tool_choice == mcp.name:  # not overridden
            params["tool_choice"] = {
                "type": "mcp",
                "server_label": mcp.server_label,
                "name": mcp.name,
            }
        for name in _SAME_NAME_RESPONSES:
            if name in options:
                params[name] = _plain(options[name])
        include = [*params.get("include", ()), *options.get("response_include", ())]
        if "top_logprobs" in options:
            include.append("message.output_text.logprobs")
        if include:
            params["include"] = list(dict.fromkeys(include))
        return _finish(params, options)


class _ChatModel(_TetherChat):
    async def get_response(self, request: ModelRequest) -> ModelResponse:
        return await retried(self, request, lambda model: _TetherChat.get_response(model, request))

    def stream_response(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        return retried_stream(self, request, lambda m: _TetherChat.stream_response(m, request))

    def _params(self, request: ModelRequest) -> Any:
        params = cast(dict[str, Any], super()._params(request))
        options = _options(request)
        effort = _plain(options.get("reasoning") or {}).get("effort")
        if effort is not None:
            params["reasoning_effort"] = effort
        if "verbosity" in options:
            params["verbosity"] = options["verbosity"]
        for name in _SAME_NAME_CHAT:
            if name in options:
                params[name] = _plain(options[name])
        if "top_logprobs" in options:  # the API wants logprobs with top_logprobs
            params["logprobs"] = True
        return _finish(params, options)


def _finish(params: dict[str, Any], options: dict[str, Any]) -> Any:
    """``params`` with the request's own options and then ``extra_args``, as given."""
    params.update({name: options[name] for name in _REQUEST_OPTIONS if name in options})
    params.update(options.get("extra_args") or {})
    return params


class ReferenceProvider(_TetherProvider):
    """tether's ``OpenAIProvider`` whose models also send the reference's model settings."""

    def get_model(self, name: str) -> Any:
        from ._agent import DefaultModelName

        kind = _ChatModel if self.api == "chat" else _ResponsesModel
        model = kind(name, client=self._client)
        if isinstance(name, DefaultModelName) and isinstance(model, _ResponsesModel):
            model._model_is_explicit = False
        # As tether's provider: the client is made on the first request, not here.
        if self._client is None:
            model._own = self._own()
        return model


class OpenAIChatCompletionsModel(_ChatModel):
    """The reference's ``OpenAIChatCompletionsModel(model=, openai_client=)``: tether's Chat
    Completions model on that client, sending the reference's model settings too."""

    def __init__(
        self,
        model: str,
        openai_client: AsyncOpenAI,
        should_replay_reasoning_content: Any = None,
        strict_feature_validation: bool = False,
        buffer_streamed_tool_calls: bool = False,
    ) -> None:
        _refuse(
            "OpenAIChatCompletionsModel",
            should_replay_reasoning_content=should_replay_reasoning_content is not None,
            strict_feature_validation=strict_feature_validation,
            buffer_streamed_tool_calls=buffer_streamed_tool_calls,
        )
        super().__init__(str(model), client=openai_client)


class OpenAIResponsesModel(_ResponsesModel):
    """The reference's ``OpenAIResponsesModel(model=, openai_client=)``: tether's Responses
    model on that client, sending the reference's model settings too."""

    def __init__(
        self, model: str, openai_client: AsyncOpenAI, *, model_is_explicit: bool = True
    ) -> None:
        super().__init__(str(model), client=openai_client)
        self._model_is_explicit = model_is_explicit


_PROVIDER_OPTIONS = frozenset(
    {
        "websocket_base_url",
        "use_responses_websocket",
        "strict_feature_validation",
        "agent_registration",
        "responses_websocket_options",
        "buffer_streamed_tool_calls",
    }
)
"""The reference provider's options tether does not implement (refused unless left unset)."""


class OpenAIProvider(ReferenceProvider):
    """The reference's ``OpenAIProvider``: models by name on ``openai_client``, or on a
    client made from ``api_key``, ``base_url``, ``organization`` and ``project`` (and the
    environment); Chat Completions unless ``use_responses`` (default: the API
    ``set_default_openai_api`` chose)."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        openai_client: AsyncOpenAI | None = None,
        organization: str | None = None,
        project: str | None = None,
        use_responses: bool | None = None,
        **unsupported: Any,
    ) -> None:
        unknown = sorted(set(unsupported) - _PROVIDER_OPTIONS)
        if unknown:
            raise UserError(f"OpenAIProvider has no option(s) {unknown}.")
        _refuse("OpenAIProvider", **{k: v not in (None, False) for k, v in unsupported.items()})
        if use_responses is None:
            from ._setup import default_api

            use_responses = default_api() == "responses"
        options = {
            "api_key": api_key,
            "base_url": base_url,
            "organization": organization,
            "project": project,
        }
        given = {name: value for name, value in options.items() if value is not None}
        if openai_client is not None and given:
            raise UserError(
                f"OpenAIProvider takes openai_client or {sorted(given)}, not both: the client "
                "is already configured."
            )
        api: Any = "responses" if use_responses else "chat"
        super().__init__(client=openai_client, api=api, **given)


class ModelProvider(abc.ABC):
    """The reference's base class of model providers: ``get_model(name)`` is asked for the
    model of an agent given by name (``None`` for an agent given no model), once per run."""

    @abc.abstractmethod
    def get_model(self, model_name: str | None) -> Model:
        """The model called ``model_name`` (``None``: the provider's default)."""

    async def aclose(self) -> None:
        """Release what the provider holds (nothing, unless a subclass says otherwise)."""
        return None


class UserProvider:
    """A program's ``RunConfig(model_provider=)`` as tether's provider: an agent given no
    model is asked for as ``None``, as the reference asks."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider

    def get_model(self, name: str) -> Model:
        from ._agent import DefaultModelName

        model = self.provider.get_model(None if isinstance(name, DefaultModelName) else name)
        return cast(Model, model)


def _refuse(kind: str, **set_options: bool) -> None:
    """A ``UserError`` for reference options tether does not implement, if any is set."""
    named = sorted(name for name, is_set in set_options.items() if is_set)
    if named:
        raise UserError(
            f"{kind} on tether.agents does not support {named}; leave them at their defaults "
            "(docs/migrating.md, 'What is not covered')."
        )
