"""What a worker's poll, the inbox and the expiry sweep cost as paused runs pile up: 100
against 100,000 paused runs, on SQLite and on PostgreSQL.

    uv run python benchmarks/scale_reads.py [--small 100] [--large 100000] \
        [--backend sqlite|postgres|both] [--postgres DSN] [--reps 30] [--quick]

For each backend and size, a fresh store is filled with paused runs, each waiting for one
approval (``fill``: the fast loader below), then, each median of ``--reps``:

- worker poll: ``Worker.run_once()`` with nothing to do (``recoverable()`` and the retry
  pass's ``list_runs(status="failed")``; the expiry sweep is timed on its own);
- inbox first page: ``Inbox.pending(limit=50)``;
- next page: the page after a first page of 20;
- one decision: ``Inbox.decide`` (load the run, check, compare-and-append);
- expiry sweep with 10 due: ``expire_approvals`` when exactly 10 deadlines have passed
  (median of 5 sweeps).

Reported: each median at both sizes and their ratio (large / small); a read whose cost
follows what it returns keeps every ratio near 1. Never run this while tests run.

The fast loader: appending 100,000 runs one transaction each takes minutes, so ``fill``
writes the rows an append writes, in bulk, in one transaction (SQLite ``executemany``,
PostgreSQL ``COPY``), computed by the store's own code: the events of one run made by the
real loop under a new run id and deadline, encoded (``encode_events``), chained and signed
(``chain_mac``), folded and projected (``project``). The smoke test checks that its rows
equal what ``append`` writes. PostgreSQL's tables are then analyzed, as autovacuum would
have done while they grew.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from tether import Agent, Approver, Governance, Runner, function_tool
from tether._signing import resolve_keys
from tether.journal._events import ApprovalRequested, Event, RunStarted
from tether.server import App
from tether.server._worker import Worker
from tether.store import PostgresRunStore, RunStore, SQLiteRunStore, expire_approvals
from tether.store._codec import chain_mac, encode_events
from tether.store._engine import touched
from tether.store._gate import fold
from tether.store._pending_rows import PENDING_COLUMNS
from tether.store._projection import project, status_columns
from tether.store._seal import SEALED_STATUSES, digest_of, seal
from tether.store._sqlite_dialect import SQLiteDialect
from tether.testing import ScriptedModel, tool_call

ROOT = Path(__file__).resolve().parent.parent
KEY = b"scale-reads-benchmark-signing-key"
_KEYS = resolve_keys(KEY)
SOON = timedelta(hours=1)
"""The deadline of the first runs (the sweeps expire them, 10 at a time)."""
LATER = timedelta(days=30)
"""The deadline of every other run."""
OPERATIONS = ("worker_poll", "first_page", "next_page", "decide", "sweep_10")
SWEEPS = 5
"""Sweeps of 10 per size (the small store must hold 10 due runs for each)."""


@function_tool(needs_approval=True, approval_timeout=timedelta(days=30))
def refund(order: str) -> str:
    """Refund an order."""
    return f"Refunded {order}"


AGENT = Agent(name="Support", model=ScriptedModel([]), tools=[refund])


class Clock:
    """The governance's time: still, until a sweep moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def template(folder: Path) -> list[Event]:
    """The events of one run paused on one approval, made by the real loop."""
    agent = AGENT.clone(model=ScriptedModel([tool_call("refund", {"order": "A-1"}, "call_1")]))
    store = SQLiteRunStore(folder / "template.db", signing_key=KEY)
    try:
        result = await Runner.run(agent, "Refund A-1", store=store)
        return list((await store.load(result.run_id)).events)
    finally:
        await store.close()


def run_events(events: list[Event], run_id: str, deadline: datetime) -> list[Event]:
    """The template's events as run ``run_id``'s, its approval due at ``deadline``."""
    out: list[Event] = []
    for event in events:
        if isinstance(event, RunStarted):
            event = dataclasses.replace(event, run_id=run_id)
        elif isinstance(event, ApprovalRequested):
            event = dataclasses.replace(event, expires_at=deadline.isoformat())
        out.append(event)
    return out


@dataclasses.dataclass
class Rows:
    """The rows appends would write, per table, in the tables' column order."""

    runs: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)
    events: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)
    pending: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)


