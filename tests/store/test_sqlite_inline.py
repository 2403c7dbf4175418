"""``SQLiteRunStore(inline=True)``: transactions on the event loop's thread, and never a wait
for another writer there (the conformance suite runs on such a store too). Without it,
reads run there and writes in the worker thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tether import RunConflictError
from tether.store import SQLiteRunStore, _sqlite

from .test_conformance import asked, begun


def count_hops(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The calls the store hands to its thread from now on (each a hop there and back)."""
    hops: list[Any] = []
    run = _sqlite._Worker.run

    async def counted(self: Any, func: Any, /, *args: Any) -> Any:
        hops.append(func)
        return await run(self, func, *args)

    monkeypatch.setattr(_sqlite._Worker, "run", counted)
    return hops


async def test_an_inline_store_makes_no_hop_to_the_worker_thread_once_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLiteRunStore(tmp_path / "runs.db", inline=True, signing_key=False)
    await store.append("r0", 0, begun("r0", "c0"))  # the first open goes to the thread
    hops = count_hops(monkeypatch)
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
    hops = count_hops(monkeypatch)
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


async def test_a_write_goes_to_the_stores_own_thread_and_not_the_loops_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loop's pool (``asyncio.to_thread``) chains a concurrent future to an asyncio one:
    # a hand-over twice as dear as the store's thread, for each of a turn's two commits.
    store = SQLiteRunStore(tmp_path / "runs.db", signing_key=False)
    await store.append("r0", 0, begun("r0", "c0"))  # opens the file
    pooled: list[Any] = []
    loop = asyncio.get_running_loop()
    in_executor = loop.run_in_executor

    def counted(executor: Any, func: Any, *args: Any) -> Any:
        pooled.append(func)
        return in_executor(executor, func, *args)

    monkeypatch.setattr(loop, "run_in_executor", counted)
    threads: list[str] = []
    transaction = store._transaction

    def noted(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return transaction(*args, **kwargs)

    monkeypatch.setattr(store, "_transaction", noted)
    seq = await store.append("r0", len(begun("r0", "c0")), [asked("c0")])
    await store.append("r1", 0, begun("r1", "c1"))
    assert seq == 3
    assert pooled == []
    assert threads == ["tether-sqlite", "tether-sqlite"]
    monkeypatch.undo()
    await store.close()


async def test_the_stores_thread_passes_errors_back_and_skips_what_was_cancelled(
    tmp_path: Path,
) -> None:
    store = SQLiteRunStore(tmp_path / "runs.db", signing_key=False)
    await store.append("r0", 0, begun("r0", "c0"))
    with pytest.raises(RunConflictError):
        await store.append("r0", 0, begun("r0", "c0"))  # raised in the thread, here
    # Cancelled while another call holds the thread: never carried out.
    gate = threading.Event()
    ran: list[str] = []
    worker = store._worker
    holding = asyncio.ensure_future(worker.run(gate.wait))
    queued = asyncio.ensure_future(worker.run(ran.append, "queued"))
    await asyncio.sleep(0.05)
    queued.cancel()
    gate.set()
    assert await holding is True
    with pytest.raises(asyncio.CancelledError):
        await queued
    await worker.run(ran.append, "after")
    assert ran == ["after"]
    await store.close()


async def test_the_stores_thread_ends_when_idle_or_closed_and_comes_back_when_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sqlite, "_IDLE", 0.05)
    store = SQLiteRunStore(tmp_path / "runs.db", signing_key=False)
    await store.append("r0", 0, begun("r0", "c0"))
    first = store._worker._thread
    assert first is not None and first.is_alive()
    first.join(timeout=5)
    assert not first.is_alive()  # idle: gone
    assert store._worker._thread is None
    monkeypatch.setattr(_sqlite, "_IDLE", 60.0)
    await store.append("r0", len(begun("r0", "c0")), [asked("c0")])
    second = store._worker._thread
    assert second is not None and second is not first and second.is_alive()  # back
    await store.close()
    second.join(timeout=5)
    assert not second.is_alive()  # closed: gone, not waiting out _IDLE
    assert [p.call_id for p in await store.pending_approvals()] == ["c0"]  # opens it again
    await store.close()
