"""Workers woken by the store, not by their poll: a decision stored in another process
(SQLite: a side file; PostgreSQL: NOTIFY) lets its run go on long before the worker's
poll interval would; a wake-up that is lost is made up for by the poll.

Each worker here polls every ``LONG_POLL`` seconds and the run must be done within
``WOKEN_WITHIN``, far less: it completes only if the worker was woken.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from tether import Runner
from tether.server import App, Worker
from tether.store import (
    Changes,
    Notifying,
    PostgresRunStore,
    RunStatus,
    RunStore,
    SQLiteRunStore,
    load_state,
    save_state,
)

from .conftest import start_process, stop_process
from .weather_agents import ANA, agent

LONG_POLL = 600.0
WOKEN_WITHIN = 30.0


async def reaches(store: RunStore, run_id: str, status: RunStatus) -> None:
    """Return once the run has ``status`` (the caller bounds the wait)."""
    while True:
        if (await store.load(run_id)).status == status:
            return
        await asyncio.sleep(0.05)


async def test_a_worker_process_is_woken_by_a_decision_stored_in_another(
    inbox_env: dict[str, str],
) -> None:
    app = App(agents=[agent], store=SQLiteRunStore(inbox_env["INBOX_STORE"]))
    paused = await Runner.run(agent, "city:Oslo", store=app.store)
    # Started through the API: the worker's first pass takes it to its approval. Once it
    # waits, that pass is over, and the worker waits LONG_POLL for the next.
    started = await app.inbox.start("Weather", "city:Rome")
    worker = start_process(
        ["worker", "tests.server.inbox_app:app", "--poll", str(LONG_POLL)], inbox_env
    )
    try:
        async with asyncio.timeout(WOKEN_WITHIN):
            await reaches(app.store, started, "waiting")
        await app.inbox.decide(paused.run_id, "call_0", ANA, "approve")
        async with asyncio.timeout(WOKEN_WITHIN):
            await reaches(app.store, paused.run_id, "completed")
    finally:
        assert stop_process(worker) == 0
    shown = await app.inbox.show(paused.run_id)
    assert shown.output == "Done: Sunny in Oslo"
    await app.store.close()


async def test_a_worker_is_woken_through_postgres_notify(
    postgres_dsn: str, inbox_env: dict[str, str]
) -> None:
    schema = f"wake_{uuid.uuid4().hex[:10]}"
    # Two stores, two pools: only the database carries the wake-up from one to the other.
    worker_store = PostgresRunStore(postgres_dsn, schema=schema)
    deciding = App(agents=[agent], store=PostgresRunStore(postgres_dsn, schema=schema))
    paused = await Runner.run(agent, "city:Lima", store=deciding.store)
    worker = Worker(App(agents=[agent], store=worker_store), poll_interval=LONG_POLL)
    served = asyncio.create_task(worker.serve())
    try:
        started = await deciding.inbox.start("Weather", "city:Bern")
        async with asyncio.timeout(WOKEN_WITHIN):  # the start woke the worker
            await reaches(deciding.store, started, "waiting")
        await deciding.inbox.decide(paused.run_id, "call_0", ANA, "approve")
        async with asyncio.timeout(WOKEN_WITHIN):
            await reaches(deciding.store, paused.run_id, "completed")
    finally:
        worker.stop()
        await served
    assert (await deciding.inbox.show(paused.run_id)).output == "Done: Sunny in Lima"
    await worker_store.close()
    await deciding.store.close()


async def test_a_lost_wake_up_is_made_up_for_by_the_poll(
    inbox_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    deciding = App(agents=[agent], store=SQLiteRunStore(inbox_env["INBOX_STORE"]))
    paused = await Runner.run(agent, "city:Kyiv", store=deciding.store)
    monkeypatch.setattr(deciding.store, "_woken", lambda: None)  # its wake-ups are lost
    worker = Worker(
        App(agents=[agent], store=SQLiteRunStore(inbox_env["INBOX_STORE"])), poll_interval=0.2
    )
    served = asyncio.create_task(worker.serve())
    try:
        await deciding.inbox.decide(paused.run_id, "call_0", ANA, "approve")
        async with asyncio.timeout(WOKEN_WITHIN):
            await reaches(deciding.store, paused.run_id, "completed")
    finally:
        worker.stop()
        await served
    await worker.app.store.close()
    await deciding.store.close()


async def test_a_sqlite_store_wakes_its_subscribers_in_this_and_other_instances(
    tmp_path: Path,
) -> None:
    path = tmp_path / "runs.db"
    store, other = SQLiteRunStore(path), SQLiteRunStore(path)
    assert isinstance(store, Notifying)
    paused = await Runner.run(agent, "city:Riga", store=store)  # owned appends: no wake-up
    async with store.changes() as here, other.changes() as there:
        assert not await here.wait(0.01)
        state = await load_state(store, paused.run_id, agent)
        state.approve("call_0", by=ANA)
        await save_state(store, state)
        assert await here.wait(WOKEN_WITHIN)  # the same store, in this process
        assert await there.wait(WOKEN_WITHIN)  # another instance, through the side file
    await store.close()
    await other.close()


async def test_changes_wake_a_waiter_once_per_notify() -> None:
    changes = Changes()
    assert not await changes.wait(0)
    changes.notify()
    changes.notify()
    assert await changes.wait(WOKEN_WITHIN)
    assert not await changes.wait(0)


@pytest.mark.parametrize("turns", range(4))
async def test_a_wait_cancelled_as_a_change_comes_is_cancelled(turns: int) -> None:
    # A worker stopped just as a change wakes it: a wait not yet returned must end
    # cancelled (on Python 3.11 ``asyncio.wait_for`` returned the change instead, and the
    # worker went on). ``turns``: how often the loop runs between the change and the stop.
    changes = Changes()
    waiting = asyncio.create_task(changes.wait(LONG_POLL))
    await asyncio.sleep(0)  # it waits
    changes.notify()
    await asyncio.sleep(0)  # the change reaches the loop
    for _ in range(turns):
        await asyncio.sleep(0)
    returned = waiting.done()
    assert turns > 0 or not returned  # the stop meets the change in flight at least once
    waiting.cancel()
    if returned:
        assert waiting.result() is True  # the change came before the stop
    else:
        with pytest.raises(asyncio.CancelledError):
            await waiting
