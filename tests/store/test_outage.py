"""A run store through a database outage.

PostgreSQL through a server restart: dead pooled connections are replaced, a call made
during a short outage goes through once the server is back, and a call the outage
outlasts fails with the typed, retryable ``StoreUnavailableError``.

A SQLite store whose write lock another connection holds too long says so the same way.

Each PostgreSQL test has its own server (never the suite's shared one), which it stops and starts.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from services import PostgresCluster
from tether import StoreError, StoreUnavailableError
from tether.items import user_message
from tether.run._journal import ApprovalRequested, RunStarted
from tether.store import PostgresRunStore, SQLiteRunStore


@pytest.fixture
def cluster(private_postgres: PostgresCluster) -> PostgresCluster:
    return private_postgres


def started(run_id: str) -> RunStarted:
    return RunStarted(run_id, "Booker", [user_message("Book a table")], max_turns=10)


def asked(call_id: str) -> ApprovalRequested:
    return ApprovalRequested(call_id, "Booker", "book_table", '{"seats":2}', f"fp-{call_id}")


async def test_connections_that_died_with_the_server_are_replaced(
    cluster: PostgresCluster,
) -> None:
    # retry_for=0: nothing is tried twice, so only the pool's check can save the calls.
    store = PostgresRunStore(cluster.server.dsn, max_connections=4, retry_for=0)
    try:
        for n in range(4):
            await store.append(f"run_{n}", 0, [started(f"run_{n}")])
        # Four calls at once leave four idle connections in the pool.
        await asyncio.gather(*(store.load(f"run_{n}") for n in range(4)))
        cluster.stop()
        cluster.start()
        for n in range(8):
            assert (await store.load(f"run_{n % 4}")).seq == 1
        assert await store.append("run_0", 1, [asked("call_0")]) == 2
    finally:
        await store.close()


async def test_a_call_during_the_outage_fails_typed_and_retryable(
    cluster: PostgresCluster,
) -> None:
    store = PostgresRunStore(cluster.server.dsn, retry_for=0.5, connect_timeout=1)
    try:
        await store.append("run_1", 0, [started("run_1")])
        cluster.stop()
        with pytest.raises(StoreUnavailableError) as raised:
            await store.append("run_1", 1, [asked("call_0")])
        error = raised.value
        assert isinstance(error, StoreError)
        assert error.retryable is True
        assert error.backend == "PostgreSQL"
        assert "unreachable" in str(error) and "retry" in str(error)
        with pytest.raises(StoreUnavailableError):
            await store.pending_approvals()
        cluster.start()
        assert await store.append("run_1", 1, [asked("call_0")]) == 2  # nothing was written
        assert [p.call_id for p in await store.pending_approvals()] == ["call_0"]
    finally:
        await store.close()


async def test_a_call_during_a_short_outage_goes_through_once_the_server_is_back(
    cluster: PostgresCluster,
) -> None:
    store = PostgresRunStore(cluster.server.dsn, retry_for=30, connect_timeout=1)
    try:
        await store.append("run_1", 0, [started("run_1")])
        cluster.stop()
        append = asyncio.create_task(store.append("run_1", 1, [asked("call_0")]))
        read = asyncio.create_task(store.load("run_1"))
        await asyncio.sleep(2)
        assert not append.done() and not read.done()  # still trying, not failed
        await asyncio.to_thread(cluster.start)
        assert await append == 2
        assert (await read).seq in (1, 2)
        stored = await store.load("run_1")
        assert [event.kind for event in stored.events] == ["run_started", "approval_requested"]
    finally:
        await store.close()


async def test_a_store_opened_while_the_server_is_down_fails_typed(
    cluster: PostgresCluster,
) -> None:
    cluster.stop()
    store = PostgresRunStore(cluster.server.dsn, retry_for=0.2, connect_timeout=1)
    try:
        with pytest.raises(StoreUnavailableError, match="PostgreSQL run store"):
            await store.recoverable()
        cluster.start()
        assert await store.recoverable() == []
    finally:
        await store.close()


async def test_a_sqlite_store_whose_lock_is_held_too_long_fails_typed(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    store = SQLiteRunStore(path, busy_timeout=0.1)
    try:
        await store.append("run_1", 0, [started("run_1")])
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreUnavailableError, match="retry") as raised:
                await store.append("run_1", 1, [asked("call_0")])
            assert raised.value.retryable is True
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert await store.append("run_1", 1, [asked("call_0")]) == 2
    finally:
        await store.close()
