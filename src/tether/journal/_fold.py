"""The fold: everything about a run, derived from its journal.

``RunView.apply`` takes one event and updates the derived facts in O(1), so a
live run keeps its view current as it appends, and a loaded run folds its
journal once. The fold never reads the clock, random numbers or the outside
world: the same journal always gives the same view.

It is also the gate for loaded journals: an event that does not fit what came
before it (a decision on an unknown call, a fingerprint that no longer matches
the call's arguments) raises a ``StateError`` here, before anything runs.
"""

from __future__ import annotations

import copy as _copy
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from dataclasses import replace as _replace
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from .._context import Usage
from .._frozen import freeze
from .._governance import SYSTEM_APPROVER
from ..errors import DecisionMismatchError, StateFormatError
from ..items import Item, function_call_output
from ._binding import (
    ToolApprovalItem,
    ToolOutputReviewItem,
    decision_seal,
    doubt_seal,
    fingerprint,
    output_digest,
    review_seal,
)
from ._events import (
    ApprovalDecided,
    ApprovalRequested,
    DoubtResolved,
    Event,
    GuardrailChecked,
    HandoffTaken,
    ModelResponded,
    NestedRunRecorded,
    OutputReviewed,
    OutputReviewRequested,
    RunCompleted,
    RunFailed,
    RunResumed,
    RunRetried,
    RunStarted,
    SessionSynced,
    ToolCompleted,
    ToolRejected,
    ToolStarted,
    ToolTimedOut,
    events_adapter,
)

