"""How many round trips to PostgreSQL a store call takes, counted on the wire.

The store talks to the server through a loopback relay that reads the client's messages
and counts the client's writes that ask the server to answer what came before (a
``Sync``, a ``Flush`` or a simple ``Query``): the client waits once for each, one round
trip. A transaction runs in
pipeline mode: a statement whose answer the program does not need is sent without
waiting for it, so an append in a transaction is two round trips (the read of the run's
row; then the event rows, the run's update and the commit). An append by the run's
owner of a run the store holds the view of (the run loop's appends) is one statement,
one round trip. A load is one statement in autocommit (the run's summary and its rows):
one round trip; a tip is one query on its own; taking a lease and giving it up
send their ``BEGIN``, their setting and their ``COMMIT`` with the statement, one each. A
connection leaving the pool is not asked whether it is alive while its socket is quiet.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator, Callable

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tether import RunConflictError
from tether.journal._events import ToolCompleted, ToolStarted
from tether.store import PostgresRunStore

from .test_conformance import asked, begun, responded


class Messages:
    """The client's side of one connection, cut into protocol messages: the startup
    message (a length, then its body), then a type byte and a length each."""

    def __init__(self) -> None:
        self._buffer = b""
        self._started = False

    def feed(self, data: bytes) -> list[bytes]:
        """The type bytes of the messages ``data`` completes."""
        self._buffer += data
        kinds = []
        while True:
            head = 4 if not self._started else 5
            if len(self._buffer) < head:
                return kinds
            if not self._started:
                (length,) = struct.unpack("!I", self._buffer[:4])
                kind, size = b"", length
            else:
                kind = self._buffer[:1]
                (length,) = struct.unpack("!I", self._buffer[1:5])
                size = 1 + length
            if len(self._buffer) < size:
                return kinds
            self._buffer = self._buffer[size:]
            self._started = True
            kinds.append(kind)


class Relay:
    """A TCP relay to the server that counts round trips over all its connections."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self.trips = 0
        self.statements = 0
        """Statements sent (an ``Execute``, or a simple ``Query``), over all connections."""
        self.watch: Callable[[bytes], None] = lambda data: None
        """Called with what each client sends (``test_lease_durability`` reads it)."""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        messages = Messages()

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, up: bool) -> None:
            while data := await source.read(65536):
                if up:
                    self.watch(data)
                    kinds = [kind for kind in messages.feed(data) if kind]
                    self.trips += any(kind in b"SHQ" for kind in kinds)
                    self.statements += sum(kind in b"EQ" for kind in kinds)
                sink.write(data)
                await sink.drain()
            sink.close()

        await asyncio.gather(
            pump(reader, up_writer, True), pump(up_reader, writer, False), return_exceptions=True
        )


@contextlib.asynccontextmanager
async def relayed(dsn: str) -> AsyncIterator[tuple[str, Relay]]:
    params = conninfo_to_dict(dsn)
    relay = Relay(str(params["host"]), int(str(params["port"])))
    server = await asyncio.start_server(relay.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield make_conninfo(dsn, host="127.0.0.1", port=port, sslmode="disable"), relay
    finally:
        server.close()


async def test_round_trips_of_appends_and_a_load(postgres_dsn: str) -> None:
    async with relayed(postgres_dsn) as (dsn, relay):
        # One connection: the first try prepares each statement on it (a round trip each
        # outside a pipeline), the others find them prepared.
        store = PostgresRunStore(
            dsn, schema="round_trips", signing_key=b"k" * 32, max_connections=1
        )
        try:
            tries = [await _count_trips(store, relay, f"r{n}") for n in range(3)][1:]
        finally:
            await store.close()
    # The owner's two appends at once; an append by nobody (which wakes the store's
    # subscribers) in a transaction; a load; the run's tip; a lease taken and given up.
    assert tries == [(1, 1, 2, 1, 1, 1, 1)] * 2


async def test_a_load_is_one_statement(postgres_dsn: str) -> None:
    async with relayed(postgres_dsn) as (dsn, relay):
        store = PostgresRunStore(
            dsn, schema="one_statement", signing_key=b"k" * 32, max_connections=1
        )
        try:
            await store.append("r0", 0, begun("r0", "c0"))
            await store.load("r0")  # prepares its statement
            before = relay.statements
            stored = await store.load("r0")
            # The run's summary and its rows, with no BEGIN and COMMIT of its own.
            assert relay.statements - before == 1
            assert stored.events == tuple(begun("r0", "c0"))
        finally:
            await store.close()


async def test_pending_approvals_is_one_statement(postgres_dsn: str) -> None:
    # An inbox polls it (and a DBOS deployment's deciders): the page of pending calls is
    # one SELECT, with no BEGIN and COMMIT of its own around it.
    async with relayed(postgres_dsn) as (dsn, relay):
        store = PostgresRunStore(
            dsn, schema="pending_one", signing_key=b"k" * 32, max_connections=1
        )
        try:
            await store.append("p0", 0, [*begun("p0", "c0"), asked("c0")])
            await store.pending_approvals()  # prepares its statement
            before, trips = relay.statements, relay.trips
            pending = await store.pending_approvals(limit=10)
            assert (relay.statements - before, relay.trips - trips) == (1, 1)
            assert [(item.run_id, item.call_id) for item in pending] == [("p0", "c0")]
        finally:
            await store.close()


async def _count_trips(store: PostgresRunStore, relay: Relay, run_id: str) -> tuple[int, ...]:
    """Round trips of two appends by the run's owner, one by nobody, a load, a tip, and a
    lease taken and given up."""
    events = begun(run_id, "c1")
    # The first opens the pool, creates the schema.
    await store.append(run_id, 0, events, owner="w")
    seq = len(events)
    counts = []
    for step in (
        lambda: store.append(run_id, seq, [ToolStarted("c1")], owner="w"),
        lambda: store.append(run_id, seq + 1, [ToolCompleted("c1", "done")], owner="w"),
        lambda: store.append(run_id, seq + 2, [responded("c2")]),
        lambda: store.load(run_id),
        lambda: store.tip(run_id),
        lambda: store.acquire(run_id, "w", 30),
        lambda: store.release(run_id, "w"),
    ):
        before = relay.trips
        await step()
        counts.append(relay.trips - before)
    assert (await store.load(run_id)).seq == seq + 3
    return tuple(counts)


async def test_a_new_run_is_not_looked_for_before_it_is_created(postgres_dsn: str) -> None:
    # Its insert writes nothing if the id is taken: a run the store has is refused by it,
    # and nothing of the refused append is written.
    async with relayed(postgres_dsn) as (dsn, relay):
        store = PostgresRunStore(dsn, schema="creates", signing_key=b"k" * 32, max_connections=1)
        try:
            trips = []
            for n in range(3):  # the first prepares the statements on the connection
                before = relay.trips
                await store.append(f"c{n}", 0, begun(f"c{n}", "c1"), owner="w", lease_ttl=30)
                trips.append(relay.trips - before)
            with pytest.raises(RunConflictError, match="already exists"):
                await store.append("c1", 0, begun("c1", "other"), owner="x", lease_ttl=30)
            stored = await store.load("c1")
        finally:
            await store.close()
    assert trips[1:] == [2, 2]  # the run's row; then its events, its update and the commit
    assert stored.events == tuple(begun("c1", "c1"))
    assert stored.summary.lease_owner == "w"
