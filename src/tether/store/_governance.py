"""Decisions on stored runs: the durable decide and review paths, the expiry sweep and the
audit trail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .._agent import Agent
from .._governance import Approver, Decision, Governance, ReviewVerdict
from ..approvals import (
    AuditRecord,
    DelegationBook,
    ReceiptCheck,
    acting_for,
    audit_trail,
    verify_receipts,
)
from ..approvals._decisions import DEFAULT_GOVERNANCE, due, expiry_event
from ..errors import (
    ApprovalExpiredError,
    RunBusyError,
    RunConflictError,
    StateError,
    StoreError,
    UserError,
)
from ..journal import CallStatus, Journal
from ..run._stored import load_state, save_state
from ._protocol import RunStore
from ._records import PendingApproval

__all__ = [
    "SweepResult",
    "audit_run",
    "decide",
    "expire_approvals",
    "expire_run",
    "resolve_doubt",
    "review",
    "revoke",
    "verify_run_receipts",
]


async def decide(
    store: RunStore,
    run_id: str,
    agent: Agent[Any],
    call_id: str,
    *,
    decision: Decision,
    by: Approver | str | None,
    reason: str | None = None,
    message: str | None = None,
    always: bool = False,
    governance: Governance | None = None,
    context: Any = None,
    arguments: Mapping[str, Any] | None = None,
    fingerprint: str | None = None,
    on_behalf_of: str | None = None,
    delegations: DelegationBook | None = None,
) -> int:
    """Take one decision (``"approve"`` or ``"reject"``) on a stored run and make it
    durable; return the run's new seq.

    ``fingerprint`` binds the decision to the call its approver saw (the item's
    ``fingerprint``, or the one an inbox list or page showed): a call whose arguments
    changed, or a call id the model reused for another call, is refused with
    ``StaleDecisionError`` and nothing is written. Network surfaces always pass it.

    The same rules as ``RunState.approve`` / ``reject``: the call's policy must
    allow ``by`` (``NotAuthorizedError``, nothing written), four-eyes calls need
    distinct approvers, and a call past its deadline is expired (that is
    written) and the decision refused with ``ApprovalExpiredError``. The write
    is a compare-and-append: a concurrent decision gives ``RunConflictError``
    and this one is not written; load and decide again. ``arguments`` approves with
    edited arguments (see ``RunState.approve``); an edit refused or invalid writes nothing.

    ``on_behalf_of``: ``by`` decides for that approver under a delegation kept in
    ``delegations`` (``tether.approvals.delegate``) that runs now, by the governance clock;
    else ``NotAuthorizedError`` and nothing is written.
    """
    if decision not in ("approve", "reject"):
        raise UserError(f"decision is 'approve' or 'reject', not {decision!r}.")
    if on_behalf_of is not None:
        if delegations is None:
            raise UserError("on_behalf_of= needs the delegations= book the delegation is in.")
        now = (governance or DEFAULT_GOVERNANCE).now()
        by = await acting_for(delegations, by, on_behalf_of, at=now)
    state = await load_state(store, run_id, agent, context=context, governance=governance)
    try:
        if decision == "approve":
            state.approve(
                call_id,
                always,
                by=by,
                reason=reason,
                arguments=arguments,
                fingerprint=fingerprint,
            )
        elif arguments is not None:
            raise UserError("Edited arguments go with an approval only (decision='approve').")
        else:
            state.reject(
                call_id, always, message=message, by=by, reason=reason, fingerprint=fingerprint
            )
    except ApprovalExpiredError:
        # The expiry (found on load) is the system's decision: keep it, refuse this one.
        await save_state(store, state)
        raise
    return await save_state(store, state)


async def revoke(
    store: RunStore,
    run_id: str,
    agent: Agent[Any],
    call_id: str,
    *,
    by: Approver | str | None,
    reason: str | None = None,
    governance: Governance | None = None,
    context: Any = None,
    fingerprint: str | None = None,
) -> int:
    """Withdraw ``by``'s decision on a call of a stored run that has not started, and make
    it durable; return the run's new seq. The call waits for a decision again.

    ``RunState.revoke`` on the loaded run: ``NotRevocableError`` once the call started (its
    ``ToolStarted`` is in the journal) or completed, or when ``by`` has no decision on it;
    ``NotAuthorizedError`` if the call's policy no longer allows ``by``. Nothing is written
    then. A compare-and-append like ``decide``: if a worker started the call meanwhile,
    ``RunConflictError``; load and revoke again, and the started call refuses it.
    """
    state = await load_state(store, run_id, agent, context=context, governance=governance)
    state.revoke(call_id, by=by, reason=reason, fingerprint=fingerprint)
    return await save_state(store, state)


async def review(
    store: RunStore,
    run_id: str,
    agent: Agent[Any],
    call_id: str,
    verdict: ReviewVerdict,
    *,
    output: str | None = None,
    by: Approver | str | None,
    reason: str | None = None,
    governance: Governance | None = None,
    context: Any = None,
    fingerprint: str | None = None,
) -> int:
    """Review one call's output in a stored run and make it durable; return the new seq.

    ``verdict`` is ``"released"`` (the model reads the output as it is), ``"replaced"``
    (it reads ``output``) or ``"withheld"`` (it reads ``output`` if given, else that the
    output was withheld): ``RunState.release`` / ``replace_output`` / ``withhold``, with
    the same authorization and binding (``fingerprint``). A compare-and-append like
    ``decide``.
    """
    state = await load_state(store, run_id, agent, context=context, governance=governance)
    if verdict == "released":
        if output is not None:
            raise UserError("A released output is the tool's own; pass no output=.")
        state.release(call_id, by=by, reason=reason, fingerprint=fingerprint)
    elif verdict == "replaced":
        if output is None:
            raise UserError("verdict 'replaced' needs the output the model reads instead.")
        state.replace_output(call_id, output, by=by, reason=reason, fingerprint=fingerprint)
    elif verdict == "withheld":
        state.withhold(call_id, message=output, by=by, reason=reason, fingerprint=fingerprint)
    else:
        raise UserError(f"verdict must be 'released', 'replaced' or 'withheld', not {verdict!r}.")
    return await save_state(store, state)


async def resolve_doubt(
    store: RunStore,
    run_id: str,
    agent: Agent[Any],
    call_id: str,
    resolution: Literal["run_again", "output", "failed"],
    *,
    output: str | None = None,
    by: Approver | str | None,
    reason: str | None = None,
    governance: Governance | None = None,
    context: Any = None,
    fingerprint: str | None = None,
) -> int:
    """Settle a call in doubt in a stored run and make it durable; return the new seq
    (``RunState.resolve_doubt``, with the same authorization and binding as ``decide``)."""
    state = await load_state(store, run_id, agent, context=context, governance=governance)
    state.resolve_doubt(
        call_id, resolution, output=output, by=by, reason=reason, fingerprint=fingerprint
    )
    return await save_state(store, state)


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What one expiry sweep did."""

    expired: tuple[PendingApproval, ...]
    """The approvals the sweep rejected as expired."""
    skipped: tuple[str, ...]
    """Runs another writer moved meanwhile (the next sweep retries them)."""
    unreadable: tuple[str, ...] = ()
    """Runs whose stored journal cannot be read (a store or state error): left as they are
    and reported, so that one broken run does not stop the sweep of the others."""


