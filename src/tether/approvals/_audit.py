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

from ..journal._events import (
    ApprovalDecided,
    ApprovalRequested,
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
)
from ..journal._limits import escape_surrogates
from ._receipts import verdict

__all__ = ["AuditKind", "AuditRecord", "audit_jsonl", "audit_trail"]

AuditKind = Literal[
    "run_started",
    "requested",
    "decided",
    "expired",
    "started",
    "executed",
    "resolved",
    "reviewed",
    "handoff",
    "completed",
]


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One line of a run's audit trail.

    ``kind`` says what happened: ``requested`` (a call asked for approval),
    ``decided`` (a person approved or rejected it), ``expired`` (the system
    rejected it at its deadline), ``started`` (the tool body was about to run),
    ``executed`` (the call got its outcome: ``completed``, ``timed_out`` or
    ``rejected``, with the arguments it ran with), ``resolved`` (a person settled a call
    in doubt), ``reviewed`` (a person released, replaced or withheld a call's output:
    ``output`` is what the model read), ``handoff``,
    ``run_started`` and ``completed``.
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

    def to_json(self) -> dict[str, Any]:
        """The record as JSON data, without the fields that do not apply."""
        data = asdict(self)
        data["roles"] = list(self.roles)
        return {k: v for k, v in data.items() if v not in (None, (), [], False) or k == "seq"}


def audit_trail(journal: Iterable[Event]) -> list[AuditRecord]:
    """The audit records of a run's journal, in order."""
    records: list[AuditRecord] = []
    run_id, turn, agent = "", 0, ""
    calls: dict[str, tuple[str, str, str]] = {}  # call id -> agent, tool, arguments
    held: dict[str, str] = {}  # call id -> output held for review
    for seq, event in enumerate(journal, start=1):
        base: dict[str, Any] = {"seq": seq, "run_id": run_id, "turn": turn}
        if isinstance(event, RunStarted):
            run_id, agent = event.run_id, event.agent
            records.append(AuditRecord(seq, "run_started", run_id, 0, agent=agent))
        elif isinstance(event, ModelResponded):
            turn += 1
            calls = {
                str(item["call_id"]): (
                    event.agent,
                    str(item["name"]),
                    str(item.get("arguments", "")),
                )
                for item in event.output
                if item.get("type") == "function_call"
            }
        elif isinstance(event, ApprovalRequested):
            records.append(
                AuditRecord(
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
            )
        elif isinstance(event, ApprovalDecided):
            owner, tool, seen = calls.get(event.call_id, (None, None, None))
            edited = event.edited_arguments
            if edited is not None and owner is not None and tool is not None:
                calls[event.call_id] = (owner, tool, edited)  # what runs from here on
            records.append(
                AuditRecord(
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
                )
            )
        elif isinstance(event, ToolStarted):
            owner, tool, arguments = calls.get(event.call_id, (None, None, None))
            records.append(
                AuditRecord(
                    **base,
                    kind="started",
                    agent=owner,
                    call_id=event.call_id,
                    tool=tool,
                    arguments=arguments,
                )
            )
        elif isinstance(event, ToolCompleted | ToolTimedOut | ToolRejected):
            owner, tool, arguments = calls.get(event.call_id, (None, None, None))
            outcome = {
                "tool_completed": "completed",
                "tool_timed_out": "timed_out",
                "tool_rejected": "rejected",
            }[event.kind]
            if isinstance(event, ToolCompleted) and event.review:
                outcome = "held_for_review"
                held[event.call_id] = event.output
            records.append(
                AuditRecord(
                    **base,
                    kind="executed",
                    agent=owner,
                    call_id=event.call_id,
                    tool=tool,
                    arguments=arguments,
                    outcome=outcome,
                    output=event.output,
                )
            )
        elif isinstance(event, DoubtResolved):
            owner, tool, _ = calls.get(event.call_id, (None, None, None))
            records.append(
                AuditRecord(
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
            )
        elif isinstance(event, OutputReviewed):
            owner, tool, arguments = calls.get(event.call_id, (None, None, None))
            records.append(
                AuditRecord(
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
                    output=held.get(event.call_id) if event.output is None else event.output,
                    receipt=event.receipt,
                )
            )
        elif isinstance(event, HandoffTaken):
            records.append(
                AuditRecord(
                    **base,
                    kind="handoff",
                    agent=event.to_agent,
                    call_id=event.call_id,
                    message=f"{event.from_agent} -> {event.to_agent}",
                )
            )
        elif isinstance(event, RunCompleted):
            records.append(AuditRecord(**base, kind="completed"))
    return records


def audit_jsonl(records: Iterable[AuditRecord]) -> str:
    """The records as JSON Lines (one JSON object a line, each ending in a newline)."""
    lines = [
        escape_surrogates(json.dumps(record.to_json(), ensure_ascii=False, sort_keys=True))
        for record in records
    ]
    return "".join(line + "\n" for line in lines)
