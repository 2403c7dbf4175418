"""The inbox under load: 50 approvers listing and deciding over 10,000 paused runs, through
the real server and workers, on SQLite and on PostgreSQL.

    uv sync --group bench          # locust (not part of tether's install)
    uv run python benchmarks/inbox_locust.py [--runs 10000] [--users 50] [--duration 60]
        [--backend sqlite|postgres|both] [--postgres DSN] [--workers 2] [--decisions N]
        [--reject 0.1] [--json FILE] [--quick]

For each backend: a store is filled with ``--runs`` paused runs (the events of one
real paused run, appended under new run ids, as benchmarks/inbox_load.py does); a
``tether serve`` process and ``--workers`` ``tether worker`` processes are started on
it (benchmarks/inbox_locust_app.py, one API token per approver); then ``--users``
locust users (benchmarks/inbox_locustfile.py) list pending calls, open one and decide
it with its fingerprint (10% rejected), for ``--duration`` seconds, ``--decisions``
decisions, or until nothing is pending. A 409 for a call another user decided first is
expected and counted, not a failure. Then the workers finish the decided runs, and the
tool's log is checked: every approved call ran exactly once, no rejected or undecided
call ran, and the store holds as many completed runs as decisions and no failed one.

Reported, as markdown: per request, count, failures, p50 and p99 (ms); decisions per
second; the exactly-once check; the machine's cores and load. Without ``--postgres`` a
private PostgreSQL is started on loopback (tests/services.py). It measures time: never
run it while tests run (``--quick``, 200 runs and 10 users for 15 s, is the smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import importlib.util
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from tether import Runner
from tether.journal._events import Event, RunStarted
from tether.store import RunStore

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclasses.dataclass(frozen=True)
class Options:
    runs: int
    users: int
    duration: float
    decisions: int | None
    workers: int
    reject: float


@dataclasses.dataclass(frozen=True)
class Setup:
    """One backend's store and files, as the served app's environment names them."""

    backend: str
    folder: Path
    env: dict[str, str]
    tokens: list[str]

    @property
    def tool_log(self) -> Path:
        return Path(self.env["BENCH_INBOX_TOOL_LOG"])


def load_app(env: dict[str, str]) -> ModuleType:
    """A fresh copy of the served app module, on the store ``env`` names."""
    os.environ.update(env)
    path = HERE / "inbox_locust_app.py"
    spec = importlib.util.spec_from_file_location(f"inbox_locust_app_{uuid.uuid4().hex}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def fill(store: RunStore, agent: Any, runs: int, concurrency: int) -> None:
    """``runs`` paused runs: one made by the real loop, the rest its events under new ids."""
    result = await Runner.run(agent, "Refund A-1", store=store)
    events: list[Event] = list((await store.load(result.run_id)).events)
    start = events[0]
    assert isinstance(start, RunStarted)
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        run_id = f"run_{uuid.uuid4().hex}"
        async with gate:
            await store.append(run_id, 0, [dataclasses.replace(start, run_id=run_id), *events[1:]])

    await asyncio.gather(*(one() for _ in range(runs - 1)))


def start(args: list[str], setup: Setup, name: str) -> subprocess.Popen[bytes]:
    """A ``tether`` command in benchmarks/ (so the app module imports), output to files."""
    with open(setup.folder / f"{name}.log", "wb") as out:  # the process keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "tether.cli", *args, "inbox_locust_app:app"],
            cwd=HERE,
            env={**os.environ, **setup.env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_until_served(process: subprocess.Popen[bytes], url: str, setup: Setup) -> None:
    deadline = time.monotonic() + 120  # a busy machine imports slowly
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tether serve exited: {(setup.folder / 'serve.log').read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/api/openapi.json", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError("tether serve did not answer within 120 s")


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def drive(url: str, setup: Setup, options: Options) -> dict[str, Any]:
    """The locust users against ``url`` (a process of their own); what they did."""
    out = setup.folder / "locust.json"
    command = [
        sys.executable,
        str(HERE / "inbox_locustfile.py"),
        *("--host", url, "--tokens", ",".join(setup.tokens), "--out", str(out)),
        *("--users", str(options.users), "--duration", str(options.duration)),
        *("--reject", str(options.reject)),
    ]
    if options.decisions is not None:
        command += ["--decisions", str(options.decisions)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=options.duration + 600)
    if done.returncode != 0:
        raise RuntimeError(f"the locust run failed: {done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result


async def statuses(store: RunStore) -> collections.Counter[str]:
    """How many stored runs are in each status."""
    counts: collections.Counter[str] = collections.Counter()
    cursor = None
    while True:
        page = await store.list_runs(limit=500, cursor=cursor)
        counts.update(run.status for run in page.runs)
        cursor = page.next_cursor
        if cursor is None:
            return counts


async def drain(env: dict[str, str], decided: int, within: float) -> tuple[float, dict[str, int]]:
    """Wait until the workers have finished every decided run: (seconds, runs per status)."""
    store = load_app(env).app.store
    began = time.monotonic()
    try:
        while True:
            counts = await statuses(store)
            settled = counts["completed"] + counts["failed"] + counts["in_doubt"]
            if settled >= decided and counts["running"] == 0:
                return time.monotonic() - began, dict(counts)
            if time.monotonic() - began > within:
                raise RuntimeError(f"the workers did not finish within {within:.0f} s: {counts}")
            await asyncio.sleep(0.5)
    finally:
        await store.close()


def tool_runs(tool_log: Path) -> collections.Counter[tuple[str, ...]]:
    """How many times the tool ran for each (run, call), from its log."""
    if not tool_log.exists():
        return collections.Counter()
    lines = tool_log.read_text(encoding="utf-8").splitlines()
    return collections.Counter(tuple(line.split()) for line in lines)


def exactly_once(
    tool_log: Path, decided: list[list[str]], counts: dict[str, int]
) -> dict[str, Any]:
    """Every approved call's tool ran once, no other call's did, every decided run completed."""
    ran = tool_runs(tool_log)
    approved = {(run, call) for run, call, verdict in decided if verdict == "approve"}
    rejected = {(run, call) for run, call, verdict in decided if verdict == "reject"}
    twice = sum(1 for key in approved if ran[key] > 1)
    missing = sum(1 for key in approved if ran[key] == 0)
    unapproved = sum(count for key, count in ran.items() if key not in approved)
    rejected_ran = sum(1 for key in rejected if ran[key])
    decided_once = len({(run, call) for run, call, _ in decided}) == len(decided)
    ok = (
        twice == missing == unapproved == 0
        and decided_once
        and counts.get("completed", 0) == len(decided)
        and counts.get("failed", 0) == counts.get("in_doubt", 0) == 0
    )
    return {
        "ok": ok,
        "approved": len(approved),
        "rejected": len(rejected),
        "tool_runs": sum(ran.values()),
        "ran_twice": twice,
        "approved_not_run": missing,
        "ran_without_approval": unapproved,
        "rejected_ran": rejected_ran,
        "one_decision_per_call": decided_once,
    }


@contextlib.contextmanager
def prepared(backend: str, dsn: str | None, folder: Path, users: int) -> Iterator[Setup]:
    """The environment of one backend's app: its store, tool log and approvers' tokens."""
    tokens = [f"tok-{uuid.uuid4().hex[:12]}-{i}" for i in range(users)]
    env = {
        "BENCH_INBOX_TOOL_LOG": str(folder / "tools.log"),
        "TETHER_API_TOKENS": ",".join(f"{t}=approver-{i}" for i, t in enumerate(tokens)),
    }
    if backend == "sqlite":
        yield Setup(backend, folder, {**env, "BENCH_INBOX_STORE": str(folder / "runs.db")}, tokens)
        return
    with postgres(dsn) as url:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        env.update(BENCH_INBOX_STORE=url, BENCH_INBOX_SCHEMA=schema)
        yield Setup(backend, folder, env, tokens)


@contextlib.contextmanager
def postgres(dsn: str | None) -> Iterator[str]:
    if dsn:
        yield dsn
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from services import postgres_server  # the tests' private server on loopback

    with postgres_server() as server:
        yield server.dsn


async def filled(setup: Setup, runs: int) -> float:
    """Fill the backend's store; the seconds it took."""
    module = load_app(setup.env)
    began = time.monotonic()
    try:
        await fill(module.app.store, module.agent, runs, 1 if setup.backend == "sqlite" else 16)
    finally:
        await module.app.store.close()
    return time.monotonic() - began


