"""Runs per second on DBOS workers, and what a run costs over plain tether with a run store.

    uv run python benchmarks/scale_out.py [--runs 200] [--warmup 10] [--poll 0.1]
        [--postgres DSN] [--only throughput|overhead] [--worker-concurrency 8]
        [--deciders 8] [--statements] [--rounds 1]

The workload is examples/scale_out.py: a run asks for a refund (a model call that
takes 50 ms, an ``asyncio.sleep``), pauses for one approval, and once approved
sends it and answers (a second 50 ms model call). Without ``--postgres`` a private
PostgreSQL is started on loopback (tests/services.py); each measurement gets
schemas of its own.

The driver (this process) stands in for the people deciding and the client
awaiting results, through the API a deployment has: it starts every run
(``app.start``), looks for pending approvals every 20 ms (``pending_approvals``
on the run store, as an inbox polls it), decides each call as it comes up with
``app.decide`` (the run loaded, the decision checked and authorized as any, stored,
then the run's workflow woken), ``--deciders`` decisions at once (people decide in
many inboxes at once; one at a time it approved about 40 runs a second, fewer than
three workers finish), and awaits each run's ``app.result`` once it is decided.

Reported:
- throughput: ``--runs`` runs through 1 and through 3 worker processes
  (``--worker-concurrency`` runs advancing at once in each), runs per second from
  the first start to the last result, and the ratio. Before each phase, ``--warmup``
  runs a worker go through the new workers untimed and unmetered: a worker's first
  runs build what it builds once (tether's validators, DBOS's statements, its pools'
  connections), which is not throughput (``--warmup 0``: timed from the workers'
  start). For each phase, the CPU used meanwhile (Linux; zero where /proc is not),
  in cores of the machine's and in ms per run (the figures to compare between
  versions on a shared machine): the worker processes, the driver, PostgreSQL (its
  postmaster and every process it runs or ran, when the server is on this machine),
  the whole machine (/proc/stat, all but idle and iowait), and ``other``: the
  machine's less those three, work that is not the benchmark's. A ratio below 3
  with the machine's cores busy is the machine's limit, not the workers'. With
  ``--statements`` (the private server only, restarted with pg_stat_statements)
  each phase also prints the SQL statements per run, the most frequent first.
  ``--rounds N`` measures both phases N times, the three-worker phase first in every
  other round (the machine's speed drifts from minute to minute, and on two cores the
  ratio follows it), then gives the median of the rounds' ratios with each round's;
- overhead: the time of one run, start to final output, run after run, on one
  DBOS worker against plain ``Runner.run(..., store=PostgresRunStore)`` in one
  process (start, pause, decide with ``save_state``, resume), and the difference.
  A run waits for no poll on a worker: it is taken as it is queued (``app.start``
  notifies the workers), its stretches are advanced in its own workflow while the
  worker has a free slot, a decision and the result are woken by PostgreSQL's
  NOTIFY (DBOS's messages and events); ``--poll`` is the safety net's period. The
  driver looks for the approval every 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "scale_out.py"
MODEL_DELAY = 0.05


def load_example(dsn: str, folder: Path, worker_concurrency: int, poll: float) -> ModuleType:
    """A fresh copy of the example app, on schemas of its own."""
    os.environ.update(
        SCALE_OUT_DIR=str(folder),
        SCALE_OUT_DB=dsn,
        SCALE_OUT_SCHEMA=f"bench_{uuid.uuid4().hex[:10]}",
        SCALE_OUT_MODEL_DELAY=str(MODEL_DELAY),
        SCALE_OUT_WORKER_CONCURRENCY=str(worker_concurrency),
        SCALE_OUT_POLL=str(poll),
    )
    spec = importlib.util.spec_from_file_location(f"scale_out_{uuid.uuid4().hex}", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def drive(
    example: ModuleType, runs: int, *, one_at_a_time: bool, deciders: int = 1
) -> list[float]:
    """Start ``runs`` runs, approve each call as it comes up; each run's seconds start to end."""
    app = example.app
    durations: list[float] = []

    async def one(i: int) -> None:
        start = time.perf_counter()
        run_id = await app.start(example.agent, f"Please refund order B-{i}")
        decided: set[str] = set()
        while not decided:  # the store is polled: another process asks for the decision
            decided = await example.approve_all({run_id})
            await asyncio.sleep(0.01)
        await app.result(run_id)
        durations.append(time.perf_counter() - start)

    if one_at_a_time:
        for i in range(runs):
            await one(i)
    else:
        ids = [await app.start(example.agent, f"Please refund order B-{i}") for i in range(runs)]
        await approve_as_they_come(example, set(ids), deciders)
    return durations


