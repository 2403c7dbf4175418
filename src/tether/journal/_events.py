"""The journal: a run as an append-only list of immutable events.

Every fact about a run is one of these events, in the order it happened.
Everything else (the conversation, the turn count, pending approvals, what a
session or a server has not seen yet) is derived from them by the fold in
``_view.py``. An event is never edited once appended.

Items inside events are frozen (``tether._frozen``) when the event is made,
so nothing that reads an event, or an item handed out from it, can change
what the run recorded.

A tool call's lifecycle, all within the turn of the response that asked for it:

    ApprovalRequested -> ApprovalDecided      (only if the call needs approval)
    ToolStarted -> ToolCompleted              (approved, or needing no approval)
    ToolStarted -> ToolTimedOut               (ran past its timeout and was cancelled)
    ToolRejected                              (rejected: the model reads the message)
    ApprovalDecided -> DecisionRevoked        (withdrawn before the call started: it waits again)
    ToolCompleted -> UndoRequested -> UndoCompleted
                                              (a person had the call's effect undone, once)
    ToolCompleted(review) -> OutputReviewRequested -> OutputReviewed
                                              (output review: the model reads what was decided)
    ApprovalRequested -> ApprovalReminded -> ApprovalEscalated
                                              (a call waits: ``Escalation``, ``_escalation_events``)
    ApprovalDecided(expired) -> DecisionLate  (a decision after the deadline: refused, recorded)

``ToolStarted`` is appended before the tool runs, so a call that started and
never completed is known to be *in doubt* and is never silently run again.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, TypeAdapter

from .._context import Usage
from .._frozen import FrozenList, freeze
from .._quick_init import quick_init
from .._tool_output import output_problem
from ._escalation_events import ApprovalEscalated, ApprovalReminded, DecisionLate
from ._frozen_fields import FrozenItems, FrozenObject, FrozenObjects

__all__ = [
    "EVENT_KINDS",
    "ApprovalDecided",
    "ApprovalEscalated",
    "ApprovalReminded",
    "ApprovalRequested",
    "DecisionLate",
    "DecisionRevoked",
    "DoubtResolved",
    "Event",
    "GuardrailChecked",
    "HandoffTaken",
    "ModelResponded",
    "RunCompleted",
    "RunFailed",
    "RunResumed",
    "RunRetried",
    "RunStarted",
    "SessionSynced",
    "ToolCompleted",
    "ToolRejected",
    "ToolStarted",
    "ToolTimedOut",
    "UndoCompleted",
    "UndoRequested",
    "NestedRunRecorded",
    "OutputReviewRequested",
    "OutputReviewed",
    "events_adapter",
]


@quick_init  # fourteen fields, made every run (see tether._quick_init)
@dataclass(frozen=True, slots=True)
class RunStarted:
    """A run began. Always the first event."""

    run_id: str
    agent: str
    """The agent the run started with."""
    input: FrozenItems
    """This run's new input."""
    max_turns: int
    """How many model responses the run may use."""
    history: FrozenItems = field(default_factory=list)
    """Earlier conversation read from a session, sent before ``input``; already stored there."""
    previous_response_id: str | None = None
    """A server-managed conversation to continue from this response."""
    conversation_id: str | None = None
    """A server-managed conversation (OpenAI Conversations) the run belongs to."""
    auto_previous_response_id: bool = False
    """Chain each model call to the previous response on the server."""
    session_id: str | None = None
    """The session the run reads its history from and stores its items in, if any."""
    rejection_message: str | None = None
    """What the model reads for a rejected call whose decision has no message (``{tool}``
    is the tool's name); ``None``: the default one."""
    trace_parent: str | None = None
    """The W3C ``traceparent`` of the run's first span, so that a resumed run, in any
    process, continues the same trace; ``None`` when the run was not traced."""
    run_config: FrozenObject | None = None
    """The parts of the run's ``RunConfig`` that are data (model name, model settings,
    tracing settings); see ``RunConfig``."""
    requested_by: str | None = None
    """Who asked for the run, when a surface knows (the gateway's authenticated client);
    under four-eyes they may not approve its calls. ``None``: not known."""
    kind: Literal["run_started"] = "run_started"

    def __post_init__(self) -> None:
        object.__setattr__(self, "input", freeze(self.input))
        object.__setattr__(self, "history", freeze(self.history))
        object.__setattr__(self, "run_config", freeze(self.run_config))


