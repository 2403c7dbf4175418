"""The reference SDK's process-wide settings: the default client, key, API and tracing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..errors import UserError
from ..tracing import set_tracing_disabled

if TYPE_CHECKING:
    from openai import AsyncOpenAI

__all__ = [
    "default_api",
    "set_default_openai_api",
    "set_default_openai_client",
    "set_default_openai_key",
    "set_tracing_disabled",
]

_api: Literal["chat_completions", "responses"] = "responses"


def set_default_openai_client(client: AsyncOpenAI, use_for_tracing: bool = True) -> None:
    """Send every OpenAI model call and Conversations session without its own client through
    ``client``. ``use_for_tracing`` is accepted and has no effect: tether exports traces
    through OpenTelemetry, not to OpenAI."""
    from ..models import set_default_openai_client as set_client

    set_client(client)


def set_default_openai_key(key: str, use_for_tracing: bool = True) -> None:
    """Use ``key`` for the default client (one built from the environment otherwise)."""
    from openai import AsyncOpenAI

    set_default_openai_client(AsyncOpenAI(api_key=key))


def set_default_openai_api(api: Literal["chat_completions", "responses"]) -> None:
    """Which OpenAI API a model given by name uses in runs started through
    ``tether.agents.Runner``: ``"responses"`` (the default) or ``"chat_completions"``.
    A run given its own ``model_provider=`` keeps it."""
    global _api
    if api not in ("chat_completions", "responses"):
        raise UserError(
            f"set_default_openai_api takes 'chat_completions' or 'responses', got {api!r}."
        )
    _api = api


def default_api() -> Literal["chat_completions", "responses"]:
    """The API set by ``set_default_openai_api``."""
    return _api
