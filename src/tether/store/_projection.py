"""Projections: the store's query rows, generated from the fold's answers.

A run store keeps, beside the events, what the fold says a run waits on
(``pending``: calls waiting for an approval or an output review; ``in_flight``:
calls started and not completed, no longer stored since store version 7, where the
status ``in_doubt`` says it) and its status (``RunView.status``, failed
included). None of it has event rules of its own: ``project`` reads a folded
``RunView``; ``changes`` is the difference between the projection before and
after an append, applied in the append's transaction; ``replay`` is the same
difference taken event by event over a whole journal, so a rebuilt projection
equals the maintained one by construction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from ..journal import Call, Event, RunStatus, RunView

__all__ = [
    "Changes",
    "PendingRow",
    "Projection",
    "changes",
    "project",
    "replay",
    "status_columns",
]


@dataclass(frozen=True, slots=True)
class PendingRow:
    """A ``pending`` row without its request time (the time it was first stored)."""

    call_id: str
    agent: str
    tool: str
    arguments: str
    expires_at: datetime | None
    kind: Literal["approval", "output_review"]
    required_approvals: int
    request: tuple[int, ...]
    """Which request this is: the turns of the run (and of the nested runs) it belongs to,
    and its kind. A call id the model reuses in a later turn is a new request, a new row."""
    requested_by: str | None = None
    """Who asked for the run (``RunStarted.requested_by``), when its surface knew."""

    def same_request(self, other: PendingRow) -> bool:
        return self.request == other.request and self.kind == other.kind

    def values(self, run_id: str, requested_at: object, expires_at: object) -> tuple[object, ...]:
        """The ``pending`` table's columns in order (times as the backend stores them)."""
        return (
            run_id,
            self.call_id,
            self.agent,
            self.tool,
            self.arguments,
            requested_at,
            expires_at,
            self.kind,
            self.required_approvals,
            self.requested_by,
        )


@dataclass(frozen=True, slots=True)
class Projection:
    """What the fold says a run waits on, and its status."""

    pending: Mapping[str, PendingRow] = field(default_factory=dict)
    in_flight: Mapping[str, int] = field(default_factory=dict)
    """Call id to the seq of the ``ToolStarted`` of calls started and not completed."""
    status: RunStatus = "running"


EMPTY = Projection()


def project(view: RunView) -> Projection:
    """The projection of a run whose journal folds to ``view``."""
    pending: dict[str, PendingRow] = {}
    in_flight: dict[str, int] = {}
    for entry in view.waiting():
        call = entry.call
        if entry.kind == "in_doubt":
            in_flight[call.call_id] = call.started_at + 1
            continue
        requested = call.requested
        expires = None
        required = 1
        if entry.kind == "approval" and requested is not None:
            if requested.expires_at:
                expires = datetime.fromisoformat(requested.expires_at)
            required = requested.required_approvals
        turns = (*(_turn_of(parent) for parent in entry.parents), _turn_of(call))
        pending[call.call_id] = PendingRow(
            call.call_id,
            call.agent,
            call.name,
            call.arguments,
            expires,
            entry.kind,
            required,
            turns,
            view.requested_by,
        )
    return Projection(pending, in_flight, view.status)


def _turn_of(call: Call) -> int:
    # A call's item index in its run's conversation tells its turns apart: a call id the
    # model reuses later stands at a later index.
    return call.index


@dataclass(frozen=True, slots=True)
class Changes:
    """What an append changes in the projection tables."""

    put: tuple[PendingRow, ...] = ()
    """New requests: insert (replacing a row of an earlier request of the same call id),
    with the append's time as the request time."""
    update: tuple[PendingRow, ...] = ()
    """The same requests with other columns (an approval of several edited the arguments):
    update in place, keeping the request time."""
    drop: tuple[str, ...] = ()
    """Calls no longer waiting."""
    fly: tuple[tuple[str, int], ...] = ()
    """Calls now in flight, with their start's seq (insert or replace)."""
    land: tuple[str, ...] = ()
    """Calls no longer in flight."""
    status: RunStatus = "running"


def changes(before: Projection, after: Projection) -> Changes:
    """The table changes that take the projection ``before`` to ``after``."""
    put: list[PendingRow] = []
    update: list[PendingRow] = []
    for call_id, row in after.pending.items():
        old = before.pending.get(call_id)
        if old is None or not old.same_request(row):
            put.append(row)
        elif old != row:
            update.append(row)
    drop = tuple(call_id for call_id in before.pending if call_id not in after.pending)
    fly = tuple(
        (call_id, seq)
        for call_id, seq in after.in_flight.items()
        if before.in_flight.get(call_id) != seq
    )
    land = tuple(call_id for call_id in before.in_flight if call_id not in after.in_flight)
    return Changes(tuple(put), tuple(update), drop, fly, land, after.status)


def replay(
    events: Iterable[tuple[Event, datetime]],
) -> tuple[dict[str, tuple[PendingRow, datetime]], dict[str, int], RunStatus]:
    """The projection rows of a whole journal (``(event, appended_at)`` in order), taken
    event by event with ``changes`` exactly as appends maintain them: pending rows with
    their request times, calls in flight, and the status."""
    view = RunView()
    before = EMPTY
    pending: dict[str, tuple[PendingRow, datetime]] = {}
    in_flight: dict[str, int] = {}
    for event, appended_at in events:
        view.apply(event)
        after = project(view)
        todo = changes(before, after)
        for row in todo.put:
            pending[row.call_id] = (row, appended_at)
        for row in todo.update:
            pending[row.call_id] = (row, pending[row.call_id][1])
        for call_id in todo.drop:
            pending.pop(call_id, None)
        in_flight.update(todo.fly)
        for call_id in todo.land:
            in_flight.pop(call_id, None)
        before = after
    return pending, in_flight, before.status


def status_columns(status: RunStatus) -> tuple[str, bool]:
    """The runs row's two status columns for the fold's ``status`` (store version 9): the
    indexed ``status`` holds 'running' for a run in doubt too, and the unindexed ``in_doubt``
    says which. A call's start and its completion flip the run between the two, at each
    commit of a turn; kept apart, they leave the run's entries in the status indexes where
    they are (SQLite rewrites an index's entry whenever an UPDATE names its column; on
    PostgreSQL, an update that changes no indexed value can stay on the row's page)."""
    if status == "in_doubt":
        return "running", True
    return status, False