__all__ = [
    "HOSTED_APPROVAL_REQUEST",
    "Call",
    "CallStatus",
    "RunStatus",
    "RunView",
    "Waiting",
    "edited_call_note",
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


RunStatus = Literal["running", "waiting", "in_doubt", "completed", "failed"]
"""What a run's journal says of it as a whole (``RunView.status``):

- ``completed``: it has its final output;
- ``failed``: it stopped on an error (``RunFailed``) and nobody asked to try again since;
- ``in_doubt``: a call started and its completion was never recorded (while the process that
  runs it is alive this is a call under way; a store tells the two apart by the lease);
- ``running``: it can go on without anyone (a call to run, reject or look at, a model call);
- ``waiting``: it can only go on once a person decides (an approval or an output review).
"""

_ACTIONABLE = frozenset(
    {
        CallStatus.NEW,
        CallStatus.APPROVED,
        CallStatus.REJECTED,
        CallStatus.RESUMABLE,
    }
)
"""Call states the run acts on by itself, without a person."""

_WAITING = frozenset({CallStatus.PENDING, CallStatus.REVIEW, CallStatus.SUSPENDED})
"""Call states that wait for a person (a suspended call: its nested run does)."""


@dataclass(frozen=True, slots=True)
class Waiting:
    """One call the run waits on (``RunView.waiting``)."""

    call: Call
    kind: Literal["approval", "output_review", "in_doubt"]
    parents: tuple[Call, ...] = ()
    """For a call of an agent used as a tool: the calls that run it, outermost first."""


@dataclass(slots=True)
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
    done: bool = False
    output: str | None = None
    nested_agent: str | None = None
    """For an agent used as a tool: the nested run's agent, once it has events."""
    nested_events: list[Event] = field(default_factory=list)
    """The nested run's journal (replaced, never changed in place: views share calls' lists)."""
    nested_view: RunView | None = None
    suspended: bool = False
    """The nested run paused, and the call has not been started again since."""
    index: int = -1
    """Where the call's item is in the view's ``items`` (hosted requests too)."""
    edit: ApprovalDecided | None = None
    """The last approval that edited the call's arguments, if one did."""
    held: str | None = None
    """The tool's output while it waits for review (``ToolCompleted`` with ``review``)."""
    review: OutputReviewed | None = None
    """The review of the call's output, once taken."""
    review_requested: bool = False
    """``OutputReviewRequested`` was recorded for the held output."""

    @property
    def call_id(self) -> str:
        return str(self.item["id"] if self.hosted else self.item["call_id"])

    @property
    def hosted(self) -> bool:
        """An approval the API asked for a hosted MCP call (``tether.hosted``); nothing runs
        here, and the decision goes back as an ``mcp_approval_response`` item."""
        return self.item.get("type") == HOSTED_APPROVAL_REQUEST

    @property
    def name(self) -> str:
        return str(self.item["name"])

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
            return CallStatus.DONE
        if self.held is not None:
            return CallStatus.REVIEW
        if self.suspended:
            assert self.nested_view is not None
            waiting = self.nested_view.completed is None and self.nested_view.pending
            return CallStatus.SUSPENDED if waiting else CallStatus.RESUMABLE
        if self.started:
            return CallStatus.IN_DOUBT
        if self.decision is not None:
            return CallStatus.APPROVED if self.decision.approved else CallStatus.REJECTED
        return CallStatus.PENDING if self.requested is not None else CallStatus.NEW

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


class RunView:
    """The state of a run as its journal says it is."""

    # Slots, because paused runs are held in memory by the thousand.
    __slots__ = (
        "agent",
        "always",
        "auto_previous_response_id",
        "calls",
        "completed",
        "conversation_id",
        "events",
        "failed",
        "failures",
        "generated_start",
        "guardrails",
        "handoff_view",
        "input_start",
        "items",
        "max_turns",
        "previous_response_id",
        "rejection_message",
        "responses",
        "root_agent",
        "run_config",
        "run_id",
        "server_upto",
        "session_id",
        "session_upto",
        "trace_parent",
        "tripwire",
        "turns",
        "usage",
    )

    def __init__(self) -> None:
        self.run_id = ""
        self.root_agent = ""
        self.agent = ""
        """The agent that runs next (changes with handoffs)."""
        self.max_turns = 0
        self.previous_response_id: str | None = None
        self.conversation_id: str | None = None
        self.auto_previous_response_id = False
        self.session_id: str | None = None
        self.items: list[Item] = []
        """The whole conversation: history, input, then everything the run produced."""
        self.input_start = 0
        """Where this run's input begins in ``items`` (before it: session history)."""
        self.generated_start = 0
        """Where the run's own items begin in ``items``."""
        self.turns = 0
        self.usage = Usage()
        self.responses: list[ModelResponded] = []
        self.calls: dict[str, Call] = {}
        """The current turn's function calls, in the order the model made them."""
        self.always: dict[tuple[str, str], ApprovalDecided] = {}
        """(agent, tool) to the ``always`` decision that covers its later calls."""
        self.session_upto = 0
        """Items before this index are stored in the session."""
        self.server_upto = 0
        """Items before this index are known to the server-managed conversation."""
        self.completed: RunCompleted | None = None
        self.failed: RunFailed | None = None
        """The error the run stopped on, until it is resumed or retried."""
        self.failures = 0
        """How many times the run failed since a person last asked to try it again."""
        self.events = 0
        self.rejection_message: str | None = None
        """The run's message for rejected calls without one; ``None``: the default."""
        self.guardrails: dict[tuple[str, str, str, int], GuardrailChecked] = {}
        """Checks done: (stage, guardrail, call id or "", turn) to what the check found."""
        self.tripwire: GuardrailChecked | None = None
        """The check whose tripwire stopped the run, if one did."""
        self.handoff_view: tuple[list[Item], int] | None = None
        """An input filter's conversation and the ``items`` index it stands in for."""
        self.trace_parent: str | None = None
        """The ``traceparent`` a resumed run's spans continue (see ``RunStarted``)."""
        self.run_config: dict[str, Any] = {}
        """The data of the run's ``RunConfig`` (``RunStarted``, updated by ``RunResumed``)."""

    def copy(self) -> RunView:
        """An independent view of the same journal, without folding it again."""
        other = _copy.copy(self)
        other.items = list(self.items)
        other.responses = list(self.responses)
        other.calls = {call_id: _copy.copy(call) for call_id, call in self.calls.items()}
        other.always = dict(self.always)
        other.guardrails = dict(self.guardrails)
        return other

    def apply(self, event: Event) -> None:
        """Fold one more event into the view."""
        if self.events == 0 and not isinstance(event, RunStarted):
            raise StateFormatError("journal[0]: a journal must begin with run_started.")
        if self.events and isinstance(event, RunStarted):
            raise StateFormatError(f"journal[{self.events}]: a second run_started.")
        if self.completed is not None and not isinstance(event, SessionSynced | RunResumed):
            raise StateFormatError(f"journal[{self.events}]: {event.kind} after the run completed.")
        if self.failed is not None and event.kind not in _WHILE_FAILED:
            raise StateFormatError(
                f"journal[{self.events}]: {event.kind} after the run failed; a failed run goes "
                "on only once it is resumed (run_resumed) or retried (run_retried)."
            )
        # Every handler checks the event before it changes anything: a refused event leaves
        # the view exactly as it was.
        _APPLY[event.kind](self, event)
        self.events += 1

    # -- derived facts -----------------------------------------------------------

    @property
    def server_managed(self) -> bool:
        return bool(
            self.previous_response_id or self.conversation_id or self.auto_previous_response_id
        )

    @property
    def last_response_id(self) -> str | None:
        for response in reversed(self.responses):
            if response.response_id:
                return response.response_id
        return self.previous_response_id

    def waiting(self) -> list[Waiting]:
        """What the run waits on, in call order: calls waiting for an approval or for a
        review of their output (a nested run's, of an agent used as a tool, in its place),
        then calls in doubt.

        The one answer to "what is waiting" for every surface: the loop, the store's
        ``pending`` and ``in_flight`` rows, workers, the inbox, the CLI and DBOS. Decisions
        that cover several calls (``always``, standing approvals) are events of their own
        on each call they apply to, so nothing here needs to second-guess them.
        """
        found = self._waiting_decisions(())
        found.extend(
            Waiting(call, "in_doubt")
            for call in self.calls.values()
            if call.status is CallStatus.IN_DOUBT
        )
        return found

    def _waiting_decisions(self, parents: tuple[Call, ...]) -> list[Waiting]:
        found: list[Waiting] = []
        for call in self.calls.values():
            status = call.status
            if status is CallStatus.PENDING:
                found.append(Waiting(call, "approval", parents))
            elif status is CallStatus.REVIEW:
                found.append(Waiting(call, "output_review", parents))
            elif status is CallStatus.SUSPENDED:
                assert call.nested_view is not None
                found.extend(call.nested_view._waiting_decisions((*parents, call)))
        return found

    @property
    def status(self) -> RunStatus:
        """The run's status as its journal says it is (see ``RunStatus``)."""
        if self.completed is not None:
            return "completed"
        if self.failed is not None:
            return "failed"
        statuses = {call.status for call in self.calls.values()}
        if CallStatus.IN_DOUBT in statuses:
            return "in_doubt"
        if statuses & _ACTIONABLE:
            return "running"
        if statuses & _WAITING:
            return "waiting"  # a suspended call's nested run waits for a person
        return "running"

    @property
    def pending(self) -> list[ToolApprovalItem]:
        """Calls waiting for a human decision (an approval, or a review of their output), in
        call order; a nested run's (of an agent used as a tool) in its place, each with
        ``parent`` naming the call that runs it (``waiting`` as approval items)."""
        pending = []
        for entry in self._waiting_decisions(()):
            item = entry.call.approval_item()
            if entry.parents:
                outer = entry.parents[0].approval_item()
                for parent in entry.parents[1:]:
                    outer = _under(parent.approval_item(), outer)
                item = _under(item, outer)
            pending.append(item)
        return pending

    @property
    def in_doubt(self) -> list[ToolApprovalItem]:
        """Calls that started and were never recorded as completed, in call order."""
        return [entry.call.approval_item() for entry in self.waiting() if entry.kind == "in_doubt"]

    def model_input(self) -> list[Item]:
        """What the next model call is sent (without a server-managed conversation): the
        conversation, or an input filter's version of it followed by what came after."""
        if self.handoff_view is None:
            return list(self.items)
        filtered, upto = self.handoff_view
        return [*filtered, *self.items[upto:]]

    @property
    def new_items(self) -> list[Item]:
        return self.items[self.generated_start :]

    # -- one method per event kind -------------------------------------------------

    def _run_started(self, event: RunStarted) -> None:
        self.run_id = event.run_id
        self.root_agent = self.agent = event.agent
        self.max_turns = event.max_turns
        self.previous_response_id = event.previous_response_id
        self.conversation_id = event.conversation_id
        self.auto_previous_response_id = event.auto_previous_response_id
        self.session_id = event.session_id
        self.items = [*event.history, *event.input]
        self.input_start = self.session_upto = self.server_upto = len(event.history)
        self.generated_start = len(self.items)
        self.rejection_message = event.rejection_message
        self.trace_parent = event.trace_parent
        self.run_config = dict(event.run_config or {})

    def _run_resumed(self, event: RunResumed) -> None:
        self.failed = None  # resuming a failed run is trying it again
        if event.max_turns is not None:
            self.max_turns = event.max_turns
        if event.rejection_message is not None:
            self.rejection_message = event.rejection_message
        if event.run_config is not None:
            self.run_config = dict(event.run_config)

    def _model_responded(self, event: ModelResponded) -> None:
        calls: dict[str, Call] = {}
        for position, item in enumerate(event.output):
            kind = item.get("type")
            if kind == "function_call":
                problem = function_call_problem(item)
                if problem is not None:
                    raise StateFormatError(f"journal[{self.events}]: a function call {problem}.")
                call_id: str = item["call_id"]
            elif kind == HOSTED_APPROVAL_REQUEST:
                request_id = item.get("id")
                if not (
                    request_id and isinstance(request_id, str) and isinstance(item.get("name"), str)
                ):
                    raise StateFormatError(
                        f"journal[{self.events}]: an mcp_approval_request without an id "
                        "and a tool name."
                    )
                call_id = request_id
            else:
                continue
            if call_id in calls:
                raise StateFormatError(
                    f"journal[{self.events}]: the response has two calls with id {call_id!r}."
                )
            calls[call_id] = Call(item, event.agent, index=len(self.items) + position)
        unfinished = [c.call_id for c in self.calls.values() if c.status is not CallStatus.DONE]
        if unfinished:
            raise StateFormatError(
                f"journal[{self.events}]: a model response while calls {unfinished[:5]} of the "
                "turn before have no output (every call's output goes to the model first)."
            )
        self.turns += 1
        self.usage = self.usage + event.usage
        self.responses.append(event)
        self.calls = calls
        self.items.extend(event.output)
        if self.server_managed:
            self.server_upto = len(self.items)

    def _approval_requested(self, event: ApprovalRequested) -> None:
        call = self._call(event.call_id, event.kind)
        if event.fingerprint != call.model_fingerprint or event.tool != call.name:
            raise DecisionMismatchError(
                f"journal[{self.events}]: the approval request for call {event.call_id!r} "
                "does not match the call the model made (its tool or arguments were changed). "
                "The state was edited; load an unedited copy."
            )
        if event.expires_at is not None and not _is_aware_time(event.expires_at):
            raise StateFormatError(
                f"journal[{self.events}]: the approval request for call {event.call_id!r} "
                f"has a deadline that is not an ISO 8601 time with a zone: {event.expires_at!r}."
            )
        if isinstance(event.required_approvals, bool) or event.required_approvals < 1:
            raise StateFormatError(
                f"journal[{self.events}]: the approval request for call {event.call_id!r} "
                f"needs {event.required_approvals!r} approvals; at least 1."
            )
        call.requested = event
        call._fingerprint = event.fingerprint  # equal: keep one copy of the string

    def _approval_decided(self, event: ApprovalDecided) -> None:
        call = self._call(event.call_id, event.kind)
        if call.requested is None or call.decision is not None:
            raise StateFormatError(
                f"journal[{self.events}]: a decision on call {event.call_id!r}, "
                "which is not waiting for one."
            )
        if event.fingerprint != call.fingerprint:
            raise DecisionMismatchError(
                f"journal[{self.events}]: the decision on call {event.call_id!r} was made "
                f"on other arguments than the call now has ({call.arguments}). "
                "A decision never carries over to arguments it did not see."
            )
        if event.seal != decision_seal(self.run_id, self.turns, event):
            raise DecisionMismatchError(
                f"journal[{self.events}]: the decision on call {event.call_id!r} does not "
                "match its seal: its verdict, message, approver or time was changed (or the "
                "seal removed). The state was edited; load an unedited copy."
            )
        edited = event.edited_arguments is not None or event.edited_fingerprint is not None
        problem = _edit_problem(call, event) if edited else None
        # An edit starts the count of approvals afresh: no decision applies to arguments it
        # did not see, so earlier approvals (of other arguments) no longer count.
        approvals = () if edited else call.approvals
        problem = problem or _four_eyes_problem(call, event, approvals)
        if problem is not None:
            raise StateFormatError(f"journal[{self.events}]: {problem}")
        if edited:
            call.edit = event
        call.approvals = approvals
        if event.partial:
            call.approvals = (*call.approvals, event)
            return
        call.decision = event
        if event.always:
            self.always[(call.agent, call.name)] = event
        if event.approved and call.edit is not None and 0 <= call.index < len(self.items):
            # The conversation shows the call as it runs (the journal keeps the model's).
            self.items[call.index] = freeze({**call.item, "arguments": call.arguments})

    def _tool_started(self, event: ToolStarted) -> None:
        call = self._call(event.call_id, event.kind)
        if call.status not in _MAY_START or call.hosted:
            raise StateFormatError(
                f"journal[{self.events}]: call {event.call_id!r} started while it was "
                f"{call.status.value}; a call runs only when new (needing no approval) or "
                "approved (an in-doubt call only after a person or the tool's idempotence "
                "settles it)."
            )
        call.started = True
        call.started_at = self.events
        call.suspended = False  # a nested run that goes on is in doubt until it records again

    def _tool_output(self, event: ToolCompleted | ToolRejected | ToolTimedOut) -> None:
        call = self._call(event.call_id, event.kind)
        if call.done or call.held is not None:
            raise StateFormatError(
                f"journal[{self.events}]: a second output for call {event.call_id!r}."
            )
        problem = _output_problem(call, event)
        if problem is not None:
            raise StateFormatError(f"journal[{self.events}]: {problem}")
        if isinstance(event, ToolCompleted) and event.review:
            if call.hosted:
                raise StateFormatError(
                    f"journal[{self.events}]: an output review of hosted call {event.call_id!r}."
                )
            call.held = event.output  # the model reads nothing until a person reviews it
            return
        call.done = True
        call.output = event.output
        if call.hosted:
            approved = isinstance(event, ToolCompleted)
            self.items.append(hosted_approval_response(event.call_id, approved, event.output))
        else:
            self._append_output(call, event.output)

    def _append_output(self, call: Call, output: str) -> None:
        self.items.append(function_call_output(call.call_id, output))
        decision = call.decision
        if (
            decision is not None
            and decision.approved
            and call.edit is not None
            and self.server_managed
            and call.index < self.server_upto
        ):
            # The server holds the call as the model made it and cannot be told otherwise;
            # the output goes as it is, and a note says which arguments produced it.
            self.items.append(edited_call_note(call.call_id, call.name, call.arguments))

    def _output_review_requested(self, event: OutputReviewRequested) -> None:
        call = self._call(event.call_id, event.kind)
        if call.status is not CallStatus.REVIEW or call.review_requested:
            raise StateFormatError(
                f"journal[{self.events}]: a review request for the output of call "
                f"{event.call_id!r}, whose output is not held for review (or was asked once)."
            )
        if (event.agent, event.tool, event.arguments) != (call.agent, call.name, call.arguments):
            raise DecisionMismatchError(
                f"journal[{self.events}]: the output review request of call {event.call_id!r} "
                "names another agent, tool or arguments than the call that ran. The state was "
                "edited; load an unedited copy."
            )
        call.review_requested = True

    def _output_reviewed(self, event: OutputReviewed) -> None:
        call = self._call(event.call_id, event.kind)
        if call.status is not CallStatus.REVIEW or call.held is None:
            raise StateFormatError(
                f"journal[{self.events}]: a review of the output of call {event.call_id!r}, "
                "whose output is not waiting for one."
            )
        if event.seal != review_seal(self.run_id, self.turns, event):
            raise DecisionMismatchError(
                f"journal[{self.events}]: the review of the output of call {event.call_id!r} "
                "does not match its seal: its verdict, output, reviewer or time was changed "
                "(or the seal removed). The state was edited; load an unedited copy."
            )
        if event.reviewed != output_digest(call.held):
            raise DecisionMismatchError(
                f"journal[{self.events}]: the review of call {event.call_id!r} was made on "
                "another output than the tool's. The state was edited; load an unedited copy."
            )
        if (event.verdict == "released") != (event.output is None) or event.verdict not in (
            "released",
            "replaced",
            "withheld",
        ):
            raise StateFormatError(
                f"journal[{self.events}]: a {event.verdict!r} review of call {event.call_id!r} "
                "with an output that does not fit it (only a released output has none)."
            )
        call.review = event
        call.done = True
        call.output = call.held if event.output is None else event.output
        self._append_output(call, call.output)

    def _nested_run_recorded(self, event: NestedRunRecorded) -> None:
        call = self._call(event.call_id, event.kind)
        if call.done or (call.nested_agent not in (None, event.agent)):
            raise StateFormatError(
                f"journal[{self.events}]: nested run events for call {event.call_id!r}, "
                "which is done or runs another agent."
            )
        try:
            new = events_adapter().validate_python(list(event.events))
        except ValidationError as exc:
            raise StateFormatError(
                f"journal[{self.events}]: the nested run of call {event.call_id!r} has an "
                f"event that cannot be read: {exc.errors()[0]['msg']}."
            ) from None
        nested = RunView() if call.nested_view is None else call.nested_view.copy()
        for inner in new:
            nested.apply(inner)  # the nested journal passes the same gate as the outer one
        call.nested_agent = event.agent
        call.nested_events = [*call.nested_events, *new]
        call.nested_view = nested
        call.suspended = event.paused

    def _guardrail_checked(self, event: GuardrailChecked) -> None:
        if event.stage in ("tool_input", "tool_output"):
            self._call(event.call_id or "", event.kind)
        key = (event.stage, event.guardrail, event.call_id or "", self.turns)
        if key in self.guardrails:
            raise StateFormatError(
                f"journal[{self.events}]: guardrail {event.guardrail!r} checked twice."
            )
        self.guardrails[key] = event
        if event.outcome == "tripwire":
            self.tripwire = event

    def _doubt_resolved(self, event: DoubtResolved) -> None:
        call = self._call(event.call_id, event.kind)
        if call.status is not CallStatus.IN_DOUBT:
            raise StateFormatError(
                f"journal[{self.events}]: a resolution of call {event.call_id!r}, "
                "which is not in doubt."
            )
        if event.seal != doubt_seal(self.run_id, self.turns, event):
            raise DecisionMismatchError(
                f"journal[{self.events}]: the resolution of call {event.call_id!r} in doubt "
                "does not match its seal: its resolution, output, approver or time was "
                "changed (or the seal removed). The state was edited; load an unedited copy."
            )
        if event.resolution == "run_again":
            call.started = False  # approved (or needing no approval) again: it runs next
            return
        if event.output is None:
            raise StateFormatError(
                f"journal[{self.events}]: resolution {event.resolution!r} of call "
                f"{event.call_id!r} without the output the model reads."
            )
        call.done = True
        call.output = event.output
        self._append_output(call, event.output)

    def _handoff_taken(self, event: HandoffTaken) -> None:
        self.agent = event.to_agent
        if event.conversation is not None:
            self.handoff_view = (list(event.conversation), len(self.items))

    def _session_synced(self, event: SessionSynced) -> None:
        self.session_upto = event.upto

    def _run_completed(self, event: RunCompleted) -> None:
        self.completed = event

    def _run_failed(self, event: RunFailed) -> None:
        self.failed = event
        self.failures += 1

    def _run_retried(self, event: RunRetried) -> None:
        if self.failed is None:
            raise StateFormatError(f"journal[{self.events}]: a retry of a run that has not failed.")
        self.failed = None
        self.failures = 0

    def _call(self, call_id: str, kind: str) -> Call:
        call = self.calls.get(call_id)
        if call is None:
            raise StateFormatError(
                f"journal[{self.events}]: {kind} names call {call_id!r}, "
                "which the current turn does not have."
            )
        return call


_MAY_START = frozenset(
    {CallStatus.NEW, CallStatus.APPROVED, CallStatus.SUSPENDED, CallStatus.RESUMABLE}
)
"""Call states from which a call may start (a nested run also goes on from a suspension)."""

_WHILE_FAILED = frozenset(
    {
        "approval_decided",
        "output_reviewed",
        "doubt_resolved",
        "session_synced",
        "run_resumed",
        "run_retried",
    }
)
"""What a failed run may still record: people's decisions, and being tried again."""


def _output_problem(call: Call, event: ToolCompleted | ToolRejected | ToolTimedOut) -> str | None:
    """What makes ``event`` an impossible output for ``call`` now, or None.

    A call's output follows its start (it ran), or its rejection (a person or the system
    said no), or, for a call that never needed approval, stands in for a run that cannot
    happen (an unknown tool, a handoff, a guardrail that blocked it). A call waiting for
    a decision has no output yet, whatever the event says.
    """
    status = call.status
    if isinstance(event, ToolRejected):
        allowed = status in (CallStatus.REJECTED, CallStatus.NEW)
    elif isinstance(event, ToolTimedOut):
        allowed = status is CallStatus.IN_DOUBT
    elif call.hosted:
        allowed = status is CallStatus.APPROVED
    else:
        allowed = status in (CallStatus.IN_DOUBT, CallStatus.NEW)
    if allowed:
        return None
    return (
        f"{event.kind} for call {event.call_id!r}, which is {status.value}: a call has an "
        "output only once it ran (or was rejected, or could not run without approval)."
    )


def _under(item: ToolApprovalItem, outer: ToolApprovalItem) -> ToolApprovalItem:
    """``item`` with ``outer`` as the outermost of its parents."""
    parent = outer if item.parent is None else _under(item.parent, outer)
    return _replace(item, parent=parent)


def function_call_problem(item: Item) -> str | None:
    """What makes a function call item unusable, or ``None`` (also checks a model's output)."""
    call_id, name = item.get("call_id"), item.get("name")
    if not isinstance(call_id, str) or not call_id:
        return f"has no call_id (a non-empty string), got {_short(call_id)}"
    if not isinstance(name, str) or not name:
        got = _short(name)
        return f"with id {_short(call_id)} has no tool name (a non-empty string), got {got}"
    if not isinstance(item.get("arguments", ""), str):
        return f"with id {_short(call_id)} has arguments that are not a JSON string"
    return None


def _is_aware_time(text: str) -> bool:
    try:
        return datetime.fromisoformat(text).tzinfo is not None
    except ValueError:
        return False


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


def _edit_problem(call: Call, event: ApprovalDecided) -> str | None:
    """What makes ``event``, an approval with edited arguments, impossible, or None."""
    if (
        not event.approved
        or event.always
        or event.automatic
        or event.expired
        or event.rule is not None
        or call.hosted
        or event.edited_arguments is None
    ):
        return f"an edit of call {event.call_id!r} that is not an approval of that call alone."
    expected = fingerprint(call.agent, call.name, call.call_id, event.edited_arguments)
    if event.edited_fingerprint != expected:
        return (
            f"the edited arguments of call {event.call_id!r} do not match their fingerprint; "
            "the state was edited: load an unedited copy."
        )
    return None


def _four_eyes_problem(
    call: Call, event: ApprovalDecided, approvals: tuple[ApprovalDecided, ...]
) -> str | None:
    """What makes ``event`` an impossible decision on ``call`` (approvals, expiry), given the
    approvals that still count, or None."""
    assert call.requested is not None
    required = call.requested.required_approvals
    if event.expired:
        if event.approved or event.by != SYSTEM_APPROVER or event.partial:
            return f"an expiry of call {event.call_id!r} that is not a rejection by the system."
        return None
    if event.rule is not None and (
        required > 1 or not event.approved or event.always or event.partial or event.automatic
    ):
        return f"a standing approval's decision on call {event.call_id!r} that is not a plain one."
    if event.by is not None and any(a.by == event.by for a in approvals):
        return f"approver {event.by!r} decided call {event.call_id!r} twice."
    if event.partial:
        if not event.approved or len(approvals) + 1 >= required:
            return f"a partial approval of call {event.call_id!r} that is not one of several."
    elif event.approved and not event.automatic and len(approvals) + 1 < required:
        return f"call {event.call_id!r} needs {required} approvals and has {len(approvals) + 1}."
    return None


def _short(value: Any) -> str:
    if not isinstance(value, str | bool | float | None):
        # A container's repr could recurse without end; a huge int's refuses to print.
        return f"a value of type {type(value).__name__}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _args(item: Item) -> str:
    return str(item.get("arguments", ""))


_APPLY: dict[str, Callable[[RunView, Any], None]] = {
    "run_started": RunView._run_started,
    "run_resumed": RunView._run_resumed,
    "model_responded": RunView._model_responded,
    "approval_requested": RunView._approval_requested,
    "approval_decided": RunView._approval_decided,
    "tool_started": RunView._tool_started,
    "tool_completed": RunView._tool_output,
    "tool_rejected": RunView._tool_output,
    "handoff_taken": RunView._handoff_taken,
    "session_synced": RunView._session_synced,
    "run_completed": RunView._run_completed,
    "tool_timed_out": RunView._tool_output,
    "guardrail_checked": RunView._guardrail_checked,
    "nested_run_recorded": RunView._nested_run_recorded,
    "doubt_resolved": RunView._doubt_resolved,
    "output_review_requested": RunView._output_review_requested,
    "output_reviewed": RunView._output_reviewed,
    "run_failed": RunView._run_failed,
    "run_retried": RunView._run_retried,
}
"""The fold's handler for each event kind (one table for all views, not one per view)."""
