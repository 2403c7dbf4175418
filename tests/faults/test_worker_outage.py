"""``tether worker`` through a database restart: PostgreSQL stops for five seconds while
runs are inside their tool, and starts again.

Every run ends completed or in doubt, no tool body runs twice (counted in a file outside
the database), and a decision given during the outage either succeeds or fails with the
retryable ``StoreUnavailableError``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

from services import PostgresCluster
from tether import Approver, NotPendingError
from tether.errors import StoreUnavailableError
from tether.server import App
from tether.store import PostgresRunStore

from .outage import OUTAGE_SECONDS, outage_env, start, stop, tool_runs, wait_until
from .outage_agent import agent

RUNS = 8
ANA = Approver("ana")


async def decide_once(app: App, run_id: str, call_id: str) -> BaseException | None:
    """Approve the call; the error it failed with, if it did."""
    try:
        await app.inbox.decide(run_id, call_id, ANA, "approve")
    except StoreUnavailableError as exc:
        return exc
    return None


async def decide_until_done(app: App, run_id: str, call_id: str) -> None:
    while True:
        try:
            await app.inbox.decide(run_id, call_id, ANA, "approve")
            return
        except NotPendingError:
            return  # it landed after all (its commit outcome was unknown)
        except StoreUnavailableError:
            await asyncio.sleep(0.2)


async def test_runs_inside_their_tool_survive_a_database_restart(
    private_postgres: PostgresCluster, tmp_path: Path
) -> None:
    schema = f"outage_{uuid.uuid4().hex[:8]}"
    log = tmp_path / "refunds.log"
    env = outage_env(private_postgres.server.dsn, schema, log)
    # The deciding side gives up quickly: a person retries, the error says so.
    store = PostgresRunStore(private_postgres.server.dsn, schema=schema, retry_for=1)
    app = App(agents=[agent], store=store)
    orders = [f"A-{n}" for n in range(RUNS)]
    run_ids = [await app.inbox.start("Refunds", f"Please refund order {o}") for o in orders]
    worker_args = ["-m", "tether.cli", "worker", "tests.faults.outage_apps:app", "--poll", "0.2"]
    errors = [tmp_path / f"worker{n}.err" for n in range(2)]
    workers = [start(worker_args, env, sink) for sink in errors]
    try:

        async def all_waiting() -> bool:
            return len(await store.pending_approvals()) == RUNS

        await wait_until(all_waiting, within=60, what="every run to ask for its approval")
        first, second = run_ids[: RUNS // 2], run_ids[RUNS // 2 :]
        calls = {p.run_id: p.call_id for p in await store.pending_approvals()}
        for run_id in first:
            await app.inbox.decide(run_id, calls[run_id], ANA, "approve")

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
        for run_id in failed:
            await decide_until_done(app, run_id, calls[run_id])

        async def all_settled() -> bool:
            statuses = [(await store.load(run_id)).status for run_id in run_ids]
            return all(status in ("completed", "in_doubt") for status in statuses)

        await wait_until(all_settled, within=150, what="every run to complete or stop in doubt")
    finally:
        stopped = [stop(worker, sink) for worker, sink in zip(workers, errors, strict=True)]
    assert [code for code, _ in stopped] == [0, 0], [err for _, err in stopped]
    ran = tool_runs(log)
    assert max(ran.values()) == 1, ran  # no refund ran twice
    for run_id, order in zip(run_ids, orders, strict=True):
        stored = await store.load(run_id)
        if stored.status == "completed":
            assert ran[order] == 1
            state = await app.inbox.show(run_id)
            assert state.output == f"Done: Refunded order {order}."
    await store.close()
