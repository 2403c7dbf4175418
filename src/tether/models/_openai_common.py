"""What the two OpenAI models share: the client they send through and how failures read."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import openai
from openai import AsyncOpenAI

from ..errors import ModelProviderError, UserError
from ._default_client import get_default_openai_client

__all__ = ["OpenAIClientModel", "default_client", "openai_errors"]


class OpenAIClientModel:
    """A model reached through an ``AsyncOpenAI`` client (from the environment if omitted)."""

    def __init__(self, model: str, client: AsyncOpenAI | None = None) -> None:
        self.model = model
        self._client = client
        # Where a client comes from when none was given: a provider's shared client, or the
        # environment. Called on first use, after the model-requests guard, so a switched-off
        # run reports ModelNotAllowedError rather than a missing key.
        self._client_source: Callable[[], AsyncOpenAI] = default_client

    @property
    def client(self) -> AsyncOpenAI:
        """The client requests go through."""
        if self._client is None:
            self._client = self._client_source()
        return self._client

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model!r})"


def default_client(**options: Any) -> AsyncOpenAI:
    """The default client (``set_default_openai_client``) if one is set and no ``options``
    are given; else an ``AsyncOpenAI`` configured from ``options`` and the environment."""
    default = get_default_openai_client()
    if default is not None and not options:
        return default
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
