"""Workers: resume the runs that can go on, each through the store's lease.

A run can go on when the fold says it is ``running`` (a call to run, a model call
to make: its pending calls were decided, it was started through the API, or the
process advancing it died) and nobody holds its lease. ``Runner.run(agent, state,
store=store)`` takes the lease before it appends anything, and compares the
stored run with the state it was given, so two workers never advance the same
run: the second gets ``RunBusyError`` (or ``RunConflictError`` if the first
already moved it on) and leaves the run alone.

Each run is advanced in isolation: whatever a run's model, approval predicate,
hooks or context factory raise fails that run (``RunFailed`` in its journal,
status ``failed``), never the worker. A failure that says a retry can help (a
model or database that was away) is retried with backoff (``App.retry``, a
``RetryPolicy``); others wait for a person (``tether.store.retry_run``).

Every ``App.sweep_interval`` seconds a worker also rejects the approvals past
their deadline (``tether.store.expire_approvals``); a run whose calls are then
all decided goes on in the same pass.

Between passes a worker waits for the store's wake-up (``tether.store.Notifying``: a
decision, retry, expiry or new run committed in any process), at most ``poll_interval``
seconds: a decided run goes on at once, and the poll is only the safety net (for a
lease that expired, a backoff that ended, a wake-up lost). A store that cannot wake
(a ``RunStore`` of your own) is polled.

A store that is unavailable for a while (``StoreUnavailableError``: a database
restart) gives no run up: the run is tried again on the next pass, and the
worker waits longer between passes (up to ``max_backoff`` seconds) until the
store answers again. A run whose tool was running when its store went away goes
on once the store is back, or stops in doubt; its tool is never run twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ..errors import (
    RunBusyError,
    RunConflictError,
    RunNotFoundError,
    StoreError,
    StoreUnavailableError,
    TetherError,
    UnknownAgentError,
    UserError,
)
from ..run import Runner, RunState
from ..store import (
    Changes,
    Notifying,
    PendingKey,
    escalate_approvals,
    expire_approvals,
    pending_key,
    record_failure,
)
from ._webhooks import deliver

if TYPE_CHECKING:
    from ._app import App

__all__ = ["Worker"]

log = logging.getLogger("tether.worker")

_UNREADABLE_WAIT = timedelta(seconds=30)
"""A run this worker cannot read or record a failure for (another application's, a journal
the fold refuses) is looked at again after this long."""

_FAILED_PAGE = 200
"""Failed runs one read of the retry pass takes (it pages on)."""

_ANNOUNCE_PAGE = 200
"""Approval requests one read of the webhook announcer takes (it pages on until caught up)."""

_ANNOUNCE_MARGIN = timedelta(minutes=1)
"""How far back the announcer reads again: a request can be committed after requests of a
later time (another process wrote it), so a short window is re-read and what was sent
already is skipped."""


class Worker:
    """Resumes an application's runs that can go on, one at a time, until stopped."""

    def __init__(self, app: App, *, poll_interval: float = 1.0, max_backoff: float = 10.0) -> None:
        if not poll_interval > 0:
            raise UserError(f"poll_interval is a number of seconds > 0, not {poll_interval!r}.")
        if not max_backoff > 0:
            raise UserError(f"max_backoff is a number of seconds > 0, not {max_backoff!r}.")
        self.app = app
        self.id = f"{socket.gethostname()}:{os.getpid()}"
        """This worker: host and process id (the lease owners of the runs it advances start
        with it)."""
        self.poll_interval = poll_interval
        self.max_backoff = max(max_backoff, poll_interval)
        """The longest wait between passes while the store is unavailable."""
        self._stop = asyncio.Event()
        self._skip: dict[str, datetime] = {}
        """Runs this worker leaves alone until then (unreadable, or not this app's)."""
        self._retry_at: dict[str, tuple[int, datetime | None]] = {}
        """Failed runs: the seq this worker saw and when it may retry them (None: never)."""
        self._announced: dict[tuple[str, str], datetime] = {}
        """Calls whose approval request this worker sent to the webhooks (recent ones)."""
        self._announced_upto: datetime | None = None
        self._next_sweep: float | None = None
        self._changes: Changes | None = None

    def stop(self) -> None:
        """Stop after the run in progress (what SIGTERM and SIGINT do)."""
        self._stop.set()
        if self._changes is not None:
            self._changes.notify()

    async def run_once(self) -> int:
        """Resume every run that can go on now; return how many this worker advanced."""
        advanced = 0
        if self.app.webhooks or self.app.channels:
            await self.announce()
        clock = asyncio.get_running_loop().time()
        if self._next_sweep is None or clock >= self._next_sweep:
            self._next_sweep = clock + self.app.sweep_interval
            await self.sweep()
        for summary in await self.app.store.recoverable():
            if self._stop.is_set():
                break
            if summary.status != "running":
                continue  # in doubt: a person settles it first (see Inbox.resolve)
            if self._skipped(summary.run_id):
                continue
            if await self.advance(summary.run_id):
                advanced += 1
        advanced += await self.retry_failed()
        return advanced

    async def retry_failed(self) -> int:
        """Try again the failed runs whose failure is retryable and whose backoff is over
        (``App.retry``); how many this worker advanced."""
        store, now = self.app.store, datetime.now(UTC)
        advanced, cursor = 0, None
        seen: set[str] = set()
        while not self._stop.is_set():
            page = await store.list_runs(status="failed", limit=_FAILED_PAGE, cursor=cursor)
            for summary in page.runs:
                seen.add(summary.run_id)
                known = self._retry_at.get(summary.run_id)
                if known is None or known[0] != summary.seq:
                    known = (summary.seq, await self._retry_time(summary.run_id))
                    self._retry_at[summary.run_id] = known
                due = known[1] is not None and known[1] <= now
                if due and not self._skipped(summary.run_id):
                    advanced += await self.advance(summary.run_id, retry=True)
            cursor = page.next_cursor
            if cursor is None:
                break
        self._retry_at = {k: v for k, v in self._retry_at.items() if k in seen}
        return advanced

    async def _retry_time(self, run_id: str) -> datetime | None:
        try:
            stored = await self.app.store.load(run_id)
            agent = self.app.inbox.agent_for(stored.root_agent)
            state = RunState(agent, stored.events, governance=self.app.governance)
        except (StoreError, UnknownAgentError):
            return None
        except TetherError as exc:  # a journal this tether cannot fold
            log.warning("run %s cannot be read: %s", run_id, exc)
            return None
        return self.app.retry.retry_at(state.view)

    async def sweep(self) -> int:
        """Remind of and escalate the approvals whose steps are due (``Escalation``), then
        reject (as the system) the approvals past their deadline; how many it expired.

        Runs whose calls are thereby all decided are resumed by the next ``run_once``
        (this one, when the sweep is due in it)."""
        try:
            steps = await escalate_approvals(self.app.store, governance=self.app.governance)
        except TetherError as exc:  # the expiry goes on: deadlines matter more than reminders
            log.warning("the escalation sweep failed: %s", exc)
        else:
            if steps.reminded or steps.escalated:
                log.info("reminded %d, escalated %d", len(steps.reminded), len(steps.escalated))
        try:
            result = await expire_approvals(self.app.store, governance=self.app.governance)
        except TetherError as exc:
            log.warning("the expiry sweep failed: %s", exc)
            return 0
        if result.expired:
            log.info("expired %d approvals", len(result.expired))
        if result.unreadable:
            log.warning(
                "the expiry sweep cannot read runs %s; left as they are",
                ", ".join(result.unreadable),
            )
        return len(result.expired)

    async def announce(self) -> int:
        """Send each new approval request to the app's webhooks and channels; how many were
        new (channels also update the announcements of requests decided since).

        Reads only the requests since the last ones it sent (a keyset page of the
        pending projection by request time), never every waiting call. The first
        pass of a worker announces every waiting call (receivers deduplicate by
        event id, see ``Webhook``)."""
        store = self.app.store
        since = None if self._announced_upto is None else self._announced_upto - _ANNOUNCE_MARGIN
        sent = 0
        after: PendingKey | None = None
        while True:
            rows = await store.pending_approvals(
                requested_after=since, after=after, limit=_ANNOUNCE_PAGE
            )
            for row in rows:
                key = (row.run_id, row.call_id)
                if key in self._announced:
                    continue
                # After max_attempts a delivery is given up (and logged): retrying it on every
                # pass would hold back the runs this worker should resume.
                await asyncio.gather(*(deliver(hook, row) for hook in self.app.webhooks))
                await self.app.channels.announce(row)
                self._announced[key] = row.requested_at
                sent += 1
                if self._announced_upto is None or row.requested_at > self._announced_upto:
                    self._announced_upto = row.requested_at
            if len(rows) < _ANNOUNCE_PAGE:
                break
            after = pending_key(rows[-1])
        await self.app.channels.follow_up()  # retries, and updates of decided requests
        if self._announced_upto is not None:
            horizon = self._announced_upto - 2 * _ANNOUNCE_MARGIN
            self._announced = {k: v for k, v in self._announced.items() if v >= horizon}
        return sent

    async def advance(self, run_id: str, *, retry: bool = False) -> bool:
        """Resume one run if it can go on and nobody else does; whether this worker did.

        ``retry``: the run failed and may be tried again (``retry_failed`` checked when).
        Whatever the run raises fails that run, never the worker."""
        try:
            stored = await self.app.store.load(run_id)
        except RunNotFoundError:
            return False
        expected = "failed" if retry else "running"
        if stored.status != expected:
            return False
        try:
            agent = self.app.inbox.agent_for(stored.root_agent)
        except UnknownAgentError as exc:  # a run of another application shares the store
            self._skip[run_id] = datetime.now(UTC) + _UNREADABLE_WAIT
            log.warning("run %s is not this application's: %s", run_id, exc)
            return False
        try:
            state = RunState(agent, stored.events, governance=self.app.governance)
        except TetherError as exc:  # a journal this tether cannot fold: nothing to append to
            self._skip[run_id] = datetime.now(UTC) + _UNREADABLE_WAIT
            log.warning("run %s cannot be read, left alone: %s", run_id, exc)
            return False
        if state.status != expected:
            return False
        try:
            await Runner.run(
                agent,
                state,
                store=self.app.store,
                context=self.app.make_context(),
                model_provider=self.app.model_provider,
                governance=self.app.governance,
            )
        except (RunBusyError, RunConflictError):
            return False  # another worker has it, or already moved it on
        except StoreUnavailableError:
            # Not the run's fault: it goes on (or is found in doubt) once the store is back.
            raise
        except StoreError as exc:
            log.warning("run %s could not be stored, will try again: %s", run_id, exc)
            return False
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the run's own failure: it fails, the worker goes on
            await self._fail(run_id, exc)
            return True
        return True

    async def _fail(self, run_id: str, error: Exception) -> None:
        """Make sure the run's journal says it failed (the loop records failures it sees;
        an error before the loop ran, such as a context factory's, is recorded here)."""
        log.warning("run %s failed: %s: %s", run_id, type(error).__name__, error)
        try:
            await record_failure(self.app.store, run_id, error)
        except (StoreError, TetherError) as exc:
            self._skip[run_id] = datetime.now(UTC) + _UNREADABLE_WAIT
            log.warning("run %s: its failure could not be recorded: %s", run_id, exc)

    def _skipped(self, run_id: str) -> bool:
        until = self._skip.get(run_id)
        if until is None:
            return False
        if datetime.now(UTC) >= until:
            del self._skip[run_id]
            return False
        return True

    async def serve(self) -> None:
        """Resume runs until ``stop()`` or SIGTERM/SIGINT, woken by the store (or every
        ``poll_interval`` seconds); a run in progress finishes."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self.stop)
        async with self._woken_by_store() as changes:
            self._changes = changes
            log.info("worker started")
            try:
                await self._serve(changes)
            finally:
                self._changes = None
        log.info("worker stopped")

    @contextlib.asynccontextmanager
    async def _woken_by_store(self) -> AsyncIterator[Changes]:
        store = self.app.store
        if isinstance(store, Notifying):
            async with store.changes() as changes:
                yield changes
        else:  # only stop() wakes it: the store is polled
            yield Changes()

    async def _serve(self, changes: Changes) -> None:
        pause = self.poll_interval
        while not self._stop.is_set():
            try:
                advanced = await self.run_once()
                pause = self.poll_interval
            except StoreUnavailableError as exc:  # wait longer each time, then look again
                log.warning("the store is unavailable; next look in %.1fs: %s", pause, exc)
                advanced, wait = 0, pause
                pause = min(pause * 2, self.max_backoff)
            except TetherError as exc:
                log.warning("cannot read the store: %s", exc)
                advanced, wait = 0, self.poll_interval
            else:
                wait = self.poll_interval
            if not advanced:
                await changes.wait(wait)
