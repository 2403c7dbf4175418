"""A run queued by ``DBOSApp.start`` is taken by a worker at once, not at the run queue's
next poll, and by a worker with a free slot.

On PostgreSQL, ``start`` queues the run and sends a notification on the app's channel
(``channel``) in one transaction: no notification without the queued run, and the run
is there for whoever is notified. Every worker LISTENs on that channel; a notification
makes it claim from the run queue (``claim_queued``) with DBOS's own claim: only queued
rows, each row locked and flipped to PENDING by one worker, so one worker owns each run.
Notifications arriving while a claim is under way make one more claim, not one each.

A worker claims only as many runs as it has free slots (``Waker``'s ``room``): a run it
takes waits for nobody else's slot, and a burst of runs is spread over the workers as
their slots free up, not by which worker's claim came first. What it leaves queued, it
claims when one of its stretches ends (``Waker.freed``), as does any other worker with
room. DBOS's own poll of the run queue took every queued run at once, so the worker
does that poll itself (``Waker``'s ``period``, the app's ``polling_interval``), with the
same limit: it takes whatever a lost notification left (no worker listening at that
moment, a dropped connection). A worker that (re)connects its LISTEN claims once, for
runs queued while it was not listening. SQLite has no NOTIFY: a client in the worker's
own process wakes it directly (``Waker.poke``); any other waits for the poll.

DBOS 3.4 has no public call that wakes its queue thread or starts a queued workflow
(``DBOS.start_workflow`` with the run's id finds the queued row and leaves it queued),
so ``claim_queued`` calls DBOS's internal claim and dispatch, the very functions its queue
thread calls. ``supported`` says whether the installed DBOS still has them as used here;
without them a worker logs a warning and DBOS's queue thread polls the run queue, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import inspect
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

__all__ = [
    "LISTENING_POLL",
    "LatestVersion",
    "Waker",
    "channel",
    "claim_queued",
    "listen_dsn",
    "room",
    "supported",
]

LISTENING_POLL = 1.0
"""The longest a worker waits between looks at the run queue while it listens (seconds):
``polling_interval`` when that is longer."""

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
            "is_latest_version",
        ),
        SystemDatabase.get_workflow_statuses: ("workflow_ids",),
        execute_dequeued_workflow: ("dbos", "status", "owner_xid"),
    }
    for function, names in wanted.items():
        if not set(names) <= set(inspect.signature(function).parameters):
            return False
    try:  # the claim's limit is read from it (claim_queued's room)
        source = inspect.getsource(SystemDatabase.start_queued_workflows)
    except (OSError, TypeError):  # installed without its source: not known to hold
        return False
    if "queue._worker_concurrency" not in source:
        return False
    if not hasattr(SystemDatabase, "_is_latest_version"):
        return False
    return all(hasattr(GlobalParams, name) for name in ("executor_id", "app_version"))


VERSION_CHECK_AGE = 1.0
"""Seconds a worker's claims reuse its look at whether its application version is the
newest registered (``LatestVersion``)."""


class LatestVersion:
    """Whether this worker's application version is the newest registered, looked up at
    most once every ``max_age`` seconds (in a claim's thread).

    DBOS's claim looks it up in each claim, a query of its own (a fifth of a claim's CPU),
    to decide whether the claim also takes queued rows without a version. tether's runs
    are queued with one (``DBOSApp.start``); the answer changes only when a newer version
    is deployed, which then takes effect within ``max_age`` seconds, as DBOS's own queue
    poll would see it at its next poll."""

    def __init__(self, max_age: float = VERSION_CHECK_AGE) -> None:
        self.max_age = max_age
        self._known: tuple[float, bool] | None = None
        self._lock = threading.Lock()

    def __call__(self, sys_db: Any, app_version: str) -> bool:
        with self._lock:
            now = time.monotonic()
            if self._known is None or now - self._known[0] >= self.max_age:
                self._known = (now, bool(sys_db._is_latest_version(app_version)))
            return self._known[1]


def room(worker_concurrency: int | None, concurrency: int | None, stretches: int) -> int | None:
    """How many queued runs a worker with ``stretches`` advancing or waiting for a slot
    (or about to: runs it started whose stretch has not begun) takes now: none until a
    claim would take as many runs as it has slots, then enough to fill its slots and as
    many again in reserve (``None``, all, without a ``worker_concurrency`` or with a
    ``concurrency``, whose work queue spreads the stretches).

    A worker advances every stretch of the runs it takes (no work queue without
    ``concurrency``): a run it took beyond that would wait for one of its slots while
    another worker's slot was free. So the rest stay queued, for whichever worker's slot
    frees first (``Waker.freed``). The reserve starts as slots free, while the claim that
    refills it is under way; claiming a slot's worth at a time keeps the claims (a
    transaction and a read each) to one per ``worker_concurrency`` runs."""
    if worker_concurrency is None or concurrency is not None:
        return None
    free = 2 * worker_concurrency - stretches
    return free if free >= worker_concurrency else 0


def claim_queued(
    queue: Any,
    room: int | None = None,
    starting: set[str] | None = None,
    latest: LatestVersion | None = None,
) -> int:
    """Claim up to ``room`` of ``queue``'s waiting workflows (``None``: all) now and start
    them: one poll of DBOS's queue thread, by DBOS's own functions (internal in DBOS 3.4;
    see ``supported``). Call it from a thread, not the workers' event loop (a workflow is
    handed to that loop, which waits for it). Returns how many it started.

    Each run it starts is added to ``starting`` as it is handed to the loop: DBOS runs the
    workflow's body only after a round trip through a thread, so the run is not yet among
    the worker's stretches when the next claim reads its room (the workflow takes it out
    of ``starting`` as its stretch begins). ``latest``: the worker's cached answer to
    whether its version is the newest (else the claim looks it up itself, as DBOS does).

    A claimed run that does not start is logged and not counted. One that moved on
    between the claim and its start (cancelled) leaves its room to the next queued run at
    once, by claiming again, rather than at the next wake-up; one DBOS could not start
    (it stays PENDING here, for DBOS's recovery) does not, lest one fault strand every
    queued run on this worker in a single claim."""
    from dbos._dbos import _get_dbos_instance
    from dbos._utils import GlobalParams

    dbos = _get_dbos_instance()
    started = 0
    while room is None or started < room:
        limited = queue
        if room is not None:
            # DBOS's claim takes at most the queue's per-worker limit less what runs: the
            # run queue has none (a run waiting for a person holds no slot), so this
            # claim's copy of the queue carries the room left as that limit.
            limited = copy.copy(queue)
            limited._worker_concurrency = room - started
        owner = str(uuid.uuid4())  # the claim's token: this execution owns the rows it flips
        ids, _ = dbos._sys_db.start_queued_workflows(
            limited,
            GlobalParams.executor_id,
            GlobalParams.app_version,
            None,  # no partition
            0,  # what runs is already taken off the room
            owner_xid=owner,
            is_latest_version=None
            if latest is None
            else latest(dbos._sys_db, GlobalParams.app_version),
        )
        if not ids:
            break
        began, moved_on = _start_claimed(dbos, ids, owner, starting)
        started += began
        if room is None or not moved_on or began + moved_on < len(ids):
            break  # the room is spent, the queue is empty, or a run could not start
    return started


def _start_claimed(
    dbos: Any, ids: list[str], owner: str, starting: set[str] | None
) -> tuple[int, int]:
    """Start the claimed workflows ``ids`` (``owner``'s), adding each to ``starting``;
    how many started, and how many had moved on since the claim (nothing to start)."""
    from dbos._core import execute_dequeued_workflow

    statuses = {s["workflow_uuid"]: s for s in dbos._sys_db.get_workflow_statuses(ids)}
    started = moved_on = 0
    for workflow_id in ids:
        status = statuses.get(workflow_id)
        if status is None or status["status"] != "PENDING":
            # DBOS hands over only a row still PENDING (it returns a handle and runs
            # nothing otherwise): the run moved on since the claim, a cancellation most
            # likely. Nothing of it runs here, so it takes none of the room.
            _log.warning(
                "Run %s was claimed but not started: it is %s now.",
                workflow_id,
                "gone" if status is None else status["status"],
            )
            moved_on += 1
            continue
        # As DBOS's queue thread: a row it could not start stays PENDING on this worker,
        # for DBOS's recovery when a worker with this executor id starts.
        if starting is not None:
            starting.add(workflow_id)  # before its workflow can begin its stretch
        try:
            execute_dequeued_workflow(dbos, status, owner)
        except Exception as exc:
            if starting is not None:
                starting.discard(workflow_id)
            _log.error("Could not start run %s: %s", workflow_id, exc)
            continue
        started += 1  # on the workers' loop now (DBOS returns once its task is created)
    return started, moved_on


class Waker:
    """A worker's claims of queued runs: a notification on ``channel`` (PostgreSQL), a
    ``poke`` from this process, a stretch that ends while runs may be left queued
    (``freed``), or ``period`` seconds without any of these make it ``claim`` up to
    ``room()`` runs; claims run one at a time, in a thread."""

    def __init__(
        self,
        claim: Callable[[int | None], int],
        room: Callable[[], int | None] = lambda: None,
        *,
        period: float | None = None,
    ) -> None:
        self._claim = claim
        self._room = room
        """How many runs this worker may take now (read on the loop at each wake-up):
        its free slots, or ``None`` for no limit."""
        self._period = period
        self._loop = asyncio.get_running_loop()
        self._wanted = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._claiming: asyncio.Future[int] | None = None
        self._left = False
        """Whether the last claim may have left runs queued (it took all it had room for)."""
        self._listening = False
        """Whether the LISTEN connection is up: every run ``start`` queues wakes the worker,
        so the poll is only the net under what queues a run without notifying (DBOS's
        recovery of a dead worker's runs, a resume from DBOS's own tools)."""

    def start(self, dsn: str | None, channel: str, *, retry: float = 1.0) -> None:
        """Start claiming (at once, for runs queued before this worker started), then on
        wake-ups; with ``dsn``, listen on ``channel`` there too (reconnecting ``retry``
        seconds after a lost connection)."""
        self._wanted.set()
        self._tasks.append(asyncio.create_task(self._claimer(), name="tether-claimer"))
        if dsn is not None:
            listener = self._listen(dsn, channel, retry)
            self._tasks.append(asyncio.create_task(listener, name="tether-listener"))

    def poke(self) -> None:
        """Claim now (from any thread or event loop of this process)."""
        with contextlib.suppress(RuntimeError):  # the worker's loop is closed: nothing to wake
            self._loop.call_soon_threadsafe(self._wanted.set)

    def freed(self) -> None:
        """A slot came free (on the worker's loop): claim if runs may be waiting for one.

        A claim under way read its room before this slot freed: whether it leaves runs
        queued is known only when it returns, so the claim after it is asked for now (at
        worst one claim that finds nothing)."""
        if self._left or self._claiming is not None:
            self._wanted.set()

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
            # Wake-ups meanwhile make the next claim, one for all of them. Not
            # ``asyncio.wait_for``: on Python 3.11 a stop that meets a wake-up the wait
            # has taken in returns the wake-up and loses the stop (the worker never exits).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll()):
                    await self._wanted.wait()
            self._wanted.clear()
            room = self._room()
            if room is not None and room <= 0:
                self._left = True  # no slot free: claim as one frees (freed)
                continue
            self._claiming = asyncio.ensure_future(asyncio.to_thread(self._claim, room))
            try:
                taken = await asyncio.shield(self._claiming)
                self._left = room is not None and taken >= room
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._left = True
                _log.warning("A queued run was not taken at once (%s); the next claim will.", exc)
            self._claiming = None

    def _poll(self) -> float | None:
        """Seconds to the next claim without a wake-up: ``period``, at least
        ``LISTENING_POLL`` while listening (an empty look at the run queue costs a worker
        about 3 ms of CPU: ten a second were 30 ms a second of an idle worker's)."""
        if self._period is None or not self._listening:
            return self._period
        return max(self._period, LISTENING_POLL)

    async def _listen(self, dsn: str, channel: str, retry: float) -> None:
        listen = sql.SQL("LISTEN {}").format(sql.Identifier(channel))
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    dsn, autocommit=True, application_name="tether_wake"
                ) as conn:
                    await conn.execute(listen)
                    self._listening = True
                    self._wanted.set()  # runs queued while this worker was not listening
                    async for _ in conn.notifies():
                        self._wanted.set()
            except Exception as exc:  # a lost connection, a database restarting
                _log.warning(
                    "Listening for queued runs failed (%s); the queue's poll takes them "
                    "until it listens again.",
                    exc,
                )
            self._listening = False  # the poll is the net again until it listens
            await asyncio.sleep(retry)