def rows_of(
    events: list[Event], run_id: str, at: datetime, stamp: Callable[[datetime], Any]
) -> Rows:
    """What one append of ``events`` creating run ``run_id`` at ``at`` writes."""
    assert _KEYS is not None
    rows, head = Rows(), None
    when = stamp(at)
    texts = encode_events(events)
    for seq, (event, text) in enumerate(zip(events, texts, strict=True), 1):
        head = chain_mac(_KEYS.signing, head, run_id, seq, text)
        rows.events.append((run_id, seq, event.kind, text, head, when))
    projection = project(fold(events))
    for row in projection.pending.values():
        expires = stamp(row.expires_at) if row.expires_at is not None else None
        rows.pending.append(row.values(run_id, when, expires))
    assert not projection.in_flight
    start = events[0]
    assert isinstance(start, RunStarted)
    (status, doubt), seq = status_columns(projection.status), len(events)
    row = (run_id, start.agent, status, seq, head, None, None, when, when, 1)
    # A run the append leaves waiting (or ended) is sealed, as the append seals it.
    assert head is not None
    sealed = projection.status in SEALED_STATUSES
    ends = seal(_KEYS.signing, run_id, seq, head, digest_of(texts)) if sealed else None
    rows.runs.append((*row, doubt, stamp(touched(at)), ends))
    return rows


def paused_rows(
    events: list[Event], count: int, base: datetime, soon: int, stamp: Callable[[datetime], Any]
) -> Rows:
    """``count`` paused runs created before ``base``, oldest first; the first ``soon`` due a
    minute apart from ``base + SOON``, the others at ``base + LATER``."""
    rows = Rows()
    for i in range(count):
        run_id = f"run_{i:07d}_{uuid.uuid4().hex[:8]}"
        due = base + SOON + timedelta(minutes=i) if i < soon else base + LATER
        created = base - timedelta(milliseconds=count - i)
        one = rows_of(run_events(events, run_id, due), run_id, created, stamp)
        rows.runs += one.runs
        rows.events += one.events
        rows.pending += one.pending
    return rows


_RUN_COLUMNS = "id, root_agent, status, seq, head_mac, lease_owner, lease_until, "
_RUN_COLUMNS += "created_at, updated_at, version, in_doubt, touched_at, seal"
_EVENT_COLUMNS = "run_id, seq, kind, event, mac, appended_at"
_COLUMNS = {"runs": _RUN_COLUMNS, "events": _EVENT_COLUMNS, "pending": ", ".join(PENDING_COLUMNS)}


