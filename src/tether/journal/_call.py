"""A call of the current turn, as the fold knows it: what happened to it, and its status.

``Call.status`` is the call's place in its life (new, waiting for a decision, approved,
rejected, in doubt, held for review, done; or, for an agent used as a tool, suspended and
resumable); the fold's handlers (``_fold_calls``) move it from one to the next.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..items import Item
from ._binding import ToolApprovalItem, ToolOutputReviewItem, fingerprint
from ._events import (
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalRequested,
    Event,
    OutputReviewed,
)

if TYPE_CHECKING:
    from ._fold import RunView

__all__ = [
    "HOSTED_APPROVAL_REQUEST",
    "Call",
    "CallStatus",
    "Waiting",
    "edited_call_note",
    "function_call_problem",
    "hosted_approval_response",
]

HOSTED_APPROVAL_REQUEST = "mcp_approval_request"
"""The item a Responses API hosted MCP server sends to ask approval for a call."""


def hosted_approval_response(request_id: str, approved: bool, reason: str) -> Item:
    """The input item that answers a hosted MCP approval request."""
    item: Item = {
        "type": "mcp_approval_response",
        "approval_request_id": request_id,
        "approve": approved,
    }
    if not approved and reason:
        item["reason"] = reason
    return item


class CallStatus(enum.Enum):
    # Members are singletons compared by identity: hashing by identity (a C slot) is the same
    # answer as Enum's hash of the name (a Python call), and the loop's set lookups make it
    # many times a turn.
    __hash__ = object.__hash__

    NEW = "new"
    """Not yet looked at: may need approval, or may run at once."""
    PENDING = "pending"
    """Waiting for a human decision."""
    APPROVED = "approved"
    """Approved, not yet run."""
    REJECTED = "rejected"
    """Rejected; its rejection output is not yet recorded."""
    IN_DOUBT = "in_doubt"
    """Started, completion never recorded."""
    DONE = "done"
    """Its output is in the conversation."""
    SUSPENDED = "suspended"
    """An agent used as a tool whose nested run waits for human decisions."""
    RESUMABLE = "resumable"
    """An agent used as a tool whose nested run has every decision it waited for."""
    REVIEW = "review"
    """Ran; its output waits for a person's review before the model reads it."""


# The members as module constants, for the loop and the fold, which compare a call's status
# with one about twenty times a turn: Python 3.11 reads every attribute of an Enum class
# through ``EnumType.__getattr__``'s hook, about ten times a module global's cost.
NEW = CallStatus.NEW
PENDING = CallStatus.PENDING
APPROVED = CallStatus.APPROVED
REJECTED = CallStatus.REJECTED
IN_DOUBT = CallStatus.IN_DOUBT
DONE = CallStatus.DONE
SUSPENDED = CallStatus.SUSPENDED
RESUMABLE = CallStatus.RESUMABLE
REVIEW = CallStatus.REVIEW


@dataclass(frozen=True, slots=True)
class Waiting:
    """One call the run waits on (``RunView.waiting``)."""

    call: Call
    kind: Literal["approval", "output_review", "in_doubt"]
    parents: tuple[Call, ...] = ()
    """For a call of an agent used as a tool: the calls that run it, outermost first."""


