"""The events of a call that waits: reminded, escalated to another group, decided too late.

None of them decides anything or carries a conversation item: they are the trail of what
happened while a call waited (``Escalation``), and of a decision refused because it came
after the call's deadline. ``_events`` puts them in the journal's ``Event`` union.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ApprovalEscalated", "ApprovalReminded", "DecisionLate"]


@dataclass(frozen=True, slots=True)
class ApprovalReminded:
    """The people a waiting call's policy allows were reminded of it (``Escalation``)."""

    call_id: str
    fingerprint: str
    """The call reminded of, as it was asked."""
    at: str | None = None
    """When, as an ISO 8601 timestamp from the governance clock."""
    kind: Literal["approval_reminded"] = "approval_reminded"


@dataclass(frozen=True, slots=True)
class ApprovalEscalated:
    """A waiting call was escalated: from here on an approver with one of ``roles``, or
    whose id is in ``approvers``, may decide it too, besides those its policy allows.
    Sealed, since it widens who may decide."""

    call_id: str
    fingerprint: str
    roles: tuple[str, ...] = ()
    """The roles that may decide the call from here on (sorted)."""
    approvers: tuple[str, ...] = ()
    """The approver ids that may decide the call from here on (sorted)."""
    at: str | None = None
    seal: str = ""
    """SHA-256 over the run, the turn, the call, the group and the time
    (``escalation_seal``); checked on load, so the group cannot be widened."""
    kind: Literal["approval_escalated"] = "approval_escalated"


@dataclass(frozen=True, slots=True)
class DecisionLate:
    """A decision that arrived after the call's deadline: refused, and recorded here (it
    decides nothing; the call was expired by the system)."""

    call_id: str
    fingerprint: str
    approved: bool
    """What the late decision would have been."""
    by: str | None = None
    at: str | None = None
    """When it arrived."""
    roles: tuple[str, ...] = ()
    reason: str | None = None
    kind: Literal["decision_late"] = "decision_late"
