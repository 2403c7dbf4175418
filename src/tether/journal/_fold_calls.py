"""The fold's handlers for the events of a turn's calls: approvals, runs, outputs, reviews.

Each handler checks its event against the call before it changes anything (a refused event
leaves the view as it was) and raises a ``StateError`` naming the event's place in the
journal. ``RunView.apply`` picks the handler (``_fold._APPLY``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from .._frozen import freeze
from .._governance import SYSTEM_APPROVER
from .._tool_output import output_text
from ..errors import DecisionMismatchError, StateFormatError
from ..items import function_call_output
from ._binding import (
    decision_seal,
    doubt_seal,
    escalation_seal,
    fingerprint,
    output_digest,
    review_seal,
    revocation_seal,
    undo_seal,
)
from ._call import (
    APPROVED,
    IN_DOUBT,
    NEW,
    PENDING,
    REJECTED,
    RESUMABLE,
    REVIEW,
    SUSPENDED,
    Call,
    edited_call_note,
    hosted_approval_response,
)
from ._events import (
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalReminded,
    ApprovalRequested,
    DecisionLate,
    DecisionRevoked,
    DoubtResolved,
    OutputReviewed,
    OutputReviewRequested,
    ToolCompleted,
    ToolRejected,
    ToolStarted,
    ToolTimedOut,
    UndoCompleted,
    UndoRequested,
)

if TYPE_CHECKING:
    from ._fold import RunView


def call_of(view: RunView, call_id: str, kind: str) -> Call:
    """The call ``call_id`` of the current turn, which ``kind`` (an event) names."""
    call = view.calls.get(call_id)
    if call is None:
        raise StateFormatError(
            f"journal[{view.events}]: {kind} names call {call_id!r}, "
            "which the current turn does not have."
        )
    return call


def approval_requested(view: RunView, event: ApprovalRequested) -> None:
    call = call_of(view, event.call_id, event.kind)
    if event.fingerprint != call.model_fingerprint or event.tool != call.name:
        raise DecisionMismatchError(
            f"journal[{view.events}]: the approval request for call {event.call_id!r} "
            "does not match the call the model made (its tool or arguments were changed). "
            "The state was edited; load an unedited copy."
        )
    if event.expires_at is not None and not _is_aware_time(event.expires_at):
        raise StateFormatError(
            f"journal[{view.events}]: the approval request for call {event.call_id!r} "
            f"has a deadline that is not an ISO 8601 time with a zone: {event.expires_at!r}."
        )
    if isinstance(event.required_approvals, bool) or event.required_approvals < 1:
        raise StateFormatError(
            f"journal[{view.events}]: the approval request for call {event.call_id!r} "
            f"needs {event.required_approvals!r} approvals; at least 1."
        )
    call.requested = event
    call._fingerprint = event.fingerprint  # equal: keep one copy of the string


def approval_decided(view: RunView, event: ApprovalDecided) -> None:
    call = call_of(view, event.call_id, event.kind)
    if call.requested is None or call.decision is not None:
        raise StateFormatError(
            f"journal[{view.events}]: a decision on call {event.call_id!r}, "
            "which is not waiting for one."
        )
    if event.fingerprint != call.fingerprint:
        raise DecisionMismatchError(
            f"journal[{view.events}]: the decision on call {event.call_id!r} was made "
            f"on other arguments than the call now has ({call.arguments}). "
            "A decision never carries over to arguments it did not see."
        )
    if event.seal != decision_seal(view.run_id, view.turns, event):
        raise DecisionMismatchError(
            f"journal[{view.events}]: the decision on call {event.call_id!r} does not "
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
        raise StateFormatError(f"journal[{view.events}]: {problem}")
    if edited:
        call.edit = event
    call.approvals = approvals
    if event.partial:
        call.approvals = (*call.approvals, event)
        return
    call.decision = event
    if event.always:
        view.always[(call.agent, call.name)] = event
    if event.approved and call.edit is not None and 0 <= call.index < len(view.items):
        # The conversation shows the call as it runs (the journal keeps the model's).
        view.items[call.index] = freeze({**call.item, "arguments": call.arguments})


def approval_reminded(view: RunView, event: ApprovalReminded) -> None:
    """The people who may decide a waiting call were reminded of it."""
    call = _waiting(view, event)
    call.reminders += 1


def approval_escalated(view: RunView, event: ApprovalEscalated) -> None:
    """A waiting call escalated: its group may decide it too (``approvals.authorize``)."""
    call = _waiting(view, event)
    if event.seal != escalation_seal(view.run_id, view.turns, event):
        raise DecisionMismatchError(
            f"journal[{view.events}]: the escalation of call {event.call_id!r} does not match "
            "its seal: the group or time was changed (or the seal removed). The state was "
            "edited; load an unedited copy."
        )
    if call.escalation is not None or not (event.roles or event.approvers):
        raise StateFormatError(
            f"journal[{view.events}]: an escalation of call {event.call_id!r} to nobody, or "
            "a second one (a call escalates once)."
        )
    call.escalation = event


def _waiting(view: RunView, event: ApprovalReminded | ApprovalEscalated) -> Call:
    call = call_of(view, event.call_id, event.kind)
    if call.status is not PENDING or event.fingerprint != call.fingerprint:
        raise StateFormatError(
            f"journal[{view.events}]: {event.kind} for call {event.call_id!r}, which is not "
            "waiting for a decision on those arguments."
        )
    return call


def decision_late(view: RunView, event: DecisionLate) -> None:
    """A decision refused because it came after the call expired: recorded, decides nothing."""
    call = call_of(view, event.call_id, event.kind)
    if call.decision is None or not call.decision.expired or event.fingerprint != call.fingerprint:
        raise StateFormatError(
            f"journal[{view.events}]: a late decision on call {event.call_id!r}, which did "
            "not expire (a decision is late only after the system expired the call)."
        )


def decision_revoked(view: RunView, event: DecisionRevoked) -> None:
    """A person's decision withdrawn: the call waits again, with the decisions that count."""
    call = call_of(view, event.call_id, event.kind)
    withdrawn = _withdrawn(view, call, event)
    if event.seal != revocation_seal(view.run_id, view.turns, event):
        raise DecisionMismatchError(
            f"journal[{view.events}]: the withdrawal of a decision on call {event.call_id!r} "
            "does not match its seal: the decision, approver or time was changed (or the "
            "seal removed). The state was edited; load an unedited copy."
        )
    decisions = (*call.approvals, call.decision)
    kept = tuple(d for d in decisions if d is not None and d is not withdrawn)
    if withdrawn is call.edit:
        # What the others approved were the edited arguments: none of it counts any more.
        call.edit, kept = None, ()
    if call.decision is not None and call.decision is not withdrawn and not call.decision.approved:
        call.approvals = tuple(d for d in kept if d is not call.decision)  # still rejected
    else:
        call.decision, call.approvals = None, kept
    if withdrawn.always or withdrawn.automatic:
        given = view.always.get((call.agent, call.name))
        if given is not None and given.by == withdrawn.by:
            del view.always[(call.agent, call.name)]  # no longer decides later calls either
    if 0 <= call.index < len(view.items) and not call.hosted:
        view.items[call.index] = call.item  # the call as the model made it, until approved