@dataclass(frozen=True, slots=True)
class RunResumed:
    """The run was continued after an interruption (possibly in another process)."""

    max_turns: int | None = None
    """A new turn budget, if one was given on resume; ``None`` keeps the budget."""
    rejection_message: str | None = None
    """A new rejection message, if one was given on resume; ``None`` keeps the run's."""
    run_config: FrozenObject | None = None
    """A new ``RunConfig``'s data, if one was given on resume; ``None`` keeps the run's."""
    kind: Literal["run_resumed"] = "run_resumed"

    def __post_init__(self) -> None:
        object.__setattr__(self, "run_config", freeze(self.run_config))


@quick_init  # made every turn (see tether._quick_init)
@dataclass(frozen=True, slots=True)
class ModelResponded:
    """The model answered; this is one turn."""

    agent: str
    output: FrozenItems
    usage: Usage = field(default_factory=Usage)
    response_id: str | None = None
    kind: Literal["model_responded"] = "model_responded"

    def __post_init__(self) -> None:
        # Decoded from a stored row, the output is frozen already (``_frozen_fields``): kept
        # as it is without a call, since most of a long run's rows are model responses.
        if type(self.output) is not FrozenList:
            object.__setattr__(self, "output", freeze(self.output))


@dataclass(frozen=True, slots=True)
class ApprovalRequested:
    """A call of the current turn needs a human decision before it may run."""

    call_id: str
    agent: str
    tool: str
    arguments: str
    fingerprint: str
    """Hash of the tool's identity, the call id and the canonical arguments."""
    at: str | None = None
    """When the approval was requested (ISO 8601, UTC, from the run's governance clock)."""
    expires_at: str | None = None
    """The deadline of the decision (ISO 8601, UTC); ``None``: it never expires. Past it the
    call is rejected by the system and never runs."""
    required_approvals: int = 1
    """How many distinct approvers must approve before the call runs (four-eyes: 2)."""
    kind: Literal["approval_requested"] = "approval_requested"


@dataclass(frozen=True, slots=True)
class ApprovalDecided:
    """A decision on a requested approval, bound to the call's fingerprint and sealed."""

    call_id: str
    fingerprint: str
    approved: bool
    always: bool = False
    """The decision also applies to later calls of the same tool in this run."""
    message: str | None = None
    """For a rejection: what the model reads as the tool's output."""
    by: str | None = None
    """Who decided, as the application names them; ``None`` if not given."""
    at: str | None = None
    """When, as an ISO 8601 timestamp made where the decision was taken."""
    automatic: bool = False
    """Applied from an earlier ``always`` decision rather than taken on this call."""
    seal: str = ""
    """SHA-256 over the run, the turn, the call's fingerprint, the verdict and who decided
    when (``decision_seal``); checked on load, so a changed verdict is refused. Empty only
    in version 1 documents, which are sealed as they stand when loaded."""
    roles: tuple[str, ...] = ()
    """The approver's roles when they decided (sorted), as the application gave them."""
    reason: str | None = None
    """Why the approver decided so (for the audit trail; the model does not read it)."""
    expired: bool = False
    """The system's rejection of a call whose approval was not decided by its deadline."""
    partial: bool = False
    """One approval of several required (four-eyes): the call still waits for the others."""
    receipt: str | None = None
    """HMAC-SHA256 with the application's receipt key over the run, the call, the
    fingerprint, the verdict, the approver and the time (``verify_receipts``)."""
    edited_arguments: str | None = None
    """For an approval with edited arguments: the arguments the call runs with (canonical
    JSON), in place of the ones the decision saw (``fingerprint``); ``None``: as they were."""
    edited_fingerprint: str | None = None
    """The fingerprint of the call as it runs with ``edited_arguments`` (sealed, receipted)."""
    rule: str | None = None
    """The id of the standing approval that approved the call without a pause (``by`` and
    ``roles`` are then its grantor's, ``reason`` its reason); ``None`` for every other
    decision."""
    on_behalf_of: str | None = None
    """The approver ``by`` decided for under a delegation (``roles`` are then theirs)."""
    kind: Literal["approval_decided"] = "approval_decided"


