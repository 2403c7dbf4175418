"""A worker's stop: the stretches advancing a run end first, the rest is handed back quietly.

In-process (SQLite) the stop is watched step by step; in worker processes on PostgreSQL,
SIGTERM meets runs in flight and the next worker with the same executor id finishes them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tether import RunNotFoundError, UserError
from tether.dbos import DBOSApp
from tether.models import ModelRequest, ModelResponse, ModelStreamEvent
from tether.store import SQLiteRunStore
from tether.testing import ScriptedModel, message, tool_call

from .test_cheap_stretches import make_app, until
from .test_kill import load_example as kill_example

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "scale_out.py"


class GatedModel:
    """A scripted model whose calls wait until ``gate`` opens; ``called`` once one is made."""

    def __init__(self) -> None:
        self.called = asyncio.Event()
        self.gate = asyncio.Event()
        self.inner = ScriptedModel([tool_call("refund", {"order": "A-1"}), message("Done.")])

    async def get_response(self, request: ModelRequest) -> ModelResponse:
        self.called.set()
        await self.gate.wait()
        return await self.inner.get_response(request)

    async def stream_response(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        raise NotImplementedError("not streamed here")
        yield  # pragma: no cover


@pytest.fixture
def dbos_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """What DBOS logs (its logger does not pass records up to the root's handlers)."""
    logger = logging.getLogger("dbos")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG, logger="dbos")
    yield caplog
    logger.removeHandler(caplog.handler)


def left_on_the_loop() -> list[str]:
    """The tasks on this loop other than the test's own: none once the app is shut down
    (a workflow left there would be cancelled as the loop ends, after its store closed)."""
    return [
        repr(task.get_coro())
        for task in asyncio.all_tasks()
        if task is not asyncio.current_task() and not task.done()
    ]


async def stored_interruptions(path: Path, run_id: str) -> int:
    """The stored run's calls waiting for a decision, read with a store of the test's own."""
    store = SQLiteRunStore(path)
    try:
        return len(await store.pending_approvals(run_id=run_id))
    finally:
        await store.close()


async def advancing(app: DBOSApp, agent: Any, model: GatedModel) -> str:
    """Start a run and return its id once its stretch is waiting in the model."""
    run_id = await app.start(agent, "Refund A-1")
    async with asyncio.timeout(30):
        await model.called.wait()
    return run_id


def test_the_grace_is_seconds_at_least_zero(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="shutdown_grace"):
        make_app(tmp_path, ScriptedModel([]), shutdown_grace=-1)


async def test_the_stretch_in_progress_reaches_its_pause_before_the_worker_stops(
    tmp_path: Path, dbos_log: pytest.LogCaptureFixture
) -> None:
    model = GatedModel()
    agent, app = make_app(tmp_path, model, polling_interval=0.05)
    await app.launch(executor_id="here")
    run_id = await advancing(app, agent, model)
    stopping = asyncio.create_task(app.shutdown())
    await asyncio.sleep(0.2)
    assert not stopping.done()  # it waits for the model call in progress
    model.gate.set()
    async with asyncio.timeout(30):
        await stopping
    # The stretch went on to the run's pause: the approval waits in the store.
    assert await stored_interruptions(tmp_path / "runs.db", run_id) == 1
    assert left_on_the_loop() == []
    assert [r.getMessage() for r in dbos_log.records if r.levelno >= logging.WARNING] == []


async def test_the_grace_bounds_the_wait_and_the_run_is_handed_back(
    tmp_path: Path, dbos_log: pytest.LogCaptureFixture
) -> None:
    model = GatedModel()  # never opened: the model call outlasts any grace
    agent, app = make_app(tmp_path, model, polling_interval=0.05, shutdown_grace=0.1)
    await app.launch(executor_id="here")
    run_id = await advancing(app, agent, model)
    async with asyncio.timeout(30):
        await app.shutdown()
    assert left_on_the_loop() == []
    # Cut off before its model answered: nothing waits yet, the next worker goes on.
    assert await stored_interruptions(tmp_path / "runs.db", run_id) == 0
    assert [r.getMessage() for r in dbos_log.records if r.levelno >= logging.WARNING] == []


async def test_hurry_stops_the_wait_for_the_stretches_at_once(tmp_path: Path) -> None:
    model = GatedModel()
    agent, app = make_app(tmp_path, model, polling_interval=0.05, shutdown_grace=3600)
    await app.launch(executor_id="here")
    await advancing(app, agent, model)
    stopping = asyncio.create_task(app.shutdown())
    await asyncio.sleep(0.1)
    assert not stopping.done()
    app.hurry()  # the worker's second signal
    async with asyncio.timeout(30):
        await stopping
    assert left_on_the_loop() == []


