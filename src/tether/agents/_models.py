"""OpenAI models that send the reference SDK's model settings as well as tether's.

The facade's ``Runner`` resolves models given by name through ``ReferenceProvider``: the
same models as tether's (``OpenAIResponsesModel``, ``OpenAIChatCompletionsModel``), whose
request also carries what an agent's ``tether.agents.ModelSettings`` holds beyond tether's
five fields (``reasoning``, ``verbosity``, ``store`` ...), as the reference sends it.
"""

from __future__ import annotations

from typing import Any, cast

from ..models import ModelRequest, OpenAIProvider
from ..models.openai_chat import OpenAIChatCompletionsModel
from ..models.openai_responses import OpenAIResponsesModel
from .model_settings import MCP_TOOL_CHOICE

__all__ = ["ReferenceProvider"]

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


class _ResponsesModel(OpenAIResponsesModel):
    def _params(self, request: ModelRequest) -> Any:
        params = cast(dict[str, Any], super()._params(request))
        options = _options(request)
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


class _ChatModel(OpenAIChatCompletionsModel):
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


class ReferenceProvider(OpenAIProvider):
    """tether's ``OpenAIProvider`` whose models also send the reference's model settings."""

    def get_model(self, name: str) -> Any:
        kind = _ChatModel if self.api == "chat" else _ResponsesModel
        model = kind(name, client=self._client)
        # As tether's provider: the client is taken on the first request, not here.
        model._client_source = lambda: self.client
        return model
