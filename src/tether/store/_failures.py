"""Failed stored runs: recording a failure the loop could not, and a person's retry."""

from __future__ import annotations

from datetime import UTC, datetime

from .._governance import Approver, as_approver
from ..errors import NotPendingError, RunConflictError
from ..journal import Journal, RunFailed, RunRetried
from ..run._failure import failure_event
from ._protocol import RunStore

__all__ = ["record_failure", "retry_run"]


async def record_failure(
    store: RunStore, run_id: str, error: BaseException, *, now: datetime | None = None
) -> RunFailed | None:
    """Record that ``error`` stopped stored run ``run_id`` (a ``RunFailed``), unless the run
    already says how it stands (completed, failed, in doubt) or ``error`` is no failure of
    the run; the event recorded, or ``None``.

    The loop records the failures it sees itself; this is for errors before the loop runs
    (a context factory, an agent that cannot be built). A concurrent writer wins: then
    nothing is recorded here.
    """
    failure = failure_event(error, now or datetime.now(UTC))
    if failure is None:
        return None
    stored = await store.load(run_id)
    if Journal(stored.events).view.status in ("completed", "failed", "in_doubt"):
        return None
    try:
        await store.append(run_id, stored.seq, [failure])
    except RunConflictError:
        return None
    return failure


async def retry_run(
    store: RunStore,
    run_id: str,
    *,
    by: Approver | str | None,
    reason: str | None = None,
    now: datetime | None = None,
) -> int:
    """A person asks for failed run ``run_id`` to be tried again (``RunRetried``): workers
    advance it once more, with its attempts counted afresh; the run's new seq.

    Raises ``NotPendingError`` if the run has not failed (nothing is recorded), and
    ``RunConflictError`` if it moved on meanwhile (load it again)."""
    approver = as_approver(by)
    stored = await store.load(run_id)
    if Journal(stored.events).view.failed is None:
        raise NotPendingError(
            f"Run {run_id!r} has not failed (it is {stored.status}); only a failed run is retried."
        )
    at = (now or datetime.now(UTC)).isoformat()
    name = approver.id if approver is not None else None
    return await store.append(run_id, stored.seq, [RunRetried(by=name, at=at, reason=reason)])
