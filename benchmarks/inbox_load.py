"""What the approval inbox costs as paused runs pile up: the first page of pending
approvals (oldest and newest first), the page after it, and one decision, with 100 and
with 10,000 paused runs in the store.

    uv run python benchmarks/inbox_load.py [--small 100] [--large 10000] [--postgres DSN]

Reported: the median time of each operation at both sizes and their ratio
(large / small). Every listing reads one keyset page of the ``pending``
projection (through its index on the request time), and a decision loads and
appends to one run, so every ratio should stay near 1. Never run this while tests
run: it measures time.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tether import Agent, Approver, Runner, function_tool
from tether.journal._events import Event, RunStarted
from tether.server import Inbox
from tether.store import PostgresRunStore, RunStore, SQLiteRunStore
from tether.testing import ScriptedModel, tool_call


@function_tool(needs_approval=True)
def refund(order: str) -> str:
    """Refund an order."""
    return f"Refunded {order}"


AGENT = Agent(name="Support", model=ScriptedModel([]), tools=[refund])


async def template(store: RunStore) -> list[Event]:
    """The events of one run paused on one approval, made by the real loop."""
    agent = AGENT.clone(model=ScriptedModel([tool_call("refund", {"order": "A-1"}, "call_1")]))
    result = await Runner.run(agent, "Refund A-1", store=store)
    return list((await store.load(result.run_id)).events)


async def fill(store: RunStore, events: list[Event], count: int) -> list[str]:
    """``count`` paused runs: the template's events under new run ids."""
    start = events[0]
    assert isinstance(start, RunStarted)
    ids = []
    for _ in range(count):
        run_id = f"run_{uuid.uuid4().hex}"
        await store.append(run_id, 0, [dataclasses.replace(start, run_id=run_id), *events[1:]])
        ids.append(run_id)
    return ids


async def measure(store: RunStore, runs: int, reps: int) -> dict[str, float]:
    events = await template(store)
    ids = await fill(store, events, runs - 1)
    inbox = Inbox(store, [AGENT])
    await inbox.pending(limit=50)  # warm up: the first call pays for imports and caches
    await inbox.show(ids[-1])
    ids = ids[:-1]
    listing: list[float] = []
    newest: list[float] = []
    paging: list[float] = []
    deciding: list[float] = []
    for rep in range(reps):
        began = time.perf_counter()
        page = await inbox.pending(limit=50)
        listing.append(time.perf_counter() - began)
        assert len(page.calls) == min(50, runs - rep)
        began = time.perf_counter()
        await inbox.pending(limit=50, order="newest")
        newest.append(time.perf_counter() - began)
        # Pages of 20 for the next page: the small store keeps enough waiting calls for a
        # full second page while the decisions below take one away per repetition.
        first = await inbox.pending(limit=20)
        if first.next_cursor is not None:
            began = time.perf_counter()
            second = await inbox.pending(limit=20, cursor=first.next_cursor)
            paging.append(time.perf_counter() - began)
            assert len(second.calls) == 20
        began = time.perf_counter()
        await inbox.decide(ids[rep], "call_1", Approver("bench"), "approve")
        deciding.append(time.perf_counter() - began)
    return {
        "first_page": statistics.median(listing),
        "newest_page": statistics.median(newest),
        "next_page": statistics.median(paging) if paging else float("nan"),
        "decide": statistics.median(deciding),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--postgres", help="a PostgreSQL DSN (default: SQLite in a temp dir)")
    args = parser.parse_args()
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for runs in (args.small, args.large):
            store: Any
            if args.postgres:
                store = PostgresRunStore(args.postgres, schema=f"bench_{uuid.uuid4().hex[:8]}")
            else:
                store = SQLiteRunStore(Path(tmp) / f"runs-{runs}.db")
            try:
                results[runs] = await measure(store, runs, args.reps)
            finally:
                await store.close()
    small, large = results[args.small], results[args.large]
    print(f"{'operation':<12} {args.small:>8} runs {args.large:>8} runs   ratio")
    for key in ("first_page", "newest_page", "next_page", "decide"):
        print(
            f"{key:<12} {small[key] * 1000:>9.2f} ms {large[key] * 1000:>9.2f} ms "
            f"{large[key] / small[key]:>7.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