def _withdrawn(view: RunView, call: Call, event: DecisionRevoked) -> ApprovalDecided:
    """The decision ``event`` withdraws from ``call``, or the ``StateError`` saying why none."""
    found = None
    if call.status in (PENDING, APPROVED, REJECTED):
        found = next(
            (d for d in (*call.approvals, call.decision) if d and d.seal == event.decision), None
        )
    if found is None or found.expired or found.rule is not None or found.by != event.by:
        raise StateFormatError(
            f"journal[{view.events}]: a withdrawal of a decision on call {event.call_id!r} "
            "that names no decision of its approver on the call waiting (a call that started "
            "or has its output keeps its decisions; an expiry or a standing approval's "
            "decision is not withdrawn)."
        )
    return found


def undo_requested(view: RunView, event: UndoRequested) -> None:
    """A person asked for a call's effect to be undone: written before the undo runs."""
    call = view.ran.get(event.call_id)
    if call is None or event.call_id in view.undos:
        raise StateFormatError(
            f"journal[{view.events}]: an undo of call {event.call_id!r}, which did not run "
            "to an output (or was undone already: an undo is asked for once)."
        )
    if event.fingerprint != call.fingerprint or event.seal != undo_seal(view.run_id, event):
        raise DecisionMismatchError(
            f"journal[{view.events}]: the undo of call {event.call_id!r} names another call "
            "than the one that ran, or does not match its seal. The state was edited; load "
            "an unedited copy."
        )
    view.undos[event.call_id] = event


def undo_completed(view: RunView, event: UndoCompleted) -> None:
    if not isinstance(view.undos.get(event.call_id), UndoRequested):
        raise StateFormatError(
            f"journal[{view.events}]: an undo of call {event.call_id!r} completed that was "
            "not under way."
        )
    view.undos[event.call_id] = event


