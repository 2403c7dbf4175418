"""A run queued by ``DBOSApp.start`` is taken by a worker at once, not at the run queue's
next poll.

On PostgreSQL, ``start`` queues the run and sends a notification on the app's channel
(``channel``) in one transaction: no notification without the queued run, and the run
is there for whoever is notified. Every worker LISTENs on that channel; a notification
makes it claim what the run queue holds now (``claim_queued``), as one poll of DBOS's
queue thread would, with DBOS's own claim: only queued rows, each row locked and flipped
to PENDING by one worker, so one worker owns each run. Notifications arriving while a
claim is under way make one more claim, not one each. A worker with no free slot pauses
a little before it claims (``Waker``'s ``pause``), so a less busy one takes the run.

The queue's poll stays, every ``polling_interval``: it takes whatever a lost
notification left (no worker listening at that moment, a dropped connection). A worker
that (re)connects its LISTEN claims once, for runs queued while it was not listening.
SQLite has no NOTIFY: a client in the worker's own process wakes it directly
(``Waker.poke``); any other waits for the poll.

DBOS 3.4 has no public call that wakes its queue thread or starts a queued workflow
(``DBOS.start_workflow`` with the run's id finds the queued row and leaves it queued),
so ``claim_queued`` calls DBOS's internal claim and dispatch, the very functions its queue
thread calls. ``supported`` says whether the installed DBOS still has them as used here;
without them a worker logs a warning and its runs wait for the poll, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import logging
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

__all__ = ["Waker", "channel", "claim_queued", "listen_dsn", "supported"]

_log = logging.getLogger("tether.dbos")


def channel(system_schema: str) -> str:
    """The notification channel of the apps whose DBOS tables are in ``system_schema``
    (a short identifier whatever the schema's name: PostgreSQL cuts names at 63 bytes)."""
    return "tether_runs_" + hashlib.sha256(system_schema.encode()).hexdigest()[:16]


def listen_dsn(system_database_url: str) -> str:
    """The system database's URL as psycopg takes it (without SQLAlchemy's driver name)."""
    import sqlalchemy as sa

    url = sa.make_url(system_database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def supported() -> bool:
    """Whether the installed DBOS has the internals ``claim_queued`` calls, as it calls them."""
    try:
        from dbos._core import execute_dequeued_workflow
        from dbos._dbos import _get_dbos_instance  # noqa: F401
        from dbos._sys_db import SystemDatabase
        from dbos._utils import GlobalParams
    except ImportError:
        return False
    wanted: dict[Callable[..., Any], tuple[str, ...]] = {
        SystemDatabase.start_queued_workflows: (
            "queue",
            "executor_id",
            "app_version",
            "queue_partition_key",
            "local_running_count",
            "owner_xid",
        ),
        SystemDatabase.get_workflow_statuses: ("workflow_ids",),
        execute_dequeued_workflow: ("dbos", "status", "owner_xid"),
    }
    for function, names in wanted.items():
        if not set(names) <= set(inspect.signature(function).parameters):
            return False
    return all(hasattr(GlobalParams, name) for name in ("executor_id", "app_version"))


def claim_queued(queue: Any) -> int:
    """Claim this worker's share of ``queue``'s waiting workflows now and start them:
    one poll of DBOS's queue thread, by DBOS's own functions (internal in DBOS 3.4; see
    ``supported``). Call it from a thread, not the workers' event loop (a workflow is
    handed to that loop, which waits for it). Returns how many it started."""
    from dbos._core import execute_dequeued_workflow
    from dbos._dbos import _get_dbos_instance
    from dbos._utils import GlobalParams

    dbos = _get_dbos_instance()
    owner = str(uuid.uuid4())  # the claim's token: this execution owns the rows it flips
    ids, _ = dbos._sys_db.start_queued_workflows(
        queue,
        GlobalParams.executor_id,
        GlobalParams.app_version,
        None,  # no partition
        0,  # the run queue has no per-worker limit
        owner_xid=owner,
    )
    if not ids:
        return 0
    statuses = {s["workflow_uuid"]: s for s in dbos._sys_db.get_workflow_statuses(ids)}
    for workflow_id in ids:
        # As DBOS's queue thread: a row it could not start stays PENDING on this worker,
        # for DBOS's recovery when a worker with this executor id starts.
        try:
            execute_dequeued_workflow(dbos, statuses[workflow_id], owner)
        except Exception as exc:
            _log.error("Could not start run %s: %s", workflow_id, exc)
    return len(ids)


class Waker:
    """A worker's wake-ups: a notification on ``channel`` (PostgreSQL) or a ``poke`` from
    this process makes it ``claim`` now; claims run one at a time, in a thread."""

    def __init__(self, claim: Callable[[], int], pause: Callable[[], float] = float) -> None:
        self._claim = claim
        self._pause = pause
        """Seconds to wait before a claim (read at each wake-up): a busy worker lets the
        others claim first."""
        self._loop = asyncio.get_running_loop()
        self._wanted = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._claiming: asyncio.Future[int] | None = None

    def start(self, dsn: str | None, channel: str, *, retry: float = 1.0) -> None:
        """Start claiming on wake-ups; with ``dsn``, listen on ``channel`` there too
        (reconnecting ``retry`` seconds after a lost connection)."""
        self._tasks.append(asyncio.create_task(self._claimer(), name="tether-claimer"))
        if dsn is not None:
            listener = self._listen(dsn, channel, retry)
            self._tasks.append(asyncio.create_task(listener, name="tether-listener"))

    def poke(self) -> None:
        """Claim now (from any thread or event loop of this process)."""
        with contextlib.suppress(RuntimeError):  # the worker's loop is closed: nothing to wake
            self._loop.call_soon_threadsafe(self._wanted.set)

    async def stop(self) -> None:
        """Stop listening and claiming; a claim under way is finished first."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._claiming is not None:
            with contextlib.suppress(Exception):
                await self._claiming

    async def _claimer(self) -> None:
        while True:
            await self._wanted.wait()
            pause = self._pause()
            if pause > 0:
                await asyncio.sleep(pause)  # wake-ups meanwhile make this same claim
            self._wanted.clear()
            self._claiming = asyncio.ensure_future(asyncio.to_thread(self._claim))
            try:
                await asyncio.shield(self._claiming)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.warning("A queued run was not taken at once (%s); the queue's poll will.", exc)
            self._claiming = None

    async def _listen(self, dsn: str, channel: str, retry: float) -> None:
        listen = sql.SQL("LISTEN {}").format(sql.Identifier(channel))
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    dsn, autocommit=True, application_name="tether_wake"
                ) as conn:
                    await conn.execute(listen)
                    self._wanted.set()  # runs queued while this worker was not listening
                    async for _ in conn.notifies():
                        self._wanted.set()
            except Exception as exc:  # a lost connection, a database restarting
                _log.warning(
                    "Listening for queued runs failed (%s); the queue's poll takes them "
                    "until it listens again.",
                    exc,
                )
            await asyncio.sleep(retry)
