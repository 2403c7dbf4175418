"""PostgreSQL's one-round-trip paths against the transactions they replace, in one process.

    uv run python benchmarks/pg_round_trips.py [--rounds 12] [--turns 50] [--latency MS]

Starts a private durable PostgreSQL (as ``stores.py`` does) and alternates, round by
round on one ``PostgresRunStore``:

- **appends**: the run loop's appends by the run's owner (a model response, a tool's
  start, its completion: ``store_appends.turn_events``) as one statement each, against
  the same appends in a transaction of two round trips (the store's one-statement
  append switched off for that round);
- **loads**: ``store.load`` of a 10-turn run, one statement (the run's summary and its
  events in one query, no transaction of its own), against the same load in a
  transaction (two round trips).

``--latency MS`` puts a relay between the store and the server that holds each chunk of
bytes for MS milliseconds each way, as a server on another machine would (the relay, in
this process, adds its own few tenths of a millisecond).

Each figure is the median over the rounds of a round's mean, so that a noisy moment
moves both sides alike; the appends are also given in this process's CPU time (the
driver's work, which the wall time's wait for the server's WAL flush hides on a machine
whose disk syncs slowly or unevenly). tether-only: both sides are tether; the comparison with
LangGraph's checkpointers is ``stores.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import measures
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from store_appends import turn_events
from stores import durable_postgres

from tether.items import user_message
from tether.journal._events import RunStarted
from tether.store import PostgresRunStore


async def _new_run(store: PostgresRunStore, turns: int) -> tuple[str, int]:
    run_id = f"run_{uuid.uuid4().hex}"
    first = RunStarted(run_id, "Bench", [user_message("go")], turns + 5)
    seq = await store.append(run_id, 0, [first], owner="bench")
    for turn in range(turns):
        for events in turn_events(turn):
            seq = await store.append(run_id, seq, events, owner="bench")
    return run_id, seq


async def _appends(store: PostgresRunStore, turns: int) -> tuple[float, float]:
    """Mean seconds per append of a new run of ``turns`` turns: wall time, CPU time."""
    began, cpu = time.perf_counter(), time.process_time()
    _, seq = await _new_run(store, turns)
    return (time.perf_counter() - began) / seq, (time.process_time() - cpu) / seq


async def _loads(store: PostgresRunStore, run_id: str, count: int = 20) -> tuple[float, float]:
    began, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        await store.load(run_id)
    return (time.perf_counter() - began) / count, (time.process_time() - cpu) / count


Figures = tuple[float, float]


async def _alternate(
    rounds: int, one: Callable[[], Awaitable[Figures]], other: Callable[[], Awaitable[Figures]]
) -> tuple[Figures, Figures]:
    """Median over ``rounds`` of each side's figures (wall, CPU), the sides taking turns
    (after two rounds of warm-up)."""
    firsts: list[Figures] = []
    seconds: list[Figures] = []
    for round_ in range(rounds + 2):
        a, b = await one(), await other()
        if round_ >= 2:
            firsts.append(a)
            seconds.append(b)
    return _medians(firsts), _medians(seconds)


def _medians(figures: list[Figures]) -> Figures:
    return statistics.median(f[0] for f in figures), statistics.median(f[1] for f in figures)


def _line(label: str, side: Figures, other: Figures | None = None) -> str:
    ratio = "" if other is None else f"  ({side[0] / other[0]:.2f}, CPU {side[1] / other[1]:.2f})"
    return f"{label:<27}{side[0] * 1e3:.3f} ms, CPU {side[1] * 1e3:.3f} ms{ratio}"


@contextlib.asynccontextmanager
async def _delayed(dsn: str, latency: float) -> AsyncIterator[str]:
    """``dsn`` through a relay that holds each chunk ``latency`` seconds each way."""
    if latency <= 0:
        yield dsn
        return
    params = conninfo_to_dict(dsn)
    target = (str(params["host"]), int(str(params["port"])))
    serving: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        serving.add(asyncio.current_task())  # type: ignore[arg-type]
        up_reader, up_writer = await asyncio.open_connection(*target)

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            while data := await source.read(65536):
                await asyncio.sleep(latency)
                sink.write(data)
                await sink.drain()
            sink.close()

        await asyncio.gather(
            pump(reader, up_writer), pump(up_reader, writer), return_exceptions=True
        )

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield make_conninfo(dsn, host="127.0.0.1", port=port, sslmode="disable")
    finally:
        server.close()
        # The store closed its connections: each relay ends as the server hangs up.
        if serving:
            await asyncio.wait(serving, timeout=5)


async def main(dsn: str, rounds: int, turns: int, latency: float) -> None:
    async with _delayed(dsn, latency) as reached:
        await _compare(reached, rounds, turns)


async def _compare(dsn: str, rounds: int, turns: int) -> None:
    async with PostgresRunStore(dsn, schema="round_trips", signing_key=b"k" * 32) as store:
        dialect = store._dialect
        statement = dialect.append_at_once
        alone = store._alone

        async def appends_at_once() -> Figures:
            dialect.append_at_once = statement
            return await _appends(store, turns)

        async def appends_in_transactions() -> Figures:
            dialect.append_at_once = None
            try:
                return await _appends(store, turns)
            finally:
                dialect.append_at_once = statement

        run_id, _ = await _new_run(store, 10)

        async def load_in_one_trip() -> Figures:
            return await _loads(store, run_id)

        async def load_in_a_transaction() -> Figures:
            store._alone = lambda make, write=True, durable=True: store._transact(  # type: ignore[method-assign]
                make, write, durable
            )
            try:
                return await _loads(store, run_id)
            finally:
                store._alone = alone  # type: ignore[method-assign]

        once, transaction = await _alternate(rounds, appends_at_once, appends_in_transactions)
        print(_line("append, one statement", once, transaction))
        print(_line("append, in a transaction", transaction))
        one, two = await _alternate(rounds, load_in_one_trip, load_in_a_transaction)
        print(_line("load of 10 turns, one trip", one, two))
        print(_line("load, in a transaction", two))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--turns", type=int, default=50, help="turns of each appended run")
    parser.add_argument("--latency", type=float, default=0.0, help="ms added each way")
    args = parser.parse_args()
    before = measures.machine()
    with durable_postgres() as dsn:
        asyncio.run(main(dsn, args.rounds, args.turns, args.latency / 1000))
    print(f"latency added each way: {args.latency} ms")
    after = measures.machine()
    print(f"load average before {before['loadavg']}, after {after['loadavg']}")
