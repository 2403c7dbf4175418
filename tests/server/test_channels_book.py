"""The channel book: an announcement claimed once, nonces spent once, and what it forgets."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tether.server.channels import (
    ChannelBook,
    MemoryChannelBook,
    SQLiteChannelBook,
)


@pytest.fixture(params=["memory", "sqlite"])
async def book(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ChannelBook]:
    made = (
        MemoryChannelBook()
        if request.param == "memory"
        else SQLiteChannelBook(str(tmp_path / "runs.db"))
    )
    yield made
    await made.aclose()


async def test_a_claim_is_won_once_and_pages_follow_the_key(book: ChannelBook) -> None:
    assert await book.claim("slack", "run_b", "call_0", "fp", 10.0)
    assert not await book.claim("slack", "run_b", "call_0", "fp", 11.0)
    assert await book.claim("slack", "run_a", "call_0", "fp", 12.0)
    assert await book.claim("email", "run_a", "call_0", "fp", 12.0)
    first = await book.active(limit=2)
    assert [(a.channel, a.run_id) for a in first] == [("email", "run_a"), ("slack", "run_a")]
    key = (first[-1].channel, first[-1].run_id, first[-1].call_id)
    rest = await book.active(after=key, limit=2)
    assert [(a.channel, a.run_id) for a in rest] == [("slack", "run_b")]


async def test_nonces_are_spent_once_and_forgotten_after_their_time(book: ChannelBook) -> None:
    assert await book.spend("n1", keep_until=100.0)
    assert not await book.spend("n1", keep_until=100.0)
    assert await book.spent("n1")
    await book.prune(now=99.0, closed_before=0.0)
    assert await book.spent("n1")
    await book.prune(now=101.0, closed_before=0.0)
    assert not await book.spent("n1")


async def test_closed_announcements_are_forgotten_failing_ones_listed(book: ChannelBook) -> None:
    await book.claim("slack", "run_a", "call_0", "fp", 10.0)
    await book.claim("slack", "run_a", "call_1", "fp", 10.0)
    [first, second] = await book.active()
    await book.save(dataclasses.replace(first, state="closed"))
    await book.save(dataclasses.replace(second, state="failed", error="down", tries=1))
    assert [a.call_id for a in await book.failing()] == ["call_1"]
    await book.prune(now=0.0, closed_before=11.0)
    assert [a.call_id for a in await book.active()] == ["call_1"]
    assert not await book.claim("slack", "run_a", "call_1", "fp", 20.0)
    assert await book.claim("slack", "run_a", "call_0", "fp", 20.0)  # forgotten: claimable
