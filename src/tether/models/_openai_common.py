"""What the two OpenAI models share: the client they send through and how failures read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import openai
from openai import AsyncOpenAI

from .._loops import PerLoop
from ..errors import ModelProviderError, UserError
from ._default_client import get_default_openai_client

__all__ = ["OpenAIClientModel", "OwnClients", "openai_errors"]


class OpenAIClientModel:
    """A model reached through an ``AsyncOpenAI`` client (from the environment if omitted)."""

    def __init__(self, model: str, client: AsyncOpenAI | None = None) -> None:
        self.model = model
        self._client = client
        # Where clients come from when none was given: a provider's (shared by its models),
        # or the model's own, from the environment. Made on first use, after the
        # model-requests guard, so a switched-off run reports ModelNotAllowedError rather
        # than a missing key.
        self._own: OwnClients | None = None

    @property
    def client(self) -> AsyncOpenAI:
        """The client requests go through: the one given, else the one tether made for
        the running event loop (``OwnClients``)."""
        if self._client is not None:
            return self._client
        if self._own is None:
            self._own = OwnClients()
        return self._own.get()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model!r})"


class OwnClients:
    """Where a model or provider given no client sends: the default client if one is set
    (``set_default_openai_client``) and no ``options`` are given, else a client tether
    makes from ``options`` and the environment, one for each event loop that sends
    through it.

    An ``AsyncOpenAI`` client's pooled connections belong to the loop that opened them. One
    client used from two loops (a program that calls ``asyncio.run`` twice, a thread with
    a loop of its own) sends the second loop's request on the first loop's connection:
    "RuntimeError: Event loop is closed". A forked child runs a loop of its own, so it
    does not share its parent's connections either. A client the application passes stays
    as given, and so does the default client: its loops and processes are the
    application's to mind, as ``openai`` asks.
    """

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._clients = PerLoop(lambda: _new_client(options), AsyncOpenAI.close)

    def get(self) -> AsyncOpenAI:
        """The default client, else the running loop's own (made now if it has none)."""
        if not self._options:
            shared = get_default_openai_client()
            if shared is not None:
                return shared
        return self._clients.get()

    async def aclose(self) -> None:
        """Close every client made here."""
        await self._clients.aclose()


def _new_client(options: dict[str, Any]) -> AsyncOpenAI:
    """An ``AsyncOpenAI`` configured from ``options`` and the environment."""
    try:
        return AsyncOpenAI(**options)
    except openai.OpenAIError as err:
        raise UserError(
            f"Could not create the default OpenAI client ({err}). Set OPENAI_API_KEY, "
            "or pass client=AsyncOpenAI(...) to the model or to OpenAIProvider."
        ) from err


@contextmanager
def openai_errors(api: str, model: str) -> Iterator[None]:
    """Turn the ``openai`` client's exceptions into ``ModelProviderError``."""
    try:
        yield
    except openai.APIStatusError as err:
        raise ModelProviderError(
            f"The OpenAI {api} API answered HTTP {err.status_code} for model {model!r}: "
            f"{_error_detail(err)}"
        ) from err
    except openai.APIConnectionError as err:
        # The transport's own error says more ("peer closed connection ...") than the
        # client's generic "Connection error.".
        cause = err.__cause__ or err.message
        raise ModelProviderError(
            f"The connection to the OpenAI {api} API failed or was cut short for model "
            f"{model!r} ({cause}). Check the network and base_url, then retry."
        ) from err
    except openai.OpenAIError as err:
        raise ModelProviderError(f"The OpenAI {api} API failed for model {model!r}: {err}") from err


def _error_detail(err: openai.APIStatusError) -> str:
    """The server's own error message where the body has one, else the client's summary."""
    body = err.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return err.message
