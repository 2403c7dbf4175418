"""``always``: a person's decision that also covers the later calls of one agent's tool.

An ``always`` decision is keyed by (agent, tool): it never crosses to another agent's tool
of the same name. It decides another call only where the person who gave it could have
decided that call themselves (their recorded roles against the call's policy, checked where
the decision is applied, with the agent graph at hand), and never a call that needs several
approvals (four-eyes). Each call it decides gets an explicit automatic decision bound to
its own fingerprint, so that every surface sees the same calls waiting.
"""

from __future__ import annotations

from typing import Any

from .._agent import Agent
from .._governance import Approver, Governance
from ..errors import NotAuthorizedError, UserError
from ..journal import ApprovalDecided, Call, CallStatus, RunView
from ..journal._binding import sealed
from ._decisions import authorize, policy_for

__all__ = ["always_decision"]


def always_decision(
    view: RunView,
    graph: dict[str, Agent[Any]],
    governance: Governance,
    call: Call,
    ctx: Any,
) -> ApprovalDecided | None:
    """The automatic decision the run's ``always`` decision for ``call``'s agent and tool
    takes on ``call``, or ``None`` if none applies (no such decision, the call is not
    pending, needs several approvals, or its policy would not let that person decide it)."""
    given = view.always.get((call.agent, call.name))
    if given is None or call.status is not CallStatus.PENDING or call.requested is None:
        return None
    if call.requested.required_approvals > 1:
        return None  # four-eyes: every approval is a person's, on this call
    try:
        approver = Approver(given.by, roles=frozenset(given.roles)) if given.by else None
    except UserError:
        return None
    try:
        authorize(policy_for(graph, call, governance), approver, call, ctx)
    except NotAuthorizedError:
        return None  # the call waits for someone allowed to decide it
    decision = ApprovalDecided(
        call.call_id,
        call.fingerprint,
        given.approved,
        message=given.message,
        by=given.by,
        at=given.at,
        roles=given.roles,
        automatic=True,
    )
    return sealed(decision, view.run_id, view.turns)
