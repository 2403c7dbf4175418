"""What a run store returns: plain frozen records, the same for every backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from ..journal import Event, RunView

__all__ = [
    "ChangedRuns",
    "Lease",
    "PendingApproval",
    "RunPage",
    "RunStatus",
    "RunSummary",
    "RunTip",
    "StoredRun",
]

RunStatus = Literal["running", "waiting", "in_doubt", "completed", "failed"]
"""Where a run stands, as its journal (``RunView.status``) and lease say.

- ``running``: someone advances it, or it can go on without anyone (see
  ``RunStore.recoverable``); also a run whose tool is running under a live lease.
- ``waiting``: it can go on only once a person decides (an approval, an output review).
- ``in_doubt``: a tool call started and never completed, and nobody holds the lease:
  the process running the tool died. Recovery decides what happens to the call.
- ``completed``: it reached its final output.
- ``failed``: it stopped on an error (``RunFailed``: what raised, whether a retry can help)
  and nobody tried it again since.
"""


@dataclass(frozen=True, slots=True)
class Lease:
    """The right to advance a run until ``until`` (renew it before then)."""

    run_id: str
    owner: str
    until: datetime
    tip: RunTip | None = None
    """Where the run's journal ended as the lease was taken, if the store said (a
    resume then checks its state against it without reading the tip again)."""


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One row of ``list_runs``: a run without its events."""

    run_id: str
    root_agent: str
    status: RunStatus
    seq: int
    """How many events the run has; the ``expected_seq`` of the next append."""
    lease_owner: str | None
    lease_until: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RunTip:
    """Where a stored run's journal ends: its ``seq`` and a ``head`` naming its last event.

    ``head`` is the last row's MAC in a signed store (it chains every event before it),
    otherwise the SHA-256 of the last event's stored text. A state loaded at one tip
    is still the stored run's whole history while the store answers the same tip
    (runs are append-only), so a resume compares tips instead of reading the journal.
    """

    seq: int
    head: str


@dataclass(frozen=True, slots=True)
class StoredRun:
    """A run as ``load`` returns it: its summary and every event, in order."""

    summary: RunSummary
    events: tuple[Event, ...]
    head: str = ""
    """The run's tip as ``RunTip.head`` names it (empty for a run of no events)."""
    _held: Callable[[], RunView | None] | None = field(default=None, compare=False, repr=False)
    """Asks the store for its fold of ``events`` (see ``fold``)."""

    def fold(self) -> RunView | None:
        """The view of ``events``, the caller's to change: a copy of the store's own fold
        (its append to the run, or an earlier ``fold`` of this version, left it), or, from
        a signed store that holds none yet, their fold, which the store then keeps for its
        next append and load of the run. ``None`` if the store keeps no fold of this
        version (unsigned, or moved on): then fold the events."""
        return self._held() if self._held is not None else None

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled or copied without the store's fold (which holds the store's gate).
        return (StoredRun, (self.summary, self.events, self.head))

    @property
    def run_id(self) -> str:
        return self.summary.run_id

    @property
    def root_agent(self) -> str:
        return self.summary.root_agent

    @property
    def status(self) -> RunStatus:
        return self.summary.status

    @property
    def seq(self) -> int:
        return self.summary.seq


@dataclass(frozen=True, slots=True)
class RunPage:
    """A page of ``list_runs``; pass ``next_cursor`` back for the next page (``None``: last)."""

    runs: tuple[RunSummary, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class PendingApproval:
    """A call waiting for a human decision (a row of the ``pending`` projection): an approval,
    or a review of its output (``kind``)."""

    run_id: str
    call_id: str
    agent: str
    tool: str
    arguments: str
    requested_at: datetime
    expires_at: datetime | None = None
    """When the approval expires (the system rejects the call); ``None``: never."""
    kind: Literal["approval", "output_review"] = "approval"
    """What waits: an approval of the call, or a review of its output (the call ran; see
    ``RunState.release``). The output itself is in the run's journal (``load_state``)."""
    required_approvals: int = 1
    """How many approvals the call needs before it runs (four-eyes: 2 or more); the
    approvals given so far are in the run's journal (``RunState.interruptions``)."""
    requested_by: str | None = None
    """Who asked for the run (``RunStarted.requested_by``: the gateway's authenticated
    client, or the person its OAuth token stands for), when its surface knew."""


@dataclass(frozen=True, slots=True)
class ChangedRuns:
    """A page of ``changed_runs``: runs written since a time, and every call each of them
    waits on now; pass ``next_cursor`` back for the next page (``None``: last)."""

    runs: tuple[RunSummary, ...]
    pending: tuple[PendingApproval, ...]
    """The ``pending`` rows of these runs (of no other), in ``runs`` order."""
    next_cursor: str | None
