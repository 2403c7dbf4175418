"""How many round trips to PostgreSQL a store call takes, counted on the wire.

The store talks to the server through a loopback relay that counts the times the server
answers after the client spoke (one round trip each). A transaction runs in pipeline
mode: a statement whose answer the program does not need is sent without waiting for
it, so an append to a run is two round trips (the read of the run's row; then the event
rows, the run's update and the commit) and a load two (the run's row and its events, sent
together; the commit). An append by the run's owner of a run the store holds the view of
(the run loop's appends) is one statement, so one round trip. A connection leaving the
pool is not asked whether it is alive while its socket is quiet.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tether.journal._events import ToolCompleted, ToolStarted
from tether.store import PostgresRunStore

from .test_conformance import begun, responded


class Relay:
    """A TCP relay to the server that counts round trips over all its connections."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self.trips = 0
        self.watch: Callable[[bytes], None] = lambda data: None
        """Called with what each client sends (``test_lease_durability`` reads it)."""
        self._tasks: set[asyncio.Task[None]] = set()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        spoke = [False]  # the client sent something the server has not answered yet

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, up: bool) -> None:
            while data := await source.read(65536):
                if up:
                    spoke[0] = True
                    self.watch(data)
                elif spoke[0]:
                    spoke[0] = False
                    self.trips += 1
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
    # A statement sent without waiting may still reach the server after the server answered
    # the one before (a busy machine): the relay then sees one trip more. The fewest of three
    # tries is what the store needs; a store that waits more needs it every time.
    async with relayed(postgres_dsn) as (dsn, relay):
        store = PostgresRunStore(dsn, schema="round_trips", signing_key=b"k" * 32)
        try:
            tries = [await _count_trips(store, relay, f"r{n}") for n in range(3)]
        finally:
            await store.close()
    fewest = tuple(min(counts) for counts in zip(*tries, strict=True))
    # The owner's two appends at once; an append by nobody (which wakes the store's
    # subscribers) in a transaction; a load.
    assert fewest == (1, 1, 2, 2), tries


async def _count_trips(store: PostgresRunStore, relay: Relay, run_id: str) -> tuple[int, ...]:
    """Round trips of two appends by the run's owner, one by nobody, and a load."""
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
    ):
        before = relay.trips
        await step()
        counts.append(relay.trips - before)
    assert (await store.load(run_id)).seq == seq + 3
    return tuple(counts)
