"""Signed receipts: proof, checkable offline with the application's key, of who decided what.

A receipt is an HMAC-SHA256 over the decision and where it belongs: the run,
the turn, the call, the fingerprint of the exact arguments, the verdict, the
approver (id and roles), the time, the reason and the message (and, for an
approval with edited arguments, the edit and the fingerprint of what runs). A receipt
copied to another run or call, or any one of those fields changed, no longer
verifies. Unlike a decision's seal it needs the key, so whoever edits a
stored run cannot forge one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal, overload

from ..errors import ReceiptError, UserError
from ..journal import (
    ApprovalDecided,
    DecisionRevoked,
    DoubtResolved,
    Event,
    ModelResponded,
    OutputReviewed,
    RunStarted,
)
from ..journal._limits import escape_surrogates

__all__ = ["ReceiptCheck", "receipt", "signed_receipt", "verdict", "verify_receipts"]

_PREFIX = "hmac-sha256:"


Decision = ApprovalDecided | DoubtResolved | OutputReviewed | DecisionRevoked
"""A journal event a person (or the system) decided: each is sealed and may be receipted."""


def verdict(decision: Decision) -> str:
    """The decision's verdict in one word: approved, rejected, expired, the resolution of
    a call in doubt (run_again, output, failed), or an output review's (released, replaced,
    withheld), or ``revoked`` for a decision withdrawn."""
    if isinstance(decision, DecisionRevoked):
        return "revoked"
    if isinstance(decision, DoubtResolved):
        return decision.resolution
    if isinstance(decision, OutputReviewed):
        return decision.verdict
    if decision.expired:
        return "expired"
    return "approved" if decision.approved else "rejected"


def receipt(key: bytes | str, run_id: str, turn: int, decision: Decision) -> str:
    """The receipt of ``decision`` on the ``turn``-th response of run ``run_id``."""
    if isinstance(decision, DecisionRevoked):
        fields: list[object] = ["decision_revoked", run_id, turn, decision.call_id]
        fields += [decision.decision, "revoked", decision.by, list(decision.roles)]
        fields += [decision.at, decision.reason, None, False]
    elif isinstance(decision, OutputReviewed):
        fields = [
            "output_reviewed",
            run_id,
            turn,
            decision.call_id,
            decision.reviewed,
            verdict(decision),
            decision.by,
            list(decision.roles),
            decision.at,
            decision.reason,
            decision.output,
            False,
        ]
    elif isinstance(decision, DoubtResolved):
        fields = [
            "doubt_resolved",
            run_id,
            turn,
            decision.call_id,
            "",
            verdict(decision),
            decision.by,
            list(decision.roles),
            decision.at,
            decision.reason,
            decision.output,
            False,
        ]
    else:
        fields = [
            "approval_decided",
            run_id,
            turn,
            decision.call_id,
            decision.fingerprint,
            verdict(decision),
            decision.by,
            list(decision.roles),
            decision.at,
            decision.reason,
            decision.message,
            [decision.always, decision.automatic, decision.partial],
        ]
        if decision.edited_arguments is not None:  # only then: older receipts still verify
            fields.append([decision.edited_arguments, decision.edited_fingerprint])
        if decision.rule is not None:  # only then: other decisions keep their receipts
            fields.append({"rule": decision.rule})
        if decision.on_behalf_of is not None:  # a delegate's decision: for whom
            fields.append({"on_behalf_of": decision.on_behalf_of})
    text = escape_surrogates(json.dumps(fields, ensure_ascii=False, separators=(",", ":")))
    secret = key.encode() if isinstance(key, str) else bytes(key)
    return _PREFIX + hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()


@overload
def signed_receipt(
    key: bytes | str | None, run_id: str, turn: int, decision: ApprovalDecided
) -> ApprovalDecided: ...
@overload
def signed_receipt(
    key: bytes | str | None, run_id: str, turn: int, decision: DoubtResolved
) -> DoubtResolved: ...
@overload
def signed_receipt(
    key: bytes | str | None, run_id: str, turn: int, decision: OutputReviewed
) -> OutputReviewed: ...
@overload
def signed_receipt(
    key: bytes | str | None, run_id: str, turn: int, decision: DecisionRevoked
) -> DecisionRevoked: ...
def signed_receipt(key: bytes | str | None, run_id: str, turn: int, decision: Decision) -> Decision:
    """``decision`` carrying its receipt (unchanged without a key)."""
    if key is None:
        return decision
    return replace(decision, receipt=receipt(key, run_id, turn, decision))


@dataclass(frozen=True, slots=True)
class ReceiptCheck:
    """The outcome of checking one decision's receipt."""

    index: int
    """The decision's position in the journal."""
    call_id: str
    verdict: str
    by: str | None
    status: Literal["valid", "invalid", "missing"]
    revoked: bool = False
    """The decision was withdrawn later in the run (``DecisionRevoked``): whatever ``status``
    says of its receipt, it no longer proves that the call may run."""

    @property
    def honoured(self) -> bool:
        """The receipt verifies and its decision still stands (it was not withdrawn)."""
        return self.status == "valid" and not self.revoked


def check_receipts(journal: Iterable[Event], key: bytes | str) -> list[ReceiptCheck]:
    """Every decision of the journal with whether its receipt verifies under ``key``."""
    if not isinstance(key, bytes | str) or not key:
        raise UserError("A receipt key is non-empty bytes or str.")
    checks: list[ReceiptCheck] = []
    run_id, turn = "", 0
    events = list(journal)
    withdrawn = {e.decision for e in events if isinstance(e, DecisionRevoked)}
    for index, event in enumerate(events):
        if isinstance(event, RunStarted):
            run_id = event.run_id
        elif isinstance(event, ModelResponded):
            turn += 1
        elif isinstance(event, ApprovalDecided | DoubtResolved | OutputReviewed | DecisionRevoked):
            if isinstance(event, ApprovalDecided) and event.automatic:
                continue  # applied from an earlier decision, whose receipt covers it
            if not event.receipt:
                status: Literal["valid", "invalid", "missing"] = "missing"
            elif hmac.compare_digest(event.receipt, receipt(key, run_id, turn, event)):
                status = "valid"
            else:
                status = "invalid"
            revoked = isinstance(event, ApprovalDecided) and event.seal in withdrawn
            checks.append(
                ReceiptCheck(index, event.call_id, verdict(event), event.by, status, revoked)
            )
    return checks


def verify_receipts(journal: Iterable[Event], key: bytes | str) -> list[ReceiptCheck]:
    """Check every decision's receipt in a run's journal (offline: only the key is needed).

    Returns the checks when all verify; raises ``ReceiptError`` naming the first
    decision whose receipt is missing or does not verify. A decision withdrawn later
    (``DecisionRevoked``) verifies but is not ``honoured``::

        verify_receipts(state.journal, os.environ["TETHER_RECEIPT_KEY"])
    """
    checks = check_receipts(journal, key)
    for check in checks:
        if check.status != "valid":
            what = (
                "has no receipt"
                if check.status == "missing"
                else "has a receipt that does not verify"
            )
            raise ReceiptError(
                f"journal[{check.index}]: the {check.verdict} decision on call {check.call_id!r} "
                f"by {check.by!r} {what}: it was changed, moved from another run or call, "
                "signed with another key, or taken without one. Do not trust it."
            )
    return checks