async def approve_as_they_come(example: ModuleType, runs: set[str], deciders: int) -> None:
    """Approve each run's call as it comes up, ``deciders`` decisions at once, then wait
    for the run's result.

    As in a deployment, where people decide in many inboxes at once: one decision is
    a load, a save and a wake-up message, about 20 ms of round trips, so one at a
    time the driver would approve at most about 50 runs a second however many
    workers run them. Each result is awaited as its run is approved, not all once
    every run is (each wait takes one of the driver's threads: ``main`` gives it
    enough)."""
    app = example.app
    deciding, waiting = asyncio.Semaphore(deciders), asyncio.Semaphore(deciders)
    taken: set[str] = set()
    finishing: set[asyncio.Task[None]] = set()

    async def finish(run_id: str, call_id: str) -> None:
        async with deciding:
            await app.decide(run_id, call_id, decision="approve", by="support-lead")
        async with waiting:  # bounded, so that decisions always find a thread
            await app.result(run_id)

    while len(taken) < len(runs):
        for pending in await app.store().pending_approvals(limit=1000):
            if pending.run_id in runs and pending.run_id not in taken:
                taken.add(pending.run_id)
                task = asyncio.create_task(finish(pending.run_id, pending.call_id))
                finishing.add(task)
        await asyncio.sleep(0.02)
    await asyncio.gather(*finishing)


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """CPU seconds a process has used so far (user and system; 0 where /proc is not),
    with ``children`` also its waited-for children's (a server's ended backends)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def server_pid(dsn: str) -> int | None:
    """The PostgreSQL postmaster behind ``dsn`` if it runs on this machine (the parent of
    a backend), else ``None``."""
    import psycopg

    with psycopg.connect(dsn) as conn:  # its parent read while the backend is there
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        postmaster = parent_of(int(row[0])) if row else None
    if postmaster is None or not Path(f"/proc/{postmaster}").exists():
        return None
    return postmaster


def server_cpu(postmaster: int | None) -> float:
    """CPU seconds of the PostgreSQL server so far: the postmaster, its backends and
    helpers now running, and (in the postmaster's children's times) those that ended."""
    if postmaster is None:
        return 0.0
    used = cpu_seconds(postmaster, children=True)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and parent_of(int(entry.name)) == postmaster:
            used += cpu_seconds(int(entry.name))
    return used


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores: /proc/stat less idle and
    iowait); 0 where there is no /proc/stat."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return 0.0
    ticks = [int(field) for field in first[1:9]]  # user nice system idle iowait irq softirq steal
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


@dataclass
class Phase:
    """A throughput phase: runs per second, and CPU seconds per kind of process."""

    runs: int
    seconds: float
    workers: float
    driver: float
    server: float
    machine: float

    @property
    def rate(self) -> float:
        return self.runs / self.seconds

    def cores(self, used: float) -> float:
        return used / self.seconds

    def per_run(self, used: float) -> float:
        """Milliseconds of CPU per run."""
        return used / self.runs * 1e3

    @property
    def other(self) -> float:
        """The machine's CPU that none of the measured processes used (other work)."""
        return max(0.0, self.machine - self.workers - self.driver - self.server)


class Meter:
    """The CPU of the workers, the driver (this process), PostgreSQL and the machine."""

    def __init__(self, workers: list[int], postmaster: int | None) -> None:
        self.workers, self.postmaster = workers, postmaster
        self.start = self.read()

    def read(self) -> tuple[float, ...]:
        return (
            time.perf_counter(),
            sum(cpu_seconds(pid) for pid in self.workers),
            time.process_time(),
            server_cpu(self.postmaster),
            machine_busy(),
        )

    def phase(self, runs: int) -> Phase:
        end = self.read()
        return Phase(runs, *(b - a for a, b in zip(self.start, end, strict=True)))