@quick_init  # made every turn (see tether._quick_init)
@dataclass(frozen=True, slots=True)
class ToolStarted:
    """A tool call is about to run. Durable before the side effect."""

    call_id: str
    at: str | None = None
    """When, as an ISO 8601 timestamp; a call's first start is when its idempotency key was
    first given to the outside world (``idempotent_for`` counts from it)."""
    kind: Literal["tool_started"] = "tool_started"


@quick_init  # made every turn (see tether._quick_init)
@dataclass(frozen=True, slots=True)
class ToolCompleted:
    """A call finished (or was answered with an error); ``output`` is what the model reads.

    With ``review``, ``output`` is what the tool returned and the model reads nothing yet:
    the call waits for a person's review of it (``OutputReviewed``).
    """

    call_id: str
    output: str | FrozenObjects
    """Text, or input content parts (``input_text``, ``input_image``, ``input_file``)."""
    review: bool = False
    """The tool's output waits for review (``function_tool(review_output=True)``)."""
    kind: Literal["tool_completed"] = "tool_completed"

    def __post_init__(self) -> None:
        if not isinstance(self.output, str):
            problem = output_problem(self.output)
            if problem is not None:
                raise ValueError(f"call {self.call_id!r}: {problem}")
            object.__setattr__(self, "output", freeze(self.output))


@dataclass(frozen=True, slots=True)
class OutputReviewRequested:
    """The output of a call (its ``ToolCompleted`` with ``review``, just before) waits for a
    person's review: what the inbox lists, the stream announces and the audit trail shows."""

    call_id: str
    agent: str
    tool: str
    arguments: str
    """The arguments the call ran with."""
    at: str | None = None
    """When the review was requested (ISO 8601, UTC, from the run's governance clock)."""
    kind: Literal["output_review_requested"] = "output_review_requested"


@dataclass(frozen=True, slots=True)
class OutputReviewed:
    """A person reviewed a call's output (``ToolCompleted`` with ``review``), sealed.

    ``released``: the model reads the output as the tool returned it. ``replaced``: it reads
    ``output`` instead (a redacted version, say). ``withheld``: it reads ``output``, a
    message saying the output was withheld. The tool's own output stays in its
    ``ToolCompleted``: the journal keeps what happened.
    """

    call_id: str
    verdict: Literal["released", "replaced", "withheld"]
    output: str | None = None
    """What the model reads in place of the tool's output (``None`` when released)."""
    reviewed: str = ""
    """SHA-256 of the tool's output the reviewer saw (``output_digest``)."""
    by: str | None = None
    """Who reviewed, as the application names them."""
    at: str | None = None
    """When, as an ISO 8601 timestamp made where the review was taken."""
    roles: tuple[str, ...] = ()
    """The reviewer's roles when they decided (sorted)."""
    reason: str | None = None
    """Why (for the audit trail; the model does not read it)."""
    seal: str = ""
    """SHA-256 over the run, the turn, the call, the verdict, the outputs and who decided
    when (``review_seal``); checked on load, so ``withheld`` cannot become ``released``."""
    receipt: str | None = None
    """HMAC-SHA256 with the application's receipt key (``verify_receipts``)."""
    kind: Literal["output_reviewed"] = "output_reviewed"


@dataclass(frozen=True, slots=True)
class ToolTimedOut:
    """A call ran past its timeout and was cancelled; ``output`` is what the model reads.

    Like ``ToolCompleted`` it gives the call its output, but the tool did not
    finish: it may have had part of its effects.
    """

    call_id: str
    timeout: float
    """The limit it ran past, in seconds."""
    output: str
    kind: Literal["tool_timed_out"] = "tool_timed_out"


@dataclass(frozen=True, slots=True)
class NestedRunRecorded:
    """Events of the nested run of an agent used as a tool (``Agent.as_tool``), call ``call_id``.

    The nested run's journal is the concatenation of these events, in order, for
    that call. ``paused`` says the nested run stopped for a human decision: the
    call waits (no output yet) and the outer run is interrupted with the nested
    run's interruptions. A decision on one of them is recorded here too, as the
    nested ``approval_decided`` event.
    """

    call_id: str
    agent: str
    """The nested run's agent (the agent used as the tool)."""
    events: FrozenObjects
    """The nested run's new events, as saved JSON (``kind`` tells which)."""
    paused: bool = True
    kind: Literal["nested_run_recorded"] = "nested_run_recorded"

    def __post_init__(self) -> None:
        object.__setattr__(self, "events", freeze(self.events))


