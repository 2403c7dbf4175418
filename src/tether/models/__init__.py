"""Models: the ``Model`` protocol and the models tether ships.

The OpenAI models import the ``openai`` package only when first used, so
``import tether`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._allowed import check_model_requests_allowed
from ._default_client import get_default_openai_client, set_default_openai_client
from ._protocol import (
    Model,
    ModelRequest,
    ModelResponse,
    ModelSettings,
    ModelStreamEvent,
    OutputSchema,
    ProviderEvents,
    ResponseDone,
    TextDelta,
    ToolCallDelta,
    ToolSpec,
)
from ._provider import (
    DEFAULT_MODEL_NAME,
    ModelProvider,
    OpenAIProvider,
    resolve_model,
)

if TYPE_CHECKING:
    from .local import LocalModel
    from .openai_chat import OpenAIChatCompletionsModel
    from .openai_responses import OpenAIResponsesModel

__all__ = [
    "ALLOW_MODEL_REQUESTS",
    "DEFAULT_MODEL_NAME",
    "LocalModel",
    "Model",
    "ModelProvider",
    "ModelRequest",
    "ModelResponse",
    "ModelSettings",
    "ModelStreamEvent",
    "OpenAIChatCompletionsModel",
    "OpenAIProvider",
    "OpenAIResponsesModel",
    "OutputSchema",
    "ProviderEvents",
    "ResponseDone",
    "TextDelta",
    "ToolCallDelta",
    "ToolSpec",
    "check_model_requests_allowed",
    "get_default_openai_client",
    "resolve_model",
    "set_default_openai_client",
]

ALLOW_MODEL_REQUESTS = True
"""Set to ``False`` (tests do, in ``conftest.py``) to refuse every request to a real model API."""

_LAZY = {
    "OpenAIResponsesModel": ".openai_responses",
    "OpenAIChatCompletionsModel": ".openai_chat",
    "LocalModel": ".local",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