def tool_started(view: RunView, event: ToolStarted) -> None:
    call = call_of(view, event.call_id, event.kind)
    if call.status not in _MAY_START or call.hosted:
        raise StateFormatError(
            f"journal[{view.events}]: call {event.call_id!r} started while it was "
            f"{call.status.value}; a call runs only when new (needing no approval) or "
            "approved (an in-doubt call only after a person or the tool's idempotence "
            "settles it)."
        )
    if call.started_at < 0:  # the first start: when the call's key was first given out
        call.first_started = event.at
    call.started = True
    call.started_at = view.events
    call.suspended = False  # a nested run that goes on is in doubt until it records again


def tool_output(view: RunView, event: ToolCompleted | ToolRejected | ToolTimedOut) -> None:
    call = call_of(view, event.call_id, event.kind)
    if call.done or call.held is not None:
        raise StateFormatError(
            f"journal[{view.events}]: a second output for call {event.call_id!r}."
        )
    problem = _output_problem(call, event)
    if problem is not None:
        raise StateFormatError(f"journal[{view.events}]: {problem}")
    if isinstance(event, ToolCompleted):
        if call.started and not call.hosted:
            view.ran[call.call_id] = call  # it ran (started, then completed): it may be undone
            view.undos.pop(call.call_id, None)  # a reused call id: a new call
        if event.review:
            if call.hosted:
                raise StateFormatError(
                    f"journal[{view.events}]: an output review of hosted call {event.call_id!r}."
                )
            call.held = event.output  # the model reads nothing until a person reviews it
            return
    call.done = True
    call.output = event.output
    if call.hosted:
        approved = isinstance(event, ToolCompleted)
        reason = output_text(event.output)
        view.items.append(hosted_approval_response(event.call_id, approved, reason))
    else:
        append_output(view, call, event.output)


def append_output(view: RunView, call: Call, output: str | list[dict[str, Any]]) -> None:
    """Put ``output``, the output the model reads, into the conversation after ``call``.

    Calls started together finish in any order and each output is journaled as it comes;
    in the conversation their outputs stand in call order, so the model reads the same input
    however they raced. Nothing moves that a session or the server was already given."""
    at = _output_place(view, call)
    view.items.insert(at, function_call_output(call.call_id, output))
    decision = call.decision
    if (
        decision is not None
        and decision.approved
        and call.edit is not None
        and view.server_managed
        and call.index < view.server_upto
    ):
        # The server holds the call as the model made it and cannot be told otherwise;
        # the output goes as it is, and a note says which arguments produced it.
        view.items.insert(at + 1, edited_call_note(call.call_id, call.name, call.arguments))


def _output_place(view: RunView, call: Call) -> int:
    """Where ``call``'s output goes: before the trailing outputs of later calls, never
    before what a session, the server or an input filter already holds."""
    items = view.items
    if not items or items[-1].get("type") != "function_call_output":
        return len(items)  # no trailing output to go before (the loop below would say so)
    floor = max(view.session_upto, view.server_upto, call.index + 1)
    if view.handoff_view is not None:
        floor = max(floor, view.handoff_view[1])
    at = len(view.items)
    while at > floor:
        item = view.items[at - 1]
        is_output = item.get("type") == "function_call_output"
        later = view.calls.get(str(item.get("call_id"))) if is_output else None
        if later is None or later.index <= call.index or not _started_together(view, call, later):
            break
        at -= 1
    return at


def _started_together(view: RunView, one: Call, other: Call) -> bool:
    """Whether both calls were started by one write-ahead commit: their ``ToolStarted``
    events stand together in the journal, with only other calls' starts between them. (An
    output recorded before a pause, and one after it, keep the order they came in.)"""
    low, high = sorted((one.started_at, other.started_at))
    if low < 0:
        return False
    starts = {call.started_at for call in view.calls.values()}
    return all(index in starts for index in range(low, high + 1))


def output_review_requested(view: RunView, event: OutputReviewRequested) -> None:
    call = call_of(view, event.call_id, event.kind)
    if call.status is not REVIEW or call.review_requested:
        raise StateFormatError(
            f"journal[{view.events}]: a review request for the output of call "
            f"{event.call_id!r}, whose output is not held for review (or was asked once)."
        )
    if (event.agent, event.tool, event.arguments) != (call.agent, call.name, call.arguments):
        raise DecisionMismatchError(
            f"journal[{view.events}]: the output review request of call {event.call_id!r} "
            "names another agent, tool or arguments than the call that ran. The state was "
            "edited; load an unedited copy."
        )
    call.review_requested = True


