"""Calls that wait: reminders and escalation by the governance's ``Escalation``, and the
record of a decision that came too late.

The sweep (``tether.store.escalate_approvals``) asks ``steps`` which events are due for a
run; an escalated call may be decided by its escalation group too (``escalated_to``, which
``authorize`` and the channels ask).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from .._agent import Agent
from .._duration import Duration, iso_utc
from .._governance import Approver, Escalation, Governance
from ..errors import NotAuthorizedError
from ..journal import (
    ApprovalEscalated,
    ApprovalReminded,
    Call,
    CallStatus,
    DecisionLate,
    RunView,
)
from ..journal._binding import escalation_seal
from ._decisions import authorize, escalated_to, policy_for

__all__ = ["Step", "escalated_to", "late_decision", "late_event", "steps"]

Step = ApprovalReminded | ApprovalEscalated
"""A step of a waiting call's escalation, as the journal records it."""


def steps(view: RunView, now: datetime, escalation: Escalation) -> list[Step]:
    """The reminders and escalations due by ``now`` for the run's waiting calls, in the
    order they fell due. A step that falls due at or after a call's deadline never happens
    (the expiry decides the call); a step missed while no sweep ran happens late."""
    due: list[tuple[datetime, int, Step]] = []
    for call in view.calls.values():
        asked = call.requested
        if call.status is not CallStatus.PENDING or asked is None or asked.at is None:
            continue
        at = datetime.fromisoformat(asked.at)
        deadline = datetime.fromisoformat(asked.expires_at) if asked.expires_at else None
        remind = _falls(at, escalation.remind_after, now, deadline)
        if remind is not None and call.reminders == 0:
            due.append((remind, 0, ApprovalReminded(call.call_id, call.fingerprint, iso_utc(now))))
        escalate = _falls(at, escalation.escalate_after, now, deadline)
        if escalate is not None and call.escalation is None:
            due.append((escalate, 1, _escalation(view, call, now, escalation)))
    return [event for _, _, event in sorted(due, key=lambda step: (step[0], step[1]))]


def _falls(
    asked: datetime, delay: Duration | None, now: datetime, deadline: datetime | None
) -> datetime | None:
    """When a step ``delay`` after the request falls due, if it is due by ``now`` and
    before the deadline; else ``None``."""
    if delay is None:
        return None
    moment = asked + (delay if isinstance(delay, timedelta) else timedelta(seconds=delay))
    if moment > now or (deadline is not None and moment >= deadline):
        return None
    return moment


def _escalation(
    view: RunView, call: Call, now: datetime, escalation: Escalation
) -> ApprovalEscalated:
    event = ApprovalEscalated(
        call.call_id,
        call.fingerprint,
        roles=tuple(sorted(escalation.escalate_to)),
        approvers=tuple(sorted(escalation.escalate_to_ids)),
        at=iso_utc(now),
    )
    return replace(event, seal=escalation_seal(view.run_id, view.turns, event))


def late_event(
    call: Call,
    governance: Governance,
    *,
    approver: Approver | None,
    approved: bool,
    reason: str | None,
) -> DecisionLate:
    """The record of ``approver``'s decision on ``call``, refused: the call expired."""
    return DecisionLate(
        call.call_id,
        call.fingerprint,
        approved,
        by=approver.id if approver is not None else None,
        at=iso_utc(governance.now()),
        roles=tuple(sorted(approver.roles)) if approver is not None else (),
        reason=reason,
    )


def late_decision(
    view: RunView,
    graph: dict[str, Agent[Any]],
    governance: Governance,
    ctx: Any,
    call_id: str,
    *,
    approver: Approver | None,
    approved: bool,
    reason: str | None,
) -> list[DecisionLate]:
    """The record of a decision on ``call_id`` refused because the call expired, or
    none when the call is not in the run's current turn, did not
    expire, or its policy does not allow ``approver``: only who could have decided in time
    leaves a trace in the run."""
    call = view.calls.get(call_id)
    if call is None or call.decision is None or not call.decision.expired:
        return []
    try:
        authorize(policy_for(graph, call, governance), approver, call, ctx, four_eyes=False)
    except NotAuthorizedError:
        return []
    return [late_event(call, governance, approver=approver, approved=approved, reason=reason)]
