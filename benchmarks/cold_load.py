"""Where a paused run's first load by another store object goes, phase by phase.

    uv run python benchmarks/cold_load.py [--postgres DSN] [--rounds 25] [--after-write]

A run paused at its approval (``stores_tether.py``'s workload, 10 and 1,000 turns) on a
signed ``SQLiteRunStore`` (and ``PostgresRunStore`` with ``--postgres``), then, each round,
a new store object on the same database (its connection warmed on the run) loads it as a
worker or an inbox in another process would, with nothing of it held: ``load_state``
whole, then each phase alone, in this thread's CPU time (``time.thread_time``: the
machine's other work moves it less than the wall clock). Phases: the SQL read (the run's
row and its event rows without their MACs: the run is sealed; a long run's texts are read
joined, in a read of their own), the check (the digest of the texts and the run's seal,
see ``tether.store._seal``), decoding the events, folding them, and making the state (the
fold included: it is made for the state). Medians over the rounds, in ms.

``--after-write`` times the load as ``stores_tether.measure`` does instead: each round the
writer writes a new run of that length and the cold store's first load of it follows at
once (``first``, wall clock), then the same load again with nothing of it held (``again``,
as in the rounds above); ``gc`` is the time the garbage collector ran within each, from
``gc.callbacks``, and ``sql`` the SQL read within each. The difference is what a load
right after another connection's writes pays: the connection's page cache, which SQLite
drops when another connection commits, read again; the collector's passes over the
writer's young objects; caches the writing left cold.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import itertools
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import stores_tether as st

from tether.run._stored import state_from_stored
from tether.store import PostgresRunStore, RunStore, SQLiteRunStore, _reads, load_state
from tether.store._codec import decode_events, decode_joined, verify_rows
from tether.store._gate import FoldGate, fold
from tether.store._seal import digest_of, digest_of_joined, unseal

TURNS = (10, 1000)
PHASES = ("load_state", "sql", "seal", "decode", "fold", "state")


async def phases(make: Callable[[], RunStore], rounds: int) -> dict[int, dict[str, float]]:
    """Medians (seconds of CPU) of each phase of a cold load of each run."""
    async with make() as writer:
        runs = {turns: await st.start(writer, turns, None) for turns in TURNS}
    out: dict[int, dict[str, float]] = {}
    for turns, (run_id, agent) in runs.items():
        times: dict[str, list[float]] = {phase: [] for phase in PHASES}
        for _ in range(rounds):
            async with make() as cold:
                store: Any = cold  # a SQLRunStore: its parts are timed one by one
                await load_state(store, run_id, agent)  # the connection, warmed
                store._gate = FoldGate()
                began = time.thread_time()
                await load_state(store, run_id, agent)
                times["load_state"].append(time.thread_time() - began)
                marks = [time.thread_time()]
                read = functools.partial(
                    _reads.load, store._dialect, run_id, store._clock(), macs=False
                )
                loaded = await store._run(read, write=False, alone=True)
                joined = None
                if loaded.withheld:  # a long run: its texts, read joined
                    texts = functools.partial(_reads.joined, store._dialect, run_id)
                    joined = await store._run(texts, write=False, alone=True)
                marks.append(time.thread_time())
                seq, keys = loaded.summary.seq, store._verify_keys
                if joined is not None:
                    digest = digest_of_joined(joined.text)
                    assert joined.rows == (seq, 1, seq), "rows 1..seq"
                else:
                    digest = digest_of([text for _, text, _ in loaded.rows])
                sealed = unseal(keys, run_id, seq, loaded.head, digest, loaded.seal)
                assert sealed, "the paused run is sealed"
                if joined is None:
                    verify_rows(run_id, seq, loaded.rows, keys, sealed=sealed)
                marks.append(time.thread_time())
                if joined is not None:
                    events = tuple(decode_joined(run_id, joined.text))
                else:
                    events = tuple(decode_events(run_id, [text for _, text, _ in loaded.rows]))
                marks.append(time.thread_time())
                fold(events)
                marks.append(time.thread_time())
                store._gate = FoldGate()
                stored = await store.load(run_id)
                marks.append(time.thread_time())
                state_from_stored(store, stored, agent)
                marks.append(time.thread_time())
            steps = [after - before for before, after in itertools.pairwise(marks)]
            for phase, took in zip(("sql", "seal", "decode", "fold"), steps, strict=False):
                times[phase].append(took)
            times["state"].append(steps[-1])
        out[turns] = {phase: statistics.median(each) for phase, each in times.items()}
    return out


class _Clocks:
    """The garbage collector's and the SQL read's time within a timed load."""

    def __init__(self, store: Any) -> None:
        self.gc = self.sql = 0.0
        self._began = 0.0
        read = store._read

        async def timed_read(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return await read(*args, **kwargs)
            finally:
                self.sql += time.perf_counter() - began

        store._read = timed_read

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.gc += time.perf_counter() - self._began


async def after_write(make: Callable[[], RunStore], rounds: int) -> dict[int, dict[str, float]]:
    """Medians (wall seconds) of a first load right after the run is written, and again."""
    out: dict[int, dict[str, float]] = {}
    async with make() as writer, make() as cold:
        store: Any = cold
        clocks = _Clocks(store)
        gc.callbacks.append(clocks)
        try:
            warm_id, warm_agent = await st.start(writer, 2, None)
            await load_state(cold, warm_id, warm_agent)  # the connection, warmed
            for turns in TURNS:
                times: dict[str, list[float]] = {}
                for _ in range(rounds):
                    run_id, agent = await st.start(writer, turns, None)
                    for name in ("first", "again"):
                        store._gate = FoldGate()
                        clocks.gc = clocks.sql = 0.0
                        began = time.perf_counter()
                        await load_state(cold, run_id, agent)
                        took = time.perf_counter() - began
                        for key, value in (("", took), (" gc", clocks.gc), (" sql", clocks.sql)):
                            times.setdefault(name + key, []).append(value)
                out[turns] = {name: statistics.median(each) for name, each in times.items()}
        finally:
            gc.callbacks.remove(clocks)
    return out


def show(backend: str, results: dict[int, dict[str, float]]) -> None:
    for turns, each in results.items():
        cells = "  ".join(f"{phase} {took * 1e3:.3f}" for phase, took in each.items())
        print(f"{backend} {turns:>5} turns ({turns * 3} rows): {cells}")


async def main(args: argparse.Namespace) -> None:
    measure = after_write if args.after_write else phases
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "runs.db"
        show("sqlite", await measure(lambda: SQLiteRunStore(path, signing_key="k"), args.rounds))
    if args.postgres:
        dsn = args.postgres
        schema = f"cold_load_{int(time.time())}"
        show(
            "postgres",
            await measure(
                lambda: PostgresRunStore(dsn, schema=schema, signing_key="k"), args.rounds
            ),
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", help="a DSN of a database to hold the run store")
    parser.add_argument("--rounds", type=int, default=25, help="cold loads per run")
    parser.add_argument(
        "--after-write", action="store_true", help="each load right after its run is written"
    )
    asyncio.run(main(parser.parse_args()))
