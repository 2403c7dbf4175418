"""Decisions on several pending calls at once: all or none per run, a result per call.

A batch is grouped by run. Each run is loaded once, every decision of the batch on it is
taken on that one state (each bound to its own fingerprint and authorized by its own
call's policy, exactly as a single decision is), and the state is saved with one
compare-and-append. If any decision on a run is refused, nothing of that run is written;
the other runs of the batch are decided on their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .._governance import Approver
from ..errors import RunConflictError, TetherError, UserError
from ..journal import ToolApprovalItem
from ..run import RunState, state_from_stored
from ..store import save_state

if TYPE_CHECKING:
    from ._inbox import Inbox

__all__ = ["BatchResult", "DecisionEntry", "decide_batch"]

_ATTEMPTS = 5
"""A run's decisions are taken again when another writer appended to it first."""

Outcome = Literal["decided", "refused", "not_recorded"]


@dataclass(frozen=True, slots=True)
class DecisionEntry:
    """One decision of a batch: a pending call (as its approver saw it) and the verdict."""

    run_id: str
    call_id: str
    fingerprint: str
    """The call's fingerprint as the list or run showed it (``StaleDecisionError`` else)."""
    decision: Literal["approve", "reject"]
    message: str | None = None
    """For a rejection: what the model reads."""
    reason: str | None = None
    """For the audit trail."""
    always: bool = False
    """Also decide the agent's later calls of the tool in this run (see ``Inbox.decide``)."""


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What became of one entry of a batch.

    ``outcome``: ``"decided"`` (recorded; ``seq`` is the run's new seq), ``"refused"``
    (this entry was refused: ``type`` is the error class, ``error`` says why) or
    ``"not_recorded"`` (this entry was fine, but another entry of its run was refused,
    so nothing of that run was written: ``error`` names it).
    """

    run_id: str
    call_id: str
    outcome: Outcome
    error: str | None = None
    type: str | None = None
    seq: int | None = None

    @property
    def ok(self) -> bool:
        """Whether the decision was recorded."""
        return self.outcome == "decided"

    def to_json(self) -> dict[str, Any]:
        """The result as JSON data (what the API answers for each entry)."""
        return {
            "run_id": self.run_id,
            "call_id": self.call_id,
            "ok": self.ok,
            "outcome": self.outcome,
            "error": self.error,
            "type": self.type,
            "seq": self.seq,
        }


async def decide_batch(
    inbox: Inbox, approver: Approver, entries: Iterable[DecisionEntry]
) -> list[BatchResult]:
    """Take ``entries`` as ``approver``: all or none per run; a result per entry, in order."""
    if not isinstance(approver, Approver):
        raise UserError(f"An inbox decision is taken by an Approver, not {approver!r}.")
    entries = list(entries)
    for entry in entries:
        if not isinstance(entry, DecisionEntry):
            raise UserError(f"A batch takes DecisionEntry items, not {entry!r}.")
    by_run: dict[str, list[int]] = {}
    for index, entry in enumerate(entries):
        by_run.setdefault(entry.run_id, []).append(index)
    results: list[BatchResult | None] = [None] * len(entries)
    for indexes in by_run.values():
        decided = await _decide_run(inbox, approver, [entries[i] for i in indexes])
        for index, result in zip(indexes, decided, strict=True):
            results[index] = result
    return [result for result in results if result is not None]


async def _decide_run(
    inbox: Inbox, approver: Approver, entries: Sequence[DecisionEntry]
) -> list[BatchResult]:
    """The entries of one run on one state, saved with one compare-and-append (or not at all)."""
    run_id = entries[0].run_id
    failure: TetherError | None = None
    for _ in range(_ATTEMPTS):
        try:
            stored = await inbox.load(run_id, approver)
            agent = inbox.agent_for(stored.root_agent)
            context = inbox.make_context()
            state = state_from_stored(inbox.store, stored, agent, context, inbox.governance)
        except TetherError as exc:  # no such run, an unknown agent, the store unavailable
            return [_refused(entry, exc) for entry in entries]
        refusals = _apply_all(state, approver, entries)
        if any(refusal is not None for refusal in refusals):
            return _all_or_none(entries, refusals)
        try:
            seq = await save_state(inbox.store, state)
        except RunConflictError as exc:
            failure = exc  # the run moved on: load it again (a call may be decided now)
            continue
        except TetherError as exc:
            return [_refused(entry, exc) for entry in entries]
        return [BatchResult(e.run_id, e.call_id, "decided", seq=seq) for e in entries]
    assert failure is not None
    return [_refused(entry, failure) for entry in entries]


def _apply_all(
    state: RunState, approver: Approver, entries: Sequence[DecisionEntry]
) -> list[TetherError | None]:
    """Take a run's entries on ``state`` in order; each one's refusal, or ``None``.

    An entry whose call an earlier entry's ``always`` already decided the same way (the
    call it names, as its approver saw it) is taken as done rather than refused as no
    longer pending: selecting a tool's calls and saying "always" on the first is one
    intention, not a conflict."""
    waiting = {item.call_id: item for item in state.interruptions}
    refusals: list[TetherError | None] = []
    for n, entry in enumerate(entries):
        if _decided_by_always(state, waiting, entries[:n], entry):
            refusals.append(None)
        else:
            refusals.append(_apply(state, approver, entry))
    return refusals


def _decided_by_always(
    state: RunState,
    waiting: dict[str, ToolApprovalItem],
    earlier: Sequence[DecisionEntry],
    entry: DecisionEntry,
) -> bool:
    seen = waiting.get(entry.call_id)
    if seen is None or seen.fingerprint != entry.fingerprint:
        return False
    if any(e.call_id == entry.call_id for e in earlier):
        return False  # named twice: the second is refused as a single decision would be
    if not any(
        e.always
        and e.decision == entry.decision
        and (other := waiting.get(e.call_id)) is not None
        and (other.agent_name, other.tool_name) == (seen.agent_name, seen.tool_name)
        for e in earlier
    ):
        return False
    return all(item.call_id != entry.call_id for item in state.interruptions)


def _apply(state: RunState, approver: Approver, entry: DecisionEntry) -> TetherError | None:
    """Take ``entry`` on ``state``; the refusal (nothing of it recorded) or ``None``."""
    try:
        if entry.decision == "approve":
            if entry.message is not None:
                raise UserError("A message goes with a rejection; an approval takes none.")
            state.approve(
                entry.call_id,
                entry.always,
                by=approver,
                reason=entry.reason,
                fingerprint=entry.fingerprint,
            )
        elif entry.decision == "reject":
            state.reject(
                entry.call_id,
                entry.always,
                message=entry.message,
                by=approver,
                reason=entry.reason,
                fingerprint=entry.fingerprint,
            )
        else:
            raise UserError(f"decision must be 'approve' or 'reject', not {entry.decision!r}.")
    except TetherError as exc:
        return exc
    return None


def _all_or_none(
    entries: Sequence[DecisionEntry], refusals: Sequence[TetherError | None]
) -> list[BatchResult]:
    """A run with a refused entry: that entry's error, and every other one not recorded."""
    first = next(
        (entry, refusal)
        for entry, refusal in zip(entries, refusals, strict=True)
        if refusal is not None
    )
    why = (
        f"Not recorded: the decision on call {first[0].call_id!r} of this run was refused "
        f"({type(first[1]).__name__}), and a batch's decisions on one run are recorded all "
        "or none. Decide again without it."
    )
    return [
        _refused(entry, refusal)
        if refusal is not None
        else BatchResult(entry.run_id, entry.call_id, "not_recorded", error=why)
        for entry, refusal in zip(entries, refusals, strict=True)
    ]


def _refused(entry: DecisionEntry, error: TetherError) -> BatchResult:
    return BatchResult(
        entry.run_id, entry.call_id, "refused", error=str(error), type=type(error).__name__
    )
