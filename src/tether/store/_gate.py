"""The fold before every append: no row is written that the run's fold refuses.

A store appends events only if the run's fold accepts them: the events already
stored are folded, the new ones are applied, and an event the fold refuses
raises its ``StateError``, so nothing is written. The same view gives the
projection before and after the append.

A store keeps the views of the runs it wrote or read last (``FoldGate``), so the
run loop's next append folds only its own events: it is admitted against the
held view before its transaction, and the transaction (or PostgreSQL's one
statement) writes only if the stored run is still the one that view folds, at
the same seq, creation time and head; otherwise the stored run is folded again
inside the transaction and decides.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..journal import Event, RunView
from ._projection import Changes, changes, project

__all__ = ["FoldGate", "Held", "admit", "fold"]

_Key = tuple[datetime, int]
"""Which version of a run a view folds: its creation time (a run deleted and created again
under the same id is another run) and its seq."""


@dataclass(frozen=True, slots=True)
class Held:
    """A view of a run this store wrote or read, now the caller's: the run's creation time,
    its seq and the MAC at its head then (``None`` unsigned), and its view at that seq."""

    created_at: datetime
    seq: int
    head: str | None
    view: RunView


class FoldGate:
    """Views of recently written runs, so an append folds only its own events."""

    def __init__(self, size: int = 128) -> None:
        self._size = size
        self._lock = threading.Lock()  # a SQLite store appends in a thread, loads in another
        self._views: OrderedDict[str, tuple[_Key, str | None, RunView | Sequence[Event]]] = (
            OrderedDict()
        )

    def remember(
        self,
        run_id: str,
        created_at: datetime,
        seq: int,
        events: Sequence[Event],
        head: str | None = None,
    ) -> None:
        """Keep the events a load read (folded only if this store appends to the run)."""
        with self._lock:
            entry = self._views.get(run_id)
            if entry is not None and entry[0] == (created_at, seq):
                return  # already held, perhaps folded
        self._keep(run_id, (created_at, seq), head, events)

    def view_of(
        self, run_id: str, created_at: datetime, seq: int, head: str | None
    ) -> RunView | None:
        """A copy of the view of the run at ``seq`` (with ``head``) that this store folded
        (its append left it), for a load of that very version to hand out instead of
        folding the events again; ``None`` if the store holds no such view. The held view
        stays for the next append (copied under the lock: an append takes a view before it
        changes it)."""
        with self._lock:
            entry = self._views.get(run_id)
            if entry is None or entry[0] != (created_at, seq) or entry[1] != head:
                return None
            held = entry[2]
            return held.copy() if isinstance(held, RunView) else None

    def take_at(self, run_id: str, seq: int) -> Held | None:
        """What this store holds of the run at ``seq`` (the caller's now; whether the run
        is still that one, created then, at that seq and head, is the caller's to check
        in its transaction), or ``None``."""
        with self._lock:
            entry = self._views.pop(run_id, None)
        if entry is None or entry[0][1] != seq:
            return None
        (created_at, _), head, held = entry
        view = held if isinstance(held, RunView) else fold(held)
        return Held(created_at, seq, head, view)

    def keep(
        self, run_id: str, created_at: datetime, seq: int, view: RunView, head: str | None
    ) -> None:
        """Keep ``view``, the run at ``seq`` (with ``head``) after a committed append."""
        self._keep(run_id, (created_at, seq), head, view)

    def _keep(
        self, run_id: str, key: _Key, head: str | None, value: RunView | Sequence[Event]
    ) -> None:
        with self._lock:
            self._views.pop(run_id, None)
            self._views[run_id] = (key, head, value)
            while len(self._views) > self._size:
                self._views.popitem(last=False)


def admit(view: RunView, events: Sequence[Event]) -> Changes:
    """Apply ``events`` to ``view``, the run as stored; the projection changes. Raises the
    fold's ``StateError`` for an event it refuses (``view`` is then not to be kept)."""
    before = project(view)
    for event in events:
        view.apply(event)
    return changes(before, project(view))


def fold(events: Sequence[Event]) -> RunView:
    """The view of stored ``events``."""
    view = RunView()
    for event in events:
        view.apply(event)
    return view
