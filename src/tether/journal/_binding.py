"""What a person is asked to decide, the fingerprint that binds a decision to a call, and the
seal that binds a decision's verdict to the decision."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from .._digests import sha256_hex
from .._json_text import one_shot, parse_json_text
from ._events import (
    ApprovalDecided,
    ApprovalEscalated,
    DecisionRevoked,
    DoubtResolved,
    Event,
    ModelResponded,
    OutputReviewed,
    RunStarted,
    UndoRequested,
)
from ._limits import MAX_ARGUMENT_DEPTH, escape_surrogates, text_depth_exceeds
from ._slot_copy import slot_copier

if TYPE_CHECKING:  # the fold imports this module
    from ._fold import Call, RunView

__all__ = [
    "idempotency_key",
    "ToolApprovalItem",
    "ToolOutputReviewItem",
    "output_digest",
    "review_seal",
    "revocation_seal",
    "undo_seal",
    "canonical_arguments",
    "decision_seal",
    "doubt_seal",
    "escalation_seal",
    "fingerprint",
    "seal_decisions",
    "sealed",
]


@dataclass(frozen=True, slots=True)
class ToolApprovalItem:
    """A tool call waiting for a human decision (one entry of ``result.interruptions``)."""

    agent_name: str
    """The agent whose model asked for the call."""
    tool_name: str
    call_id: str
    arguments: str
    """The arguments the call will run with (a JSON string): exactly as the model wrote them,
    unless an approver edited them (see ``original_arguments``)."""
    fingerprint: str
    """Binds a decision to this exact call: tool, call id and canonical arguments."""
    server_name: str | None = None
    """For a tool of an MCP server (``tether.mcp``), the server's name."""
    parent: ToolApprovalItem | None = None
    """For a call inside an agent used as a tool (``Agent.as_tool``): the outer call that runs
    that agent (its ``agent_name`` is the outer agent). Decide on the item as it is."""
    original_arguments: str | None = None
    """When an approver already edited the call (one approval of several, four-eyes): the
    model's own arguments; ``arguments`` and ``fingerprint`` are then the edited call's, the
    one the remaining approvers decide on. ``None``: not edited."""
    edited_by: str | None = None
    """Who made that edit (``None``: not edited, or an anonymous approver)."""

    @property
    def parsed_arguments(self) -> dict[str, Any] | None:
        """The arguments as a dict, or ``None`` if the model's JSON is not an object."""
        parsed = _parse(self.arguments)
        return parsed if isinstance(parsed, dict) else None

    @property
    def name(self) -> str:
        """Alias of ``tool_name``."""
        return self.tool_name

    @property
    def kind(self) -> Literal["approval", "output_review"]:
        """What is asked: ``"approval"`` of the call (``approve`` / ``reject``), or
        ``"output_review"`` of its output (``ToolOutputReviewItem``)."""
        return "approval"


@dataclass(frozen=True, slots=True)
class ToolOutputReviewItem(ToolApprovalItem):
    """A call that ran and whose output waits for a person's review before the model reads
    it (``function_tool(review_output=True)``); one entry of ``result.interruptions``.

    Decide with ``state.release(item)``, ``state.replace_output(item, output)`` or
    ``state.withhold(item, message=...)``; ``approve`` and ``reject`` do not apply (the
    call already ran, once).
    """

    output: str | list[dict[str, Any]] = ""
    """What the tool returned: text, or content parts (``input_image`` and the like)."""
    """What the tool returned, which the model has not read."""

    @property
    def kind(self) -> Literal["approval", "output_review"]:
        return "output_review"


