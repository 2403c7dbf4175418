"""The deciding side's DBOS client through a database restart.

``DBOSApp``'s client does not ping a pooled connection before using it (a round trip
before every call): the first call after a restart meets a connection the database
dropped. ``start`` queues the run again on a new connection; DBOS's own calls retry by
themselves.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from dbos import DBOSClient

from services import PostgresCluster
from tether.dbos import DBOSApp
from tether.store import PostgresRunStore

from .outage import outage_env, start, stop
from .outage_agent import agent


def client_app(dsn: str, schema: str) -> DBOSApp:
    return DBOSApp(
        [agent],
        store=lambda: PostgresRunStore(dsn, schema=schema),
        system_database_url=dsn,
        system_schema=f"{schema}_dbos",
        polling_interval=0.2,
    )


async def test_a_start_after_a_database_restart_queues_its_run(
    private_postgres: PostgresCluster, tmp_path: Path
) -> None:
    dsn = private_postgres.server.dsn
    schema = f"restart_{uuid.uuid4().hex[:8]}"
    # A worker's first start makes DBOS's tables; it is stopped before any run is queued.
    env = outage_env(dsn, schema, tmp_path / "refunds.log")
    args = ["-m", "tether.dbos", "worker", "tests.faults.outage_apps:dbos_app"]
    worker = start([*args, "--executor-id", "setup"], env, tmp_path / "worker.err")
    assert worker.stdout is not None
    assert b"ready" in worker.stdout.readline()
    code, errors = stop(worker, tmp_path / "worker.err")
    assert code == 0, errors

    app = client_app(dsn, schema)  # only a client: the runs stay queued
    try:
        async with asyncio.timeout(60):
            before = await app.start(agent, "Please refund order R-1")
            await asyncio.to_thread(private_postgres.stop)
            await asyncio.to_thread(private_postgres.start)
            # The pool's connection from before the restart is gone: this start takes it,
            # fails, and queues the run on a new one.
            after = await app.start(agent, "Please refund order R-2")
    finally:
        await app.close()

    client = DBOSClient(system_database_url=dsn, dbos_system_schema=f"{schema}_dbos")
    try:
        queued = await client.list_workflows_async(workflow_ids=[before, after])
    finally:
        client.destroy()
    assert sorted(w.workflow_id for w in queued) == sorted([before, after])
    assert {w.status for w in queued} == {"ENQUEUED"}
