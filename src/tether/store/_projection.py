"""Projections: query tables derived from events by pure functions.

The events are the truth; ``pending`` (calls waiting for a decision: an approval,
or a review of their output),
``in_flight`` (calls started and not completed) and a run's status are folded
from them. A store applies ``changes`` to its tables in the same transaction
as the events, and ``rebuild`` is the same fold over the whole journal, so a
rebuilt projection equals the maintained one by construction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ..run._journal import (
    ApprovalDecided,
    ApprovalRequested,
    DoubtResolved,
    Event,
    NestedRunRecorded,
    OutputReviewed,
    OutputReviewRequested,
    RunCompleted,
    ToolCompleted,
    ToolRejected,
    ToolStarted,
    ToolTimedOut,
    events_adapter,
)

__all__ = [
    "AddFlight",
    "AddPending",
    "Change",
    "Complete",
    "DropCall",
    "DropTool",
    "EditPending",
    "changes",
    "stored_status",
]


@dataclass(frozen=True, slots=True)
class AddPending:
    call_id: str
    agent: str
    tool: str
    arguments: str
    requested_at: datetime
    expires_at: datetime | None = None
    """The request's deadline; the expiry sweep finds due approvals by it (an index)."""
    kind: Literal["approval", "output_review"] = "approval"
    required_approvals: int = 1
    """How many approvals the call needs (four-eyes: 2 or more)."""


@dataclass(frozen=True, slots=True)
class AddFlight:
    call_id: str
    started_seq: int


@dataclass(frozen=True, slots=True)
class DropCall:
    """The call left ``pending`` (decided) or ``in_flight`` (completed)."""

    call_id: str
    table: Literal["pending", "in_flight"]


@dataclass(frozen=True, slots=True)
class DropTool:
    """An ``always`` decision on ``call_id``: the run's other pending calls of the same tool
    are decided by it (the run applies it to them when it goes on), so they are not waiting
    any more. Applied before the call's own ``DropCall`` (its row names the tool)."""

    call_id: str


@dataclass(frozen=True, slots=True)
class EditPending:
    """One approval of several edited the pending call: the others decide on ``arguments``."""

    call_id: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Complete:
    """The run ended: nothing of it is pending or in flight any more."""


Change = AddPending | AddFlight | DropCall | DropTool | EditPending | Complete


def changes(events: Iterable[tuple[int, Event]], appended_at: datetime) -> list[Change]:
    """The projection changes of events ``(seq, event)`` appended at ``appended_at``."""
    out: list[Change] = []
    for seq, event in events:
        if isinstance(event, ApprovalRequested):
            expires = datetime.fromisoformat(event.expires_at) if event.expires_at else None
            out.append(
                AddPending(
                    event.call_id,
                    event.agent,
                    event.tool,
                    event.arguments,
                    appended_at,
                    expires,
                    required_approvals=event.required_approvals,
                )
            )
        elif isinstance(event, ApprovalDecided) and not event.partial:
            out.append(DropCall(event.call_id, "pending"))
        elif isinstance(event, ApprovalDecided) and event.edited_arguments is not None:
            out.append(EditPending(event.call_id, event.edited_arguments))
        elif isinstance(event, ToolStarted):
            out.append(AddFlight(event.call_id, seq))
        elif isinstance(event, DoubtResolved):
            out.append(DropCall(event.call_id, "in_flight"))
        elif isinstance(event, ToolCompleted | ToolRejected | ToolTimedOut):
            out.append(DropCall(event.call_id, "pending"))
            out.append(DropCall(event.call_id, "in_flight"))
        elif isinstance(event, OutputReviewRequested):
            out.append(
                AddPending(
                    event.call_id,
                    event.agent,
                    event.tool,
                    event.arguments,
                    appended_at,
                    kind="output_review",
                )
            )
        elif isinstance(event, OutputReviewed):
            out.append(DropCall(event.call_id, "pending"))
        elif isinstance(event, RunCompleted):
            out.append(Complete())
        elif isinstance(event, NestedRunRecorded):
            # An agent used as a tool: its call is not in flight while its nested run waits,
            # and what the nested run waits for is pending in this run.
            if event.paused:
                out.append(DropCall(event.call_id, "in_flight"))
            nested = events_adapter().validate_python(list(event.events))
            out.extend(
                change
                for change in changes(((seq, inner) for inner in nested), appended_at)
                if isinstance(change, AddPending | EditPending)
                or (isinstance(change, DropCall) and change.table == "pending")
            )
    return out


def stored_status(
    completed: bool, pending: int, in_flight: int
) -> Literal["running", "waiting", "completed"]:
    """The status column: what the events alone say (``in_doubt`` also needs the lease)."""
    if completed:
        return "completed"
    if pending and not in_flight:
        return "waiting"
    return "running"
