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

It keeps the runs' events too, up to a budget (``max_events``): a signed store's
load whose rows verify, up to the very head the gate holds, hands out those
events instead of decoding the rows again (the MAC chain says the rows are the
ones these events were written as). A load of a run the store holds no view of
(another process wrote it) folds the events once, for the state it makes and for
the store's next append to the run alike (``view_of``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..journal import Event, RunView
from ._projection import Changes, changes, project
from ._seal import Digest

__all__ = ["FoldGate", "Held", "admit", "fold"]

_Key = tuple[datetime, int]
"""Which version of a run a view folds: its creation time (a run deleted and created again
under the same id is another run) and its seq."""


@dataclass(frozen=True, slots=True)
class Held:
    """A view of a run this store wrote or read, now the caller's: the run's creation time,
    its seq and the MAC at its head then (``None`` unsigned), its view at that seq and, if
    the gate still held them, its events (the caller's to extend) and the digest of its
    rows' texts (``_seal``; not to be changed: extended, it is copied)."""

    created_at: datetime
    seq: int
    head: str | None
    view: RunView
    events: list[Event] | None = None
    digest: Digest | None = None


@dataclass(slots=True)
class _Entry:
    key: _Key
    head: str | None
    view: RunView | None  # folded only once the store appends to the run
    events: list[Event] | None  # dropped first when the gate holds too many
    digest: Digest | None = None  # of the rows' texts, for the seal of a later append


class FoldGate:
    """Views (and events) of recently written or read runs, so an append folds only its
    own events and a load of a run as this store left it decodes nothing."""

    def __init__(self, size: int = 128, max_events: int = 50_000) -> None:
        self._size = size
        self._max_events = max_events
        self._events = 0  # events held, over all entries
        self._lock = threading.Lock()  # a SQLite store appends in a thread, loads in another
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def remember(
        self,
        run_id: str,
        created_at: datetime,
        seq: int,
        events: Sequence[Event],
        head: str | None = None,
        digest: Digest | None = None,
    ) -> None:
        """Keep the events a load read (folded only if this store appends to the run) and
        the digest of its rows, unless the store holds that run at a later seq already (an
        append that committed while the load read)."""
        with self._lock:
            entry = self._entries.get(run_id)
            if entry is not None and entry.key == (created_at, seq) and entry.head == head:
                if entry.digest is None:
                    entry.digest = digest
                if entry.events is None:
                    entry.events = list(events)
                    self._events += len(events)
                    self._trim()
                return  # already held, perhaps folded
            if entry is not None and entry.key[0] == created_at and entry.key[1] > seq:
                return
            self._put_locked(run_id, _Entry((created_at, seq), head, None, list(events), digest))

    def view_of(
        self,
        run_id: str,
        created_at: datetime,
        seq: int,
        head: str | None,
        events: Sequence[Event] | None = None,
    ) -> RunView | None:
        """A copy of the view of the run at ``seq`` (with ``head``) that this store holds (its
        append, or an earlier load's fold, left it), for a load of that very version to hand
        out instead of folding the events again. If it holds that version's events only
        (this store decoded them; another process wrote the run): the fold of ``events``,
        the load's of that version, which the store holds from now on, so that its next
        append to the run folds only its own events. ``None`` if it holds neither.

        The held view stays for the next append (copied under the lock: an append takes a
        view before it changes it); the fold is made outside the lock."""
        with self._lock:
            entry = self._at(run_id, created_at, seq, head)
            if entry is None:
                return None
            if entry.view is not None:
                return entry.view.copy()
        if events is None:
            return None
        view = fold(events)
        with self._lock:
            if self._at(run_id, created_at, seq, head) is not entry or entry.view is not None:
                return view  # the store moved on meanwhile, or folded it too: the caller's
            entry.view = view
            return view.copy()

    def events_of(
        self, run_id: str, created_at: datetime, seq: int, head: str
    ) -> tuple[Event, ...] | None:
        """The events of the run at ``seq`` with the signed ``head`` that this store wrote
        or decoded, for a load whose rows verified up to that head (they are the rows
        these events were written as); ``None`` if it holds no such events."""
        with self._lock:
            entry = self._at(run_id, created_at, seq, head)
            return None if entry is None or entry.events is None else tuple(entry.events)

    def take_at(self, run_id: str, seq: int) -> Held | None:
        """What this store holds of the run at ``seq`` (the caller's now; whether the run
        is still that one, created then, at that seq and head, is the caller's to check
        in its transaction), or ``None``."""
        with self._lock:
            entry = self._entries.pop(run_id, None)
            if entry is not None and entry.events is not None:
                self._events -= len(entry.events)
        if entry is None or entry.key[1] != seq:
            return None
        if entry.view is not None:
            view = entry.view
        elif entry.events is not None:
            view = fold(entry.events)
        else:
            return None
        return Held(entry.key[0], seq, entry.head, view, entry.events, entry.digest)

    def keep(
        self,
        run_id: str,
        created_at: datetime,
        seq: int,
        view: RunView,
        head: str | None,
        events: list[Event] | None = None,
        digest: Digest | None = None,
    ) -> None:
        """Keep ``view``, the run at ``seq`` (with ``head``) after a committed append, and
        its ``events`` and rows' ``digest`` if known."""
        self._put(run_id, _Entry((created_at, seq), head, view, events, digest))

    def _at(self, run_id: str, created_at: datetime, seq: int, head: str | None) -> _Entry | None:
        entry = self._entries.get(run_id)
        if entry is None or entry.key != (created_at, seq) or entry.head != head:
            return None
        return entry

    def _put(self, run_id: str, entry: _Entry) -> None:
        with self._lock:
            self._put_locked(run_id, entry)

    def _put_locked(self, run_id: str, entry: _Entry) -> None:
        old = self._entries.pop(run_id, None)
        if old is not None and old.events is not None:
            self._events -= len(old.events)
        self._entries[run_id] = entry
        if entry.events is not None:
            self._events += len(entry.events)
        while len(self._entries) > self._size:
            _, gone = self._entries.popitem(last=False)
            if gone.events is not None:
                self._events -= len(gone.events)
        self._trim()

    def _trim(self) -> None:
        # Past the budget, the oldest entries' events go first (their views stay).
        for entry in self._entries.values():
            if self._events <= self._max_events:
                return
            if entry.events is not None:
                self._events -= len(entry.events)
                entry.events = None


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
