"""``tether.agents.extensions.memory``: the reference SDK's optional sessions, each over one
of tether's, as a program written for the reference calls them."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services import free_port
from tether.agents.extensions.memory import RedisSession, SQLAlchemySession
from tether.errors import SessionError, UserError
from tether.items import user_message


async def test_redis_session_from_url_pings_and_stores(redis_url: str) -> None:
    session = RedisSession.from_url("facade-redis", url=redis_url, key_prefix="facade", ttl=60)
    assert await session.ping()
    await session.clear_session()
    await session.add_items([user_message("one"), user_message("two")])
    assert [item["content"] for item in await session.get_items(limit=1)] == ["two"]
    assert session.key == "facade:facade-redis"
    await session.clear_session()
    assert await session.get_items() == []
    await session.close()


async def test_redis_session_leaves_a_client_it_was_given_open(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    session = RedisSession("facade-given", redis_client=client)
    assert session.key == "agents:session:facade-given"
    await session.close()
    assert await client.ping()
    await client.aclose()


async def test_redis_session_ping_is_false_without_a_server() -> None:
    session = RedisSession.from_url("nowhere", url=f"redis://127.0.0.1:{free_port()}/0")
    assert await session.ping() is False
    await session.close()


async def test_sqlalchemy_session_stores_reads_pops_and_clears(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sessions.db'}"
    first = SQLAlchemySession.from_url("first", url=url, create_tables=True)
    other = SQLAlchemySession.from_url("other", url=url, create_tables=True)
    await first.add_items([user_message("one"), user_message("twö")])
    await first.add_items([user_message("three")])
    await other.add_items([user_message("elsewhere")])
    assert [item["content"] for item in await first.get_items()] == ["one", "twö", "three"]
    assert [item["content"] for item in await first.get_items(limit=2)] == ["twö", "three"]
    assert await first.get_items(limit=0) == []
    popped = await first.pop_item()
    assert popped is not None and popped["content"] == "three"
    await first.clear_session()
    assert await first.get_items() == [] and await first.pop_item() is None
    assert [item["content"] for item in await other.get_items()] == ["elsewhere"]
    # Stored with JSON escapes (ensure_ascii, the default), read back the same.
    async with other.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT message_data FROM agent_messages"))).scalars()
        assert all(row.isascii() for row in stored)
    await first.close()
    await other.close()


async def test_sqlalchemy_session_settings_limit_what_is_read_back() -> None:
    session = SQLAlchemySession.from_url(
        "limited",
        url="sqlite+aiosqlite:///:memory:",
        create_tables=True,
        session_settings={"limit": 1},
    )
    await session.add_items([user_message("one"), user_message("two")])
    assert [item["content"] for item in await session.get_items()] == ["two"]
    assert len(await session.get_items(limit=2)) == 2
    await session.close()


async def test_sqlalchemy_session_errors_are_typed() -> None:
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    session = SQLAlchemySession("no-tables", engine=engine)  # create_tables not asked for
    with pytest.raises(SessionError, match="create_tables=True"):
        await session.add_items([user_message("lost")])
    with pytest.raises(UserError, match="not a dict"):
        await session.add_items(["not an item"])  # type: ignore[list-item]
    with pytest.raises(UserError, match="limit"):
        await session.get_items(limit=-1)
    await session.close()  # an engine passed in is the caller's
    await engine.dispose()
