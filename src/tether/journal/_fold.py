"""The fold: everything about a run, derived from its journal.

``RunView.apply`` takes one event and updates the derived facts in O(1), so a
live run keeps its view current as it appends, and a loaded run folds its
journal once. The fold never reads the clock, random numbers or the outside
world: the same journal always gives the same view.

It is also the gate for loaded journals: an event that does not fit what came
before it (a decision on an unknown call, a fingerprint that no longer matches
the call's arguments) raises a ``StateError`` here, before anything runs.

``RunView`` is the one model of a run; a call and its status are in ``_call``, the
handlers of each event kind in ``_fold_run`` (the run as a whole) and ``_fold_calls``
(a turn's calls).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace as _replace
from typing import Any, Literal

from pydantic import ValidationError

from .._context import Usage
from ..errors import StateFormatError
from ..items import Item
from . import _fold_calls, _fold_run
from ._binding import ToolApprovalItem
from ._call import (
    APPROVED,
    HOSTED_APPROVAL_REQUEST,
    IN_DOUBT,
    NEW,
    PENDING,
    REJECTED,
    RESUMABLE,
    REVIEW,
    SUSPENDED,
    Call,
    CallStatus,
    Waiting,
    edited_call_note,
    function_call_problem,
    hosted_approval_response,
)
from ._events import (
    ApprovalDecided,
    Event,
    GuardrailChecked,
    ModelResponded,
    NestedRunRecorded,
    RunCompleted,
    RunFailed,
    RunResumed,
    RunStarted,
    SessionSynced,
    UndoCompleted,
    UndoRequested,
    events_adapter,
)
from ._slot_copy import slot_copier

__all__ = [
    "HOSTED_APPROVAL_REQUEST",
    "Call",
    "CallStatus",
    "RunStatus",
    "RunView",
    "Waiting",
    "edited_call_note",
    "function_call_problem",
    "hosted_approval_response",
]

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
        NEW,
        APPROVED,
        REJECTED,
        RESUMABLE,
    }
)
"""Call states the run acts on by itself, without a person."""

_WAITING = frozenset({PENDING, REVIEW, SUSPENDED})
"""Call states that wait for a person (a suspended call: its nested run does)."""


class RunView:
    """The state of a run as its journal says it is."""

    # Slots, because paused runs are held in memory by the thousand.
    __slots__ = (
        "_input_tokens",
        "_output_tokens",
        "_requests",
        "_total_tokens",
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
        "ran",
        "rejection_message",
        "requested_by",
        "responses",
        "root_agent",
        "run_config",
        "run_id",
        "server_managed",
        "server_upto",
        "session_id",
        "session_upto",
        "trace_parent",
        "tripwire",
        "turns",
        "undos",
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
        self.server_managed = False
        """The server keeps the conversation (a previous response id, a conversation id, or
        chaining each call to the last response): set once, by ``RunStarted``."""
        self.session_id: str | None = None
        self.requested_by: str | None = None
        """Who asked for the run (``RunStarted.requested_by``)."""
        self.items: list[Item] = []
        """The whole conversation: history, input, then everything the run produced."""
        self.input_start = 0
        """Where this run's input begins in ``items`` (before it: session history)."""
        self.generated_start = 0
        """Where the run's own items begin in ``items``."""
        self.turns = 0
        # The run's usage (``usage``), as four sums: a turn adds its response's numbers to
        # them, where adding two ``Usage`` objects made a third every turn of a long fold.
        self._requests = self._input_tokens = self._output_tokens = self._total_tokens = 0
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
        self.ran: dict[str, Call] = {}
        """Function calls of any turn that ran to an output (``ToolCompleted``), by call id
        (the latest of a reused id): what an undo names."""
        self.undos: dict[str, UndoRequested | UndoCompleted] = {}
        """Call id to the last undo event of that call (requested: under way, or in doubt)."""

    def copy(self) -> RunView:
        """An independent view of the same journal, without folding it again."""
        other = _copy_view(self)
        other.items = list(self.items)
        other.responses = list(self.responses)
        other.calls = {call_id: _copy_call(call) for call_id, call in self.calls.items()}
        other.always = dict(self.always)
        other.guardrails = dict(self.guardrails)
        other.ran = dict(self.ran)
        other.undos = dict(self.undos)
        return other

    def apply(self, event: Event) -> None:
        """Fold one more event into the view."""
        if self.events == 0 and not isinstance(event, RunStarted):
            raise StateFormatError("journal[0]: a journal must begin with run_started.")
        if self.events and isinstance(event, RunStarted):
            raise StateFormatError(f"journal[{self.events}]: a second run_started.")
        if self.completed is not None and not isinstance(event, _AFTER_COMPLETION):
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
    def usage(self) -> Usage:
        """Requests and tokens used: the model responses' of this run and of the agents it
        used as tools (theirs count their own, and so on)."""
        return Usage(self._requests, self._input_tokens, self._output_tokens, self._total_tokens)

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
            Waiting(call, "in_doubt") for call in self.calls.values() if call.status is IN_DOUBT
        )
        return found

    def _waiting_decisions(self, parents: tuple[Call, ...]) -> list[Waiting]:
        found: list[Waiting] = []
        for call in self.calls.values():
            status = call.status
            if status is PENDING:
                found.append(Waiting(call, "approval", parents))
            elif status is REVIEW:
                found.append(Waiting(call, "output_review", parents))
            elif status is SUSPENDED:
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
        # One pass (asked at every step of the loop): a call in doubt decides at once; else
        # a call to act on makes the run running, and only calls waiting make it waiting.
        acting = waiting = False
        for call in self.calls.values():
            status = call.status
            if status is IN_DOUBT:
                return "in_doubt"
            if status in _ACTIONABLE:
                acting = True
            elif status in _WAITING:
                waiting = True  # a suspended call's nested run waits for a person
        return "waiting" if waiting and not acting else "running"

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


