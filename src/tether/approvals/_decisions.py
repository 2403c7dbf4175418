"""Taking a decision: who may, how many must, until when, and what is recorded.

One place for the rules, used wherever a decision is made: ``RunState.approve``
/ ``reject`` / ``resolve_doubt`` / ``release`` / ``replace_output`` / ``withhold`` in
memory, the store's ``decide``, the run loop (expiry when a run resumes) and the
store's expiry sweep.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

from .._agent import Agent
from .._duration import iso_utc, to_timedelta
from .._governance import SYSTEM_APPROVER, ApprovalPolicy, Approver, Governance
from ..errors import NotAuthorizedError, UserError
from ..journal import (
    ApprovalDecided,
    ApprovalRequested,
    Call,
    CallStatus,
    DoubtResolved,
    OutputReviewed,
    OutputReviewRequested,
    RunView,
)
from ..journal._binding import fingerprint, output_digest, sealed
from ._receipts import signed_receipt

__all__ = [
    "EXPIRED_MESSAGE",
    "WITHHELD_MESSAGE",
    "authorize",
    "decision_event",
    "due",
    "escalated_to",
    "expiry_event",
    "policy_for",
    "request_event",
    "review_event",
    "review_request",
]

EXPIRED_MESSAGE = (
    "The call of {tool} was not run: the approval expired before anyone decided on it."
)
"""What the model reads for a call whose approval passed its deadline."""

DEFAULT_GOVERNANCE = Governance()


def policy_for(
    graph: dict[str, Agent[Any]], call: Call, governance: Governance
) -> ApprovalPolicy | None:
    """The policy for ``call``: its tool's, else its agent's, else the run-wide one."""
    agent = graph.get(call.agent)
    tool = agent.function_tools.get(call.name) if agent is not None else None
    policy = getattr(tool, "approvers", None)
    if isinstance(policy, ApprovalPolicy):
        return policy
    if agent is not None and isinstance(agent.approvers, ApprovalPolicy):
        return agent.approvers  # normalised by Agent.__post_init__
    return governance.approvers


def request_event(
    graph: dict[str, Agent[Any]], call: Call, governance: Governance
) -> ApprovalRequested:
    """The approval request of ``call``, with its time, deadline and approvals needed."""
    agent = graph.get(call.agent)
    tool = agent.function_tools.get(call.name) if agent is not None else None
    now = governance.now()
    timeout = to_timedelta(  # both were checked when given: this only unifies the unit
        getattr(tool, "approval_timeout", None) or governance.approval_timeout, "approval_timeout"
    )
    policy = policy_for(graph, call, governance)
    return ApprovalRequested(
        call.call_id,
        call.agent,
        call.name,
        call.arguments,
        call.fingerprint,
        at=iso_utc(now),
        expires_at=iso_utc(now + timeout) if timeout is not None else None,
        required_approvals=policy.required_approvals if policy is not None else 1,
    )


def due(view: RunView, now: datetime | Callable[[], datetime]) -> list[Call]:
    """The calls of the current turn waiting for a decision past their deadline. ``now``
    may be the clock itself: it is then read only if some waiting call has a deadline."""
    waiting = [
        call
        for call in view.calls.values()
        if call.status is CallStatus.PENDING
        and call.requested is not None
        and call.requested.expires_at is not None
    ]
    if not waiting:
        return waiting
    moment = now if isinstance(now, datetime) else now()
    return [call for call in waiting if _deadline(call) <= moment]


def _deadline(call: Call) -> datetime:
    assert call.requested is not None and call.requested.expires_at is not None
    return datetime.fromisoformat(call.requested.expires_at)  # checked by the fold


def expiry_event(
    view: RunView,
    call: Call,
    now: datetime,
    key: bytes | str | None,
    *,
    message: str | None = None,
) -> ApprovalDecided:
    """The system's rejection of ``call``, whose approval passed its deadline (``message``:
    what the model reads, default ``EXPIRED_MESSAGE``)."""
    event = ApprovalDecided(
        call.call_id,
        call.fingerprint,
        False,
        message=message if message is not None else EXPIRED_MESSAGE.replace("{tool}", call.name),
        by=SYSTEM_APPROVER,
        at=iso_utc(now),
        expired=True,
    )
    event = signed_receipt(key, view.run_id, view.turns, event)
    return sealed(event, view.run_id, view.turns)


def authorize(
    policy: ApprovalPolicy | None,
    approver: Approver | None,
    call: Call,
    ctx: Any,
    *,
    four_eyes: bool = True,
    requester: str | None = None,
) -> None:
    """Raise ``NotAuthorizedError`` unless ``approver`` may take this decision on ``call``.

    ``four_eyes``: an approval, which must come from someone who has not approved the
    call yet (a resolution of a call in doubt may come from anyone the policy allows).
    ``requester``: who asked for the run (``RunStarted.requested_by``); a call that needs
    two or more approvers may not be approved by them."""
    required = call.requested.required_approvals if call.requested is not None else 1
    if approver is None:
        if policy is not None or (four_eyes and required > 1):
            raise NotAuthorizedError(
                f"Call {call.call_id!r} of {call.name!r} may be decided only by an identified "
                "approver; pass by=Approver(...) (or the approver's id)."
            )
        return
    acting, approver = approver, approver.principal  # a delegate decides as the delegator
    if (
        policy is not None
        and not policy.allows(approver, call.approval_item(), ctx)
        and not escalated_to(call, approver)
    ):
        raise NotAuthorizedError(
            f"Approver {approver.id!r} may not decide call {call.call_id!r} of "
            f"{call.name!r}: it needs an approver with {policy.describe()}. Nothing was recorded."
        )
    people = {approver.id, acting.id}  # under a delegation: both, neither may count twice
    if four_eyes and required > 1 and requester is not None and requester in people:
        raise NotAuthorizedError(
            f"Approver {acting.id!r} asked for call {call.call_id!r} of {call.name!r}; it "
            f"needs {required} approvers other than who asked. Nothing was recorded."
        )
    if four_eyes and any(people & {earlier.by, earlier.on_behalf_of} for earlier in call.approvals):
        raise NotAuthorizedError(
            f"Approver {acting.id!r} already approved call {call.call_id!r}; it needs "
            f"{required} distinct approvers, so another person must decide. Nothing was recorded."
        )


def escalated_to(call: Call, approver: Approver) -> bool:
    """Whether ``call`` was escalated (``ApprovalEscalated``) to a group ``approver`` is in:
    then they may decide it too, whatever its policy says."""
    escalation = call.escalation
    if escalation is None:
        return False
    return approver.id in escalation.approvers or bool(approver.roles & set(escalation.roles))


def decision_event(
    view: RunView,
    call: Call,
    governance: Governance,
    *,
    approver: Approver | None,
    approved: bool,
    always: bool,
    message: str | None,
    reason: str | None,
    edited_arguments: str | None = None,
) -> ApprovalDecided:
    """The sealed (and, with a receipt key, signed) decision of ``approver`` on ``call``.

    ``edited_arguments`` (an approval only, checked by the caller): the call runs with
    them; earlier approvals of a four-eyes call no longer count, since they saw others."""
    required = call.requested.required_approvals if call.requested is not None else 1
    counted = 0 if edited_arguments is not None else len(call.approvals)
    partial = approved and counted + 1 < required
    if always and required > 1:
        raise UserError(
            f"Call {call.call_id!r} needs {required} approvals; always=True would let one "
            "approver decide later calls alone. Decide each call."
        )
    principal = approver.principal if approver is not None else None
    event = ApprovalDecided(
        call.call_id,
        call.fingerprint,
        approved,
        always,
        message,
        approver.id if approver is not None else None,
        iso_utc(governance.now()),
        roles=tuple(sorted(principal.roles)) if principal is not None else (),
        on_behalf_of=principal.id if principal is not approver and principal else None,
        reason=reason,
        partial=partial,
        edited_arguments=edited_arguments,
        edited_fingerprint=(
            fingerprint(call.agent, call.name, call.call_id, edited_arguments)
            if edited_arguments is not None
            else None
        ),
    )
    event = signed_receipt(governance.receipt_key, view.run_id, view.turns, event)
    return sealed(event, view.run_id, view.turns)


def resolution_event(
    view: RunView,
    event: DoubtResolved,
    governance: Governance,
    approver: Approver | None,
) -> DoubtResolved:
    """A resolution of a call in doubt, with approver, time, receipt and seal."""
    event = replace(
        event,
        by=approver.id if approver is not None else None,
        roles=tuple(sorted(approver.roles)) if approver is not None else (),
        at=iso_utc(governance.now()),
    )
    event = signed_receipt(governance.receipt_key, view.run_id, view.turns, event)
    return sealed(event, view.run_id, view.turns)


WITHHELD_MESSAGE = "The output of {tool} was withheld by a reviewer."
"""What the model reads for a withheld output when the reviewer gives no message."""


def review_request(call: Call, governance: Governance) -> OutputReviewRequested:
    """The request for a review of ``call``'s output, which the tool just returned."""
    return OutputReviewRequested(
        call.call_id, call.agent, call.name, call.arguments, at=iso_utc(governance.now())
    )


def review_event(
    view: RunView,
    call: Call,
    governance: Governance,
    *,
    approver: Approver | None,
    verdict: Literal["released", "replaced", "withheld"],
    output: str | None,
    reason: str | None,
) -> OutputReviewed:
    """The sealed (and, with a receipt key, signed) review of ``call``'s output."""
    assert call.held is not None
    event = OutputReviewed(
        call.call_id,
        verdict,
        None if verdict == "released" else output,
        output_digest(call.held),
        approver.id if approver is not None else None,
        iso_utc(governance.now()),
        roles=tuple(sorted(approver.roles)) if approver is not None else (),
        reason=reason,
    )
    event = signed_receipt(governance.receipt_key, view.run_id, view.turns, event)
    return sealed(event, view.run_id, view.turns)


def idempotent_rerun(view: RunView, call: Call, now: datetime) -> DoubtResolved:
    """The system's resolution of ``call``, in doubt, whose tool is idempotent: it runs
    again, and the journal says why (a call starts only when new or approved)."""
    event = DoubtResolved(
        call.call_id,
        "run_again",
        by=SYSTEM_APPROVER,
        at=iso_utc(now),
        reason="the tool is idempotent: running it again is safe",
    )
    return sealed(event, view.run_id, view.turns)
