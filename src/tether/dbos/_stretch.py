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
from datetime import datetime
from typing import Any, Protocol

from .._agent import Agent
from .._governance import Governance, system_clock
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
    app: Engine,
    run_id: str,
    agent: str,
    input: Any,
    max_turns: int | None,
    *,
    first: bool = False,
) -> dict[str, Any]:
    """Create the run if the store lacks it, then resume it until it stops.

    Returns ``{"status": "completed", "final_output": ...}``, or ``{"status":
    "waiting", "deadline": epoch seconds or None}``, or ``{"status": "in_doubt"}``.
    Safe to run again after a crash (an engine re-executes an unrecorded step):
    it only ever continues the stored journal.

    ``first``: the run's first stretch, whose run the store most likely lacks. It is
    not looked for: the run's first commit (``Runner.run``'s ``run_id`` with
    ``if_exists="error"``) stores it only if the store lacks it; a run already stored
    (the stretch run again after a crash) is refused there, before anything of it runs,
    and loaded and resumed as in any other stretch.
    """
    return await outlast_outage(
        lambda: _advance(app, run_id, agent, input, max_turns, first),
        patience=app.store_patience,
        on_wait=lambda exc, pause: _waiting(run_id, exc, pause),
    )


async def _advance(
    app: Engine, run_id: str, agent: str, input: Any, max_turns: int | None, first: bool
) -> dict[str, Any]:
    store = app.store()
    root = app.agent(agent)
    fresh = first  # look for the run first, unless this is its first stretch
    while True:
        state: RunState | None = None
        if not fresh:
            try:
                state = await load_state(
                    store, run_id, root, context=app.context, governance=app.governance
                )
            except RunNotFoundError:
                # The first stretch: the loop stores the run as it starts it, under this
                # worker's lease, in one write (a run another worker starts meanwhile is
                # a RunConflictError: loaded again, then resumed).
                state = None
        fresh = False
        if state is not None and not _needs_work(state):
            return await _outcome(app, state)
        try:
            if state is None:
                # "error": a run already stored (a first stretch run again) is refused
                # by its first commit, before anything runs, then loaded above and resumed.
                result = await Runner.run(
                    root,
                    input,
                    run_id=run_id,
                    if_exists="error",
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
    return state.status == "running" or RETRY.retry_at(state.view) is not None


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
    return {"status": "waiting", "deadline": await _deadline(app, state)}


async def _deadline(app: Engine, state: RunState) -> float | None:
    """When the run's wait ends without a decision (epoch seconds): the earliest deadline
    of its approvals, else ``approval_timeout`` after the first was requested; ``None``
    if nothing it waits on expires (output reviews wait too, but never expire).

    Read from the journal the stretch ends with: its approval requests carry their
    deadline and the time they were made (``ApprovalRequested``), which is what the
    store's ``pending`` rows are projected from. The store is asked only for what the
    journal may not say: a request without its time (a hosted MCP call's), or one timed
    by a governance clock other than the machine's (the rows are timed by the store's).
    """
    requests = [
        waiting.call.requested
        for waiting in state.view.waiting()
        if waiting.kind == "approval" and waiting.call.requested is not None
    ]
    own = [datetime.fromisoformat(r.expires_at).timestamp() for r in requests if r.expires_at]
    if own:  # the governance's deadline for the earliest approval
        return min(own)
    if not requests or app.approval_timeout is None:
        return None
    times = [r.at for r in requests]
    clock = app.governance.clock if app.governance is not None else system_clock
    if None not in times and clock is system_clock:
        first = min(datetime.fromisoformat(t).timestamp() for t in times if t is not None)
        return first + app.approval_timeout
    pending = await app.store().pending_approvals(run_id=state.run_id)
    requested = [p for p in pending if p.kind == "approval"]
    if not requested:
        return None
    return min(p.requested_at for p in requested).timestamp() + app.approval_timeout
