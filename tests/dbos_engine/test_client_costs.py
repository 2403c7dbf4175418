"""What ``DBOSApp``'s calls outside the workers cost: a decision reads the stored run once
(and appends onto the history it read, without asking for the run's tip),
and ``result`` looks up the run's status once, whether the run has ended (its status holds
the output) or its result event wakes the wait."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tether import Agent, RunNotFoundError
from tether.dbos import DBOSApp
from tether.errors import EngineError
from tether.store import PostgresRunStore, RunStore, SQLiteRunStore
from tether.testing import ScriptedModel, message, tool_call

from .test_cheap_stretches import refund


def refund_agent() -> Agent[None]:
    model = ScriptedModel([tool_call("refund", {"order": "A-1"}), message("Done.")])
    return Agent(name="Support", model=model, tools=[refund])


@contextmanager
def counted(target: Any, method: str) -> Iterator[list[object]]:
    """Count the calls of ``target.method`` within the block."""
    calls: list[object] = []
    original = getattr(target, method)

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    setattr(target, method, counting)
    try:
        yield calls
    finally:
        setattr(target, method, original)


async def waiting_call(app: DBOSApp, run_id: str) -> str:
    """The call ``run_id`` waits on, once its workflow has stored it (bounded by the caller)."""
    while True:
        try:
            interruptions = (await app.load(run_id)).interruptions
        except RunNotFoundError:  # its workflow has not created it yet
            interruptions = []
        if interruptions:
            return interruptions[0].call_id
        await asyncio.sleep(0.02)


async def test_a_decision_reads_the_stored_run_once(tmp_path: Path) -> None:
    agent = refund_agent()
    app = DBOSApp(
        [agent],
        store=lambda: SQLiteRunStore(tmp_path / "runs.db"),
        system_database_url=f"sqlite:///{tmp_path / 'dbos.sqlite'}",
        polling_interval=0.05,
    )
    await app.launch(executor_id="here")
    try:
        async with asyncio.timeout(30):
            run_id = await app.start(agent, "Refund A-1")
            call_id = await waiting_call(app, run_id)
            store: RunStore = app.store()
            reads: list[str] = []
            for method in ("load", "tip"):  # a load, or the tip a save compares

                async def read(run: str, method: str = method) -> Any:
                    reads.append(method)
                    return await getattr(type(store), method)(store, run)

                setattr(store, method, read)
            try:
                await app.decide(run_id, call_id, decision="approve", by="ana")
            finally:
                del store.load, store.tip  # the class's again
            # The run names its agent and holds its journal; the decision is appended onto
            # the very history it was loaded at without a look at the run's tip first.
            assert reads == ["load"]
            assert await app.result(run_id) == "Done."
    finally:
        await app.shutdown()


@pytest.fixture
def postgres_app(postgres_dsn: str) -> tuple[Agent[None], DBOSApp]:
    schema = f"costs_{uuid.uuid4().hex[:10]}"
    agent = refund_agent()
    app = DBOSApp(
        [agent],
        store=lambda: PostgresRunStore(postgres_dsn, schema=schema),
        system_database_url=postgres_dsn,
        system_schema=f"{schema}_dbos",
        polling_interval=0.05,
    )
    return agent, app


async def test_a_result_looks_up_the_runs_status_once(
    postgres_app: tuple[Agent[None], DBOSApp],
) -> None:
    agent, app = postgres_app
    await app.launch(executor_id="here")
    try:
        async with asyncio.timeout(30):
            run_id = await app.start(agent, "Refund A-1")
            call_id = await waiting_call(app, run_id)
            system = app._dbos()._sys_db
            with counted(system, "list_workflows") as woken:
                # Waiting before the decision: the result event wakes it.
                result = asyncio.create_task(app.result(run_id))
                await asyncio.sleep(0.2)
                await app.decide(run_id, call_id, decision="approve", by="ana")
                assert await result == "Done."
            with counted(system, "list_workflows") as ended:
                assert await app.result(run_id) == "Done."  # its status holds the output
            with pytest.raises(EngineError, match="could not find run"):
                await app.result("no-such-run")
    finally:
        await app.shutdown()
    assert (len(woken), len(ended)) == (1, 1)
