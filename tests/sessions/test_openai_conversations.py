"""What OpenAIConversationsSession sends to the Conversations API (a local fake of it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from openai import AsyncOpenAI

from tether.items import user_message
from tether.sessions import OpenAIConversationsSession

from .conversations_server import API_KEY, ConversationsServer


@pytest.fixture
def api(conversations_api: ConversationsServer) -> ConversationsServer:
    conversations_api.requests.clear()
    return conversations_api


@pytest.fixture
async def client(api: ConversationsServer) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(base_url=api.base_url, api_key=API_KEY, max_retries=0) as client:
        yield client


def messages(n: int, start: int = 0) -> list[dict[str, object]]:
    return [user_message(f"m{i}") for i in range(start, start + n)]


def texts(items: list[dict[str, object]]) -> list[object]:
    return [item["content"] for item in items]


async def test_nothing_is_created_before_the_first_append(
    api: ConversationsServer, client: AsyncOpenAI
) -> None:
    session = OpenAIConversationsSession(client=client)
    assert await session.get_items() == []
    assert await session.pop_item() is None
    await session.clear()
    assert session.session_id == "" and session.conversation_id is None
    assert api.routes() == []

    await session.add_items(messages(2))
    assert session.session_id.startswith("conv_")
    assert api.routes() == ["conversations.create", "items.create"]
    assert texts(api.conversations[session.session_id]) == ["m0", "m1"]


async def test_concurrent_first_appends_create_one_conversation(
    api: ConversationsServer, client: AsyncOpenAI
) -> None:
    session = OpenAIConversationsSession(client=client)
    await asyncio.gather(*(session.add_items(messages(1, start=i)) for i in range(5)))
    assert api.routes().count("conversations.create") == 1
    assert sorted(map(str, texts(await session.get_items()))) == [f"m{i}" for i in range(5)]


async def test_an_existing_conversation_is_used_as_is(
    api: ConversationsServer, client: AsyncOpenAI
) -> None:
    first = OpenAIConversationsSession(client=client)
    conversation_id = await first.get_conversation_id()
    await first.add_items(messages(3))

    again = OpenAIConversationsSession(conversation_id, client=client)
    assert again.session_id == conversation_id
    assert texts(await again.get_items()) == ["m0", "m1", "m2"]
    assert api.routes().count("conversations.create") == 1


async def test_large_batches_are_sent_in_parts_and_read_across_pages(
    api: ConversationsServer, client: AsyncOpenAI
) -> None:
    session = OpenAIConversationsSession(client=client)
    await session.add_items(messages(130))
    creates = [r for r in api.requests if r.route == "items.create"]
    assert [len(r.body["items"]) for r in creates] == [20] * 6 + [10]

    api.requests.clear()
    assert texts(await session.get_items()) == [f"m{i}" for i in range(130)]
    assert api.routes() == ["items.list", "items.list"]  # 100 per page

    assert texts(await session.get_items(limit=105)) == [f"m{i}" for i in range(25, 130)]
    assert texts(await session.get_items(limit=2)) == ["m128", "m129"]


async def test_a_failed_part_is_undone_so_a_retry_stores_the_batch_once(
    api: ConversationsServer, client: AsyncOpenAI
) -> None:
    from tether.sessions import SessionError

    session = OpenAIConversationsSession(client=client)
    await session.add_items(messages(1, start=999))
    api.fail_next("items.create", 503, skip=1)  # the second of three parts fails

    with pytest.raises(SessionError, match="HTTP 503"):
        await session.add_items(messages(45))
    assert texts(await session.get_items()) == ["m999"]
    assert api.routes().count("items.delete") == 20

    await session.add_items(messages(45))
    assert texts(await session.get_items()) == ["m999", *(f"m{i}" for i in range(45))]


async def test_clear_deletes_the_conversation_and_the_next_append_starts_another(
    api: ConversationsServer, client: AsyncOpenAI
) -> None:
    session = OpenAIConversationsSession(client=client)
    await session.add_items(messages(2))
    old_id = session.session_id

    await session.clear()
    assert session.session_id == ""
    assert old_id not in api.conversations
    assert await session.get_items() == []

    await session.add_items(messages(1, start=7))
    assert session.session_id not in ("", old_id)
    assert texts(await session.get_items()) == ["m7"]


async def test_clearing_a_conversation_deleted_elsewhere_is_fine(
    api: ConversationsServer, client: AsyncOpenAI
) -> None:
    session = OpenAIConversationsSession(client=client)
    await session.add_items(messages(1))
    del api.conversations[session.session_id]
    await session.clear()
    assert session.session_id == ""
