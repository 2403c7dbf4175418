"""Three DBOS workers through a database restart: the run store and DBOS's system database
share one PostgreSQL, which stops for five seconds while runs are inside their tool.

Every run ends completed or in doubt (never a workflow in ERROR), no tool body runs twice
(counted in a file outside the database), and a decision given during the outage either
succeeds or fails with the retryable ``StoreUnavailableError``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from dbos import DBOSClient

from services import PostgresCluster
from tether import NotPendingError
from tether.dbos import DBOSApp
from tether.errors import StoreUnavailableError
from tether.store import PostgresRunStore

from .outage import OUTAGE_SECONDS, outage_env, start, stop, tool_runs, wait_until
from .outage_agent import agent

RUNS = 12


async def decide_once(app: DBOSApp, run_id: str, call_id: str) -> BaseException | None:
    try:
        await app.decide(run_id, call_id, decision="approve", by="ana")
    except StoreUnavailableError as exc:
        return exc
    return None


async def decide_until_done(app: DBOSApp, run_id: str, call_id: str) -> None:
    while True:
        try:
            await app.decide(run_id, call_id, decision="approve", by="ana")
            return
        except NotPendingError:
            return  # it landed after all (its commit outcome was unknown)
        except StoreUnavailableError:
            await asyncio.sleep(0.2)


async def test_dbos_runs_inside_their_tool_survive_a_database_restart(
    private_postgres: PostgresCluster, tmp_path: Path
) -> None:
    dsn = private_postgres.server.dsn
    schema = f"outage_{uuid.uuid4().hex[:8]}"
    log = tmp_path / "refunds.log"
    env = outage_env(dsn, schema, log)
    app = DBOSApp(
        [agent],
        # The deciding side gives up quickly: a person retries, the error says so.
        store=lambda: PostgresRunStore(dsn, schema=schema, retry_for=1),
        system_database_url=dsn,
        system_schema=f"{schema}_dbos",
        polling_interval=0.2,
    )
    store = app.store()
    args = ["-m", "tether.dbos", "worker", "tests.faults.outage_apps:dbos_app", "--executor-id"]
    errors = [tmp_path / f"w{n}.err" for n in range(3)]
    workers = [start([*args, f"w{n}"], env, sink) for n, sink in enumerate(errors)]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert b"ready" in worker.stdout.readline()  # its DBOS tables exist
        orders = [f"A-{n}" for n in range(RUNS)]
        run_ids = [await app.start(agent, f"Please refund order {o}") for o in orders]

        async def all_waiting() -> bool:
            return len(await store.pending_approvals()) == RUNS

        await wait_until(all_waiting, within=60, what="every run to ask for its approval")
        calls = {p.run_id: p.call_id for p in await store.pending_approvals()}
        first, second = run_ids[: RUNS // 2], run_ids[RUNS // 2 :]
        for run_id in first:
            await app.decide(run_id, calls[run_id], decision="approve", by="ana")

        async def a_tool_runs() -> bool:
            return bool(tool_runs(log))

        await wait_until(a_tool_runs, within=60, what="a refund to start")
        await asyncio.to_thread(private_postgres.stop)
        down_at = time.monotonic()
        outcomes = await asyncio.gather(*(decide_once(app, r, calls[r]) for r in second))
        await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
        await asyncio.to_thread(private_postgres.start)

        for outcome in outcomes:
            assert outcome is None or isinstance(outcome, StoreUnavailableError), outcome
        failed = [r for r, o in zip(second, outcomes, strict=True) if o is not None]
        assert failed, "no decision was given while the database was down"
        assert all(o.retryable for o in outcomes if isinstance(o, StoreUnavailableError))

        def settled(runs: list[str]) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                statuses = [(await store.load(run_id)).status for run_id in runs]
                return all(status in ("completed", "in_doubt") for status in statuses)

            return check

        # The runs that were inside their tool go on by themselves. The decisions that failed
        # are given again once the workers are back: a wake-up sent while a worker's DBOS
        # listener reconnects is only noticed by DBOS's fallback poll (a minute later). A run
        # whose stretch lost the store mid-tool shows "running" until that stretch's lease
        # expires (30 s), then "in_doubt": the bound leaves room for a loaded machine.
        await wait_until(settled(first), within=150, what="the runs in their tool to settle")
        for run_id in failed:
            await decide_until_done(app, run_id, calls[run_id])
        await wait_until(settled(run_ids), within=150, what="every run to settle")
        ran = tool_runs(log)
        assert max(ran.values()) == 1, ran  # no refund ran twice
        client = DBOSClient(system_database_url=dsn, dbos_system_schema=f"{schema}_dbos")
        try:
            for run_id, order in zip(run_ids, orders, strict=True):
                stored = await store.load(run_id)
                if stored.status == "completed":
                    assert ran[order] == 1
                    async with asyncio.timeout(30):
                        assert await app.result(run_id) == f"Done: Refunded order {order}."
                else:  # in doubt: its workflow waits for a person, it did not fail
                    handle = await client.retrieve_workflow_async(run_id)
                    assert (await handle.get_status()).status == "PENDING"
        finally:
            client.destroy()
    finally:
        stopped = [stop(worker, sink) for worker, sink in zip(workers, errors, strict=True)]
        await app.close()
    assert [code for code, _ in stopped] == [0, 0, 0], [err for _, err in stopped]