_copy_view: Callable[[RunView], RunView] = slot_copier(RunView)
_copy_call: Callable[[Call], Call] = slot_copier(Call)


def _nested_run_recorded(view: RunView, event: NestedRunRecorded) -> None:
    """Fold a nested run's new events (of an agent used as a tool) into its call's view."""
    call = _fold_calls.call_of(view, event.call_id, event.kind)
    if call.done or (call.nested_agent not in (None, event.agent)):
        raise StateFormatError(
            f"journal[{view.events}]: nested run events for call {event.call_id!r}, "
            "which is done or runs another agent."
        )
    try:
        new = events_adapter().validate_python(list(event.events))
    except ValidationError as exc:
        raise StateFormatError(
            f"journal[{view.events}]: the nested run of call {event.call_id!r} has an "
            f"event that cannot be read: {exc.errors()[0]['msg']}."
        ) from None
    nested = RunView() if call.nested_view is None else call.nested_view.copy()
    before = nested.usage
    for inner in new:
        nested.apply(inner)  # the nested journal passes the same gate as the outer one
    # The run's usage counts its agents used as tools (theirs count their own, and so on).
    after = nested.usage
    view._requests += after.requests - before.requests
    view._input_tokens += after.input_tokens - before.input_tokens
    view._output_tokens += after.output_tokens - before.output_tokens
    view._total_tokens += after.total_tokens - before.total_tokens
    call.nested_agent = event.agent
    call.nested_events = (*call.nested_events, *new)
    call.nested_view = nested
    call.suspended = event.paused


_WHILE_FAILED = frozenset(
    {
        "approval_decided",
        "decision_revoked",
        "output_reviewed",
        "doubt_resolved",
        "session_synced",
        "run_resumed",
        "run_retried",
        "undo_requested",
        "undo_completed",
        "approval_reminded",
        "approval_escalated",
        "decision_late",
    }
)
"""What a failed run may still record: people's decisions (and the trail of calls waiting
for them), and being tried again."""

_AFTER_COMPLETION = (SessionSynced, RunResumed, UndoRequested, UndoCompleted)
"""What a completed run may still record: its session, a resume, the undo of a call."""


def _under(item: ToolApprovalItem, outer: ToolApprovalItem) -> ToolApprovalItem:
    """``item`` with ``outer`` as the outermost of its parents."""
    parent = outer if item.parent is None else _under(item.parent, outer)
    return _replace(item, parent=parent)


_APPLY: dict[str, Callable[[RunView, Any], None]] = {
    "run_started": _fold_run.run_started,
    "run_resumed": _fold_run.run_resumed,
    "model_responded": _fold_run.model_responded,
    "approval_requested": _fold_calls.approval_requested,
    "approval_decided": _fold_calls.approval_decided,
    "tool_started": _fold_calls.tool_started,
    "tool_completed": _fold_calls.tool_output,
    "tool_rejected": _fold_calls.tool_output,
    "handoff_taken": _fold_run.handoff_taken,
    "session_synced": _fold_run.session_synced,
    "run_completed": _fold_run.run_completed,
    "tool_timed_out": _fold_calls.tool_output,
    "guardrail_checked": _fold_run.guardrail_checked,
    "nested_run_recorded": _nested_run_recorded,
    "doubt_resolved": _fold_calls.doubt_resolved,
    "output_review_requested": _fold_calls.output_review_requested,
    "output_reviewed": _fold_calls.output_reviewed,
    "run_failed": _fold_run.run_failed,
    "run_retried": _fold_run.run_retried,
    "decision_revoked": _fold_calls.decision_revoked,
    "undo_requested": _fold_calls.undo_requested,
    "undo_completed": _fold_calls.undo_completed,
    "approval_reminded": _fold_calls.approval_reminded,
    "approval_escalated": _fold_calls.approval_escalated,
    "decision_late": _fold_calls.decision_late,
}
"""The fold's handler for each event kind (one table for all views, not one per view)."""
