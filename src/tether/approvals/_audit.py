"""The audit trail: what was asked, who allowed what, and what ran, folded from the journal.

Nothing here is stored: the records are derived from a run's events, so the
trail of a run is exactly as trustworthy as its journal (seals, signatures,
receipts). ``audit_jsonl`` writes it as JSON Lines, one record a line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from .._tool_output import output_text
from ..journal import (
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalReminded,
    ApprovalRequested,
    DecisionLate,
    DecisionRevoked,
    DoubtResolved,
    Event,
    HandoffTaken,
    ModelResponded,
    OutputReviewed,
    RunCompleted,
    RunStarted,
    ToolCompleted,
    ToolRejected,
    ToolStarted,
    ToolTimedOut,
    UndoCompleted,
    UndoRequested,
)
from ..journal._limits import escape_surrogates
from ._receipts import verdict

__all__ = ["AuditKind", "AuditRecord", "audit_jsonl", "audit_trail"]

AuditKind = Literal[
    "run_started",
    "requested",
    "decided",
    "revoked",
    "expired",
    "started",
    "executed",
    "resolved",
    "reviewed",
    "handoff",
    "completed",
    "undo_requested",
    "undone",
    "reminded",
    "escalated",
    "late",
]


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One line of a run's audit trail.

    ``kind`` says what happened: ``requested`` (a call asked for approval),
    ``decided`` (a person approved or rejected it), ``revoked`` (that person withdrew
    their decision before the call started: ``revokes`` is its seq), ``expired`` (the system
    rejected it at its deadline), ``started`` (the tool body was about to run),
    ``executed`` (the call got its outcome: ``completed``, ``timed_out`` or
    ``rejected``, with the arguments it ran with), ``resolved`` (a person settled a call
    in doubt), ``reviewed`` (a person released, replaced or withheld a call's output:
    ``output`` is what the model read), ``undo_requested`` (a person asked for a completed
    call's effect to be undone: written before the tool's compensation ran), ``undone``
    (its outcome: ``completed`` or ``failed``, ``output``), ``reminded`` (the people who
    may decide a waiting call were reminded of it), ``escalated`` (from then on the
    approvers with ``roles``, or whose ids are in ``approvers``, may decide it too),
    ``late`` (a decision that came after the call expired: refused, it decided nothing;
    ``verdict`` is what it would have been), ``handoff``, ``run_started`` and ``completed``.
    """

    seq: int
    """The event's position in the journal (1-based, like a run store's seq)."""
    kind: AuditKind
    run_id: str
    turn: int
    """The model response the call belongs to (0 before the first)."""
    agent: str | None = None
    call_id: str | None = None
    tool: str | None = None
    arguments: str | None = None
    fingerprint: str | None = None
    at: str | None = None
    """When, where the journal says (requests and decisions)."""
    expires_at: str | None = None
    required_approvals: int | None = None
    by: str | None = None
    roles: tuple[str, ...] = ()
    verdict: str | None = None
    """approved, rejected, expired; for a call in doubt run_again, output or failed; for an
    output review released, replaced or withheld."""
    reason: str | None = None
    message: str | None = None
    """What the model read for a rejection."""
    partial: bool = False
    automatic: bool = False
    receipt: str | None = None
    outcome: str | None = None
    """For ``executed``: completed, timed_out, rejected, or held_for_review (the tool ran;
    its ``output`` waits for a review before the model reads anything)."""
    output: str | None = None
    """What the model read as the call's result."""
    edited_arguments: str | None = None
    """For a ``decided`` approval with edited arguments: the arguments the call runs with
    (``arguments`` then holds the ones the approver was shown, ``by`` the editor). The
    ``started`` and ``executed`` records that follow show the edited arguments."""
    rule: str | None = None
    """For ``decided``: the standing approval that approved the call (``by`` is its grantor)."""
    revokes: int | None = None
    """For ``revoked``: the seq of the decision withdrawn (the call waits again without it)."""
    approvers: tuple[str, ...] = ()
    """For ``escalated``: the approver ids that may decide the call from then on."""
    on_behalf_of: str | None = None
    """For ``decided``: the approver ``by`` decided for under a delegation (``roles`` are
    theirs)."""

    def to_json(self) -> dict[str, Any]:
        """The record as JSON data, without the fields that do not apply."""
        data = asdict(self)
        data["roles"] = list(self.roles)
        data["approvers"] = list(self.approvers)
        return {k: v for k, v in data.items() if v not in (None, (), [], False) or k == "seq"}


