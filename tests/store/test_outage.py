"""A run store through a database outage.

PostgreSQL through a server restart: dead pooled connections are replaced, a call made
during a short outage goes through once the server is back, and a call the outage
outlasts fails with the typed, retryable ``StoreUnavailableError``.

A SQLite store whose write lock another connection holds too long says so the same way.

Each PostgreSQL test has its own server (never the suite's shared one), which it stops and starts.
"""

from __future__ import annotations

import asyncio
import pickle
import sqlite3
import uuid
from pathlib import Path

import pytest

from services import PostgresCluster, PostgresServer
from tether import StoreError
from tether.errors import StoreUnavailableError
from tether.items import user_message
from tether.journal._binding import fingerprint
from tether.journal._events import ApprovalRequested, Event, ModelResponded, RunStarted
from tether.store import PostgresRunStore, SQLiteRunStore
from tether.testing import tool_call


@pytest.fixture
def cluster(private_postgres: PostgresCluster) -> PostgresCluster:
    return private_postgres


def started(run_id: str) -> list[Event]:
    """A run's first two events: it started, and the model asked for call_0 and call_1."""
    calls = [tool_call("book_table", {"seats": 2}, f"call_{n}") for n in range(2)]
    return [
        RunStarted(run_id, "Booker", [user_message("Book a table")], max_turns=10),
        ModelResponded("Booker", calls),
    ]


def asked(call_id: str) -> ApprovalRequested:
    arguments = '{"seats": 2}'
    return ApprovalRequested(
        call_id,
        "Booker",
        "book_table",
        arguments,
        fingerprint("Booker", "book_table", call_id, arguments),
    )


async def test_connections_that_died_with_the_server_are_replaced(
    cluster: PostgresCluster,
) -> None:
    # retry_for=0: nothing is tried twice, so only the pool's check can save the calls.
    store = PostgresRunStore(cluster.server.dsn, max_connections=4, retry_for=0)
    try:
        for n in range(4):
            await store.append(f"run_{n}", 0, started(f"run_{n}"))
        # Four calls at once leave four idle connections in the pool.
        await asyncio.gather(*(store.load(f"run_{n}") for n in range(4)))
        cluster.stop()
        cluster.start()
        for n in range(8):
            assert (await store.load(f"run_{n % 4}")).seq == 2
        assert await store.append("run_0", 2, [asked("call_0")]) == 3
    finally:
        await store.close()


async def test_a_call_during_the_outage_fails_typed_and_retryable(
    cluster: PostgresCluster,
) -> None:
    store = PostgresRunStore(cluster.server.dsn, retry_for=0.5, connect_timeout=1)
    try:
        await store.append("run_1", 0, started("run_1"))
        cluster.stop()
        with pytest.raises(StoreUnavailableError) as raised:
            await store.append("run_1", 2, [asked("call_0")])
        error = raised.value
        assert isinstance(error, StoreError)
        assert error.retryable is True
        assert error.backend == "PostgreSQL"
        assert "unreachable" in str(error) and "retry" in str(error)
        with pytest.raises(StoreUnavailableError):
            await store.pending_approvals()
        cluster.start()
        assert await store.append("run_1", 2, [asked("call_0")]) == 3  # nothing was written
        assert [p.call_id for p in await store.pending_approvals()] == ["call_0"]
    finally:
        await store.close()


async def test_a_call_during_a_short_outage_goes_through_once_the_server_is_back(
    cluster: PostgresCluster,
) -> None:
    store = PostgresRunStore(cluster.server.dsn, retry_for=30, connect_timeout=1)
    try:
        await store.append("run_1", 0, started("run_1"))
        cluster.stop()
        append = asyncio.create_task(store.append("run_1", 2, [asked("call_0")]))
        read = asyncio.create_task(store.load("run_1"))
        await asyncio.sleep(2)
        assert not append.done() and not read.done()  # still trying, not failed
        await asyncio.to_thread(cluster.start)
        assert await append == 3
        assert (await read).seq in (2, 3)
        stored = await store.load("run_1")
        assert [event.kind for event in stored.events] == [
            "run_started",
            "model_responded",
            "approval_requested",
        ]
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
        await store.append("run_1", 0, started("run_1"))
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreUnavailableError, match="retry") as raised:
                await store.append("run_1", 2, [asked("call_0")])
            assert raised.value.retryable is True
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert await store.append("run_1", 2, [asked("call_0")]) == 3
    finally:
        await store.close()


class CommitCutter:
    """A TCP proxy in front of PostgreSQL that, once armed, cuts the connection that sends
    the next ``COMMIT`` (or ``marker``): after passing it on (the write lands, the client
    never hears) or instead of passing it on (the write is rolled back). Either way the
    client cannot know whether its write committed."""

    def __init__(self, server: PostgresServer, marker: bytes = b"COMMIT") -> None:
        self.server = server
        self.marker = marker
        self.armed: str | None = None
        self.cuts = 0
        self._listener: asyncio.Server | None = None

    async def __aenter__(self) -> CommitCutter:
        self._listener = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._listener is not None
        self._listener.close()

    @property
    def dsn(self) -> str:
        assert self._listener is not None
        port = self._listener.sockets[0].getsockname()[1]
        s = self.server
        return f"postgresql://{s.user}:{s.password}@127.0.0.1:{port}/{s.database}"

    async def _relay(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        server_in, server_out = await asyncio.open_connection(self.server.host, self.server.port)
        cut = asyncio.Event()

        async def upstream() -> None:
            while data := await client_in.read(65536):
                if self.armed is not None and self.marker in data:
                    how, self.armed = self.armed, None
                    cut.set()  # nothing more reaches the client
                    self.cuts += 1
                    if how == "after":
                        server_out.write(data)
                        await server_out.drain()
                        await asyncio.sleep(0.2)
                    return
                server_out.write(data)
                await server_out.drain()

        async def downstream() -> None:
            while (data := await server_in.read(65536)) and not cut.is_set():
                client_out.write(data)
                await client_out.drain()

        try:
            await asyncio.wait(
                [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())],
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for writer in (client_out, server_out):
                writer.close()


@pytest.mark.parametrize("how", ["after", "before"])
async def test_an_append_whose_commit_outcome_is_unknown_lands_exactly_once(
    postgres: PostgresServer, how: str
) -> None:
    async with CommitCutter(postgres) as cutter:
        store = PostgresRunStore(cutter.dsn, schema=f"cut_{uuid.uuid4().hex[:10]}", retry_for=10)
        try:
            await store.append("run_1", 0, started("run_1"))
            cutter.armed = how  # "after": the COMMIT reaches the server; "before": it does not
            assert await store.append("run_1", 2, [asked("call_0")]) == 3
            assert cutter.cuts == 1
            stored = await store.load("run_1")
            assert [event.kind for event in stored.events] == [
                "run_started",
                "model_responded",
                "approval_requested",
            ]
            assert await store.append("run_1", 3, [asked("call_1")]) == 4
        finally:
            await store.close()


def test_the_error_survives_a_process_boundary() -> None:
    # DBOS records a failed step's exception by pickling it.
    error = StoreUnavailableError("PostgreSQL", "OperationalError: refused", unknown_outcome=True)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is StoreUnavailableError
    assert (copy.backend, copy.cause, copy.unknown_outcome) == ("PostgreSQL", error.cause, True)
    assert str(copy) == str(error) and copy.retryable is True
