"""Withdrawing a decision before its call runs: who may, what is withdrawn, what is recorded.

A person withdraws their own decision (approval or rejection) on a call that has not started,
if the call's policy still lets them decide it: the same policy that let them decide. Nobody
withdraws someone else's decision (a second approver who disagrees rejects instead), and the
system's decisions (an expiry, a standing approval's) are not withdrawn here: a standing
approval is revoked as a rule (``revoke_standing_approval``).

Withdrawing an ``always`` decision, or a decision it made on another call, ends the
``always`` for the rest of the run, and withdraws the decisions it made on the turn's calls
that have not started, each with an event of its own.
"""

from __future__ import annotations

from typing import Any

from .._agent import Agent
from .._duration import iso_utc
from .._governance import Approver, Governance
from ..errors import NotRevocableError
from ..journal import ApprovalDecided, Call, CallStatus, DecisionRevoked, RunView
from ..journal._binding import sealed
from ._decisions import authorize, policy_for
from ._receipts import signed_receipt

__all__ = ["revocations"]

_REVOCABLE = frozenset({CallStatus.PENDING, CallStatus.APPROVED, CallStatus.REJECTED})
"""Call states whose decisions may still be withdrawn: nothing of the call has run."""


def revocations(
    view: RunView,
    graph: dict[str, Agent[Any]],
    governance: Governance,
    call: Call,
    approver: Approver | None,
    *,
    reason: str | None,
    ctx: Any,
) -> list[DecisionRevoked]:
    """The events that withdraw ``approver``'s decision on ``call`` (and, for an ``always``
    decision, the decisions it made on the turn's calls that have not started).

    Raises ``NotRevocableError`` (the call started or has its output, or holds no decision
    of ``approver`` that can be withdrawn) or ``NotAuthorizedError`` (the call's policy no
    longer lets ``approver`` decide it); nothing is recorded then."""
    withdrawn = _own_decision(call, approver)
    authorize(policy_for(graph, call, governance), approver, call, ctx, four_eyes=False)
    events = [_event(view, call, withdrawn, governance, approver, reason)]
    if withdrawn.always or withdrawn.automatic:
        for other in view.calls.values():
            decision = other.decision
            if (
                other is not call
                and (other.agent, other.name) == (call.agent, call.name)
                and other.status in _REVOCABLE
                and decision is not None
                and decision.automatic
                and decision.by == withdrawn.by
            ):
                events.append(_event(view, other, decision, governance, approver, reason))
    return events


def _own_decision(call: Call, approver: Approver | None) -> ApprovalDecided:
    """``approver``'s decision on ``call`` that may be withdrawn, or ``NotRevocableError``."""
    if call.status not in _REVOCABLE or call.requested is None:
        raise NotRevocableError(
            f"Call {call.call_id!r} of {call.name!r} is {call.status.value}: a decision is "
            "withdrawn only before its call starts (or needs no approval). Nothing was "
            "recorded."
        )
    by = approver.id if approver is not None else None
    for decision in (call.decision, *reversed(call.approvals)):
        if decision is None or decision.by != by:
            continue
        if decision.expired or decision.rule is not None:
            raise NotRevocableError(
                f"The decision on call {call.call_id!r} was the system's (an expiry, or the "
                f"standing approval {decision.rule!r}): it is not withdrawn. Nothing was "
                "recorded."
            )
        return decision
    raise NotRevocableError(
        f"{'Approver ' + repr(by) if by else 'An anonymous approver'} has no decision on call "
        f"{call.call_id!r} of {call.name!r} to withdraw: a person withdraws only their own "
        "decision. Nothing was recorded."
    )


def _event(
    view: RunView,
    call: Call,
    withdrawn: ApprovalDecided,
    governance: Governance,
    approver: Approver | None,
    reason: str | None,
) -> DecisionRevoked:
    event = DecisionRevoked(
        call.call_id,
        withdrawn.seal,
        by=approver.id if approver is not None else None,
        at=iso_utc(governance.now()),
        roles=tuple(sorted(approver.roles)) if approver is not None else (),
        reason=reason,
    )
    event = signed_receipt(governance.receipt_key, view.run_id, view.turns, event)
    return sealed(event, view.run_id, view.turns)
