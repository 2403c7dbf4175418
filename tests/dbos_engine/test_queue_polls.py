"""A worker looks at DBOS's queues only as often as they can hold its work: the work
queue, which only an app with ``concurrency`` uses, is looked at every
``polling_interval`` there and seldom otherwise (each look costs every worker two
system-database transactions)."""

from __future__ import annotations

from pathlib import Path

import pytest
from dbos import DBOS

from tether import Agent
from tether.dbos import DBOSApp
from tether.dbos._app import IDLE_WORK_POLL
from tether.dbos._serving import RUNS_QUEUE, WORK_QUEUE
from tether.store import SQLiteRunStore
from tether.testing import ScriptedModel, message


@pytest.mark.parametrize("concurrency", [None, 16])
async def test_the_work_queue_is_polled_often_only_with_a_concurrency(
    tmp_path: Path, concurrency: int | None
) -> None:
    agent = Agent(name="Support", model=ScriptedModel([message("Done.")]))
    app = DBOSApp(
        [agent],
        store=lambda: SQLiteRunStore(tmp_path / "runs.db"),
        system_database_url=f"sqlite:///{tmp_path / 'dbos.sqlite'}",
        polling_interval=0.5,
        concurrency=concurrency,
    )
    await app.launch(executor_id="here")
    try:
        polls = {}
        for name in (RUNS_QUEUE, WORK_QUEUE):
            queue = await DBOS.retrieve_queue_async(name)
            assert queue is not None
            polls[name] = queue.polling_interval_sec
    finally:
        await app.shutdown()
    assert polls[RUNS_QUEUE] == 0.5  # the safety net under the wake-ups
    assert polls[WORK_QUEUE] == (0.5 if concurrency is not None else IDLE_WORK_POLL)