async def test_a_run_waiting_for_a_person_is_handed_back_quietly(
    tmp_path: Path, dbos_log: pytest.LogCaptureFixture
) -> None:
    model = ScriptedModel([tool_call("refund", {"order": "A-1"}), message("Done.")])
    agent, app = make_app(tmp_path, model, polling_interval=0.05)
    await app.launch(executor_id="here")
    run_id = await app.start(agent, "Refund A-1")

    async def waiting() -> bool:
        try:
            return bool((await app.load(run_id)).interruptions)
        except RunNotFoundError:
            return False

    async with asyncio.timeout(30):
        await until(waiting)
    assert left_on_the_loop() != []  # its workflow waits for the decision
    async with asyncio.timeout(30):
        await app.shutdown()
    # Not left on the loop with DBOS gone: cancelled, and unwound before the store closed.
    assert left_on_the_loop() == []
    assert [r.getMessage() for r in dbos_log.records if r.levelno >= logging.WARNING] == []


# -- worker processes on PostgreSQL -----------------------------------------------------


def load_example(folder: Path, dsn: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The example app with a one-second model call and three slots a worker."""
    return kill_example(
        folder, dsn, monkeypatch, prefix="stop", model_delay="1.0", worker_concurrency="3"
    )


def worker(example: ModuleType) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(EXAMPLE.parent),
        "SCALE_OUT_DIR": str(example.DATA),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tether.dbos", "worker", "scale_out:app", "--executor-id", "w1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.readline()  # "ready"
    return process


async def stopped(process: subprocess.Popen[bytes], *, signals: int = 1) -> str:
    """Send the worker ``signals`` SIGTERMs (0.3 s apart); once it exited 0, what it wrote
    to standard error."""
    try:
        for n in range(signals):
            if n:
                await asyncio.sleep(0.3)
            process.send_signal(signal.SIGTERM)
        _, err = await asyncio.to_thread(process.communicate, timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    return err.decode()


async def leased(example: ModuleType) -> int:
    """Runs a worker is advancing now (each holds its lease)."""
    page = await example.app.store().list_runs(status="running", limit=10)
    return len([run for run in page.runs if run.lease_owner])


async def equal(count: Awaitable[int], expected: int) -> bool:
    """Whether ``count`` comes to ``expected`` (for ``until``)."""
    return await count == expected


async def finished_by_a_new_worker(example: ModuleType, run_ids: list[str]) -> list[Any]:
    """Start the worker again under its id, approve every refund, return the outputs."""
    process = worker(example)
    try:
        left = set(run_ids)
        async with asyncio.timeout(120):
            while left:
                left -= await example.approve_all(left)
                await asyncio.sleep(0.05)
            return [await example.app.result(run_id) for run_id in run_ids]
    finally:
        await stopped(process)
        await example.app.close()


async def test_sigterm_with_runs_in_flight_ends_their_stretches_then_exits_cleanly(
    tmp_path: Path, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = load_example(tmp_path, postgres_dsn, monkeypatch)
    first = worker(example)
    ids = [await example.app.start(example.agent, f"Please refund order B-{i}") for i in range(5)]
    async with asyncio.timeout(30):
        await until(lambda: equal(leased(example), 3))  # three slots: two runs wait
    # No warnings, no tracebacks, no task left pending.
    assert await stopped(first) == ""
    # The three stretches advancing went on to their approvals; the other two were handed
    # back before they began.
    assert len(await example.app.store().pending_approvals(limit=100)) == 3
    outputs = await finished_by_a_new_worker(example, ids)
    assert len(outputs) == 5
    refunds = (tmp_path / "refunds.log").read_text().splitlines()
    assert sorted(line.split()[1] for line in refunds) == [f"B-{i}" for i in range(5)]


async def test_a_second_sigterm_hands_the_stretches_back_at_once(
    tmp_path: Path, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = load_example(tmp_path, postgres_dsn, monkeypatch)
    monkeypatch.setenv("SCALE_OUT_MODEL_DELAY", "300")  # longer than the test may take
    first = worker(example)
    run_id = await example.app.start(example.agent, "Please refund order B-0")
    async with asyncio.timeout(30):
        await until(lambda: equal(leased(example), 1))
    assert await stopped(first, signals=2) == ""
    assert await example.app.store().pending_approvals(limit=100) == []
    monkeypatch.setenv("SCALE_OUT_MODEL_DELAY", "0")
    assert await finished_by_a_new_worker(example, [run_id]) == ["Done: Refunded order B-0."]
    assert (tmp_path / "refunds.log").read_text().count("refund B-0 ") == 1