def measure(setup: Setup, options: Options) -> dict[str, Any]:
    """Fill, serve, work, load, drain and check one backend."""
    fill_seconds = asyncio.run(filled(setup, options.runs))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start(["serve", "--port", str(port)], setup, "serve")
    workers = [
        start(["worker", "--poll", "0.2"], setup, f"worker-{i}") for i in range(options.workers)
    ]
    try:
        wait_until_served(server, url, setup)
        before = cpu_seconds([server]), cpu_seconds(workers), children_cpu_seconds()
        load = drive(url, setup, options)
        cpu = {
            "server": cpu_seconds([server]) - before[0],
            "workers": cpu_seconds(workers) - before[1],
            "locust": children_cpu_seconds() - before[2],
        }
        timeout = 120 + len(load["decided"]) / 2
        drain_seconds, counts = asyncio.run(drain(setup.env, len(load["decided"]), timeout))
    finally:
        stop([server, *workers])
    check = exactly_once(setup.tool_log, load["decided"], counts)
    if not check["ok"]:  # the processes' own words, for whoever investigates
        for log in sorted(setup.folder.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
    return {
        "backend": setup.backend,
        "runs": options.runs,
        "users": options.users,
        "fill_seconds": fill_seconds,
        "requests": load["requests"],
        "errors": load["errors"],
        "decisions": len(load["decided"]),
        "decisions_per_second": len(load["decided"]) / load["seconds"],
        "load_seconds": load["seconds"],
        "conflicts": load["conflicts"],
        "gone_on_open": load["gone_on_open"],
        "drain_seconds": drain_seconds,
        "cpu_seconds": cpu,
        "statuses": counts,
        "exactly_once": check,
    }


def cpu_seconds(processes: list[subprocess.Popen[bytes]]) -> float:
    """The CPU time (user and system) the running ``processes`` have used so far."""
    import psutil  # installed with locust

    times = [psutil.Process(process.pid).cpu_times() for process in processes]
    return sum(t.user + t.system for t in times)


def children_cpu_seconds() -> float:
    """The CPU time of this process's children that have ended (the locust process)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def machine() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{cores} cores usable ({os.cpu_count()} online), load average {load}"


def table(results: list[dict[str, Any]], before: str, after: str) -> str:
    lines = [
        f"Machine: {before} before, {after.split('load average ')[1]} after.",
        "",
        "| backend | request | count | failures | p50 ms | p99 ms |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        for name, entry in result["requests"].items():
            lines.append(
                f"| {result['backend']} | `{name}` | {entry['count']} | {entry['failures']} "
                f"| {entry['p50_ms']:.0f} | {entry['p99_ms']:.0f} |"
            )
    lines += [
        "",
        "| backend | runs | users | load s | decisions | decisions/s | lost races (409 "
        "/ gone when opened) | approved | rejected | tool runs | exactly once "
        "| workers' drain s | CPU s in the load: server / workers / locust |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: "
        "| ---: |",
    ]
    for result in results:
        check, cpu = result["exactly_once"], result["cpu_seconds"]
        lines.append(
            f"| {result['backend']} | {result['runs']} | {result['users']} "
            f"| {result['load_seconds']:.1f} | {result['decisions']} "
            f"| {result['decisions_per_second']:.1f} "
            f"| {result['conflicts']} / {result['gone_on_open']} "
            f"| {check['approved']} | {check['rejected']} "
            f"| {check['tool_runs']} | {'yes' if check['ok'] else 'NO: ' + json.dumps(check)} "
            f"| {result['drain_seconds']:.1f} | {cpu['server']:.1f} / {cpu['workers']:.1f} "
            f"/ {cpu['locust']:.1f} |"
        )
    return "\n".join(lines)


def options_from(args: argparse.Namespace) -> Options:
    if args.quick:
        return Options(200, 10, 15.0, args.decisions, args.workers, args.reject)
    return Options(args.runs, args.users, args.duration, args.decisions, args.workers, args.reject)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load at most")
    parser.add_argument("--decisions", type=int, help="stop after this many decisions")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--postgres", help="a PostgreSQL DSN (default: start a private one)")
    parser.add_argument("--workers", type=int, default=2, help="tether worker processes")
    parser.add_argument("--reject", type=float, default=0.1, help="share of decisions rejected")
    parser.add_argument("--quick", action="store_true", help="200 runs, 10 users, 15 s")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    options = options_from(args)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    before = machine()
    results = []
    for backend in backends:
        with (
            tempfile.TemporaryDirectory() as tmp,
            prepared(backend, args.postgres, Path(tmp), options.users) as setup,
        ):
            results.append(measure(setup, options))
    print(table(results, before, machine()))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0 if all(result["exactly_once"]["ok"] for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
