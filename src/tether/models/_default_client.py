"""The OpenAI client that models and sessions without their own client use.

Kept apart from the OpenAI models so that ``import tether`` does not import
``openai``: the client is only ever set by code that already has one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UserError

if TYPE_CHECKING:
    from openai import AsyncOpenAI

__all__ = ["get_default_openai_client", "set_default_openai_client"]

_default: AsyncOpenAI | None = None


def set_default_openai_client(client: AsyncOpenAI | None) -> None:
    """Make ``client`` the one every OpenAI model and session without its own client uses.

    For a local or proxy server that speaks the OpenAI API::

        set_default_openai_client(AsyncOpenAI(base_url="http://localhost:8000/v1", api_key="-"))

    ``None`` goes back to building a client from the environment (``OPENAI_API_KEY``).
    """
    global _default
    if client is not None:
        from openai import AsyncOpenAI

        if not isinstance(client, AsyncOpenAI):
            raise UserError(
                "set_default_openai_client needs an openai.AsyncOpenAI, got "
                f"{type(client).__name__}."
            )
    _default = client


def get_default_openai_client() -> AsyncOpenAI | None:
    """The client set by ``set_default_openai_client``, if any."""
    return _default
