"""What keeping a run in a store costs: append time and bytes per step, and load time.

    uv run python benchmarks/store_appends.py [--turns 1000] [--postgres DSN]

A run of N turns is appended the way ``Runner.run(..., store=)`` appends it:
per turn, the model's response, then ``ToolStarted``, then ``ToolCompleted``
(three compare-and-appends). Reported: the median time of a turn's appends
around turn 10 and around the last turn, the bytes a turn adds, and the time
to load runs of growing length. An append writes only the new events, so its
cost should not grow with the run (a checkpointer that rewrites the whole
conversation at each step grows linearly). tether-only: there is no peer in
this script (see docs/benchmarks.md for the SDK comparison).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from tether.items import function_call, user_message
from tether.journal._events import ModelResponded, RunStarted, ToolCompleted, ToolStarted
from tether.store import PostgresRunStore, RunStore, SQLiteRunStore
from tether.store._codec import encode_events


def turn_events(i: int) -> list[list[object]]:
    call = f"call_{i}"
    response = ModelResponded("Bench", [function_call("lookup", '{"q": "x"}', call)])
    return [[response], [ToolStarted(call)], [ToolCompleted(call, "result " * 20)]]


async def append_run(store: RunStore, turns: int) -> tuple[str, list[float], list[int]]:
    run_id = f"run_{uuid.uuid4().hex}"
    seq = await store.append(run_id, 0, [RunStarted(run_id, "Bench", [user_message("go")], turns)])
    times: list[float] = []
    sizes: list[int] = []
    for i in range(turns):
        batches = turn_events(i)
        start = time.perf_counter()
        for batch in batches:
            seq = await store.append(run_id, seq, batch)  # type: ignore[arg-type]
        times.append(time.perf_counter() - start)
        sizes.append(sum(len(t.encode()) for b in batches for t in encode_events(b)))  # type: ignore[arg-type]
    return run_id, times, sizes


async def measure(store: RunStore, name: str, turns: int) -> None:
    run_id, times, sizes = await append_run(store, turns)
    early = statistics.median(times[5:15]) * 1e3
    late = statistics.median(times[-10:]) * 1e3
    print(f"{name}: a turn's appends take {early:.2f} ms at turn 10, {late:.2f} ms at turn {turns}")
    print(f"{name}: a turn adds {sizes[9]} bytes of events at turn 10, {sizes[-1]} at turn {turns}")
    for length in (10, 100, turns):
        rid, _, _ = await append_run(store, length) if length != turns else (run_id, [], [])
        start = time.perf_counter()
        for _ in range(5):
            await store.load(rid)
        took = (time.perf_counter() - start) / 5 * 1e3
        print(f"{name}: loading a run of {length} turns takes {took:.2f} ms")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with SQLiteRunStore(Path(folder) / "runs.db", signing_key="bench") as store:
            await measure(store, "SQLite", args.turns)
    if args.postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        async with PostgresRunStore(args.postgres, schema=schema, signing_key="bench") as pg:
            await measure(pg, "PostgreSQL", args.turns)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument("--postgres", help="a DSN; the tables go in a fresh schema")
    asyncio.run(main(parser.parse_args()))