async def dbos_throughput(
    dsn: str,
    runs: int,
    workers: int,
    concurrency: int,
    poll: float,
    deciders: int,
    statements: bool = False,
    warmup: int = 0,
) -> Phase:
    """Runs per second, and the CPU each kind of process used meanwhile, after ``warmup``
    runs a worker that are neither timed nor metered."""
    postmaster = server_pid(dsn)
    with tempfile.TemporaryDirectory() as folder:
        example = load_example(dsn, Path(folder), concurrency, poll)
        processes = [example.start_worker(f"bench-{i}") for i in range(workers)]
        try:
            if warmup:
                # What a worker pays once (its first runs build tether's validators and
                # DBOS's statements, its pools open their connections) is not throughput.
                await drive(example, warmup * workers, one_at_a_time=False, deciders=deciders)
            if statements:
                statements_reset(dsn)
            meter = Meter([process.pid for process in processes], postmaster)
            await drive(example, runs, one_at_a_time=False, deciders=deciders)
            phase = meter.phase(runs)
            if statements:
                statements_report(dsn, runs)
            sent = len((Path(folder) / "refunds.log").read_text().splitlines())
            assert sent == runs + warmup * workers, f"{sent} refunds for {runs} runs"
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait()
            await example.app.close()
    return phase


async def dbos_latency(dsn: str, runs: int, poll: float) -> list[float]:
    with tempfile.TemporaryDirectory() as folder:
        example = load_example(dsn, Path(folder), 8, poll)
        processes = [example.start_worker("bench-latency")]
        try:
            await drive(example, 3, one_at_a_time=True)  # warm up
            return await drive(example, runs, one_at_a_time=True)
        finally:
            for process in processes:
                process.terminate()
                process.wait()
            await example.app.close()


async def plain_latency(dsn: str, runs: int) -> list[float]:
    from tether import Runner
    from tether.store import PostgresRunStore, load_state, save_state

    with tempfile.TemporaryDirectory() as folder:
        example = load_example(dsn, Path(folder), 8, 1.0)
        store = PostgresRunStore(dsn, schema=f"plain_{uuid.uuid4().hex[:10]}")
        durations: list[float] = []
        try:
            for i in range(runs + 3):
                start = time.perf_counter()
                result = await Runner.run(example.agent, f"Please refund order P-{i}", store=store)
                state = await load_state(store, result.run_id, example.agent)
                for item in state.interruptions:
                    state.approve(item, by="bench")
                await save_state(store, state)
                state = await load_state(store, result.run_id, example.agent)
                await Runner.run(example.agent, state, store=store)
                if i >= 3:  # the first three warm up
                    durations.append(time.perf_counter() - start)
        finally:
            await store.close()
    return durations


