"""What a channel is given and what it does: a ``Request`` to show, ``post`` and ``update``."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from ..._governance import Approver
from .._pending import PendingCall

__all__ = ["Channel", "Request", "Status", "describe"]

Status = Literal["pending", "approved", "rejected", "expired", "closed"]
"""Where a request stands: waiting, decided (approved, rejected, expired by the system), or
gone without a decision (``closed``: its run moved on otherwise)."""


@dataclass(frozen=True, slots=True)
class Request:
    """An approval request as a channel shows it, now.

    ``allows(approver)``: whether the call's policy lets ``approver`` decide it (a channel
    tells only them). ``decided_by``: who decided it (``status`` approved or rejected; for a
    four-eyes call, each approver in turn)."""

    call: PendingCall
    status: Status
    now: datetime
    allows: Callable[[Approver], bool]
    decided_by: tuple[str, ...] = ()
    reminders: int = 0
    """How often the people who may decide were reminded (``Escalation``)."""
    escalated_to: tuple[str, ...] = ()
    """The roles and approver ids the call was escalated to (they may decide it too, and
    ``allows`` says so); empty while it was not."""

    @property
    def summary(self) -> str:
        """A line saying where the request stands: what an update of a message shows."""
        if self.status == "pending":
            done, need = len(self.call.approved_by), self.call.required_approvals
            progress = f" ({done} of {need} approvals)" if need > 1 else ""
            if self.reminders:
                progress += ", reminded"
            if self.escalated_to:
                progress += f", escalated to {', '.join(self.escalated_to)}"
            return f"waiting for approval{progress}"
        if self.status == "expired":
            return "expired: rejected by the system"
        if self.status == "closed":
            return "closed without a decision"
        return f"{self.status} by {', '.join(self.decided_by) or 'someone'}"


class Channel(Protocol):
    """Where approval requests are announced (``App(channels=[...])``).

    Workers call ``post`` once per request (claimed in the channel book first, so one
    process posts it), and ``update`` whenever what it says changes (a four-eyes approval,
    a decision made anywhere, expiry). Either may raise: the worker logs it and tries
    again later with backoff; a run never waits for a channel."""

    name: str
    """Unique among the app's channels: announcements are recorded under it."""

    async def post(self, request: Request) -> dict[str, Any]:
        """Announce ``request``; return what ``update`` needs to change the announcement
        (JSON-compatible)."""
        ...

    async def update(self, ref: dict[str, Any], request: Request) -> dict[str, Any] | None:
        """Show ``request`` as it stands now in the announcement ``ref``; return the
        announcement's new ``ref`` if it changed (``None``: it did not). A reminder or an
        escalation (``reminders``, ``escalated_to``) is an update too: tell the people
        ``allows`` names, the newly allowed ones included."""
        ...


def describe(call: PendingCall, now: datetime) -> list[tuple[str, str]]:
    """The facts of a call every channel shows: (label, text) pairs."""
    left = call.seconds_left(now)
    if left is None:
        deadline = "no deadline"
    elif left <= 0:
        deadline = "expired"
    else:
        deadline = f"{_span(int(left))} left"
    facts = [("Tool", call.tool), ("Agent", call.agent), ("Arguments", _arguments(call.arguments))]
    facts.append(("Time left", deadline))
    if call.required_approvals > 1:
        by = ", ".join(call.approved_by) or "nobody yet"
        facts.append(("Approvals", f"{len(call.approved_by)} of {call.required_approvals} ({by})"))
    return facts


def _arguments(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _span(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
