"""A call waiting for a decision, as the inbox lists and shows it, and pages of them."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from ..errors import UserError
from ..journal import RunView
from ..journal._binding import fingerprint as call_fingerprint

__all__ = ["InboxPage", "Kind", "PendingCall", "decode_cursor", "encode_cursor", "pending_call"]

Kind = Literal["approval", "output_review"]


@dataclass(frozen=True, slots=True)
class PendingCall:
    """A call waiting for a decision, as the inbox lists it."""

    run_id: str
    call_id: str
    agent: str
    tool: str
    arguments: str
    requested_at: datetime
    expires_at: datetime | None = None
    """When the system rejects the call if nobody decided it (``None``: never)."""
    required_approvals: int = 1
    """Distinct approvals the call needs (four-eyes: 2), in lists too (from the store)."""
    approved_by: tuple[str, ...] = ()
    """Who approved it so far, of a call that needs several approvals."""
    kind: Kind = "approval"
    """What waits: an approval of the call, or a review of its output (the call ran)."""
    output: str | None = None
    """For an output review shown on a run: what the tool returned (the model has not read
    it). Lists leave it out."""
    editable: bool = False
    """On a run: whether the tool allows approving with edited arguments
    (``function_tool(editable=...)``; a predicate there decides per approver)."""
    fingerprint: str = ""
    """The call as shown (agent, tool, call id, arguments): a decision on it names this,
    so that it never applies to another call (changed arguments, a reused call id)."""
    requested_by: str | None = None
    """Who asked for the run, when its surface knew (``RunStarted.requested_by``: the
    gateway's authenticated client, or the person its OAuth token stands for)."""

    def __post_init__(self) -> None:
        if not self.fingerprint:
            shown = call_fingerprint(self.agent, self.tool, self.call_id, self.arguments)
            object.__setattr__(self, "fingerprint", shown)

    def seconds_left(self, now: datetime) -> float | None:
        """Seconds before the approval expires (<= 0: expired), ``None`` if it never does."""
        return None if self.expires_at is None else (self.expires_at - now).total_seconds()

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
        """A JSON-compatible dict."""
        left = self.seconds_left(now or datetime.now(UTC))
        return {
            "run_id": self.run_id,
            "call_id": self.call_id,
            "agent": self.agent,
            "tool": self.tool,
            "arguments": self.arguments,
            "fingerprint": self.fingerprint,
            "requested_at": self.requested_at.isoformat(),
            "expires_at": None if self.expires_at is None else self.expires_at.isoformat(),
            "seconds_left": None if left is None else max(0.0, round(left, 1)),
            "expired": left is not None and left <= 0,
            "approvals": {"required": self.required_approvals, "by": list(self.approved_by)},
            "kind": self.kind,
            **({"output": self.output} if self.output is not None else {}),
            **({"editable": True} if self.editable else {}),
            **({"requested_by": self.requested_by} if self.requested_by else {}),
        }


@dataclass(frozen=True, slots=True)
class InboxPage:
    """A page of pending calls; pass ``next_cursor`` back for the next (``None``: last)."""

    calls: tuple[PendingCall, ...]
    next_cursor: str | None


def pending_call(
    view: RunView,
    run_id: str,
    call_id: str,
    agent: str,
    tool: str,
    arguments: str,
    requested_at: datetime,
) -> PendingCall:
    """A call of the run with its deadline and four-eyes progress (from the fold)."""
    call = view.calls.get(call_id)
    requested = call.requested if call is not None else None
    expires = requested.expires_at if requested is not None else None
    return PendingCall(
        run_id,
        call_id,
        agent,
        tool,
        arguments,
        requested_at,
        datetime.fromisoformat(expires) if expires else None,
        requested.required_approvals if requested is not None else 1,
        tuple(a.by for a in call.approvals if a.by) if call is not None else (),
    )


def encode_cursor(call: PendingCall) -> str:
    """The cursor of the page after ``call`` (request time, run id, call id)."""
    key = [call.requested_at.astimezone(UTC).isoformat(), call.run_id, call.call_id]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str, str]:
    """The keyset position a page's ``next_cursor`` names (``UserError`` if it names none)."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if isinstance(key, list) and len(key) == 3 and all(isinstance(k, str) for k in key):
            at = datetime.fromisoformat(key[0])
            if at.tzinfo is not None:
                return (at, key[1], key[2])
    except ValueError:
        pass
    raise UserError(f"Not an inbox cursor: {cursor!r}. Pass a page's next_cursor as is.")
