"""A worker's shutdown leaves its event loop usable and its stores closed.

DBOS makes its thread pool the event loop's default executor and shuts the pool down with
itself. ``DBOSApp.shutdown`` then gives the loop a pool of its own again: the app's stores
close in it (a SQLite store closes its connection in a thread; PostgreSQL's pool waits
for its tasks), and whatever the application does on that loop afterwards
(``asyncio.to_thread``, ``loop.run_in_executor(None, ...)``) still runs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tether.store import SQLiteRunStore
from tether.testing import ScriptedModel, message, tool_call

from .test_cheap_stretches import decided_run, make_app


async def test_after_a_shutdown_the_loop_runs_threads_and_the_store_is_closed(
    tmp_path: Path,
) -> None:
    model = ScriptedModel([tool_call("refund", {"order": "A-1"}), message("Done.")])
    agent, app = make_app(tmp_path, model, polling_interval=0.05)
    await app.launch(executor_id="here")
    try:
        output, _, _ = await decided_run(app, agent)  # DBOS's pool ran its steps
        store = app.store()
        assert isinstance(store, SQLiteRunStore)
    finally:
        await app.shutdown()
    assert output == "Done."
    assert await asyncio.to_thread(lambda: "still running") == "still running"
    # Closed, not left to the process's end: SQLite removes its write-ahead log as the
    # last connection to the file closes.
    assert not (tmp_path / "runs.db-wal").exists()
