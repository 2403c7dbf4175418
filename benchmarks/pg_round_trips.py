"""PostgreSQL's one-round-trip paths against the transactions they replace, in one process.

    uv run python benchmarks/pg_round_trips.py [--rounds 12] [--turns 50]

Starts a private durable PostgreSQL (as ``stores.py`` does) and alternates, round by
round on one ``PostgresRunStore``:

- **appends**: the run loop's appends by the run's owner (a model response, a tool's
  start, its completion: ``store_appends.turn_events``) as one statement each, against
  the same appends in a transaction of two round trips (the store's one-statement
  append switched off for that round);
- **loads**: ``store.load`` of a 10-turn run with its ``BEGIN``, queries and ``COMMIT``
  sent before one wait, against the same load in a transaction (two round trips).

Each figure is the median over the rounds of a round's mean, so that a noisy moment
moves both sides alike. tether-only: both sides are tether; the comparison with
LangGraph's checkpointers is ``stores.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

import measures
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


async def _appends(store: PostgresRunStore, turns: int) -> float:
    """Mean seconds per append of a new run of ``turns`` turns."""
    began = time.perf_counter()
    _, seq = await _new_run(store, turns)
    return (time.perf_counter() - began) / seq


async def _loads(store: PostgresRunStore, run_id: str, count: int = 20) -> float:
    began = time.perf_counter()
    for _ in range(count):
        await store.load(run_id)
    return (time.perf_counter() - began) / count


async def _alternate(
    rounds: int, one: Callable[[], Awaitable[float]], other: Callable[[], Awaitable[float]]
) -> tuple[float, float]:
    """Median over ``rounds`` of each side's figure, the sides taking turns (after two
    rounds of warm-up)."""
    firsts, seconds = [], []
    for round_ in range(rounds + 2):
        a, b = await one(), await other()
        if round_ >= 2:
            firsts.append(a)
            seconds.append(b)
    return statistics.median(firsts), statistics.median(seconds)


async def main(dsn: str, rounds: int, turns: int) -> None:
    async with PostgresRunStore(dsn, schema="round_trips", signing_key=b"k" * 32) as store:
        dialect = store._dialect
        statement = dialect.append_at_once
        alone = store._alone

        async def appends_at_once() -> float:
            dialect.append_at_once = statement
            return await _appends(store, turns)

        async def appends_in_transactions() -> float:
            dialect.append_at_once = None
            try:
                return await _appends(store, turns)
            finally:
                dialect.append_at_once = statement

        run_id, _ = await _new_run(store, 10)

        async def load_in_one_trip() -> float:
            return await _loads(store, run_id)

        async def load_in_a_transaction() -> float:
            store._alone = lambda make, write=True, durable=True: store._transact(  # type: ignore[method-assign]
                make, write, durable
            )
            try:
                return await _loads(store, run_id)
            finally:
                store._alone = alone  # type: ignore[method-assign]

        once, transaction = await _alternate(rounds, appends_at_once, appends_in_transactions)
        print(f"append, one statement      {once * 1e3:.3f} ms")
        print(f"append, in a transaction   {transaction * 1e3:.3f} ms  ({once / transaction:.2f})")
        one, two = await _alternate(rounds, load_in_one_trip, load_in_a_transaction)
        print(f"load of 10 turns, one trip {one * 1e3:.3f} ms")
        print(f"load, in a transaction     {two * 1e3:.3f} ms  ({one / two:.2f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--turns", type=int, default=50, help="turns of each appended run")
    args = parser.parse_args()
    before = measures.machine()
    with durable_postgres() as dsn:
        asyncio.run(main(dsn, args.rounds, args.turns))
    after = measures.machine()
    print(f"load average before {before['loadavg']}, after {after['loadavg']}")
