"""Turning a model name into a ``Model``: providers own clients, URLs and keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol

from ._protocol import Model

if TYPE_CHECKING:
    from openai import AsyncOpenAI

    from ._openai_common import OpenAIClientModel, OwnClients

__all__ = [
    "DEFAULT_MODEL_NAME",
    "ModelProvider",
    "OpenAIProvider",
    "resolve_model",
]

DEFAULT_MODEL_NAME = "gpt-4.1-mini"
"""The model an agent without ``model=`` uses, through the run's provider."""


class ModelProvider(Protocol):
    """Resolves model names (``Agent(model="...")``) to models."""

    def get_model(self, name: str) -> Model: ...


class OpenAIProvider:
    """Models served by the OpenAI API, or by any server speaking it (``base_url=``).

    ``api="responses"`` (the default) uses the Responses API, ``api="chat"``
    Chat Completions. The client is created on first use, so constructing a
    provider needs no API key.
    """

    def __init__(
        self,
        *,
        client: AsyncOpenAI | None = None,
        api: Literal["responses", "chat"] = "responses",
        **client_options: Any,
    ) -> None:
        self._client = client
        self._client_options = client_options
        self.api = api
        self._own_clients: OwnClients | None = None

    @property
    def client(self) -> AsyncOpenAI:
        """The client every model of this provider sends through: the one given, else the
        one made (on first use) for the running event loop."""
        if self._client is not None:
            return self._client
        return self._own().get()

    def _own(self) -> OwnClients:
        # The clients made for each loop, shared by this provider's models.
        if self._own_clients is None:
            from ._openai_common import OwnClients

            self._own_clients = OwnClients(**self._client_options)
        return self._own_clients

    def get_model(self, name: str) -> Model:
        """The model ``name`` on this provider's API; its client is taken on its first request."""
        model: OpenAIClientModel
        if self.api == "chat":
            from .openai_chat import OpenAIChatCompletionsModel

            model = OpenAIChatCompletionsModel(name, client=self._client)
        else:
            from .openai_responses import OpenAIResponsesModel

            model = OpenAIResponsesModel(name, client=self._client)
        # No client is made here: making one reads the API key, and a run whose model
        # requests are switched off must say so before anything asks for a key.
        if self._client is None:
            model._own = self._own()
        return model


def resolve_model(model: Model | str | None, provider: ModelProvider) -> Model:
    """The model an agent runs on: itself if it is a ``Model``, else resolved by name."""
    if model is None:
        return provider.get_model(DEFAULT_MODEL_NAME)
    if isinstance(model, str):
        return provider.get_model(model)
    return model
