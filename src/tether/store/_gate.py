"""The fold in the store's transaction: every append passes it before a row is written.

A store appends events only if the run's fold accepts them: the events already
stored are folded (or taken from a view this store folded before, at the same
seq of the same run), the new ones are applied, and an event the fold refuses
raises its ``StateError`` inside the transaction, so nothing is written. The
same view gives the projection before and after the append.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime

from ..journal import Event, RunView
from ._projection import Changes, changes, project

__all__ = ["FoldGate", "admit", "fold"]

_Key = tuple[datetime, int]
"""Which version of a run a view folds: its creation time (a run deleted and created again
under the same id is another run) and its seq."""


class FoldGate:
    """Views of recently written runs, so an append folds only its own events."""

    def __init__(self, size: int = 128) -> None:
        self._size = size
        self._lock = threading.Lock()  # a SQLite store appends in a thread, loads in another
        self._views: OrderedDict[str, tuple[_Key, RunView | Sequence[Event]]] = OrderedDict()

    def remember(
        self, run_id: str, created_at: datetime, seq: int, events: Sequence[Event]
    ) -> None:
        """Keep the events a load read (folded only if this store appends to the run)."""
        with self._lock:
            entry = self._views.get(run_id)
            if entry is not None and entry[0] == (created_at, seq):
                return  # already held, perhaps folded
        self._keep(run_id, (created_at, seq), events)

    def view_of(self, run_id: str, created_at: datetime, seq: int) -> RunView | None:
        """A copy of the view of the run at ``seq`` that this store folded (its append left
        it), for a load of that very version to hand out instead of folding the events
        again; ``None`` if the store holds no such view. The held view stays for the next
        append (copied under the lock: an append takes a view before it changes it)."""
        with self._lock:
            entry = self._views.get(run_id)
            if entry is None or entry[0] != (created_at, seq):
                return None
            held = entry[1]
            return held.copy() if isinstance(held, RunView) else None

    def take(self, run_id: str, created_at: datetime, seq: int) -> RunView | None:
        """The view of the run at ``seq`` this store holds (it is the caller's now), or
        ``None``: then fold the stored events (``fold``) in the append's transaction."""
        with self._lock:
            entry = self._views.pop(run_id, None)
        if entry is None or entry[0] != (created_at, seq):
            return None
        held = entry[1]
        return held if isinstance(held, RunView) else fold(held)

    def keep(self, run_id: str, created_at: datetime, seq: int, view: RunView) -> None:
        """Keep ``view``, the run at ``seq`` after a committed append."""
        self._keep(run_id, (created_at, seq), view)

    def _keep(self, run_id: str, key: _Key, value: RunView | Sequence[Event]) -> None:
        with self._lock:
            self._views.pop(run_id, None)
            self._views[run_id] = (key, value)
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