def load_sqlite(path: str, rows: Rows) -> None:
    """The rows in one transaction, as appends would have left them."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        for table, columns in _COLUMNS.items():
            marks = ", ".join("?" * len(columns.split(", ")))
            conn.executemany(
                f"INSERT INTO tether_{table} ({columns}) VALUES ({marks})", getattr(rows, table)
            )
        conn.execute("COMMIT")
    finally:
        conn.close()


def load_postgres(dsn: str, schema: str, rows: Rows) -> None:
    """The rows in one transaction (``COPY``), then the tables analyzed."""
    with psycopg.connect(dsn) as conn:
        with conn.cursor() as cur:
            for table, columns in _COLUMNS.items():
                with cur.copy(f'COPY "{schema}".{table} ({columns}) FROM STDIN') as copy:
                    for row in getattr(rows, table):
                        copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        for table in _COLUMNS:
            conn.execute(f'ANALYZE "{schema}".{table}')


@dataclasses.dataclass
class Target:
    """Where one measured store lives."""

    backend: str
    folder: Path
    dsn: str | None = None

    def open(self, name: str) -> tuple[RunStore, Callable[[Rows], None]]:
        """A new store, and how to bulk-load rows into it."""
        if self.backend == "sqlite":
            path = str(self.folder / f"{name}.db")
            return SQLiteRunStore(path, signing_key=KEY), lambda rows: load_sqlite(path, rows)
        assert self.dsn is not None
        schema, dsn = f"bench_{name}_{uuid.uuid4().hex[:8]}", self.dsn
        store = PostgresRunStore(dsn, schema=schema, signing_key=KEY)
        return store, lambda rows: load_postgres(dsn, schema, rows)

    def stamp(self, moment: datetime) -> Any:
        return SQLiteDialect("").stamp(moment) if self.backend == "sqlite" else moment


async def fill(
    target: Target, name: str, events: list[Event], count: int, soon: int, base: datetime
) -> RunStore:
    """A new store holding ``count`` paused runs (see ``paused_rows``)."""
    store, load = target.open(name)
    await store.migrate()  # creates the store's tables
    rows = paused_rows(events, count, base, soon, target.stamp)
    await asyncio.to_thread(load, rows)
    return store


async def timed(act: Callable[[], Awaitable[Any]]) -> float:
    began = time.perf_counter()
    await act()
    return time.perf_counter() - began


class Bench:
    """One filled store, its inbox and a worker, and each operation (see the module) timed."""

    def __init__(self, store: RunStore, runs: int, base: datetime) -> None:
        self.store, self.runs, self.base = store, runs, base
        self.clock = Clock(base)
        self.governance = Governance(clock=self.clock)
        app = App([AGENT], store, governance=self.governance, sweep_interval=3600.0)
        self.worker, self.inbox = Worker(app), app.inbox
        self.decided: list[str] = []

    async def warm(self, reps: int) -> None:
        await self.worker.run_once()  # the worker's first pass sweeps too: nothing is due
        await self.inbox.pending(limit=50)
        # The newest runs are decided; the oldest (10 * SWEEPS of them) are the sweeps'.
        newest = await self.inbox.pending(order="newest", limit=reps)
        self.decided = [call.run_id for call in newest.calls]

    async def worker_poll(self, rep: int) -> float:
        return await timed(self.worker.run_once)

    async def first_page(self, rep: int) -> float:
        return await timed(lambda: self.inbox.pending(limit=50))

    async def next_page(self, rep: int) -> float:
        cursor = (await self.inbox.pending(limit=20)).next_cursor
        assert cursor is not None
        return await timed(lambda: self.inbox.pending(limit=20, cursor=cursor))

    async def decide(self, rep: int) -> float:
        run_id = self.decided[rep]
        return await timed(lambda: self.inbox.decide(run_id, "call_1", Approver("b"), "approve"))

    async def sweep_10(self, rep: int) -> float:
        self.clock.now = self.base + SOON + timedelta(minutes=10 * rep + 9, seconds=30)
        began = time.perf_counter()
        result = await expire_approvals(self.store, governance=self.governance, limit=11)
        seconds = time.perf_counter() - began
        assert len(result.expired) == 10, (self.runs, rep, len(result.expired))
        return seconds


async def measure(benches: list[Bench], reps: int) -> list[dict[str, float]]:
    """The median seconds of each operation on each store, the stores taken in turn at each
    repetition (so that a change in the machine's load falls on both alike)."""
    for bench in benches:
        await bench.warm(reps)
    times: list[dict[str, list[float]]] = [{name: [] for name in OPERATIONS} for _ in benches]
    for name in OPERATIONS:  # in this order: polls and pages before decisions change runs
        for rep in range(SWEEPS if name == "sweep_10" else reps):
            for bench, mine in zip(benches, times, strict=True):
                mine[name].append(await getattr(bench, name)(rep))
    return [{name: statistics.median(v) for name, v in mine.items()} for mine in times]


async def backend_ratios(
    target: Target, sizes: tuple[int, int], reps: int
) -> dict[int, dict[str, float]]:
    """Each size's medians on one backend: both stores filled, then measured in turn."""
    events = await template(target.folder)
    benches: list[Bench] = []
    try:
        for runs in sizes:
            if runs < 10 * SWEEPS + 20 + reps:
                raise SystemExit(f"{runs} runs: too few for {reps} reps (see --reps)")
            base = datetime.now(UTC)
            began = time.perf_counter()
            store = await fill(target, f"r{runs}", events, runs, 10 * SWEEPS, base)
            benches.append(Bench(store, runs, base))
            filled = time.perf_counter() - began
            print(f"  {target.backend}: {runs} paused runs filled in {filled:.1f} s", flush=True)
        medians = await measure(benches, reps)
    finally:
        for bench in benches:
            await bench.store.close()
    return dict(zip(sizes, medians, strict=True))


def table(backend: str, results: dict[int, dict[str, float]], small: int, large: int) -> str:
    lines = [f"{backend}: {'operation':<12} {small:>9} runs {large:>9} runs   ratio"]
    for name in OPERATIONS:
        a, b = results[small][name], results[large][name]
        lines.append(f"{backend}: {name:<12} {a * 1e3:>11.2f} ms {b * 1e3:>11.2f} ms {b / a:>7.2f}")
    return "\n".join(lines)


@contextlib.contextmanager
def postgres(dsn: str | None) -> Iterator[str]:
    if dsn:
        yield dsn
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from services import postgres_server  # the tests' private server on loopback

    with postgres_server() as server:
        yield server.dsn


async def main(args: argparse.Namespace) -> dict[str, dict[int, dict[str, float]]]:
    small, large = (100, 2_000) if args.quick else (args.small, args.large)
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    out: dict[str, dict[int, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            with contextlib.ExitStack() as stack:
                dsn = (
                    stack.enter_context(postgres(args.postgres)) if backend == "postgres" else None
                )
                target = Target(backend, Path(tmp), dsn)
                out[backend] = await backend_ratios(target, (small, large), args.reps)
    for backend, results in out.items():
        print(table(backend, results, small, large))
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", type=int, default=100)
    p.add_argument("--large", type=int, default=100_000)
    p.add_argument("--reps", type=int, default=30)
    p.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    p.add_argument("--postgres", help="a PostgreSQL DSN (default: a private server on loopback)")
    p.add_argument("--quick", action="store_true", help="100 against 2,000 runs")
    return p


if __name__ == "__main__":
    asyncio.run(main(parser().parse_args()))