# ``json.dumps`` with these options, its encoders built once and called without their
# Python wrappers (``one_shot``): the same text.
_SORTED = one_shot(json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")))
_COMPACT = one_shot(json.JSONEncoder(ensure_ascii=False, separators=(",", ":")))
_SPACED = one_shot(json.JSONEncoder(ensure_ascii=False))
_DEFAULT = one_shot(json.JSONEncoder())  # ``json.dumps``'s own
_quote = json.encoder.encode_basestring  # how ``_SPACED`` writes a string


def _digest(canonical: str) -> str:
    """``"sha256:"`` and the SHA-256 of canonical JSON text, its surrogates escaped."""
    return "sha256:" + sha256_hex(escape_surrogates(canonical).encode())


def canonical_arguments(arguments: str) -> str:
    """Arguments in a canonical form: sorted keys, no spaces, lone surrogates escaped; the raw
    text if not JSON or nested deeper than ``MAX_ARGUMENT_DEPTH``."""
    parsed = _parse(arguments)
    if parsed is _UNREADABLE:
        return arguments
    return escape_surrogates(_SORTED(parsed))


def fingerprint(agent: str, tool: str, call_id: str, arguments: str) -> str:
    """SHA-256 over the call's identity and canonical arguments."""
    parts = (agent, tool, call_id, canonical_arguments(arguments))
    if type(agent) is str and type(tool) is str and type(call_id) is str:
        # What ``_SPACED`` writes for a list of strings, each quoted by the function it uses.
        return _digest("[" + ", ".join(map(_quote, parts)) + "]")
    return _digest(_SPACED(list(parts)))


def idempotency_key(view: RunView, call: Call) -> str:
    """The key a call gives the outside world to deduplicate its side effect: SHA-256 over
    the run, the turn and the call's fingerprint as it runs (an approver's edit makes
    another key), so retries, resumes and runs again of one approved call share it."""
    return key_maker(view, call)()


def key_maker(view: RunView, call: Call) -> Callable[[], str]:
    """``idempotency_key(view, call)`` made when first asked for, of the run, turn and edit
    as they are now (``RunContext.for_call`` takes it)."""
    edit = call.edit
    edited = None if edit is None else edit.edited_fingerprint
    return partial(_key, view.run_id, view.turns, call, edited)


def _key(run_id: str, turns: int, call: Call, edited: str | None) -> str:
    fingerprint = call.model_fingerprint if edited is None else edited
    text = _DEFAULT(["tether.idempotency", run_id, turns, fingerprint])
    return "tether-" + sha256_hex(text.encode())[:40]


def decision_seal(run_id: str, turn: int, decision: ApprovalDecided) -> str:
    """SHA-256 over a decision: the run and turn it belongs to, the call's fingerprint, the
    verdict (approved, always, message, automatic) and who decided when (by, at).

    An unsigned state is checked against it on load, so a flipped verdict is refused like
    edited arguments. It takes no key: it catches accidental and naive edits; only a signed
    state resists someone who recomputes it on purpose.
    """
    if _just_sealed(decision, run_id, turn):
        return decision.seal
    fields = [
        run_id,
        turn,
        decision.call_id,
        decision.fingerprint,
        decision.approved,
        decision.always,
        decision.message,
        decision.by,
        decision.at,
        decision.automatic,
    ]
    extra = {
        name: value
        for name, value in (
            ("roles", list(decision.roles)),
            ("reason", decision.reason),
            ("expired", decision.expired),
            ("partial", decision.partial),
            ("edited_arguments", decision.edited_arguments),
            ("edited_fingerprint", decision.edited_fingerprint),
            ("rule", decision.rule),
            ("on_behalf_of", decision.on_behalf_of),
        )
        if value
    }
    if extra:  # only then: a decision without these fields keeps the seal it always had
        fields.append(extra)
    return _digest(_COMPACT(fields))


def doubt_seal(run_id: str, turn: int, resolution: DoubtResolved) -> str:
    """SHA-256 over a resolution of a call in doubt: the run and turn, the call, the
    resolution and its output, who decided when and why. Like ``decision_seal`` it makes a
    ``failed`` that became ``run_again`` (which would repeat a side effect) fail on load."""
    if _just_sealed(resolution, run_id, turn):
        return resolution.seal
    fields = [
        "doubt",
        run_id,
        turn,
        resolution.call_id,
        resolution.resolution,
        resolution.output,
        resolution.by,
        resolution.at,
        list(resolution.roles),
        resolution.reason,
    ]
    return _digest(_COMPACT(fields))


def output_digest(output: str | Sequence[Mapping[str, Any]]) -> str:
    """SHA-256 of a tool's output (content parts as their canonical JSON): binds a review to
    the output the reviewer saw."""
    if not isinstance(output, str):
        parts = [dict(part) for part in output]
        output = _SORTED(parts)
    return _digest(output)


def review_seal(run_id: str, turn: int, review: OutputReviewed) -> str:
    """SHA-256 over a review of a call's output: the run and turn, the call, the verdict,
    the output reviewed and the one the model reads, who decided when and why."""
    if _just_sealed(review, run_id, turn):
        return review.seal
    fields = [
        "review",
        run_id,
        turn,
        review.call_id,
        review.verdict,
        review.reviewed,
        review.output,
        review.by,
        review.at,
        list(review.roles),
        review.reason,
    ]
    return _digest(_COMPACT(fields))


def revocation_seal(run_id: str, turn: int, revocation: DecisionRevoked) -> str:
    """SHA-256 over a withdrawal of a decision: the run and turn, the call, the seal of the
    decision withdrawn, who withdrew it when and why."""
    if _just_sealed(revocation, run_id, turn):
        return revocation.seal
    fields = [
        "revoked",
        run_id,
        turn,
        revocation.call_id,
        revocation.decision,
        revocation.by,
        revocation.at,
        list(revocation.roles),
        revocation.reason,
    ]
    return _digest(_COMPACT(fields))


def escalation_seal(run_id: str, turn: int, escalation: ApprovalEscalated) -> str:
    """SHA-256 over an escalation: the run and turn, the call and its fingerprint, the group
    that may decide it from then on, and when."""
    fields = [
        "escalated",
        run_id,
        turn,
        escalation.call_id,
        escalation.fingerprint,
        list(escalation.roles),
        list(escalation.approvers),
        escalation.at,
    ]
    return _digest(_COMPACT(fields))


def undo_seal(run_id: str, request: UndoRequested) -> str:
    """SHA-256 over a request to undo a call: the run, the call, the fingerprint of the call
    as it ran, who asked when and why."""
    fields = [
        "undo",
        run_id,
        request.call_id,
        request.fingerprint,
        request.by,
        request.at,
        list(request.roles),
        request.reason,
    ]
    return _digest(_COMPACT(fields))


_Sealable = TypeVar("_Sealable", ApprovalDecided, DoubtResolved, OutputReviewed, DecisionRevoked)


@overload
def sealed(decision: ApprovalDecided, run_id: str, turn: int) -> ApprovalDecided: ...
@overload
def sealed(decision: DoubtResolved, run_id: str, turn: int) -> DoubtResolved: ...
@overload
def sealed(decision: OutputReviewed, run_id: str, turn: int) -> OutputReviewed: ...
@overload
def sealed(decision: DecisionRevoked, run_id: str, turn: int) -> DecisionRevoked: ...
def sealed(
    decision: ApprovalDecided | DoubtResolved | OutputReviewed | DecisionRevoked,
    run_id: str,
    turn: int,
) -> ApprovalDecided | DoubtResolved | OutputReviewed | DecisionRevoked:
    """``decision`` carrying its seal (for the ``turn``-th response of run ``run_id``)."""
    global _SEALED
    event: ApprovalDecided | DoubtResolved | OutputReviewed | DecisionRevoked
    if isinstance(decision, DecisionRevoked):
        event = _with_seal(decision, revocation_seal(run_id, turn, decision))
    elif isinstance(decision, DoubtResolved):
        event = _with_seal(decision, doubt_seal(run_id, turn, decision))
    elif isinstance(decision, OutputReviewed):
        event = _with_seal(decision, review_seal(run_id, turn, decision))
    else:
        event = _with_seal(decision, decision_seal(run_id, turn, decision))
    _SEALED = (event, run_id, turn)
    return event


_RESEAL: dict[type[Any], Callable[[Any, str], Any]] = {}
"""Each decision class's ``_with_seal``, written when first needed (``slot_copier``)."""


def _with_seal(decision: _Sealable, seal: str) -> _Sealable:
    # ``dataclasses.replace(decision, seal=seal)`` without its generic checks or the frozen
    # ``__init__``: the copy's slots set straight from the decision's, already checked.
    kind = type(decision)
    reseal = _RESEAL.get(kind)
    if reseal is None:
        names = [field.name for field in dataclass_fields(kind)]
        assert sorted(names) == sorted(kind.__slots__), "every field of a decision is a slot"
        reseal = _RESEAL[kind] = slot_copier(kind, replacing="seal")
    resealed: _Sealable = reseal(decision, seal)
    return resealed


_SEALED: tuple[object, str, int] | None = None
"""The decision ``sealed`` made last, and the run and turn it sealed it for. The fold checks
every decision it records against its seal; this one's seal was computed a moment ago from
its own fields, which cannot change (events are frozen), so the check recalls it instead of
hashing them again. Any other decision (one loaded, one made another way) is hashed."""


def _just_sealed(decision: object, run_id: str, turn: int) -> bool:
    made = _SEALED
    return made is not None and made[0] is decision and made[1] == run_id and made[2] == turn


def seal_decisions(journal: Iterable[Event]) -> list[Event]:
    """The journal with every unsealed decision sealed as it stands.

    For journals whose decisions were not sealed where they were taken: version 1 documents,
    and states imported from other SDKs (their own format vouches for the verdicts).
    """
    events: list[Event] = []
    run_id, turn = "", 0
    for event in journal:
        if isinstance(event, RunStarted):
            run_id = event.run_id
        elif isinstance(event, ModelResponded):
            turn += 1
        elif isinstance(event, ApprovalDecided | DoubtResolved) and not event.seal:
            event = sealed(event, run_id, turn)
        events.append(event)
    return events


_UNREADABLE: Any = object()


def _parse(arguments: str) -> Any:
    """The arguments' JSON value, or ``_UNREADABLE`` (not JSON, or nested too deeply)."""
    if not isinstance(arguments, str) or text_depth_exceeds(arguments, MAX_ARGUMENT_DEPTH):
        return _UNREADABLE
    return parse_json_text(arguments, _UNREADABLE)
