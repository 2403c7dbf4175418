"""A run as the inbox shows it: status, conversation, calls waiting, audit trail.

Read from the run's journal (the fold), never from memory: ``run_detail`` builds it
from a loaded run, and ``audit_json`` the audit trail with what the inbox adds to it
(whose standing approval decided, whether a decision holds for the rest of the run,
whether its receipt verifies).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from .._tool_output import output_text
from ..approvals import audit_trail
from ..approvals._receipts import check_receipts
from ..items import message_text
from ..journal import ApprovalDecided, CallStatus, RunStarted, RunView
from ..run import RunState
from ..store import RunStatus, StoredRun
from ._pending import PendingCall, pending_call

__all__ = ["RunDetail", "RunsPage", "audit_json", "failure_json", "run_detail"]


@dataclass(frozen=True, slots=True)
class RunsPage:
    """A page of runs; pass ``next_cursor`` back for the next (``None``: last)."""

    runs: tuple[dict[str, Any], ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class RunDetail:
    """A run as the inbox shows it."""

    run_id: str
    agent: str
    status: RunStatus
    conversation: tuple[dict[str, Any], ...]
    pending: tuple[PendingCall, ...]
    in_doubt: tuple[PendingCall, ...]
    expired: tuple[PendingCall, ...]
    """Calls past their deadline that the sweep has not rejected yet (nobody may decide
    them; the next worker sweep or resume records their expiry)."""
    audit: tuple[dict[str, Any], ...]
    """``AuditRecord.to_json()`` of each record, with ``receipt_status`` (valid, invalid,
    missing) on decisions when the application has a receipt key."""
    output: Any
    created_at: datetime
    updated_at: datetime
    failure: dict[str, Any] | None = None
    """For a failed run: its error (``error``, ``message``, ``retryable``, ``at``) and how
    many times it failed since a person last retried it (``attempts``)."""
    withdrawable: tuple[dict[str, Any], ...] = ()
    """The decisions that may still be withdrawn, their calls not started: ``call_id``,
    ``by`` (only they withdraw it) and the call's ``fingerprint`` to send with it."""

    def withdrawable_by(self, call_id: str, approver: str) -> str | None:
        """The fingerprint to withdraw ``approver``'s decision on ``call_id`` with, or
        ``None`` if they have none that may be withdrawn."""
        for entry in self.withdrawable:
            if entry["call_id"] == call_id and entry["by"] == approver:
                return str(entry["fingerprint"])
        return None

    def decisions_on(self, call_id: str) -> list[dict[str, Any]]:
        """The audit records of the decisions (late ones too), escalation, expiry and output
        review of one call."""
        return [
            entry
            for entry in self.audit
            if entry.get("call_id") == call_id
            and entry["kind"] in ("decided", "revoked", "escalated", "expired", "late", "reviewed")
        ]

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
        """A JSON-compatible dict."""
        now = now or datetime.now(UTC)
        return {
            "run_id": self.run_id,
            "agent": self.agent,
            "status": self.status,
            "conversation": list(self.conversation),
            "pending": [call.to_json(now) for call in self.pending],
            "in_doubt": [call.to_json(now) for call in self.in_doubt],
            "expired": [call.to_json(now) for call in self.expired],
            "audit": list(self.audit),
            "output": self.output,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "failure": self.failure,
            "withdrawable": list(self.withdrawable),
        }


def failure_json(view: RunView) -> dict[str, Any] | None:
    """What the inbox shows of a failed run's error (``None`` unless it failed)."""
    failed = view.failed
    if failed is None:
        return None
    return {
        "error": failed.error,
        "message": failed.message,
        "retryable": failed.retryable,
        "at": failed.at,
        "attempts": view.failures,
    }


def _plain(item: Any) -> dict[str, Any]:
    plain: dict[str, Any] = json.loads(json.dumps(item, default=str))
    if plain.get("type", "message") == "message":
        plain["text"] = message_text(item)
    return plain


