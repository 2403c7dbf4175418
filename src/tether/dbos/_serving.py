"""What the workflows and ``DBOSApp`` share: the names of the workflows, queues,
wake-up topic and result event, and the app this process serves.

DBOS calls a workflow by its name, in whatever worker picked it up; the workflow
then finds the app it belongs to here (``serving()``), put here by
``DBOSApp.launch`` and taken away by ``DBOSApp.shutdown``. Neither side imports the
other's module for it.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from .._governance import SYSTEM_APPROVER
from ..errors import EngineError
from ._drain import Drain
from ._stretch import Engine

__all__ = [
    "ADVANCE_WORKFLOW",
    "DECISION_TOPIC",
    "EXPIRED_BY",
    "RESULT_EVENT",
    "RUNS_QUEUE",
    "RUN_WORKFLOW",
    "WORK_QUEUE",
    "Served",
    "launched",
    "serving",
    "start_serving",
    "stop_serving",
]

RUN_WORKFLOW = "tether.run"
ADVANCE_WORKFLOW = "tether.advance"
RUNS_QUEUE = "tether_runs"
WORK_QUEUE = "tether_work"
DECISION_TOPIC = "tether.decision"
RESULT_EVENT = "tether.result"
"""The event a run's workflow sets to ``{"output": final output}`` as it completes."""
EXPIRED_BY = SYSTEM_APPROVER
"""The ``by`` of a rejection the system made because an approval's time ran out: the
system's own id (``tether.SYSTEM_APPROVER``), as for every expiry."""


class Served(Engine, Protocol):
    """What the workflows need of the app they serve: ``Engine`` for the steps, how
    often the coordinating workflow looks again, this worker's stretch slots
    (``None``: no per-worker limit), and how busy they are (``stretches``; ``starting``,
    the runs its claims started that have not begun their stretch; and
    ``stretch_ended`` as one ends: the worker may then take a queued run); and its
    ``drain``, the stretches advancing now and the workflows its stop cancels."""

    polling_interval: float
    doubt_poll: float
    wake_timeout: float
    concurrency: int | None
    stretch_slots: asyncio.Semaphore | None
    stretches: int
    starting: set[str]
    drain: Drain

    def stretch_ended(self) -> None: ...


_serving: list[Served] = []


def serving() -> Served:
    """The app this process's workflows belong to (set by ``DBOSApp.launch``)."""
    if not _serving:
        raise EngineError(
            "A tether workflow ran in a process whose DBOSApp was not launched. "
            "Call app.launch() (or run `python -m tether.dbos worker module:app`) first."
        )
    return _serving[-1]


def launched() -> bool:
    """Whether an app is served in this process."""
    return bool(_serving)


def start_serving(app: Served) -> None:
    """Serve ``app`` in this process (one app only: ``EngineError`` for a second)."""
    if _serving:
        raise EngineError("A DBOSApp is already launched in this process; launch one only.")
    _serving.append(app)


def stop_serving() -> None:
    """Serve no app any more in this process."""
    _serving.clear()
