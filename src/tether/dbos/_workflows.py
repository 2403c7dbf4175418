"""The DBOS workflows and steps that carry a tether run.

Two workflows, on two queues:

- ``tether.run`` (queue ``tether_runs``, no limits) coordinates one run for its
  whole life: it advances each stretch of work itself, as a step, in one of its
  worker's ``worker_concurrency`` slots, and between stretches waits for a person
  with a durable ``recv``. Waiting costs a row in the system database, not a slot.
- ``tether.advance`` (queue ``tether_work``, per-worker and global limits), only
  with a global ``concurrency``, which only DBOS's queue can keep: one stretch,
  tether's ordinary loop on the stored run until it stops (final output, calls
  that need a decision, or calls in doubt).

Nothing on a run's way waits for a poll when it need not. Without a global
``concurrency`` a stretch waits for a slot of its own worker (in memory) rather
than being queued: a queued stretch costs its run a child workflow, its dequeue,
a message and the wait for it, as many system-database writes again as the run
itself. Runs are spread over workers as they are taken, each worker taking one
per free slot (``DBOSApp._claim_room``), not stretch by stretch. A queued stretch
sends its outcome to the coordinating workflow (a DBOS message, woken by
PostgreSQL's NOTIFY), rather than being polled for its result; a decision wakes
the run the same way (``DBOSApp.decide``). Each wait still looks for itself after ``wake_timeout``
seconds: the safety net if a wake-up never comes.

The seam with DBOS's replay: DBOS re-executes a step whose output it did not
record, so the step that advances a run may run again after a crash. That is
safe because the step only resumes tether's journal: a turn whose model response
is stored is not asked again, and a tool whose ``ToolStarted`` is stored without
its completion is not run again but reported in doubt (unless it is idempotent).

The workflows find the app they serve, and the names they share with it, in
``_serving``.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, cast

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
from ._serving import (
    ADVANCE_WORKFLOW,
    DECISION_TOPIC,
    RESULT_EVENT,
    RUN_WORKFLOW,
    WORK_QUEUE,
    serving,
)
from ._stretch import advance, expire

__all__ = [
    "advance_here_step",
    "advance_step",
    "advance_workflow",
    "expire_step",
    "run_workflow",
]


# -- the coordinating workflow ----------------------------------------------------------


@DBOS.workflow(name=RUN_WORKFLOW)
async def run_workflow(run_id: str, agent: str, input: Any, max_turns: int | None) -> Any:
    """One run from start to final output; returns the final output (JSON data), which
    it also publishes as the event ``RESULT_EVENT`` (``DBOSApp.result`` is woken by it:
    ``{"output": ...}``, set by the step that completes the run unless the stretch was
    queued; or ``{"failed": True}`` if the workflow raises)."""
    try:
        with serving().drain.workflow():  # cancelled by the worker's stop, if still here
            return await _coordinate(run_id, agent, input, max_turns)
    except Exception:
        # Only a wake-up: DBOSApp.result reads the error from DBOS (and looks for itself
        # after wake_timeout if this event could not be set).
        with contextlib.suppress(Exception):
            await DBOS.set_event_async(RESULT_EVENT, {"failed": True})
        raise


async def _coordinate(run_id: str, agent: str, input: Any, max_turns: int | None) -> Any:
    stretch = 0
    while True:
        outcome = await _stretch(run_id, agent, input, max_turns, stretch)
        stretch += 1
        if outcome["status"] == "completed":
            if not outcome.get(_PUBLISHED):  # a queued stretch, or one recorded before
                await DBOS.set_event_async(RESULT_EVENT, {"output": outcome["final_output"]})
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


async def _stretch(
    run_id: str, agent: str, input: Any, max_turns: int | None, stretch: int
) -> dict[str, Any]:
    """Advance the run here, in one of this worker's slots (waiting for one if all are
    taken), or, with a ``concurrency`` over all workers, on the work queue.

    Here is the cheap way: one step. A queued stretch costs its run a child workflow,
    its dequeue, a message and the wait for it: as many system-database writes again,
    in the worker's CPU. So a busy worker waits for its own slot rather than queue;
    runs are spread over the workers as they are taken (``_wake``), not stretch by
    stretch. The work queue stays for the limit over all workers, which only it
    can keep.
    """
    app = serving()
    slots = app.stretch_slots
    here = app.concurrency is None
    app.stretches += 1  # how busy this worker is (DBOSApp._claim_room)
    app.starting.discard(run_id)  # counted as claimed until now
    try:
        if here and slots is not None:
            await slots.acquire()
        try:
            # Recorded: a replay after a crash takes the path taken (a step whose output
            # was not recorded runs again, on the path of this worker's settings). None
            # begins on a stopping worker (the next one advances the run).
            async with app.drain.stretch():
                outcome = await advance_here_step(
                    here, run_id, agent, input, max_turns, stretch == 0
                )
        finally:
            if here and slots is not None:
                slots.release()
    finally:
        app.stretches -= 1
        app.stretch_ended()  # a run left queued for want of a slot may be taken now
    if outcome is not None:
        return outcome
    # A fixed child id: replay after a crash attaches to the same child.
    with SetWorkflowID(f"{run_id}.advance.{stretch}"):
        handle = await DBOS.enqueue_workflow_async(
            WORK_QUEUE, advance_workflow, run_id, agent, input, max_turns
        )
    return await _outcome_of(handle)


async def _outcome_of(handle: Any) -> dict[str, Any]:
    """The queued stretch's outcome: its message (the topic is its workflow id), or, if
    none came within ``wake_timeout``, its result once DBOS says it ended."""
    child = handle.get_workflow_id()
    while True:
        message = await DBOS.recv_async(child, timeout_seconds=serving().wake_timeout)
        if message is not None and message.get("status") != "raised":
            return cast(dict[str, Any], message)
        status = await DBOS.get_workflow_status_async(child)
        if message is not None or (status is not None and status.status not in _UNFINISHED):
            result = await handle.get_result(polling_interval_sec=serving().polling_interval)
            return cast(dict[str, Any], result)


_UNFINISHED = ("PENDING", "ENQUEUED", "DELAYED")


# -- the work ---------------------------------------------------------------------------


@DBOS.workflow(name=ADVANCE_WORKFLOW)
async def advance_workflow(run_id: str, agent: str, input: Any, max_turns: int | None) -> Any:
    """One stretch of a run's work, on the work queue; its outcome is sent to the run's
    workflow (topic: this workflow's id), ``{"status": "raised"}`` if it raised."""
    app = serving()
    slots = app.stretch_slots
    me = DBOS.workflow_id
    assert me is not None
    with app.drain.workflow():
        if slots is not None:
            await slots.acquire()  # stretches advanced in coordinating workflows count too
        try:
            async with app.drain.stretch():
                outcome = await advance_step(run_id, agent, input, max_turns)
        except Exception:
            await DBOS.send_async(run_id, {"status": "raised"}, me)
            raise
        finally:
            if slots is not None:
                slots.release()
    await DBOS.send_async(run_id, outcome, me)
    return outcome


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


# How a step that failed for a moment is run again: up to six times, waiting 1, 2, 4... s.
_RETRIED: dict[str, Any] = {
    "retries_allowed": True,
    "max_attempts": 6,
    "interval_seconds": 1.0,
    "backoff_rate": 2.0,
    "should_retry": _transient,
}


@DBOS.step(name="tether.advance_run", **_RETRIED)
async def advance_step(
    run_id: str, agent: str, input: Any, max_turns: int | None
) -> dict[str, Any]:
    """``advance`` as a DBOS step (re-executed if its process died before it finished)."""
    return await advance(serving(), run_id, agent, input, max_turns)


@DBOS.step(name="tether.advance_here", **_RETRIED)
async def advance_here_step(
    here: bool,
    run_id: str,
    agent: str,
    input: Any,
    max_turns: int | None,
    first: bool = False,
) -> dict[str, Any] | None:
    """``advance`` in the coordinating workflow, if ``here`` (its worker had a free
    slot); ``None`` if not (the stretch goes to the work queue). ``first``: the run's
    first stretch (``advance``'s ``first``).

    A completed run's result event is set here, by the step (``_PUBLISHED`` in the
    outcome says so), rather than by the workflow after it: an event set from a step is
    one write, where the workflow's own ``set_event`` is a recorded operation of its own
    (a look for its record, then the record, in the same transaction as the event). Set
    again if the step runs again after a crash: the same value, from the journal."""
    if not here:
        return None
    outcome = await advance(serving(), run_id, agent, input, max_turns, first=first)
    if outcome["status"] == "completed":
        await DBOS.set_event_async(RESULT_EVENT, {"output": outcome["final_output"]})
        outcome[_PUBLISHED] = True
    return outcome


_PUBLISHED = "published"
"""An outcome key: the step already set the run's result event (the workflow need not)."""


@DBOS.step(name="tether.expire", **_RETRIED)
async def expire_step(run_id: str, agent: str) -> int:
    """``expire`` as a DBOS step."""
    return await expire(serving(), run_id, agent)