_EXPIRY_ATTEMPTS = 3
"""An expiry retries when a decision on another call of the run won the race."""


async def expire_run(
    store: RunStore,
    run_id: str,
    *,
    governance: Governance | None = None,
    every_approval: bool = False,
    message: str | None = None,
) -> tuple[str, ...]:
    """Reject, as the system, the approvals of one stored run past their deadline; return
    their call ids. The system's own path: no approver policy applies to it.

    ``every_approval``: every approval still waiting, whatever its deadline (an engine whose
    own timeout for the run passed, as ``tether.dbos`` does); ``message`` is what the model
    reads (default ``EXPIRED_MESSAGE``). A compare-and-append of decisions only, so a
    worker's lease on the run does not refuse it; a run moved meanwhile is looked at again.
    """
    governance = governance or DEFAULT_GOVERNANCE
    conflict: RunConflictError | None = None
    for _ in range(_EXPIRY_ATTEMPTS):
        stored = await store.load(run_id)
        view = Journal(stored.events).view
        if view.completed is not None:
            return ()
        now = governance.now()
        calls = (
            [c for c in view.calls.values() if c.status is CallStatus.PENDING]
            if every_approval
            else due(view, now)
        )
        events = [
            expiry_event(view, call, now, governance.receipt_key, message=message) for call in calls
        ]
        if not events:
            return ()
        try:
            await store.append(run_id, stored.seq, events)
        except RunConflictError as exc:
            conflict = exc
            continue
        return tuple(event.call_id for event in events)
    assert conflict is not None
    raise conflict


async def expire_approvals(
    store: RunStore, *, governance: Governance | None = None, limit: int = 1000
) -> SweepResult:
    """Reject (as the system) every stored approval past its deadline, up to ``limit``.

    Finds them through the store's index on deadlines (``due_approvals``), so its
    cost grows with the number of due approvals, not of stored runs. Each run is
    updated with a compare-and-append of decisions only (a worker's lease does not
    refuse it); a run moved on meanwhile is skipped (``skipped``), and a run whose
    journal cannot be read is left alone and reported (``unreadable``) while the
    sweep goes on with the others. Run it periodically (a cron job, a worker loop)::

        result = await expire_approvals(store, governance=governance)
    """
    governance = governance or DEFAULT_GOVERNANCE
    now = governance.now()
    rows = await store.due_approvals(now=now, limit=limit)
    by_run: dict[str, list[PendingApproval]] = {}
    for row in rows:
        by_run.setdefault(row.run_id, []).append(row)
    expired: list[PendingApproval] = []
    skipped: list[str] = []
    unreadable: list[str] = []
    for run_id, pending in by_run.items():
        try:
            stored = await store.load(run_id)
            view = Journal(stored.events).view
        except (StoreError, StateError):
            unreadable.append(run_id)  # reported; the other runs are still swept
            continue
        events = [expiry_event(view, call, now, governance.receipt_key) for call in due(view, now)]
        if not events:
            continue
        try:
            await store.append(run_id, stored.seq, events)
        except (RunConflictError, RunBusyError):
            skipped.append(run_id)
            continue
        ids = {event.call_id for event in events}
        expired.extend(row for row in pending if row.call_id in ids)
    return SweepResult(tuple(expired), tuple(skipped), tuple(unreadable))


async def audit_run(store: RunStore, run_id: str) -> list[AuditRecord]:
    """The audit trail of a stored run (as ``RunState.audit``; no agent graph needed)."""
    stored = await store.load(run_id)
    return audit_trail(stored.events)


async def verify_run_receipts(
    store: RunStore, run_id: str, key: bytes | str
) -> Sequence[ReceiptCheck]:
    """``verify_receipts`` over a stored run's journal."""
    stored = await store.load(run_id)
    return verify_receipts(stored.events, key)
