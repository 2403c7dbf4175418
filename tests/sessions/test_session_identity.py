"""A paused run resumes only with the session it started with, on every backend."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from openai import AsyncOpenAI

from tether import Runner, RunState, UserError
from tether.items import Item
from tether.sessions import OpenAIConversationsSession, SQLiteSession
from tether.testing import ScriptedModel, message, tool_call
from weather_app import RUNS, weather_agent

from .conversations_server import API_KEY, ConversationsServer
from .stores import BACKENDS, Store, make_store


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    store = make_store(request.param, request)
    yield store
    await store.close()


def oakland_model() -> ScriptedModel:
    return ScriptedModel(
        [tool_call("get_temperature", {"city": "Oakland"}, "call_oak"), message("20°C")]
    )


async def test_a_session_with_an_empty_id_cannot_resume_another_sessions_run(
    store: Store,
) -> None:
    model = oakland_model()
    agent = weather_agent(model)
    session = store.new()
    paused = await Runner.run(agent, "Oakland?", session=session)
    text = paused.to_state().to_string()
    stored = await session.get_items()

    state = RunState.from_string(agent, text)
    state.approve(state.interruptions[0])
    unnamed = store._factory("")  # SQLiteSession(""), ..., OpenAIConversationsSession()
    with pytest.raises(UserError, match="belongs to"):
        await Runner.run(agent, state, session=unnamed)
    with pytest.raises(UserError, match="belongs to"):
        await Runner.run(agent, state, session=store.new())  # another session of the store

    assert len(model.requests) == 1 and RUNS["get_temperature"] == 0
    assert await session.get_items() == stored
    result = await Runner.run(agent, state, session=session)
    assert result.final_output == "20°C"
    assert RUNS["get_temperature"] == 1


class ListSession:
    """A session of the application's own: any object with the protocol's members."""

    def __init__(self, session_id: object) -> None:
        self.session_id = session_id
        self.items: list[Item] = []

    async def get_items(self, limit: int | None = None) -> list[Item]:
        return list(self.items)

    async def add_items(self, items: list[Item]) -> None:
        self.items.extend(items)

    async def pop_item(self) -> Item | None:
        return self.items.pop() if self.items else None

    async def clear(self) -> None:
        self.items.clear()


@pytest.mark.parametrize("session_id", ["", None, 42])
async def test_a_run_does_not_start_with_a_session_without_an_id(session_id: object) -> None:
    model = oakland_model()
    session = ListSession(session_id)

    with pytest.raises(UserError, match="must be a non-empty string"):
        await Runner.run(weather_agent(model), "Oakland?", session=session)
    assert model.requests == [] and session.items == []


async def test_a_run_started_without_a_session_is_not_resumed_with_one() -> None:
    model = oakland_model()
    agent = weather_agent(model)
    state = (await Runner.run(agent, "Oakland?")).to_state()
    state.approve(state.interruptions[0])
    session = SQLiteSession("chat")

    with pytest.raises(UserError, match="started without a session"):
        await Runner.run(agent, state, session=session)
    assert await session.get_items() == []
    assert RUNS["get_temperature"] == 0


async def test_a_state_whose_session_id_is_empty_is_refused() -> None:
    model = oakland_model()
    agent = weather_agent(model)
    paused = await Runner.run(agent, "Oakland?", session=SQLiteSession("chat"))
    document = json.loads(paused.to_state().to_string(signing_key=False))
    document["journal"][0]["session_id"] = ""  # unsigned, so an edit loads
    state = RunState.from_string(agent, json.dumps(document))
    state.approve(state.interruptions[0])

    with pytest.raises(UserError, match="does not say which session"):
        await Runner.run(agent, state, session=SQLiteSession(""))
    assert RUNS["get_temperature"] == 0


@pytest.fixture
async def client(conversations_api: ConversationsServer) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(
        base_url=conversations_api.base_url, api_key=API_KEY, max_retries=0
    ) as client:
        yield client


async def test_a_new_conversation_is_created_when_the_run_starts_and_recorded(
    client: AsyncOpenAI, conversations_api: ConversationsServer
) -> None:
    model = oakland_model()
    agent = weather_agent(model)
    session = OpenAIConversationsSession(client=client)

    paused = await Runner.run(agent, "Oakland?", session=session)
    conversation = session.session_id
    assert conversation.startswith("conv_")
    state = RunState.from_string(agent, paused.to_state().to_string())
    state.approve(state.interruptions[0])

    with pytest.raises(UserError, match=f"OpenAIConversationsSession\\('{conversation}'\\)"):
        await Runner.run(agent, state, session=OpenAIConversationsSession(client=client))
    other = OpenAIConversationsSession(client=client)
    await other.get_conversation_id()
    with pytest.raises(UserError, match=f"belongs to session '{conversation}'"):
        await Runner.run(agent, state, session=other)

    again = OpenAIConversationsSession(conversation, client=client)
    result = await Runner.run(agent, state, session=again)
    assert result.final_output == "20°C"
    stored = await again.get_items()
    assert [item.get("type", "message") for item in stored] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
    ]
    assert len(conversations_api.conversations[conversation]) == 4
