"""The model-requests guard speaks before anything asks for an API key."""

from __future__ import annotations

import re

import pytest

import tether
from tether import Agent, Runner, UserError
from tether.errors import ModelNotAllowedError
from tether.models import OpenAIChatCompletionsModel, OpenAIProvider, OpenAIResponsesModel


@pytest.fixture
def no_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_ADMIN_KEY", raising=False)


@pytest.mark.parametrize("api", ["responses", "chat"])
@pytest.mark.usefixtures("no_api_key")
async def test_switched_off_requests_name_the_guard_not_the_missing_key(api: str) -> None:
    agent = Agent(name="Assistant", model="gpt-4.1-mini")
    provider = OpenAIProvider(api=api)  # type: ignore[arg-type]

    with pytest.raises(ModelNotAllowedError, match="ALLOW_MODEL_REQUESTS is False"):
        await Runner.run(agent, "Hi", model_provider=provider)


@pytest.mark.usefixtures("no_api_key")
async def test_the_default_provider_is_guarded_too() -> None:
    with pytest.raises(ModelNotAllowedError, match=re.escape("'gpt-4.1-mini'")):
        await Runner.run(Agent(name="Assistant"), "Hi")


@pytest.mark.parametrize("model_class", [OpenAIResponsesModel, OpenAIChatCompletionsModel])
@pytest.mark.usefixtures("no_api_key")
async def test_models_built_without_a_client_are_guarded(model_class: type) -> None:
    agent = Agent(name="Assistant", model=model_class("gpt-4.1-mini"))

    with pytest.raises(ModelNotAllowedError):
        await Runner.run(agent, "Hi")


@pytest.mark.usefixtures("no_api_key")
async def test_a_missing_key_is_a_tether_error_when_requests_are_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tether.models, "ALLOW_MODEL_REQUESTS", True)

    with pytest.raises(UserError, match="Set OPENAI_API_KEY"):
        await Runner.run(Agent(name="Assistant"), "Hi")
