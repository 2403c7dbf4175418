"""``tether.agents.extensions.memory``: the reference SDK's optional sessions, each over one
of tether's, as a program written for the reference calls them."""

from __future__ import annotations

import redis.asyncio as aioredis

from services import free_port
from tether.agents.extensions.memory import RedisSession
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
