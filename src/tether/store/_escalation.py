"""The sweep's other half: reminders and escalation of stored calls still waiting.

``escalate_approvals`` finds the calls waiting at least as long as the governance's
``Escalation`` takes to its first step, and appends the steps due (``ApprovalReminded``,
``ApprovalEscalated``) to their runs through the store's checked append, like the expiry's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .._governance import Governance
from ..approvals._escalation import Step, steps
from ..errors import RunBusyError, RunConflictError, StateError, StoreError
from ..journal import ApprovalEscalated, Journal
from ._protocol import PendingKey, RunStore, pending_key
from ._records import PendingApproval

__all__ = ["EscalationResult", "escalate_approvals"]


@dataclass(frozen=True, slots=True)
class EscalationResult:
    """What one escalation sweep appended."""

    reminded: tuple[tuple[str, str], ...] = ()
    """(run id, call id) of the calls whose approvers were reminded."""
    escalated: tuple[tuple[str, str], ...] = ()
    """(run id, call id) of the calls escalated to another group."""
    skipped: tuple[str, ...] = ()
    """Runs another writer moved meanwhile (the next sweep tries them again)."""
    unreadable: tuple[str, ...] = ()
    """Runs whose stored journal cannot be read: left as they are."""


_PAGE = 500


async def escalate_approvals(
    store: RunStore, *, governance: Governance | None, limit: int = 1000
) -> EscalationResult:
    """Append the reminders and escalations due by the governance clock to the stored runs
    whose calls wait (up to ``limit`` waiting calls looked at); nothing without
    ``governance.escalation``. Run it before ``expire_approvals`` (a worker's sweep does):
    a call's steps then stand before its expiry in the audit trail.

    Reads the waiting calls requested at least the first step's delay ago, oldest first
    through the index on request times. Each run is a compare-and-append of these steps only
    (a worker's lease does not refuse it); a run moved meanwhile is skipped and looked at
    again by the next sweep."""
    escalation = governance.escalation if governance is not None else None
    if governance is None or escalation is None:
        return EscalationResult()
    now = governance.now()
    rows = await _waiting_long(store, now - escalation.first_step(), limit)
    runs = list(dict.fromkeys(row.run_id for row in rows))
    reminded: list[tuple[str, str]] = []
    escalated: list[tuple[str, str]] = []
    skipped: list[str] = []
    unreadable: list[str] = []
    for run_id in runs:
        try:
            stored = await store.load(run_id)
            view = Journal(stored.events).view
        except (StoreError, StateError):
            unreadable.append(run_id)
            continue
        if view.completed is not None or view.failed is not None:
            continue
        events: list[Step] = steps(view, now, escalation)
        if not events:
            continue
        try:
            await store.append(run_id, stored.seq, events)
        except (RunConflictError, RunBusyError):
            skipped.append(run_id)
            continue
        for event in events:
            done = escalated if isinstance(event, ApprovalEscalated) else reminded
            done.append((run_id, event.call_id))
    return EscalationResult(tuple(reminded), tuple(escalated), tuple(skipped), tuple(unreadable))


async def _waiting_long(
    store: RunStore, requested_before: datetime, limit: int
) -> list[PendingApproval]:
    """The waiting approvals requested at or before ``requested_before``, up to ``limit``."""
    found: list[PendingApproval] = []
    after: PendingKey | None = None
    while len(found) < limit:
        size = min(_PAGE, limit - len(found))
        page = await store.pending_approvals(
            requested_before=requested_before, after=after, limit=size
        )
        found.extend(row for row in page if row.kind == "approval")
        if len(page) < size:
            break
        after = pending_key(page[-1])
    return found
