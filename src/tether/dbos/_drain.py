"""A worker's stop: the stretches in progress end, the rest is handed back, then DBOS stops.

A worker asked to stop (SIGTERM, SIGINT, ``DBOSApp.shutdown``) first stops claiming
runs (``_wake``), then:

1. lets each stretch that is advancing a run go on to its next stop (the run pauses for
   a person, completes, or is in doubt), for up to the app's ``shutdown_grace`` seconds,
   or until ``hurry`` (a second signal); no new stretch begins meanwhile;
2. cancels the tether workflows still in this process (those waiting for a person, or
   for a slot, or a stretch past its grace) and waits for them to unwind, while the run
   store and DBOS are still open: nothing of theirs touches a closed store. They are
   recovered, where they stopped, by the next worker with the same executor id;
3. then (``DBOSApp.shutdown``) DBOS stops and the store closes.

DBOS logs a warning for each workflow task it sees cancelled; these cancellations are
the stop's own, so they are left out of its log (``_PlannedCancels``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

__all__ = ["Drain"]

_log = logging.getLogger("tether.dbos")

UNWIND_WAIT = 10.0
"""Seconds the stop waits for cancelled workflows to unwind (a tool running in a thread
cannot be interrupted; its workflow is recovered all the same)."""


class Drain:
    """This worker's stretches in progress and workflows, and how it stops them."""

    def __init__(self) -> None:
        self.stopping = False
        self._advancing = 0
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._hurry = asyncio.Event()
        self._tasks: set[asyncio.Task[object]] = set()

    @contextlib.contextmanager
    def workflow(self) -> Iterator[None]:
        """Around a tether workflow's body: the stop cancels it if it is still here."""
        task = asyncio.current_task()
        if task is None:  # pragma: no cover  (a workflow always runs in a task)
            yield
            return
        self._tasks.add(task)
        try:
            yield
        finally:
            self._tasks.discard(task)

    @contextlib.asynccontextmanager
    async def stretch(self) -> AsyncIterator[None]:
        """Around a stretch that advances a run. Once the worker is stopping, none begins:
        it waits to be cancelled, and the next worker advances the run."""
        if self.stopping:
            await asyncio.Event().wait()
        self._advancing += 1
        self._quiet.clear()
        try:
            yield
        finally:
            self._advancing -= 1
            if not self._advancing:
                self._quiet.set()

    def hurry(self) -> None:
        """Stop waiting for the stretches in progress (a second signal)."""
        self._hurry.set()

    async def stop(self, grace: float) -> None:
        """Wait up to ``grace`` seconds for the stretches in progress (or until ``hurry``),
        then cancel this worker's workflows and wait for them to unwind."""
        self.stopping = True
        if self._advancing:
            _log.info("stopping: %d stretches in progress may end first", self._advancing)
            quiet = asyncio.ensure_future(self._quiet.wait())
            hurry = asyncio.ensure_future(self._hurry.wait())
            try:
                await asyncio.wait((quiet, hurry), timeout=grace, return_when="FIRST_COMPLETED")
            finally:
                quiet.cancel()
                hurry.cancel()
        tasks = [task for task in self._tasks if not task.done()]
        if not tasks:
            return
        _log.info(
            "stopping: %d runs (%d advancing) are left to the next worker with this executor id",
            len(tasks),
            self._advancing,
        )
        with _PlannedCancels.installed():
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=UNWIND_WAIT)


class _PlannedCancels(logging.Filter):
    """Drops DBOS's warning for a workflow task cancelled: the stop cancels them itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Asyncio task cancelled for workflow")

    @classmethod
    @contextlib.contextmanager
    def installed(cls) -> Iterator[None]:
        dbos_log = logging.getLogger("dbos")
        planned = cls()
        dbos_log.addFilter(planned)
        try:
            yield
        finally:
            dbos_log.removeFilter(planned)