@dataclass(slots=True, init=False)
class Call:
    """A function call of the current turn and what has happened to it."""

    item: Item
    agent: str
    _fingerprint: str | None = None
    requested: ApprovalRequested | None = None
    decision: ApprovalDecided | None = None
    approvals: tuple[ApprovalDecided, ...] = ()
    """Approvals so far of a call that needs several (four-eyes), before the last one."""
    started: bool = False
    started_at: int = -1
    """The index in the journal of the call's last ``ToolStarted`` (its seq is one more)."""
    first_started: str | None = None
    """When the call first started (its ``ToolStarted.at``): its idempotency key's birth."""
    system_reruns: int = 0
    """How often the system (not a person) settled the call's doubt by running it again."""
    done: bool = False
    output: str | list[dict[str, Any]] | None = None
    nested_agent: str | None = None
    """For an agent used as a tool: the nested run's agent, once it has events."""
    nested_events: tuple[Event, ...] = ()
    """The nested run's journal (replaced, never changed in place: views share calls')."""
    nested_view: RunView | None = None
    suspended: bool = False
    """The nested run paused, and the call has not been started again since."""
    index: int = -1
    """Where the call's item is in the view's ``items`` (hosted requests too)."""
    edit: ApprovalDecided | None = None
    """The last approval that edited the call's arguments, if one did."""
    held: str | list[dict[str, Any]] | None = None
    """The tool's output while it waits for review (``ToolCompleted`` with ``review``)."""
    review: OutputReviewed | None = None
    """The review of the call's output, once taken."""
    review_requested: bool = False
    """``OutputReviewRequested`` was recorded for the held output."""
    reminders: int = 0
    """How often the people who may decide were reminded of the waiting call."""
    escalation: ApprovalEscalated | None = None
    """The escalation of the waiting call, once the sweep escalated it: its group may decide
    the call too (``tether.approvals`` authorizes them)."""

    hosted: bool = field(init=False)
    """An approval the API asked for a hosted MCP call (``tether.hosted``); nothing runs
    here, and the decision goes back as an ``mcp_approval_response`` item."""
    call_id: str = field(init=False)
    name: str = field(init=False)
    """The tool's name."""

    def __init__(self, item: Item, agent: str, index: int) -> None:
        # Written out rather than generated: a long run's fold makes a call every turn, and
        # the generated ``__init__`` (a parameter a field, then ``__post_init__``; ``index``
        # given by keyword) cost about half as much again. Every field is set here, to its
        # default above but for these first six.
        self.item = item
        self.agent = agent
        self.index = index
        # Read from the item once: the loop and the fold ask for them many times a call.
        self.hosted = hosted = item.get("type") == HOSTED_APPROVAL_REQUEST
        self.call_id = str(item["id"] if hosted else item["call_id"])
        self.name = str(item["name"])
        self._fingerprint = None
        self.requested = None
        self.decision = None
        self.approvals = ()
        self.started = False
        self.started_at = -1
        self.first_started = None
        self.system_reruns = 0
        self.done = False
        self.output = None
        self.nested_agent = None
        self.nested_events = ()
        self.nested_view = None
        self.suspended = False
        self.edit = None
        self.held = None
        self.review = None
        self.review_requested = False
        self.reminders = 0
        self.escalation = None

    @property
    def model_arguments(self) -> str:
        """The arguments as the model wrote them."""
        return str(self.item.get("arguments", ""))

    @property
    def arguments(self) -> str:
        """The arguments the call runs with: an approver's edit, else the model's."""
        edit = self.edit
        if edit is not None and edit.edited_arguments is not None:
            return edit.edited_arguments
        return self.model_arguments

    @property
    def model_fingerprint(self) -> str:
        """The fingerprint of the call as the model made it (what its request names)."""
        # Computed when first needed: most calls never need approval.
        if self._fingerprint is None:
            self._fingerprint = fingerprint(
                self.agent, self.name, self.call_id, self.model_arguments
            )
        return self._fingerprint

    @property
    def fingerprint(self) -> str:
        """The fingerprint of the call as it runs (edited, if an approver edited it): what
        the next decision on it must name."""
        edit = self.edit
        if edit is not None and edit.edited_fingerprint is not None:
            return edit.edited_fingerprint
        return self.model_fingerprint

    @property
    def status(self) -> CallStatus:
        if self.done:
            return DONE
        if self.held is not None:
            return REVIEW
        if self.suspended:
            assert self.nested_view is not None
            waiting = self.nested_view.completed is None and self.nested_view.pending
            return SUSPENDED if waiting else RESUMABLE
        if self.started:
            return IN_DOUBT
        if self.decision is not None:
            return APPROVED if self.decision.approved else REJECTED
        return PENDING if self.requested is not None else NEW

    def approval_item(self) -> ToolApprovalItem:
        server = str(self.item.get("server_label", "")) or None if self.hosted else None
        edit = self.edit
        kind = ToolApprovalItem
        extra: dict[str, Any] = {}
        if self.held is not None and self.review is None:
            kind, extra = ToolOutputReviewItem, {"output": self.held}
        return kind(
            self.agent,
            self.name,
            self.call_id,
            self.arguments,
            self.fingerprint,
            server,
            original_arguments=self.model_arguments if edit is not None else None,
            edited_by=edit.by if edit is not None else None,
            **extra,
        )


def function_call_problem(item: Item) -> str | None:
    """What makes a function call item unusable, or ``None`` (also checks a model's output)."""
    call_id, name = item.get("call_id"), item.get("name")
    # The usual call, told in one test (a long run's fold meets many).
    usual = type(call_id) is str and call_id and type(name) is str and name
    if usual and type(item.get("arguments", "")) is str:
        return None
    if not isinstance(call_id, str) or not call_id:
        return f"has no call_id (a non-empty string), got {_short(call_id)}"
    if not isinstance(name, str) or not name:
        got = _short(name)
        return f"with id {_short(call_id)} has no tool name (a non-empty string), got {got}"
    if not isinstance(item.get("arguments", ""), str):
        return f"with id {_short(call_id)} has arguments that are not a JSON string"
    return None


def edited_call_note(call_id: str, tool: str, arguments: str) -> Item:
    """What a model reading a server-managed conversation is told after the output of a call
    an approver edited: the server holds the call with the model's arguments."""
    return {
        "type": "message",
        "role": "developer",
        "content": (
            f"Note: call {call_id} of {tool} was run with arguments edited by a person "
            f"approving it: {arguments}. Its output above is the output of that call."
        ),
    }


def _short(value: Any) -> str:
    if not isinstance(value, str | bool | float | None):
        # A container's repr could recurse without end; a huge int's refuses to print.
        return f"a value of type {type(value).__name__}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