def audit_trail(journal: Iterable[Event]) -> list[AuditRecord]:
    """The audit records of a run's journal, in order."""
    trail = _Trail()
    records: list[AuditRecord] = []
    for seq, event in enumerate(journal, start=1):
        record = trail.read(seq, event)
        if record is not None:
            records.append(record)
    return records


_Seen = tuple[str | None, str | None, str | None]
"""A call as the trail knows it: its agent, tool and the arguments it runs with."""


class _Trail:
    """What the audit trail remembers while it reads a journal: the run, the turn, the
    turn's calls and the outputs held for review."""

    __slots__ = ("calls", "decisions", "held", "ran", "run_id", "turn")

    def __init__(self) -> None:
        self.decisions: dict[str, int] = {}  # a decision's seal -> its seq
        self.ran: dict[str, _Seen] = {}  # call id -> the call that completed, of any turn
        self.run_id = ""
        self.turn = 0
        self.calls: dict[str, tuple[str, str, str]] = {}  # call id -> agent, tool, arguments
        self.held: dict[str, str] = {}  # call id -> output held for review

    def read(self, seq: int, event: Event) -> AuditRecord | None:
        """The record of ``event``, the ``seq``-th of the journal, if it has one."""
        base: dict[str, Any] = {"seq": seq, "run_id": self.run_id, "turn": self.turn}
        if isinstance(event, RunStarted):
            self.run_id = event.run_id
            return AuditRecord(seq, "run_started", event.run_id, 0, agent=event.agent)
        if isinstance(event, ModelResponded):
            self.turn += 1
            self.calls = {
                str(item["call_id"]): (
                    event.agent,
                    str(item["name"]),
                    str(item.get("arguments", "")),
                )
                for item in event.output
                if item.get("type") == "function_call"
            }
            return None
        if isinstance(event, ApprovalRequested):
            return _requested(base, event)
        if isinstance(event, ApprovalDecided):
            self.decisions[event.seal] = seq
            return self._decided(base, event)
        if isinstance(event, DecisionRevoked):
            return self._revoked(base, event)
        if isinstance(event, ApprovalReminded | ApprovalEscalated | DecisionLate):
            return self._waited(base, event)
        if isinstance(event, UndoRequested | UndoCompleted):
            return self._undo(base, event)
        if isinstance(event, ToolStarted):
            owner, tool, arguments = self._call(event.call_id)
            return AuditRecord(
                **base,
                kind="started",
                agent=owner,
                call_id=event.call_id,
                tool=tool,
                arguments=arguments,
            )
        if isinstance(event, ToolCompleted | ToolTimedOut | ToolRejected):
            return self._executed(base, event)
        if isinstance(event, DoubtResolved):
            return self._resolved(base, event)
        if isinstance(event, OutputReviewed):
            return self._reviewed(base, event)
        if isinstance(event, HandoffTaken):
            return AuditRecord(
                **base,
                kind="handoff",
                agent=event.to_agent,
                call_id=event.call_id,
                message=f"{event.from_agent} -> {event.to_agent}",
            )
        if isinstance(event, RunCompleted):
            return AuditRecord(**base, kind="completed")
        return None

    def _call(self, call_id: str) -> _Seen:
        return self.calls.get(call_id, (None, None, None))

    def _decided(self, base: dict[str, Any], event: ApprovalDecided) -> AuditRecord:
        owner, tool, seen = self._call(event.call_id)
        edited = event.edited_arguments
        if edited is not None and owner is not None and tool is not None:
            self.calls[event.call_id] = (owner, tool, edited)  # what runs from here on
        return AuditRecord(
            **base,
            kind="expired" if event.expired else "decided",
            agent=owner,
            call_id=event.call_id,
            tool=tool,
            fingerprint=event.fingerprint,
            at=event.at,
            by=event.by,
            roles=event.roles,
            verdict=verdict(event),
            reason=event.reason,
            message=event.message,
            partial=event.partial,
            automatic=event.automatic,
            receipt=event.receipt,
            arguments=seen if edited is not None else None,
            edited_arguments=edited,
            rule=event.rule,
            on_behalf_of=event.on_behalf_of,
        )

    def _revoked(self, base: dict[str, Any], event: DecisionRevoked) -> AuditRecord:
        owner, tool, _ = self._call(event.call_id)
        return AuditRecord(
            **base,
            kind="revoked",
            agent=owner,
            call_id=event.call_id,
            tool=tool,
            at=event.at,
            by=event.by,
            roles=event.roles,
            verdict="revoked",
            reason=event.reason,
            receipt=event.receipt,
            revokes=self.decisions.get(event.decision),
        )

    def _waited(
        self, base: dict[str, Any], event: ApprovalReminded | ApprovalEscalated | DecisionLate
    ) -> AuditRecord:
        owner, tool, _ = self._call(event.call_id)
        common: dict[str, Any] = {
            **base,
            "agent": owner,
            "call_id": event.call_id,
            "tool": tool,
            "fingerprint": event.fingerprint,
            "at": event.at,
        }
        if isinstance(event, ApprovalReminded):
            return AuditRecord(**common, kind="reminded")
        if isinstance(event, ApprovalEscalated):
            return AuditRecord(
                **common, kind="escalated", roles=event.roles, approvers=event.approvers
            )
        return AuditRecord(
            **common,
            kind="late",
            by=event.by,
            roles=event.roles,
            verdict="approved" if event.approved else "rejected",
            reason=event.reason,
        )

    def _undo(self, base: dict[str, Any], event: UndoRequested | UndoCompleted) -> AuditRecord:
        owner, tool, arguments = self.ran.get(event.call_id, (None, None, None))
        common: dict[str, Any] = {"agent": owner, "call_id": event.call_id, "tool": tool}
        if isinstance(event, UndoCompleted):
            outcome = "failed" if event.failed else "completed"
            return AuditRecord(
                **base, **common, kind="undone", outcome=outcome, output=event.output
            )
        return AuditRecord(
            **base,
            **common,
            kind="undo_requested",
            arguments=arguments,
            fingerprint=event.fingerprint,
            at=event.at,
            by=event.by,
            roles=event.roles,
            reason=event.reason,
        )

    def _executed(
        self, base: dict[str, Any], event: ToolCompleted | ToolTimedOut | ToolRejected
    ) -> AuditRecord:
        owner, tool, arguments = self._call(event.call_id)
        outcome = {
            "tool_completed": "completed",
            "tool_timed_out": "timed_out",
            "tool_rejected": "rejected",
        }[event.kind]
        if isinstance(event, ToolCompleted):
            self.ran[event.call_id] = (owner, tool, arguments)
        if isinstance(event, ToolCompleted) and event.review:
            outcome = "held_for_review"
            self.held[event.call_id] = output_text(event.output)
        return AuditRecord(
            **base,
            kind="executed",
            agent=owner,
            call_id=event.call_id,
            tool=tool,
            arguments=arguments,
            outcome=outcome,
            output=output_text(event.output),
        )

    def _resolved(self, base: dict[str, Any], event: DoubtResolved) -> AuditRecord:
        owner, tool, _ = self._call(event.call_id)
        return AuditRecord(
            **base,
            kind="resolved",
            agent=owner,
            call_id=event.call_id,
            tool=tool,
            at=event.at,
            by=event.by,
            roles=event.roles,
            verdict=event.resolution,
            reason=event.reason,
            output=event.output,
            receipt=event.receipt,
        )

    def _reviewed(self, base: dict[str, Any], event: OutputReviewed) -> AuditRecord:
        owner, tool, arguments = self._call(event.call_id)
        return AuditRecord(
            **base,
            kind="reviewed",
            agent=owner,
            call_id=event.call_id,
            tool=tool,
            arguments=arguments,
            at=event.at,
            by=event.by,
            roles=event.roles,
            verdict=event.verdict,
            reason=event.reason,
            output=self.held.get(event.call_id) if event.output is None else event.output,
            receipt=event.receipt,
        )


def _requested(base: dict[str, Any], event: ApprovalRequested) -> AuditRecord:
    return AuditRecord(
        **base,
        kind="requested",
        agent=event.agent,
        call_id=event.call_id,
        tool=event.tool,
        arguments=event.arguments,
        fingerprint=event.fingerprint,
        at=event.at,
        expires_at=event.expires_at,
        required_approvals=event.required_approvals,
    )


def audit_jsonl(records: Iterable[AuditRecord]) -> str:
    """The records as JSON Lines (one JSON object a line, each ending in a newline)."""
    lines = [
        escape_surrogates(json.dumps(record.to_json(), ensure_ascii=False, sort_keys=True))
        for record in records
    ]
    return "".join(line + "\n" for line in lines)
