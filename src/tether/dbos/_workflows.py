"""The DBOS workflows and steps that carry a tether run, and the one app a worker serves.

Two workflows, on two queues:

- ``tether.run`` (queue ``tether_runs``, no limits) coordinates one run for its
  whole life: it hands each stretch of work to an ``tether.advance`` child, and
  between stretches waits for a person with a durable ``recv``. Waiting costs a
  row in the system database, not a slot of the work queue.
- ``tether.advance`` (queue ``tether_work``, per-worker and global limits) runs
  tether's ordinary loop on the stored run until it stops: final output,
  calls that need a decision, or calls in doubt.

The seam with DBOS's replay: DBOS re-executes a step whose output it did not
record, so the step that advances a run may run again after a crash. That is
safe because the step only resumes tether's journal: a turn whose model response
is stored is not asked again, and a tool whose ``ToolStarted`` is stored without
its completion is not run again but reported in doubt (unless it is idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import TYPE_CHECKING, Any

from dbos import DBOS, SetWorkflowID

from .._exceptions import EngineError, RunBusyError, RunConflictError, RunNotFoundError
from ..items import to_input_items
from ..run import RunCompleted, Runner, RunStarted, RunState
from ..run._runner import DEFAULT_MAX_TURNS
from ..store import load_state, save_state

if TYPE_CHECKING:
    from ._app import DBOSApp

__all__ = [
    "ADVANCE_WORKFLOW",
    "DECISION_TOPIC",
    "EXPIRED_BY",
    "RUNS_QUEUE",
    "RUN_WORKFLOW",
    "WORK_QUEUE",
    "serving",
]

RUN_WORKFLOW = "tether.run"
ADVANCE_WORKFLOW = "tether.advance"
RUNS_QUEUE = "tether_runs"
WORK_QUEUE = "tether_work"
DECISION_TOPIC = "tether.decision"
EXPIRED_BY = "tether.expiry"
"""The ``by`` of a rejection the system made because an approval's time ran out."""

_serving: list[DBOSApp] = []


def serving() -> DBOSApp:
    """The app this process's workflows belong to (set by ``DBOSApp.launch``)."""
    if not _serving:
        raise EngineError(
            "A tether workflow ran in a process whose DBOSApp was not launched. "
            "Call app.launch() (or run `python -m tether.dbos worker module:app`) first."
        )
    return _serving[-1]


# -- the coordinating workflow ----------------------------------------------------------


@DBOS.workflow(name=RUN_WORKFLOW)
async def run_workflow(run_id: str, agent: str, input: Any, max_turns: int | None) -> Any:
    """One run from start to final output; returns the final output (JSON data)."""
    stretch = 0
    while True:
        # A fixed child id: replay after a crash attaches to the same child.
        with SetWorkflowID(f"{run_id}.advance.{stretch}"):
            handle = await DBOS.enqueue_workflow_async(
                WORK_QUEUE, advance_workflow, run_id, agent, input, max_turns
            )
        outcome: dict[str, Any] = await handle.get_result()
        stretch += 1
        if outcome["status"] == "completed":
            return outcome["final_output"]
        deadline = outcome["deadline"]
        if outcome["status"] == "in_doubt" or deadline is None:
            # In doubt: only a person can settle it; there is no expiry for that.
            await DBOS.recv_async(DECISION_TOPIC, timeout_seconds=serving().doubt_poll)
            continue
        message = await DBOS.recv_async(
            DECISION_TOPIC, timeout_seconds=max(0.0, deadline - time.time())
        )
        if message is None:
            await expire_step(run_id, agent)


# -- the work ---------------------------------------------------------------------------


@DBOS.workflow(name=ADVANCE_WORKFLOW)
async def advance_workflow(run_id: str, agent: str, input: Any, max_turns: int | None) -> Any:
    """One stretch of a run's work, on the work queue."""
    return await advance_step(run_id, agent, input, max_turns)


@DBOS.step(name="tether.advance_run")
async def advance_step(
    run_id: str, agent: str, input: Any, max_turns: int | None
) -> dict[str, Any]:
    """Create the run if the store lacks it, then resume it until it stops.

    Safe to run again after a crash (DBOS re-executes an unrecorded step): it
    only ever continues the stored journal.
    """
    app = serving()
    store = app.store()
    root = app.agent(agent)
    await _create(app, run_id, root.name, input, max_turns)
    while True:
        state = await load_state(store, run_id, root, context=app.context)
        if not _needs_work(state):
            return await _outcome(app, state)
        try:
            result = await Runner.run(root, state, store=store, model_provider=app.model_provider)
        except RunBusyError:
            # The lease of a worker that died expires after its TTL; then it is ours.
            await asyncio.sleep(app.lease_wait)
            continue
        except RunConflictError:
            continue  # someone appended (a decision) meanwhile: load again
        return await _outcome(app, result.to_state())


@DBOS.step(name="tether.expire")
async def expire_step(run_id: str, agent: str) -> int:
    """Reject every call still waiting once its approval's time is up; return how many."""
    app = serving()
    store = app.store()
    root = app.agent(agent)
    while True:
        state = await load_state(store, run_id, root, context=app.context)
        waiting = state.interruptions
        for item in waiting:
            state.reject(item, message=app.expiry_message, by=EXPIRED_BY)
        if not waiting:
            return 0
        try:
            await save_state(store, state)
        except RunConflictError:
            continue  # a decision arrived meanwhile: look again
        return len(waiting)


async def _create(app: DBOSApp, run_id: str, agent: str, input: Any, max_turns: int | None) -> None:
    store = app.store()
    try:
        await store.load(run_id)
        return
    except RunNotFoundError:
        pass
    started = RunStarted(
        run_id=run_id,
        agent=agent,
        input=to_input_items(input),
        max_turns=max_turns or DEFAULT_MAX_TURNS,
    )
    with contextlib.suppress(RunConflictError):  # an earlier attempt of this step created it
        await store.append(run_id, 0, [started])


def _needs_work(state: RunState) -> bool:
    return not (state.is_complete or state.interruptions or state.in_doubt)


async def _outcome(app: DBOSApp, state: RunState) -> dict[str, Any]:
    if state.is_complete:
        final = next(e for e in reversed(state.journal) if isinstance(e, RunCompleted))
        # Frozen containers become plain JSON data again.
        return {"status": "completed", "final_output": json.loads(json.dumps(final.output))}
    if state.in_doubt:
        return {"status": "in_doubt", "deadline": None}
    requested = await app.store().pending_approvals(run_id=state.run_id)
    deadline = None
    if requested and app.approval_timeout is not None:
        first = min(p.requested_at for p in requested)
        deadline = first.timestamp() + app.approval_timeout
    return {"status": "waiting", "deadline": deadline}