def run_detail(
    stored: StoredRun,
    state: RunState,
    requested: Mapping[str, datetime],
    audit: list[dict[str, Any]],
) -> RunDetail:
    """The run ``stored`` as ``state`` folds it (``requested``: when its pending calls were
    requested, from the store's projection; ``audit``: ``audit_json`` of its journal)."""
    view = state.view
    summary = stored.summary
    graph = state.agents()

    def shown(call_id: str, agent: str, tool: str, arguments: str, item: Any = None) -> PendingCall:
        call = pending_call(
            view,
            summary.run_id,
            call_id,
            agent,
            tool,
            arguments,
            requested.get(call_id, summary.updated_at),
        )
        if item is not None and item.kind == "output_review":
            shown = output_text(item.output)  # content parts (an image, say) as their JSON
            return replace(call, kind="output_review", output=shown, requested_by=requester)
        owner = graph.get(agent)
        function = owner.function_tools.get(tool) if owner is not None else None
        editable = getattr(function, "editable", False) is not False
        return replace(call, editable=editable, requested_by=requester)

    first = state.journal[0] if state.journal else None
    requester = first.requested_by if isinstance(first, RunStarted) else None

    # Expiries the state recorded on load, in memory only: the sweep has not written them.
    unswept = [
        event.call_id
        for event in state.journal[stored.seq :]
        if isinstance(event, ApprovalDecided) and event.expired
    ]
    return RunDetail(
        run_id=summary.run_id,
        agent=summary.root_agent,
        status=summary.status,
        conversation=tuple(_plain(item) for item in view.items),
        pending=tuple(
            shown(item.call_id, item.agent_name, item.tool_name, item.arguments, item)
            for item in state.interruptions
        ),
        in_doubt=tuple(
            shown(item.call_id, item.agent_name, item.tool_name, item.arguments)
            for item in state.in_doubt
        ),
        expired=tuple(
            shown(
                call_id,
                view.calls[call_id].agent,
                view.calls[call_id].name,
                view.calls[call_id].arguments,
            )
            for call_id in unswept
            if call_id in view.calls
        ),
        audit=tuple(audit),
        output=None if view.completed is None else view.completed.output,
        failure=failure_json(view),
        created_at=summary.created_at,
        updated_at=summary.updated_at,
        withdrawable=_withdrawable(view),
    )


def _withdrawable(view: RunView) -> tuple[dict[str, Any], ...]:
    """People's decisions on calls of the current turn that have not started."""
    found = []
    for call in view.calls.values():
        if call.status not in _UNSTARTED or call.requested is None:
            continue
        for decision in (*call.approvals, call.decision):
            if decision is not None and not decision.expired and decision.rule is None:
                found.append(
                    {"call_id": call.call_id, "by": decision.by, "fingerprint": call.fingerprint}
                )
    return tuple(found)


_UNSTARTED = frozenset({CallStatus.PENDING, CallStatus.APPROVED, CallStatus.REJECTED})


async def audit_json(
    stored: StoredRun,
    granted_by: Callable[[str], Awaitable[str | None]],
    receipt_key: bytes | str | None,
) -> list[dict[str, Any]]:
    """The run's audit trail as JSON data, each record with what the inbox adds: who granted
    the standing approval that decided a call (``granted_by`` of its rule id), ``always`` on a
    decision that holds for the rest of the run, and, with a ``receipt_key``, whether each
    decision's receipt verifies."""
    audit = [record.to_json() for record in audit_trail(stored.events)]
    granted: dict[str, str | None] = {}
    for entry in audit:
        rule_id = entry.get("rule")
        if rule_id is not None:  # approved by a standing approval: say whose
            if rule_id not in granted:
                granted[rule_id] = await granted_by(rule_id)
            entry["rule_granted_by"] = granted[rule_id]
    for entry in audit:
        event = stored.events[entry["seq"] - 1]
        if isinstance(event, ApprovalDecided) and event.always:
            entry["always"] = True  # the decision holds for the rest of the run
    if receipt_key is not None:
        checks = {
            check.index + 1: "revoked" if check.revoked else check.status
            for check in check_receipts(stored.events, receipt_key)
        }
        for entry in audit:
            if entry["seq"] in checks:
                entry["receipt_status"] = checks[entry["seq"]]
    return audit
