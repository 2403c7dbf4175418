"""``Journal``: one run's events and their fold, behind the only ``append``.

Every change to a run, whether the loop takes a step or a person decides on
a paused state, is one ``append``: the fold checks and applies the event
first, so an event that does not fit is refused and nothing is recorded.
Readers get the events as a read-only sequence of frozen events holding
frozen items, so nothing handed out can change what was recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import overload

from ._events import ApprovalRequested, Event
from ._fold import RunView

__all__ = ["Journal"]


class Journal(Sequence[Event]):
    """The events of one run, in order, and the ``RunView`` folded from them."""

    __slots__ = ("_events", "_view", "stored_tip")

    def __init__(self, events: Iterable[Event] = (), *, verified: bool = False) -> None:
        """The journal of ``events``, folded (the fold refuses one that does not fit).

        ``verified``: the events are ones a journal held before, vouched for by a MAC under
        the run's signing key (a signed state's text): the fold takes the fingerprint each
        approval request names for its call instead of hashing the call's arguments again.
        It checked them when they were first appended, and a MAC that matches says they
        are unchanged since. Everything else is checked as always."""
        self._events: list[Event] = []
        self._view = RunView()
        self.stored_tip: object = None
        """Set by a run store's ``load_state``: which store's run these events began as, at
        which seq and head (a ``tether.run._durable.StoredTip``); ``None`` otherwise."""
        # The fold refuses an event that does not fit, and then there is no journal at all:
        # fold them all, then keep them, without a call to ``append`` each.
        events = list(events)
        view = self._view
        apply = view.apply
        if verified:
            for event in events:
                if type(event) is ApprovalRequested:
                    _take_fingerprint(view, event)
                apply(event)
        else:
            for event in events:
                apply(event)
        self._events = events

    @classmethod
    def folded(cls, events: Iterable[Event], view: RunView) -> Journal:
        """A journal of ``events`` with ``view``, their fold made before (a run store's copy
        of the view it holds of that run), without folding them again."""
        journal = cls.__new__(cls)
        journal._events = list(events)
        journal._view = view
        journal.stored_tip = None
        return journal

    @property
    def view(self) -> RunView:
        """The run as the events so far say it is (read it; change it only by ``append``)."""
        return self._view

    def append(self, event: Event) -> None:
        """Record one more event. The fold refuses an event that does not fit (a
        ``StateError``), and then nothing is recorded."""
        self._view.apply(event)
        self._events.append(event)

    def take(self, other: Journal) -> None:
        """Become ``other``: its events and their fold, in this journal's view object, which
        a run, its contexts and its loop hold and read as it changes (it is never replaced).
        A stored run takes the decisions another process committed meanwhile so."""
        self._events = other._events
        view, folded = self._view, other._view
        for name in RunView.__slots__:
            setattr(view, name, getattr(folded, name))

    def events_since(self, start: int) -> list[Event]:
        """The events from index ``start`` on: what a store that holds ``start`` events lacks."""
        return self._events[start:]

    def copy(self) -> Journal:
        """An independent journal with the same events, without folding them again."""
        other = Journal.__new__(Journal)
        other._events = list(self._events)
        other._view = self._view.copy()
        other.stored_tip = self.stored_tip
        return other

    def __len__(self) -> int:
        return len(self._events)

    @overload
    def __getitem__(self, index: int) -> Event: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Event]: ...

    def __getitem__(self, index: int | slice) -> Event | Sequence[Event]:
        if isinstance(index, slice):
            return tuple(self._events[index])
        return self._events[index]

    def __iter__(self) -> Iterator[Event]:
        return iter(self._events)

    def __repr__(self) -> str:
        return f"<Journal of {len(self._events)} events>"


def _take_fingerprint(view: RunView, event: ApprovalRequested) -> None:
    # A verified request's fingerprint, taken for its call's (computing it is a canonical
    # JSON encoding and a SHA-256: a tenth of a cold load of a paused run). The fold's own
    # check then compares it with itself; the tool's name is still compared.
    call = view.calls.get(event.call_id)
    if call is not None and call._fingerprint is None and call.name == event.tool:
        call._fingerprint = event.fingerprint