def output_reviewed(view: RunView, event: OutputReviewed) -> None:
    call = call_of(view, event.call_id, event.kind)
    if call.status is not REVIEW or call.held is None:
        raise StateFormatError(
            f"journal[{view.events}]: a review of the output of call {event.call_id!r}, "
            "whose output is not waiting for one."
        )
    if event.seal != review_seal(view.run_id, view.turns, event):
        raise DecisionMismatchError(
            f"journal[{view.events}]: the review of the output of call {event.call_id!r} "
            "does not match its seal: its verdict, output, reviewer or time was changed "
            "(or the seal removed). The state was edited; load an unedited copy."
        )
    if event.reviewed != output_digest(call.held):
        raise DecisionMismatchError(
            f"journal[{view.events}]: the review of call {event.call_id!r} was made on "
            "another output than the tool's. The state was edited; load an unedited copy."
        )
    if (event.verdict == "released") != (event.output is None) or event.verdict not in (
        "released",
        "replaced",
        "withheld",
    ):
        raise StateFormatError(
            f"journal[{view.events}]: a {event.verdict!r} review of call {event.call_id!r} "
            "with an output that does not fit it (only a released output has none)."
        )
    call.review = event
    call.done = True
    call.output = call.held if event.output is None else event.output
    append_output(view, call, call.output)


def doubt_resolved(view: RunView, event: DoubtResolved) -> None:
    call = call_of(view, event.call_id, event.kind)
    if call.status is not IN_DOUBT:
        raise StateFormatError(
            f"journal[{view.events}]: a resolution of call {event.call_id!r}, "
            "which is not in doubt."
        )
    if event.seal != doubt_seal(view.run_id, view.turns, event):
        raise DecisionMismatchError(
            f"journal[{view.events}]: the resolution of call {event.call_id!r} in doubt "
            "does not match its seal: its resolution, output, approver or time was "
            "changed (or the seal removed). The state was edited; load an unedited copy."
        )
    if event.resolution == "run_again":
        call.started = False  # approved (or needing no approval) again: it runs next
        if event.by == SYSTEM_APPROVER:
            call.system_reruns += 1
        return
    if event.output is None:
        raise StateFormatError(
            f"journal[{view.events}]: resolution {event.resolution!r} of call "
            f"{event.call_id!r} without the output the model reads."
        )
    call.done = True
    call.output = event.output
    append_output(view, call, event.output)


_MAY_START = (NEW, APPROVED, SUSPENDED, RESUMABLE)
"""Call states from which a call may start (a nested run also goes on from a suspension); a
tuple, not a set: its test compares by identity, where a set hashes each enum in Python."""


def _output_problem(call: Call, event: ToolCompleted | ToolRejected | ToolTimedOut) -> str | None:
    """What makes ``event`` an impossible output for ``call`` now, or None.

    A call's output follows its start (it ran), or its rejection (a person or the system
    said no), or, for a call that never needed approval, stands in for a run that cannot
    happen (an unknown tool, a handoff, a guardrail that blocked it). A call waiting for
    a decision has no output yet, whatever the event says.
    """
    status = call.status
    if isinstance(event, ToolRejected):
        allowed = status in (REJECTED, NEW)
    elif isinstance(event, ToolTimedOut):
        allowed = status is IN_DOUBT
    elif call.hosted:
        allowed = status is APPROVED
    else:
        allowed = status in (IN_DOUBT, NEW)
    if allowed:
        return None
    return (
        f"{event.kind} for call {event.call_id!r}, which is {status.value}: a call has an "
        "output only once it ran (or was rejected, or could not run without approval)."
    )


def _is_aware_time(text: str) -> bool:
    try:
        return datetime.fromisoformat(text).tzinfo is not None
    except ValueError:
        return False


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
    who = event.on_behalf_of or event.by
    if who is not None and any((a.on_behalf_of or a.by) == who for a in approvals):
        return f"approver {who!r} decided call {event.call_id!r} twice."
    if event.partial:
        if not event.approved or len(approvals) + 1 >= required:
            return f"a partial approval of call {event.call_id!r} that is not one of several."
    elif event.approved and not event.automatic and len(approvals) + 1 < required:
        return f"call {event.call_id!r} needs {required} approvals and has {len(approvals) + 1}."
    return None
