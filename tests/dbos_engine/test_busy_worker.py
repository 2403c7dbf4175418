"""A busy worker advances its runs' stretches itself, one per free slot, rather than
queueing them as workflows of their own (each a dozen more writes to DBOS's tables);
it takes only the runs it has slots for, and leaves the rest queued for any worker."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from dbos import DBOS

from tether import Agent, RunNotFoundError
from tether.dbos import DBOSApp
from tether.models import ModelRequest, ModelResponse, ModelStreamEvent, ResponseDone
from tether.store import SQLiteRunStore
from tether.testing import message

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "scale_out.py"


def test_a_busy_worker_advances_every_stretch_in_its_runs_own_workflow(tmp_path: Path) -> None:
    # One slot, four runs taken at once, model calls that take a while: three runs find
    # the slot taken at each stretch.
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "demo", "--runs", "4", "--workers", "1"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        env={
            **os.environ,
            "SCALE_OUT_WORKER_CONCURRENCY": "1",
            "SCALE_OUT_MODEL_DELAY": "0.2",
        },
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count(": Done: Refunded order A-") == 4
    assert "4 refunds sent for 4 approved runs" in done.stdout
    with sqlite3.connect(tmp_path / "scale_out_data" / "dbos.sqlite") as db:
        names = [name for (name,) in db.execute("SELECT name FROM workflow_status")]
    # DBOS's own record of what ran: the four runs, and no stretch queued on its own.
    assert sorted(names) == ["tether.run"] * 4


class HeldModel:
    """A model that answers once the test lets it (``gate``), so runs hold their slot."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.calls = 0

    async def get_response(self, request: ModelRequest) -> ModelResponse:
        self.calls += 1
        await self.gate.wait()
        return ModelResponse(output=[message("Done.")])

    async def stream_response(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        yield ResponseDone(await self.get_response(request))


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    """Return once ``check()`` is true, looking every 20 ms (bounded by the caller)."""
    while True:
        if await check():
            return
        await asyncio.sleep(0.02)


async def done(app: DBOSApp, runs: list[str]) -> bool:
    """Whether every run completed, by the store (on SQLite ``result`` looks every 30 s)."""
    try:
        statuses = [(await app.store().load(run_id)).status for run_id in runs]
    except RunNotFoundError:
        return False  # its workflow has not created it yet
    return statuses == ["completed"] * len(runs)


async def test_a_busy_worker_leaves_runs_queued_and_takes_them_as_its_slots_free(
    tmp_path: Path,
) -> None:
    # One slot and one run in reserve: the worker takes two runs and leaves the rest
    # queued for whichever worker has a free slot; here there is no other, and the run
    # queue's poll comes after 30 s: each slot that frees takes the next run.
    model = HeldModel()
    agent = Agent(name="Support", model=model)
    app = DBOSApp(
        [agent],
        store=lambda: SQLiteRunStore(tmp_path / "runs.db"),
        system_database_url=f"sqlite:///{tmp_path / 'dbos.sqlite'}",
        worker_concurrency=1,
        polling_interval=30.0,
    )
    await app.launch(executor_id="here")

    async def statuses() -> list[str]:
        found = await DBOS.list_workflows_async(name="tether.run", load_input=False)
        return sorted(str(w.status) for w in found)

    async def full() -> bool:
        # Two runs taken, and each has reached its stretch (so the next claim counts it).
        return (await statuses()).count("PENDING") == app.stretches == 2

    try:
        async with asyncio.timeout(20):
            runs = [await app.start(agent, f"Hello {i}") for i in range(2)]
            await until(full)
            runs += [await app.start(agent, f"Hello {i}") for i in range(2, 5)]
            # Each start wakes the worker; its claims finish well within this pause (a
            # worker that claims whatever is queued has taken all three by then).
            await asyncio.sleep(0.5)
            held = await statuses()
            model.gate.set()
            await until(lambda: done(app, runs))
    finally:
        await app.shutdown()
    assert held == ["ENQUEUED"] * 3 + ["PENDING"] * 2


def one_slot_apps(tmp_path: Path, agent: Agent[Any]) -> tuple[DBOSApp, DBOSApp]:
    """A worker's app with one slot (one run in reserve) and the run queue's poll after
    30 s, and an app on the same files that is not a worker: its starts wake none on
    SQLite, so only the claims the test forces take runs."""
    settings: dict[str, Any] = {
        "store": lambda: SQLiteRunStore(tmp_path / "runs.db"),
        "system_database_url": f"sqlite:///{tmp_path / 'dbos.sqlite'}",
        "worker_concurrency": 1,
        "polling_interval": 30.0,
    }
    return DBOSApp([agent], **settings), DBOSApp([agent], **settings)


async def test_a_run_started_but_not_yet_in_its_stretch_counts_against_the_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DBOS runs a started workflow's body only after a round trip through a thread, so a
    # run the worker claimed may not have begun its stretch when the next claim reads the
    # worker's room. Here its stretch waits until the test lets it: one slot, one run in
    # reserve, so the worker takes two runs, whatever its stretches have begun.
    from tether.dbos import _workflows

    model = HeldModel()
    agent = Agent(name="Support", model=model)
    app, elsewhere = one_slot_apps(tmp_path, agent)
    stretch = _workflows._stretch
    arrived: set[str] = set()
    enter = asyncio.Event()

    async def late_stretch(run_id: str, *args: Any) -> Any:
        arrived.add(run_id)
        await enter.wait()
        return await stretch(run_id, *args)

    monkeypatch.setattr(_workflows, "_stretch", late_stretch)
    loop = asyncio.get_running_loop()
    claimed: list[list[str]] = []
    claim_returned = asyncio.Condition()

    async def tell() -> None:
        async with claim_returned:
            claim_returned.notify_all()

    await app.launch(executor_id="here")
    # Before any await: the worker's first claim (as it starts) has not run yet.
    from dbos._dbos import _get_dbos_instance

    system_db = _get_dbos_instance()._sys_db
    claim = system_db.start_queued_workflows

    def counted_claim(*args: Any, **kwargs: Any) -> Any:  # in the claimer's thread
        ids, why = claim(*args, **kwargs)
        claimed.append(list(ids))
        asyncio.run_coroutine_threadsafe(tell(), loop)
        return ids, why

    monkeypatch.setattr(system_db, "start_queued_workflows", counted_claim)

    async def claims(count: int) -> None:
        async with claim_returned:
            await claim_returned.wait_for(lambda: len(claimed) >= count)

    async def status(run_id: str) -> str:
        found = await DBOS.get_workflow_status_async(run_id)
        assert found is not None
        return str(found.status)

    async def reached(run_id: str) -> bool:
        return run_id in arrived  # its workflow runs, its stretch has not begun

    try:
        async with asyncio.timeout(20):
            await claims(1)  # the worker's first claim, of an empty queue
            first = await app.start(agent, "Hello 0")  # one wake-up: one claim
            await until(lambda: reached(first))
            # Queued where no worker hears of them, then one wake-up: one claim, with
            # room for one run only.
            second = await elsewhere.start(agent, "Hello 1")
            third = await elsewhere.start(agent, "Hello 2")
            fourth = await app.start(agent, "Hello 3")
            await claims(3)
            taken = list(claimed)
            held = [await status(run_id) for run_id in (first, second, third, fourth)]
            enter.set()
            model.gate.set()
            await until(lambda: done(app, [first, second, third, fourth]))
    finally:
        await app.shutdown()
        await elsewhere.close()
    assert taken == [[], [first], [second]]
    assert held == ["PENDING", "PENDING", "ENQUEUED", "ENQUEUED"]


async def test_a_run_cancelled_as_it_is_claimed_leaves_its_room_to_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # One slot and one run in reserve. A claim takes a run that is cancelled before the
    # worker starts it (forced here: cancelled as the claim returns). Nothing of it runs,
    # so the room it was claimed for goes to the run behind it at once, not when a slot
    # frees or at the run queue's poll (30 s).
    model = HeldModel()
    agent = Agent(name="Support", model=model)
    app, elsewhere = one_slot_apps(tmp_path, agent)
    await app.launch(executor_id="here")
    from dbos._dbos import _get_dbos_instance

    system_db = _get_dbos_instance()._sys_db
    claim = system_db.start_queued_workflows
    cancelled = "run_cancelled_as_it_is_claimed"

    def claim_then_cancel(*args: Any, **kwargs: Any) -> Any:  # in the claimer's thread
        ids, why = claim(*args, **kwargs)
        if cancelled in ids:
            system_db.cancel_workflows([cancelled])
        return ids, why

    monkeypatch.setattr(system_db, "start_queued_workflows", claim_then_cancel)

    async def status(run_id: str) -> str:
        found = await DBOS.get_workflow_status_async(run_id)
        assert found is not None
        return str(found.status)

    async def holding(run_ids: list[str]) -> bool:
        statuses = [await status(run_id) for run_id in run_ids]
        return statuses == ["PENDING"] * len(run_ids) and app.stretches == len(run_ids)

    try:
        async with asyncio.timeout(20):
            # Queued where no worker hears of them; then one wake-up. Whichever claims
            # take them, the one that takes the cancelled run has room for it alone, or
            # for it and the run ahead of it: the run behind it is left queued.
            first = await elsewhere.start(agent, "Hello 0")
            await elsewhere.start(agent, "Hello 1", run_id=cancelled)
            second = await elsewhere.start(agent, "Hello 2")
            third = await app.start(agent, "Hello 3")
            await until(lambda: holding([first, second]))
            left = await status(third)
            model.gate.set()
            await until(lambda: done(app, [first, second, third]))
        ended = await status(cancelled)
    finally:
        await app.shutdown()
        await elsewhere.close()
    assert left == "ENQUEUED"  # no room for it until a slot freed
    assert ended == "CANCELLED"
    assert f"Run {cancelled} was claimed but not started: it is CANCELLED now." in caplog.text


async def test_a_worker_with_no_free_slot_claims_when_one_frees_once_for_the_wake_ups() -> None:
    from tether.dbos._wake import Waker

    rooms: list[int | None] = []
    claimed = asyncio.Event()
    loop = asyncio.get_running_loop()
    room = 0

    def claim(room: int | None) -> int:  # in the claimer's thread
        rooms.append(room)
        loop.call_soon_threadsafe(claimed.set)
        return room or 0  # took all it had room for: more may be queued

    waker = Waker(claim, lambda: room)
    waker.start(None, "unused")
    waker.poke()
    waker.poke()
    await asyncio.sleep(0.1)
    assert rooms == []  # no room: nothing claimed
    room = 2
    waker.freed()
    await asyncio.wait_for(claimed.wait(), 10)
    await asyncio.sleep(0.1)  # time for a second claim, were there one
    await waker.stop()
    assert rooms == [2]


async def test_a_slot_freed_while_a_claim_is_under_way_is_claimed_for_after_it() -> None:
    # The claim read its room before the slot freed and took all of it: runs may be left
    # queued, and the freed slot is there for one of them. The next claim comes at once,
    # not at the next wake-up (no period here).
    from tether.dbos._wake import Waker

    rooms: list[int | None] = []
    under_way = asyncio.Event()
    again = asyncio.Event()
    go_on = threading.Event()
    loop = asyncio.get_running_loop()

    def claim(room: int | None) -> int:  # in the claimer's thread
        rooms.append(room)
        if len(rooms) == 1:
            loop.call_soon_threadsafe(under_way.set)
            go_on.wait(10)
            return room or 0  # took all it had room for
        loop.call_soon_threadsafe(again.set)
        return 0

    waker = Waker(claim, lambda: 1)
    waker.start(None, "unused")  # claims at once
    try:
        await asyncio.wait_for(under_way.wait(), 10)
        waker.freed()  # a stretch ends meanwhile
        go_on.set()
        await asyncio.wait_for(again.wait(), 10)
    finally:
        go_on.set()
        await waker.stop()
    assert rooms == [1, 1]


async def test_a_worker_claims_every_period_without_a_wake_up() -> None:
    # The run queue's poll is the worker's own (DBOS's would take every queued run): a
    # run whose wake-up was lost is claimed at the next period all the same.
    from tether.dbos._wake import Waker

    claims = 0
    twice = asyncio.Event()
    loop = asyncio.get_running_loop()

    def claim(room: int | None) -> int:  # in the claimer's thread
        nonlocal claims
        claims += 1
        if claims == 2:
            loop.call_soon_threadsafe(twice.set)
        return 0

    waker = Waker(claim, lambda: None, period=0.05)
    waker.start(None, "unused")  # claims once as it starts, then each period
    await asyncio.wait_for(twice.wait(), 10)
    await waker.stop()
    assert claims >= 2