@contextlib.contextmanager
def postgres(dsn: str | None, *, statements: bool = False) -> Iterator[str]:
    if dsn:
        yield dsn
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from services import postgres_cluster  # the tests' private server on loopback

    with postgres_cluster() as cluster:
        if statements:  # restarted with pg_stat_statements loaded
            import psycopg

            with psycopg.connect(cluster.server.dsn, autocommit=True) as conn:
                conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
            cluster.stop()
            cluster.start()
            with psycopg.connect(cluster.server.dsn, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION pg_stat_statements")
        yield cluster.server.dsn


def statements_reset(dsn: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")


def statements_report(dsn: str, runs: int, top: int = 30) -> None:
    """The statements PostgreSQL ran since the reset, per run: all, and the most frequent."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT calls, total_exec_time, query FROM pg_stat_statements "
            "WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC"
        ).fetchall()
    calls = sum(row[0] for row in rows)
    print(f"  statements: {calls / runs:.1f} per run, the most frequent (per run, ms total):")
    for count, spent, query in rows[:top]:
        text = " ".join(str(query).split())[:150]
        print(f"    {count / runs:6.2f} {spent:8.1f}  {text}")


async def main(args: argparse.Namespace) -> None:
    # DBOS's client works in threads: a thread for each decision's wake-up message and
    # each result awaited, and some to spare for starts.
    threads = ThreadPoolExecutor(max_workers=2 * args.deciders + 4)
    asyncio.get_running_loop().set_default_executor(threads)
    with postgres(args.postgres, statements=args.statements) as dsn:
        print(f"model call: {MODEL_DELAY * 1e3:.0f} ms (asyncio.sleep); load: {os.getloadavg()}")
        if args.only != "overhead":
            await throughput(dsn, args)
        if args.only != "throughput":
            await overhead(dsn, args)
        print(f"load after: {os.getloadavg()}")


def phase_order(round_index: int) -> tuple[int, int]:
    """The worker counts of a round's two phases, in the order they run: one worker
    first in even rounds, three first in odd ones."""
    return (1, 3) if round_index % 2 == 0 else (3, 1)


def rounds_summary(ratios: list[float]) -> str:
    """The verdict over rounds: the median of their ratios (three workers against one),
    each round's beside it."""
    each = ", ".join(f"{ratio:.2f}" for ratio in ratios)
    return (
        f"three workers against one, median of {len(ratios)} rounds: "
        f"{statistics.median(ratios):.2f}x ({each})"
    )


async def throughput(dsn: str, args: argparse.Namespace) -> None:
    settings = (args.worker_concurrency, args.poll, args.deciders, args.statements, args.warmup)
    ratios = []
    for index in range(args.rounds):
        if args.rounds > 1:
            print(f"round {index + 1} of {args.rounds}: {os.getloadavg()}")
        phases = {}
        for workers in phase_order(index):
            phases[workers] = await dbos_throughput(dsn, args.runs, workers, *settings)
        ratios.append(phases[3].rate / phases[1].rate)
        report_throughput(args, phases[1], phases[3])
    if args.rounds > 1:
        print(rounds_summary(ratios))


def report_throughput(args: argparse.Namespace, one: Phase, three: Phase) -> None:
    print(
        f"throughput, {args.runs} runs after {args.warmup} a worker to warm up, "
        f"worker_concurrency={args.worker_concurrency}, poll={args.poll}s, "
        f"deciders={args.deciders}: 1 worker {one.rate:.1f} runs/s, "
        f"3 workers {three.rate:.1f} runs/s ({three.rate / one.rate:.2f}x)"
    )
    print(f"CPU, in cores of the machine's {os.cpu_count()}, and ms per run:")
    for name, phase in (("1 worker", one), ("3 workers", three)):
        kinds = (
            ("workers", phase.workers),
            ("driver", phase.driver),
            ("postgres", phase.server),
            ("machine", phase.machine),
            ("other", phase.other),
        )
        print(
            f"  {name:9}: "
            + ", ".join(
                f"{kind} {phase.cores(used):.2f} ({phase.per_run(used):.1f} ms)"
                for kind, used in kinds
            )
        )


async def overhead(dsn: str, args: argparse.Namespace) -> None:
    plain = statistics.median(await plain_latency(dsn, args.latency_runs))
    dbos = statistics.median(await dbos_latency(dsn, args.latency_runs, args.poll))
    print(
        f"one run start to end (median of {args.latency_runs}), poll={args.poll}s: plain "
        f"tether with PostgresRunStore {plain * 1e3:.0f} ms, on a DBOS worker "
        f"{dbos * 1e3:.0f} ms (overhead {(dbos - plain) * 1e3:.0f} ms per run)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--latency-runs", type=int, default=20)
    parser.add_argument("--worker-concurrency", type=int, default=8)
    parser.add_argument(
        "--deciders", type=int, default=8, help="approvals the driver makes at once"
    )
    parser.add_argument("--poll", type=float, default=0.1, help="queue polling interval (s)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=10,
        help="runs a worker, before each throughput phase, neither timed nor metered",
    )
    parser.add_argument("--postgres", help="a PostgreSQL DSN (default: start a private one)")
    parser.add_argument(
        "--statements",
        action="store_true",
        help="count each phase's SQL statements (pg_stat_statements; private server only)",
    )
    parser.add_argument("--only", choices=("throughput", "overhead"), help="one measurement")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="throughput measured this many times, the phases' order alternating",
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    asyncio.run(main(args))
