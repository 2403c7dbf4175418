"""The DBOS workflows and steps that carry a tether run.

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

The workflows find the app they serve, and the names they share with it, in
``_serving``.
"""

from __future__ import annotations

import time
from typing import Any

from dbos import DBOS, SetWorkflowID

from ..errors import (
    ModelProviderError,
    RunNotFoundError,
    StoreError,
    StoreFormatError,
    StoreIntegrityError,
    StoreUnavailableError,
    StoreVersionError,
)
from ._serving import ADVANCE_WORKFLOW, DECISION_TOPIC, RUN_WORKFLOW, WORK_QUEUE, serving
from ._stretch import advance, expire

__all__ = ["advance_step", "advance_workflow", "expire_step", "run_workflow"]


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
        outcome: dict[str, Any] = await handle.get_result(
            polling_interval_sec=serving().polling_interval
        )
        stretch += 1
        if outcome["status"] == "completed":
            return outcome["final_output"]
        deadline = outcome["deadline"]
        if outcome["status"] in ("in_doubt", "failed") or deadline is None:
            # In doubt, failed, or only output reviews waiting: only a person can settle
            # them (a retry of a failed run wakes it), and none expires.
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


def _transient(error: BaseException) -> bool:
    # A store or model provider that failed for a moment: the stretch is safe to run
    # again (it continues the journal). Anything else (a refused state, a spent turn
    # budget, a tool error) would fail the same way again. A store that stayed
    # unavailable was already waited for (DBOSApp.store_patience): that is the bound.
    return isinstance(error, StoreError | ModelProviderError) and not isinstance(
        error,
        StoreIntegrityError
        | StoreFormatError
        | StoreVersionError
        | StoreUnavailableError
        | RunNotFoundError,
    )


@DBOS.step(
    name="tether.advance_run",
    retries_allowed=True,
    max_attempts=6,
    interval_seconds=1.0,
    backoff_rate=2.0,
    should_retry=_transient,
)
async def advance_step(
    run_id: str, agent: str, input: Any, max_turns: int | None
) -> dict[str, Any]:
    """``advance`` as a DBOS step (re-executed if its process died before it finished)."""
    return await advance(serving(), run_id, agent, input, max_turns)


@DBOS.step(
    name="tether.expire",
    retries_allowed=True,
    max_attempts=6,
    interval_seconds=1.0,
    backoff_rate=2.0,
    should_retry=_transient,
)
async def expire_step(run_id: str, agent: str) -> int:
    """``expire`` as a DBOS step."""
    return await expire(serving(), run_id, agent)
