"""The behaviour every session backend promises, checked against each of them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from tether import UserError
from tether.items import assistant_message, function_call, function_call_output, user_message
from tether.sessions import Session

from .stores import BACKENDS, DURABLE_BACKENDS, Store, make_store


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    store = make_store(request.param, request)
    yield store
    await store.close()


@pytest.fixture(params=DURABLE_BACKENDS)
async def durable_store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    store = make_store(request.param, request)
    yield store
    await store.close()


def turn(n: int) -> list[dict[str, object]]:
    """A realistic batch: a user message, a tool call, its output and an answer."""
    return [
        user_message(f"question {n}"),
        function_call("lookup", json.dumps({"n": n}), f"call_{n}"),
        function_call_output(f"call_{n}", f"result {n}"),
        assistant_message(f"answer {n}"),
    ]


async def test_is_a_session(store: Store) -> None:
    assert isinstance(store.new(), Session)


async def test_new_session_is_empty(store: Store) -> None:
    session = store.new()
    assert await session.get_items() == []
    assert await session.get_items(limit=5) == []
    assert await session.pop_item() is None
    await session.clear()
    assert await session.get_items() == []


async def test_items_come_back_in_the_order_added(store: Store) -> None:
    session = store.new()
    await session.add_items(turn(1))
    await session.add_items([user_message("just one")])
    await session.add_items(turn(2))
    assert store.plain(await session.get_items()) == [
        *turn(1),
        user_message("just one"),
        *turn(2),
    ]


async def test_limit_gives_the_latest_items_oldest_first(store: Store) -> None:
    session = store.new()
    items = [user_message(f"m{i}") for i in range(7)]
    await session.add_items(items[:3])
    await session.add_items(items[3:])
    assert store.plain(await session.get_items(limit=3)) == items[4:]
    assert store.plain(await session.get_items(limit=1)) == items[6:]
    assert store.plain(await session.get_items(limit=100)) == items
    assert await session.get_items(limit=0) == []


@pytest.mark.parametrize("limit", [-1, 1.5, "3", True])
async def test_a_bad_limit_is_refused(store: Store, limit: object) -> None:
    with pytest.raises(UserError, match="limit"):
        await store.new().get_items(limit=limit)  # type: ignore[arg-type]


async def test_pop_item_removes_and_returns_the_newest(store: Store) -> None:
    session = store.new()
    first, second, third = user_message("a"), assistant_message("b"), user_message("c")
    await session.add_items([first, second])
    await session.add_items([third])

    popped = await session.pop_item()
    assert popped is not None and store.plain([popped]) == [third]
    assert store.plain(await session.get_items()) == [first, second]

    assert store.plain([await session.pop_item()]) == [second]  # type: ignore[list-item]
    assert store.plain([await session.pop_item()]) == [first]  # type: ignore[list-item]
    assert await session.pop_item() is None
    await session.add_items([third])
    assert store.plain(await session.get_items()) == [third]


async def test_clear_empties_the_session_which_stays_usable(store: Store) -> None:
    session = store.new()
    await session.add_items(turn(1))
    await session.clear()
    assert await session.get_items() == []
    await session.add_items(turn(2))
    assert store.plain(await session.get_items()) == turn(2)


async def test_sessions_in_one_store_are_isolated(store: Store) -> None:
    first, second = store.new(), store.new()
    await first.add_items([user_message("first 1")])
    await second.add_items([user_message("second 1"), user_message("second 2")])
    await first.add_items([user_message("first 2")])

    assert store.plain(await first.get_items()) == [
        user_message("first 1"),
        user_message("first 2"),
    ]
    assert store.plain([await second.pop_item()]) == [user_message("second 2")]  # type: ignore[list-item]
    await first.clear()
    assert store.plain(await second.get_items()) == [user_message("second 1")]
    assert await first.get_items() == []


async def test_items_round_trip_exactly(store: Store) -> None:
    tricky = {
        "type": "message",
        "role": "user",
        "content": [
            {"type": "input_text", "text": 'Grüße, 你好, مرحبا 👋🏽 "quotes" \\ back\nslash'}
        ],
        "zeta_first": {"nested": {"deeper": [1, -2, 3.25, 1e-7, 2**60, None, True, False, []]}},
        "alpha_after": {"": "empty key", "nul": "a\u0000b", "tab\t": "\u2028"},
    }
    session = store.new()
    await session.add_items([tricky, {"type": "custom", "payload": {}}])
    got = store.plain(await session.get_items())
    assert got == [tricky, {"type": "custom", "payload": {}}]
    if store.name != "openai":  # the API's own models reorder fields
        assert json.dumps(got) == json.dumps([tricky, {"type": "custom", "payload": {}}])


async def test_an_empty_batch_stores_nothing(store: Store) -> None:
    session = store.new()
    await session.add_items([])
    assert await session.get_items() == []


async def test_a_batch_with_an_unstorable_item_stores_nothing(store: Store) -> None:
    session = store.new()
    await session.add_items([user_message("kept")])
    with pytest.raises(UserError, match="item 1"):
        await session.add_items([user_message("ok"), {"content": object()}])
    with pytest.raises(UserError, match="item 0"):
        await session.add_items(["not a dict"])  # type: ignore[list-item]
    with pytest.raises(UserError, match="JSON"):
        await session.add_items([{"score": float("nan")}])
    assert store.plain(await session.get_items()) == [user_message("kept")]


async def test_concurrent_calls_on_one_object_lose_nothing(store: Store) -> None:
    session = store.new()
    await asyncio.gather(*(session.add_items(turn(n)) for n in range(10)))
    items = store.plain(await session.get_items())
    assert len(items) == 40
    # Each batch stays contiguous, whatever order the batches landed in.
    batches = [items[i : i + 4] for i in range(0, 40, 4)]
    assert sorted(batches, key=str) == sorted((turn(n) for n in range(10)), key=str)


async def test_a_new_object_reads_what_an_earlier_one_wrote(durable_store: Store) -> None:
    writer = durable_store.new()
    await writer.add_items(turn(1))
    await writer.close()  # type: ignore[attr-defined]
    reader = durable_store.reopen(writer)
    assert durable_store.plain(await reader.get_items()) == turn(1)
    await reader.add_items(turn(2))
    assert durable_store.plain(await durable_store.reopen(reader).get_items()) == turn(1) + turn(2)