@dataclass(frozen=True, slots=True)
class ToolRejected:
    """A call was rejected and never ran; ``output`` is the rejection the model reads."""

    call_id: str
    output: str
    kind: Literal["tool_rejected"] = "tool_rejected"


@dataclass(frozen=True, slots=True)
class DoubtResolved:
    """A person settled a call in doubt (started, never recorded as completed).

    ``run_again``: the call runs again. ``output``: it did take effect and
    ``output`` is what it produced. ``failed``: it is treated as failed and the
    model reads ``output`` (a failure message). The last two complete the call.
    """

    call_id: str
    resolution: Literal["run_again", "output", "failed"]
    output: str | None = None
    """What the model reads for the call (``output`` and ``failed`` only)."""
    by: str | None = None
    """Who decided, as the application names them."""
    at: str | None = None
    """When, as an ISO 8601 timestamp made where the decision was taken."""
    roles: tuple[str, ...] = ()
    """The approver's roles when they decided (sorted)."""
    reason: str | None = None
    """Why the approver decided so (for the audit trail)."""
    seal: str = ""
    """SHA-256 over the run, the turn, the call, the resolution, the output and who decided
    when (``doubt_seal``); checked on load, so ``failed`` cannot become ``run_again``."""
    receipt: str | None = None
    """HMAC-SHA256 with the application's receipt key (``verify_receipts``)."""
    kind: Literal["doubt_resolved"] = "doubt_resolved"


@dataclass(frozen=True, slots=True)
class HandoffTaken:
    """The conversation passed to another agent (after the handoff call's ``ToolCompleted``)."""

    call_id: str
    from_agent: str
    to_agent: str
    conversation: FrozenItems | None = None
    """What the next agents' models are sent from here on in place of the conversation so
    far, when an input filter chose it; ``None``: the whole conversation."""
    kind: Literal["handoff_taken"] = "handoff_taken"

    def __post_init__(self) -> None:
        if self.conversation is not None:
            object.__setattr__(self, "conversation", freeze(self.conversation))


@dataclass(frozen=True, slots=True)
class SessionSynced:
    """The session now stores the conversation up to item ``upto`` (exclusive)."""

    upto: int
    kind: Literal["session_synced"] = "session_synced"


@dataclass(frozen=True, slots=True)
class RunCompleted:
    """The run reached its final output (as JSON-compatible data)."""

    output: Any
    kind: Literal["run_completed"] = "run_completed"

    def __post_init__(self) -> None:
        object.__setattr__(self, "output", freeze(self.output))


@dataclass(frozen=True, slots=True)
class RunFailed:
    """The run stopped on an error: what raised, and whether trying again can help.

    A failed run stays failed (no worker advances it) until it is resumed
    (``RunResumed``) or a person asks for it to be tried again (``RunRetried``).
    """

    error: str
    """The error's type, e.g. ``MaxTurnsExceeded``."""
    message: str
    """What the error said."""
    retryable: bool = False
    """Whether the same run may succeed if tried again (a model or database that was away),
    as opposed to an error that would recur (a bug in a hook, the turn budget spent)."""
    at: str | None = None
    """When, as an ISO 8601 timestamp."""
    kind: Literal["run_failed"] = "run_failed"


@dataclass(frozen=True, slots=True)
class RunRetried:
    """A person asked for a failed run to be tried again: workers advance it once more."""

    by: str | None = None
    """Who asked, as the application names them."""
    at: str | None = None
    """When, as an ISO 8601 timestamp."""
    reason: str | None = None
    kind: Literal["run_retried"] = "run_retried"


