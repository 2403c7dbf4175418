"""Wake-ups: a store tells whoever waits on it that a run may go on, so a worker need
not poll to find out.

An append made by nobody who runs the run (no lease ``owner``: a person's decision,
a retry, an expiry, a run started through the API) is a *change*. Each subscriber of
``store.changes()`` is woken by one:

- in the same process, through the store's ``Notifier`` once the append committed;
- across processes on SQLite, through a side file next to the database
  (``<database>-wake``) whose time the appender sets after its commit; a subscriber
  looks at that file's time (one ``stat``, no query) every ``FILE_WATCH_INTERVAL``;
- across processes on PostgreSQL, through ``NOTIFY`` in the appending transaction
  (delivered on commit only) and a ``LISTEN`` connection per subscriber.

A wake-up is a hint, never the truth: a lost one (a process that died between its
commit and the side file, a listening connection that broke) costs only the wait
until the subscriber's own timeout, after which it reads the store as it always did.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol, runtime_checkable

__all__ = [
    "FILE_WATCH_INTERVAL",
    "Changes",
    "Notifier",
    "Notifying",
    "touch",
    "watch_file",
]

_log = logging.getLogger("tether.store")

FILE_WATCH_INTERVAL = 0.05
"""Seconds between two looks at a SQLite store's side file."""


class Changes:
    """One subscriber's wake-ups: ``wait`` returns ``True`` as soon as a change came
    since the last ``wait`` returned (at once if one is already there), ``False`` after
    ``within`` seconds without one."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def notify(self) -> None:
        """Wake the subscriber (from any thread)."""
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            self._loop.call_soon_threadsafe(self._event.set)

    async def wait(self, within: float) -> bool:
        """Wait for a change, for at most ``within`` seconds; whether one came."""
        # Not ``asyncio.wait_for``: on Python 3.11 a cancellation that meets a change the
        # wait has taken in returns the change and is lost (a stopped worker went on).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._event.wait()
        woken = self._event.is_set()
        self._event.clear()
        return woken


@runtime_checkable
class Notifying(Protocol):
    """A store that wakes its subscribers when a run may go on (see the module)."""

    def changes(self) -> AbstractAsyncContextManager[Changes]:
        """Subscribe for as long as the context lasts: ``async with store.changes() as c:
        ... await c.wait(within=seconds)``. It is listening once entered: a change committed
        after that wakes it."""
        ...


class Notifier:
    """The subscribers of one store in this process."""

    def __init__(self) -> None:
        self._subscribers: set[Changes] = set()

    def notify(self) -> None:
        """Wake every subscriber."""
        for changes in tuple(self._subscribers):
            changes.notify()

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[Changes]:
        """A new subscriber, for the context's length."""
        changes = Changes()
        self._subscribers.add(changes)
        try:
            yield changes
        finally:
            self._subscribers.discard(changes)


def touch(path: str) -> None:
    """Say to the other processes that the store at ``path`` changed: set the side
    file's time (best effort: a wake-up lost is a wait until the timeout)."""
    now = time.time_ns()
    try:
        with open(path, "a"):
            pass
        os.utime(path, ns=(now, now))
    except OSError as exc:
        _log.debug("could not touch %s: %s", path, exc)


def _stamp(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


@contextlib.asynccontextmanager
async def watch_file(
    path: str, changes: Changes, interval: float = FILE_WATCH_INTERVAL
) -> AsyncIterator[None]:
    """Wake ``changes`` whenever the side file's time moves, for the context's length."""
    seen = _stamp(path)

    async def look() -> None:
        nonlocal seen
        while True:
            await asyncio.sleep(interval)
            stamp = _stamp(path)
            if stamp != seen:
                seen = stamp
                changes.notify()

    task = asyncio.create_task(look())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
