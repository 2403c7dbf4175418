"""The reference SDK's process-wide settings: the default client, key, API and tracing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from .._exceptions import UserError
from ..tracing import set_tracing_disabled

if TYPE_CHECKING:
    from openai import AsyncOpenAI

__all__ = [
    "set_default_openai_api",
    "set_default_openai_client",
    "set_default_openai_key",
    "set_tracing_disabled",
]


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
    """Only the Responses API is the default in tether; ``"chat_completions"`` is refused
    with what to do instead."""
    if api != "responses":
        raise UserError(
            "tether.agents uses the Responses API by default; for Chat Completions pass "
            "model_provider=OpenAIProvider(api='chat') to Runner.run, or give the agent "
            "an OpenAIChatCompletionsModel."
        )