@dataclass(frozen=True, slots=True)
class GuardrailChecked:
    """A guardrail ran, and what it found; a resumed run reads this instead of running it again.

    ``outcome`` is ``"pass"``, ``"reject_content"`` (a tool guardrail: the call is
    answered with ``message`` instead of running, or its output is replaced by it) or
    ``"tripwire"`` (the run stops with the stage's ``...TripwireTriggered`` error, and a
    resumed run stops with it again).
    """

    stage: Literal["input", "output", "tool_input", "tool_output"]
    guardrail: str
    """The guardrail's name."""
    outcome: Literal["pass", "reject_content", "tripwire"]
    call_id: str | None = None
    """For a tool guardrail: the call it checked."""
    message: str | None = None
    """For ``reject_content``: what the model reads."""
    output_info: Any = None
    """What the guardrail reported, as JSON data."""
    kind: Literal["guardrail_checked"] = "guardrail_checked"

    def __post_init__(self) -> None:
        object.__setattr__(self, "output_info", freeze(self.output_info))


@dataclass(frozen=True, slots=True)
class DecisionRevoked:
    """A person withdrew their decision on a call that has not started, sealed.

    The call waits again with the decisions that still count (four-eyes: one approval of
    two withdrawn leaves one). A withdrawn ``always`` decision, or one it made, no longer
    decides the tool's later calls; the withdrawn decision's receipt is no longer honoured.
    Refused by the fold once the call started (``ToolStarted``) or has its output.
    """

    call_id: str
    decision: str
    """The seal of the withdrawn ``ApprovalDecided`` (which of the call's decisions)."""
    by: str | None = None
    """Who withdrew it: the approver who took it."""
    at: str | None = None
    """When, as an ISO 8601 timestamp made where it was withdrawn."""
    roles: tuple[str, ...] = ()
    reason: str | None = None
    """Why (for the audit trail)."""
    seal: str = ""
    """SHA-256 over the run, the turn, the call, the decision withdrawn and who withdrew it
    when (``revocation_seal``); checked on load."""
    receipt: str | None = None
    """HMAC-SHA256 with the application's receipt key (``verify_receipts``)."""
    kind: Literal["decision_revoked"] = "decision_revoked"


@dataclass(frozen=True, slots=True)
class UndoRequested:
    """A person asked for a completed call's effect to be undone by its tool's compensation
    (``function_tool(undo=...)``), sealed.

    Written before the compensation runs, like ``ToolStarted`` before a tool: an undo
    requested and never recorded as completed is in doubt, and is never run again silently.
    """

    call_id: str
    fingerprint: str
    """The fingerprint of the call as it ran (its arguments, edited if an approver edited
    them): what the person asked to undo."""
    by: str | None = None
    at: str | None = None
    roles: tuple[str, ...] = ()
    reason: str | None = None
    seal: str = ""
    """SHA-256 over the run, the call, its fingerprint and who asked when (``undo_seal``)."""
    kind: Literal["undo_requested"] = "undo_requested"


@dataclass(frozen=True, slots=True)
class UndoCompleted:
    """The compensation of an undone call returned (``output``), or raised (``failed``: then
    ``output`` says what it raised). Either way the undo is done: it never runs again."""

    call_id: str
    output: str
    failed: bool = False
    kind: Literal["undo_completed"] = "undo_completed"


Event = Annotated[
    RunStarted
    | RunResumed
    | ModelResponded
    | ApprovalRequested
    | ApprovalDecided
    | ToolStarted
    | ToolCompleted
    | ToolRejected
    | HandoffTaken
    | SessionSynced
    | RunCompleted
    | ToolTimedOut
    | NestedRunRecorded
    | DoubtResolved
    | GuardrailChecked
    | OutputReviewRequested
    | OutputReviewed
    | RunFailed
    | RunRetried
    | DecisionRevoked
    | UndoRequested
    | UndoCompleted
    | ApprovalReminded
    | ApprovalEscalated
    | DecisionLate,
    Field(discriminator="kind"),
]
"""Any journal event; ``kind`` tells which."""

EVENT_KINDS = frozenset(
    cls.__dataclass_fields__["kind"].default for cls in get_args(get_args(Event)[0])
)
"""The ``kind`` of every event type."""


@functools.cache
def events_adapter() -> TypeAdapter[list[Event]]:
    """Validates and serialises a whole journal (built on first use: building it at import
    costs every ``import tether`` tens of milliseconds)."""
    return TypeAdapter(list[Event])
