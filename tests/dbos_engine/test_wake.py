"""A run queued by ``DBOSApp.start`` is taken by a worker at once, not at the run queue's
next poll; the poll still takes a run whose wake-up was lost.

The run queue polls every 30 s in the wake-up tests, and each run must complete within
20 s: only the wake-up can have started it (DBOS's first poll comes after 28.5 s).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType

import psycopg
import pytest

from tether import Agent, RunNotFoundError
from tether.dbos import DBOSApp, _wake
from tether.store import SQLiteRunStore
from tether.testing import ScriptedModel, message

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SLOW_POLL = "30"
"""Seconds between polls of the run queue where the wake-up is tested."""
WITHIN = 20
"""Seconds a run gets to complete: less than DBOS's first poll at SLOW_POLL."""


def load_example(folder: Path, dsn: str, poll: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("SCALE_OUT_DIR", str(folder))
    monkeypatch.setenv("SCALE_OUT_DB", dsn)
    monkeypatch.setenv("SCALE_OUT_SCHEMA", f"wake_{uuid.uuid4().hex[:10]}")
    monkeypatch.setenv("SCALE_OUT_POLL", poll)
    spec = importlib.util.spec_from_file_location(
        f"scale_out_{uuid.uuid4().hex}", EXAMPLES / "scale_out.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def deaf_worker(folder: Path) -> subprocess.Popen[bytes]:
    """A worker of the example that listens for no wake-up: only the poll gives it runs."""
    env = {**os.environ, "PYTHONPATH": str(EXAMPLES), "SCALE_OUT_DIR": str(folder)}
    script = Path(__file__).with_name("deaf_worker.py")
    process = subprocess.Popen(
        [sys.executable, str(script), "scale_out:app", "--executor-id", "deaf"],
        env=env,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert b"ready" in process.stdout.readline()
    return process


async def until(check: Callable[[], Awaitable[object]]) -> None:
    """Return once ``check()`` is true, looking every 20 ms (bounded by the caller)."""
    while True:
        if await check():
            return
        await asyncio.sleep(0.02)


async def run_through(example: ModuleType, runs: int) -> list[str]:
    """Start ``runs`` runs one after the other, approve each, and return their outputs."""
    app = example.app
    outputs = []
    async with asyncio.timeout(WITHIN):
        for i in range(runs):
            run_id = await app.start(example.agent, f"Please refund order A-{i}")
            await until(lambda run_id=run_id: example.approve_all({run_id}))
            outputs.append(await app.result(run_id))
    return outputs


def test_the_installed_dbos_has_what_the_wake_up_uses() -> None:
    # The claim calls DBOS internals (DBOS has no public call for it): a DBOS that
    # changed them fails here, not silently in the workers.
    assert _wake.supported()


def test_the_channel_is_a_short_identifier_of_the_schema() -> None:
    one, other = _wake.channel("dbos"), _wake.channel("x" * 63)
    assert one != other and one == _wake.channel("dbos")
    assert len(other) < 63 and other.isidentifier()


async def test_a_started_run_is_taken_at_once_not_at_the_queues_poll(
    tmp_path: Path, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = load_example(tmp_path, postgres_dsn, SLOW_POLL, monkeypatch)
    app = example.app
    worker = example.start_worker("w1")
    try:
        outputs = await run_through(example, 3)
        # Starting twice with one run id starts one run (the second input is not read).
        once = await app.start(example.agent, "Please refund order A-7", run_id="once")
        assert await app.start(example.agent, "Please refund order A-8", run_id=once) == once
        async with asyncio.timeout(WITHIN):
            await until(lambda: example.approve_all({once}))
            outputs.append(await app.result(once))
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        await app.close()
    assert outputs == [f"Done: Refunded order A-{i}." for i in (0, 1, 2, 7)]
    refunds = (tmp_path / "refunds.log").read_text().splitlines()
    assert sorted(line.split()[1] for line in refunds) == ["A-0", "A-1", "A-2", "A-7"]


async def test_a_worker_whose_listening_connection_is_cut_listens_again(
    tmp_path: Path, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = load_example(tmp_path, postgres_dsn, SLOW_POLL, monkeypatch)
    listening = _wake.channel(example.app.system_schema)
    worker = example.start_worker("w1")
    try:
        async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as db:

            async def cut() -> int:
                found = await db.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'tether_wake' AND query LIKE %s",
                    (f'LISTEN "{listening}"',),
                )
                return len(await found.fetchall())

            async with asyncio.timeout(WITHIN):
                await until(cut)  # once the worker listens, its connection is cut
        outputs = await run_through(example, 2)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        await example.app.close()
    assert outputs == [f"Done: Refunded order A-{i}." for i in range(2)]


async def test_a_run_whose_wake_up_is_lost_is_taken_by_the_queues_poll(
    tmp_path: Path, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = load_example(tmp_path, postgres_dsn, "0.2", monkeypatch)
    worker = deaf_worker(tmp_path)
    try:
        outputs = await run_through(example, 2)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        await example.app.close()
    assert outputs == [f"Done: Refunded order A-{i}." for i in range(2)]


async def completed(app: DBOSApp, run_id: str) -> bool:
    try:
        return (await app.store().load(run_id)).status == "completed"
    except RunNotFoundError:
        return False  # its workflow has not created it yet


async def test_a_worker_in_the_clients_process_is_woken_without_notify(tmp_path: Path) -> None:
    # SQLite has no NOTIFY: start wakes the worker of its own process directly.
    agent = Agent(name="Support", model=ScriptedModel([message("Done.")]))
    app = DBOSApp(
        [agent],
        store=lambda: SQLiteRunStore(tmp_path / "runs.db"),
        system_database_url=f"sqlite:///{tmp_path / 'dbos.sqlite'}",
        polling_interval=float(SLOW_POLL),
    )
    await app.launch(executor_id="here")
    try:
        run_id = await app.start(agent, "Hello")
        async with asyncio.timeout(WITHIN):
            await until(lambda: completed(app, run_id))
        final = await app.store().load(run_id)
    finally:
        await app.shutdown()
    assert final.status == "completed"


async def test_a_listening_worker_polls_the_run_queue_less_and_again_when_it_stops(
    postgres_dsn: str,
) -> None:
    # While a worker listens, every run ``start`` queues wakes it: its poll is only the net
    # under runs queued without a notification, at least LISTENING_POLL apart. Once the
    # connection is lost, it polls every period again until it listens again.
    claims = 0

    def claim(room: int | None) -> int:  # in the claimer's thread
        nonlocal claims
        claims += 1
        return 0

    channel = f"wake_test_{uuid.uuid4().hex[:8]}"
    waker = _wake.Waker(claim, period=0.05)
    waker.start(postgres_dsn, channel, retry=30)
    async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as db:

        async def listeners(act: str) -> int:
            found = await db.execute(
                f"SELECT {act} FROM pg_stat_activity "
                "WHERE application_name = 'tether_wake' AND query LIKE %s",
                (f'LISTEN "{channel}"',),
            )
            return len(await found.fetchall())

        async def more_than(count: int) -> bool:
            return claims > count

        try:
            async with asyncio.timeout(WITHIN):
                await until(lambda: listeners("pid"))
                await asyncio.sleep(0.2)  # the claim the LISTEN itself asks for
                before = claims
                await asyncio.sleep(0.5)  # ten periods
                quiet = claims - before
                assert await listeners("pg_terminate_backend(pid)") == 1
                cut = claims
                await until(lambda: more_than(cut + 3))  # polling every period again
        finally:
            await waker.stop()
    assert quiet <= 1, quiet  # at period 0.05 without the LISTEN: about ten


def test_a_workers_claims_look_up_whether_its_version_is_the_newest_once_a_while() -> None:
    # DBOS's claim looks it up in every claim (a query of its own); a worker's claims reuse
    # one answer for max_age seconds, and see a newer version deployed after that.
    class SystemDatabase:
        newest = "v1"
        lookups = 0

        def _is_latest_version(self, version: str) -> bool:
            self.lookups += 1
            return version == self.newest

    db = SystemDatabase()
    latest = _wake.LatestVersion(max_age=3600)
    assert [latest(db, "v1") for _ in range(5)] == [True] * 5
    assert db.lookups == 1
    db.newest = "v2"
    assert latest(db, "v1") is True  # within max_age: the answer it has
    now = _wake.LatestVersion(max_age=0)  # every claim looks again
    assert [now(db, "v1"), now(db, "v2")] == [False, True]
    assert db.lookups == 3


@pytest.mark.parametrize("turns", range(4))
async def test_a_waker_stops_when_a_wake_up_meets_its_stop(turns: int) -> None:
    # A wake-up the claimer's wait has taken in, but the claimer has not yet woken for,
    # when ``stop`` cancels it: the cancellation must end the claimer, not be taken for
    # the wake-up (``asyncio.wait_for`` on Python 3.11 returns the wait's result instead,
    # and the claimer waited again: a worker stopped at that moment never exited).
    # ``turns`` lets the loop run that many times between the wake-up and the stop.
    claims = 0

    def claim(room: int | None) -> int:  # in the claimer's thread
        nonlocal claims
        claims += 1
        return 0

    waker = _wake.Waker(claim, period=30)
    waker.start(None, "unused")
    async with asyncio.timeout(WITHIN):
        await until(lambda: _at_least(lambda: claims, 1))  # the first claim, at start
        await asyncio.sleep(0.05)  # the claimer waits for the next wake-up
        waker.poke()
        await asyncio.sleep(0)  # the poke reaches the loop
        for _ in range(turns):
            await asyncio.sleep(0)
        await waker.stop()


async def _at_least(count: Callable[[], int], least: int) -> bool:
    return count() >= least
