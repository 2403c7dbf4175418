"""One stretch of a stored run, and the expiry of its approvals: the engine-neutral seam.

A durable engine (DBOS here; Temporal could follow with activities) calls these as
its steps. Each only ever continues the run's journal in the run store, which is
the truth: run again after a crash, ``advance`` never repeats a model call the
journal has, and never re-runs a non-idempotent tool whose completion is not
recorded (the run stops with the call in doubt).

A store that is unavailable for a while (a database restart) does not fail the
run: each stretch is started over, with growing pauses, for up to the app's
``store_patience`` seconds (starting over is safe for the same reason).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Protocol

from .._agent import Agent
from .._governance import Governance
from ..errors import (
    RunBusyError,
    RunConflictError,
    RunNotFoundError,
    StoreError,
    StoreUnavailableError,
)
from ..items import to_input_items
from ..journal import RunCompleted, RunStarted
from ..models import ModelProvider
from ..run import DEFAULT_MAX_TURNS, Runner, RunState
from ..run._failure import RetryPolicy, retryable
from ..store import RunStore, expire_run, load_state, record_failure
from ..store._retry import outlast_outage

__all__ = ["Engine", "advance", "expire"]

_log = logging.getLogger("tether.dbos")

RETRY = RetryPolicy()
"""How often a stretch tries a run again after a retryable failure, in all."""


class Engine(Protocol):
    """What ``advance`` and ``expire`` need from the app an engine serves."""

    context: Any
    model_provider: ModelProvider | None
    governance: Governance | None
    lease_wait: float
    store_patience: float
    approval_timeout: float | None
    expiry_message: str

    def agent(self, name: str) -> Agent[Any]: ...

    def store(self) -> RunStore: ...


async def advance(
    app: Engine, run_id: str, agent: str, input: Any, max_turns: int | None
) -> dict[str, Any]:
    """Create the run if the store lacks it, then resume it until it stops.

    Returns ``{"status": "completed", "final_output": ...}``, or ``{"status":
    "waiting", "deadline": epoch seconds or None}``, or ``{"status": "in_doubt"}``.
    Safe to run again after a crash (an engine re-executes an unrecorded step):
    it only ever continues the stored journal.
    """
    return await outlast_outage(
        lambda: _advance(app, run_id, agent, input, max_turns),
        patience=app.store_patience,
        on_wait=lambda exc, pause: _waiting(run_id, exc, pause),
    )


async def _advance(
    app: Engine, run_id: str, agent: str, input: Any, max_turns: int | None
) -> dict[str, Any]:
    store = app.store()
    root = app.agent(agent)
    while True:
        state: RunState | None
        try:
            state = await load_state(
                store, run_id, root, context=app.context, governance=app.governance
            )
        except RunNotFoundError:
            # The first stretch: the loop stores the run as it starts it, under this
            # worker's lease, in one write (a run another worker starts meanwhile is a
            # RunConflictError: loaded again, then resumed).
            state = None
        if state is not None and not _needs_work(state):
            return await _outcome(app, state)
        try:
            if state is None:
                result = await Runner.run(
                    root,
                    input,
                    run_id=run_id,
                    max_turns=max_turns or DEFAULT_MAX_TURNS,
                    context=app.context,
                    governance=app.governance,
                    store=store,
                    model_provider=app.model_provider,
                )
            else:
                result = await Runner.run(
                    root, state, store=store, model_provider=app.model_provider
                )
        except RunBusyError:
            # The lease of a worker that died expires after its TTL; then it is ours.
            await asyncio.sleep(app.lease_wait)
            continue
        except RunConflictError:
            continue  # someone appended (a decision) meanwhile: load again
        except StoreError:
            raise  # the engine retries the step once the store answers again
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if state is None:
                # It failed before the run was stored (an agent that cannot be built):
                # store the run, so that its failure has a journal to go in.
                await _create(app, run_id, root.name, input, max_turns)
            # The run's own failure is in its journal (RunFailed); record it if the loop
            # could not. A retryable one is tried again by the engine's step retry.
            await record_failure(store, run_id, error)
            if retryable(error):
                raise
            state = await load_state(
                store, run_id, root, context=app.context, governance=app.governance
            )
            return await _outcome(app, state)
        return await _outcome(app, result.to_state())


async def expire(app: Engine, run_id: str, agent: str) -> int:
    """Reject, as the system, the calls of this run still waiting once their approval's time
    is up; return how many. Only this run is swept (each workflow sweeps its own).

    Approvals with a deadline of their own (``expires_at``, set by governance) are
    expired when it passes (``tether.store.expire_run``); the others, after the app's
    ``approval_timeout``, all at once with the app's ``expiry_message``. Either way it is
    the system's decision (recorded by ``SYSTEM_APPROVER``, with a receipt under the
    governance's key): no approver policy applies to it. ``agent`` is the run's root agent
    (the expiry needs no agent graph).
    """
    return await outlast_outage(
        lambda: _expire(app, run_id, agent),
        patience=app.store_patience,
        on_wait=lambda exc, pause: _waiting(run_id, exc, pause),
    )


def _waiting(run_id: str, error: StoreUnavailableError, pause: float) -> None:
    _log.warning("run %s waits %.1fs for its store: %s", run_id, pause, error)


async def _expire(app: Engine, run_id: str, agent: str) -> int:
    store = app.store()
    pending = await store.pending_approvals(run_id=run_id)
    # Only approvals expire: an output review has no deadline (the call already ran).
    approvals = [p for p in pending if p.kind == "approval"]
    if not approvals:
        return 0
    if any(p.expires_at is not None for p in approvals):
        expired = await expire_run(store, run_id, governance=app.governance)
    else:
        expired = await expire_run(
            store,
            run_id,
            governance=app.governance,
            every_approval=True,
            message=app.expiry_message,
        )
    return len(expired)


async def _create(app: Engine, run_id: str, agent: str, input: Any, max_turns: int | None) -> None:
    store = app.store()
    started = RunStarted(
        run_id=run_id,
        agent=agent,
        input=to_input_items(input),
        max_turns=max_turns or DEFAULT_MAX_TURNS,
    )
    with contextlib.suppress(RunConflictError):  # an earlier attempt of this step created it
        await store.append(run_id, 0, [started])


def _needs_work(state: RunState) -> bool:
    # The fold's status: running, or failed in a way a retry may mend (the engine's step
    # retry gives the backoff; RETRY bounds the attempts).
    return state.status == "running" or RETRY.retry_at(state._view) is not None


async def _outcome(app: Engine, state: RunState) -> dict[str, Any]:
    if state.is_complete:
        final = next(e for e in reversed(state.journal) if isinstance(e, RunCompleted))
        # Frozen containers become plain JSON data again.
        return {"status": "completed", "final_output": json.loads(json.dumps(final.output))}
    if state.in_doubt:
        return {"status": "in_doubt", "deadline": None}
    failure = state.failure
    if failure is not None:  # waits for a person's retry (DBOSApp.retry)
        return {
            "status": "failed",
            "deadline": None,
            "error": f"{failure.error}: {failure.message}",
        }
    # Output reviews wait too (the run is waiting), but never expire: only approvals give
    # the workflow a deadline.
    pending = await app.store().pending_approvals(run_id=state.run_id)
    requested = [p for p in pending if p.kind == "approval"]
    deadline = None
    own = [p.expires_at.timestamp() for p in requested if p.expires_at is not None]
    if own:  # the governance's deadline for the earliest approval
        deadline = min(own)
    elif requested and app.approval_timeout is not None:
        first = min(p.requested_at for p in requested)
        deadline = first.timestamp() + app.approval_timeout
    return {"status": "waiting", "deadline": deadline}
