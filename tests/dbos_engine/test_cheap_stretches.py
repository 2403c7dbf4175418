"""What a run costs a worker, kept small without giving up a guarantee: the result event is
set by the step that completes the run, a run's first stretch looks for the run once,
and a waiting run's deadline is read from its journal."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dbos import DBOS

from tether import Agent, Governance, RunNotFoundError
from tether.dbos import DBOSApp
from tether.journal import ApprovalRequested
from tether.store import SQLiteRunStore
from tether.testing import ScriptedModel, message, tool_call
from tether.tools import function_tool

refunds: list[str] = []


@function_tool(needs_approval=True)
def refund(order: str) -> str:
    """Refund an order.

    Args:
        order: The order number.
    """
    refunds.append(order)
    return f"Refunded {order}."


def make_app(tmp_path: Path, model: Any, **options: Any) -> tuple[Agent[None], DBOSApp]:
    agent = Agent(name="Support", model=model, tools=[refund])
    app = DBOSApp(
        [agent],
        store=lambda: SQLiteRunStore(tmp_path / "runs.db"),
        system_database_url=f"sqlite:///{tmp_path / 'dbos.sqlite'}",
        **options,
    )
    return agent, app


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    """Return once ``check()`` is true, looking every 20 ms (bounded by the caller)."""
    while True:
        if await check():
            return
        await asyncio.sleep(0.02)


async def ended(workflow_id: str) -> bool:
    status = await DBOS.get_workflow_status_async(workflow_id)
    return status is not None and status.status == "SUCCESS"


async def decided_run(app: DBOSApp, agent: Agent[None]) -> tuple[Any, Any, list[str]]:
    """Start a run, approve its call, wait for its result: the output, the run's result
    event, and the names of the operations its workflow recorded."""
    from tether.dbos._serving import RESULT_EVENT

    async def waiting() -> bool:
        try:
            return bool((await app.load(run_id)).interruptions)
        except RunNotFoundError:
            return False  # its workflow has not created it yet

    async with asyncio.timeout(30):
        run_id = await app.start(agent, "Refund A-1")
        await until(waiting)
        call_id = (await app.load(run_id)).interruptions[0].call_id
        await app.decide(run_id, call_id, decision="approve", by="ana")
        output = await app.result(run_id)
        event = await DBOS.get_event_async(run_id, RESULT_EVENT, timeout_seconds=0)
        # The event may wake ``result`` before the step's own record is written.
        await until(lambda: ended(run_id))
        steps = [s["function_name"] for s in await DBOS.list_workflow_steps_async(run_id)]
    return output, event, steps


async def refund_decided(tmp_path: Path, **options: Any) -> tuple[Any, Any, list[str]]:
    """``decided_run`` of a refund on a worker launched with ``options``, then shut down."""
    model = ScriptedModel([tool_call("refund", {"order": "A-1"}), message("Done.")])
    agent, app = make_app(tmp_path, model, polling_interval=0.05, **options)
    await app.launch(executor_id="here")
    try:
        return await decided_run(app, agent)
    finally:
        await app.shutdown()


async def test_a_completed_runs_result_event_is_set_by_the_step_that_completes_it(
    tmp_path: Path,
) -> None:
    output, event, steps = await refund_decided(tmp_path)
    assert output == "Done."
    # What wakes ``result`` is there, with the run's output ...
    assert event == {"output": "Done."}
    # ... set within the step that completed the run: the workflow recorded no operation
    # of its own for it (DBOS's "DBOS.setEvent").
    assert steps.count("tether.advance_here") == 2
    assert "DBOS.setEvent" not in steps
    assert steps[-1] == "tether.advance_here"


async def test_a_run_whose_stretches_are_queued_has_its_result_event_set_by_its_workflow(
    tmp_path: Path,
) -> None:
    # With a concurrency over all workers each stretch is a workflow of its own: its step
    # cannot set the run's event, so the run's workflow does, after the last stretch.
    output, event, steps = await refund_decided(tmp_path, worker_concurrency=1, concurrency=1)
    assert output == "Done."
    assert event == {"output": "Done."}
    assert steps[-1] == "DBOS.setEvent"


async def test_a_first_stretch_run_again_goes_on_with_the_stored_run(tmp_path: Path) -> None:
    from tether.dbos._stretch import advance

    calls: list[str] = []

    def broken(request: Any) -> Any:
        calls.append("broken")
        raise RuntimeError("the model has a bug")

    _, app = make_app(tmp_path, ScriptedModel([broken, tool_call("refund", {"order": "A-1"})]))
    failed = await advance(app, "r1", "Support", "Refund A-1", None, first=True)
    assert failed["status"] == "failed"
    stored = await app.store().load("r1")
    # The first stretch again (an engine re-executing it after a crash): the stored run is
    # found and reported as it stands. It is not started over, nor is its failure tried
    # again by the loop (only a person's retry does that).
    again = await advance(app, "r1", "Support", "Refund A-1", None, first=True)
    assert again == failed
    assert calls == ["broken"]
    assert (await app.store().load("r1")).seq == stored.seq
    await app.close()


async def test_a_first_stretch_run_again_on_a_decided_run_resumes_it(tmp_path: Path) -> None:
    from tether.dbos._stretch import advance

    refunds.clear()
    model = ScriptedModel([tool_call("refund", {"order": "A-2"}), message("Done.")])
    _, app = make_app(tmp_path, model)
    waiting = await advance(app, "r2", "Support", "Refund A-2", None, first=True)
    assert waiting["status"] == "waiting"
    call_id = (await app.load("r2")).interruptions[0].call_id
    await app.decide("r2", call_id, decision="approve", by="ana")  # no workflow to wake here
    done = await advance(app, "r2", "Support", "Refund A-2", None, first=True)
    assert done == {"status": "completed", "final_output": "Done."}
    assert refunds == ["A-2"]
    started = [e for e in (await app.store().load("r2")).events if type(e).__name__ == "RunStarted"]
    assert len(started) == 1
    await app.close()


async def test_a_waiting_runs_deadline_is_the_app_timeout_after_its_request(
    tmp_path: Path,
) -> None:
    from tether.dbos._stretch import advance

    model = ScriptedModel([tool_call("refund", {"order": "A-3"})])
    _, app = make_app(tmp_path, model, approval_timeout=3600.0)
    outcome = await advance(app, "r3", "Support", "Refund A-3", None, first=True)
    journal = (await app.load("r3")).journal
    request = next(e for e in journal if isinstance(e, ApprovalRequested))
    assert request.at is not None
    assert outcome == {
        "status": "waiting",
        "deadline": datetime.fromisoformat(request.at).timestamp() + 3600.0,
    }
    await app.close()


async def test_a_deadline_under_a_governance_clock_of_its_own_is_the_stores(
    tmp_path: Path,
) -> None:
    from tether.dbos._stretch import advance

    # A governance clock that is not the machine's (a test's, a simulation's) times the
    # journal's requests; the app's approval_timeout runs on the store's clock, as ever.
    governance = Governance(clock=lambda: datetime(2001, 1, 1, tzinfo=UTC))
    model = ScriptedModel([tool_call("refund", {"order": "A-4"})])
    _, app = make_app(tmp_path, model, approval_timeout=3600.0, governance=governance)
    outcome = await advance(app, "r4", "Support", "Refund A-4", None, first=True)
    [pending] = await app.store().pending_approvals(run_id="r4")
    assert outcome == {"status": "waiting", "deadline": pending.requested_at.timestamp() + 3600.0}
    await app.close()
