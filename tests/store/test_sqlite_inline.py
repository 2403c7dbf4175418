"""``SQLiteRunStore(inline=True)``: transactions on the event loop's thread, and never a wait
for another writer there (the conformance suite runs on such a store too). Without it,
reads run there and writes in the worker thread."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from tether.store import SQLiteRunStore

from .test_conformance import asked, begun


async def test_an_inline_store_makes_no_hop_to_the_worker_thread_once_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLiteRunStore(tmp_path / "runs.db", inline=True, signing_key=False)
    await store.append("r0", 0, begun("r0", "c0"))  # the first open goes to the thread
    hops: list[Any] = []
    to_thread = asyncio.to_thread

    async def counted(func: Any, /, *args: Any, **kwargs: Any) -> Any:
        hops.append(func)
        return await to_thread(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counted)
    seq = await store.append("r1", 0, begun("r1", "c1"))
    await store.append("r1", seq, [asked("c1")])
    assert [p.call_id for p in await store.pending_approvals()] == ["c1"]
    assert (await store.load("r1")).events == (*begun("r1", "c1"), asked("c1"))
    assert hops == []
    monkeypatch.undo()
    await store.close()


async def test_a_default_store_reads_on_the_loop_and_writes_in_the_worker_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLiteRunStore(tmp_path / "runs.db", signing_key=False)
    await store.append("r0", 0, begun("r0", "c0"))  # opens the file
    hops: list[Any] = []
    to_thread = asyncio.to_thread

    async def counted(func: Any, /, *args: Any, **kwargs: Any) -> Any:
        hops.append(func)
        return await to_thread(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counted)
    assert (await store.load("r0")).events == tuple(begun("r0", "c0"))
    assert [r.run_id for r in (await store.list_runs()).runs] == ["r0"]
    assert hops == []  # the reads
    await store.append("r0", len(begun("r0", "c0")), [asked("c0")])
    assert len(hops) == 1  # the write
    monkeypatch.undo()
    await store.close()


async def test_an_inline_transaction_that_finds_the_write_lock_taken_waits_off_the_loop(
    tmp_path: Path,
) -> None:
    path = tmp_path / "runs.db"
    store = SQLiteRunStore(path, inline=True, busy_timeout=30.0, signing_key=False)
    await store.append("r0", 0, begun("r0", "c0"))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        appending = asyncio.create_task(store.append("r1", 0, begun("r1", "c1")))
        # Waiting for the lock on the loop would hold this coroutine up for the whole
        # busy_timeout (30 s), since it is the one that lets the other writer finish.
        began = time.monotonic()
        await asyncio.sleep(0.2)
        assert time.monotonic() - began < 10, "the loop waited for the write lock"
        assert not appending.done()
    finally:
        other.execute("COMMIT")
        other.close()
    assert await appending == 2
    assert (await store.load("r1")).events == tuple(begun("r1", "c1"))
    await store.close()


async def test_a_write_after_reads_on_the_loop_still_waits_for_another_writer(
    tmp_path: Path,
) -> None:
    # A read on the loop does not wait for another connection's lock; the store's next write
    # in the worker thread waits for it as long as busy_timeout says.
    path = tmp_path / "runs.db"
    store = SQLiteRunStore(path, busy_timeout=30.0, signing_key=False)
    await store.append("r0", 0, begun("r0", "c0"))
    assert (await store.load("r0")).seq == len(begun("r0", "c0"))
    assert (await store.tip("r0")).seq == len(begun("r0", "c0"))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock for a moment
    appending = asyncio.create_task(store.append("r0", len(begun("r0", "c0")), [asked("c0")]))
    await asyncio.sleep(0.3)
    other.execute("COMMIT")
    other.close()
    assert await appending == len(begun("r0", "c0")) + 1
    assert (await store.load("r0")).events[-1] == asked("c0")
    await store.close()
