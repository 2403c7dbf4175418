"""Which appends a live lease lets through: a person's decisions.

A worker holds a run's lease while it advances the run, so that no other process
advances it too. A decision (an approval, an output review, a resolution of a
call in doubt) does not advance the run: it is accepted whenever its call is
pending, also while a worker holds the lease, and stays a compare-and-append on
the run's seq. The worker's next checkpoint then finds it and folds it in
before its own events (``tether.run._durable``), and the run applies it when it
next needs it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..journal import Event
from ..run._durable import DECISION_EVENTS

__all__ = ["passes_lease"]


def passes_lease(events: Sequence[Event], owner: str | None) -> bool:
    """Whether an append of ``events`` by ``owner`` (``None``: no lease) may pass another
    process's live lease: decisions only, by a writer that holds no lease."""
    return owner is None and bool(events) and all(isinstance(e, DECISION_EVENTS) for e in events)
