"""``SQLiteRunStore``: the default run store, on the standard library's ``sqlite3``.

The store's algorithms are ``SQLRunStore``'s (``_engine``, ``_reads``,
``_rules``) in the SQLite dialect (``_sqlite_dialect``). What is SQLite's own is
here: one connection used by a worker thread under a lock, each program driven
synchronously inside one transaction (``BEGIN IMMEDIATE`` for a write), the file
checked before anything is written to it, and the mapping of ``sqlite3`` errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import queue
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

from .._fork import forget_in_child
from .._signing import SigningKey, resolve_keys
from .._sqlite import connect, enable_wal, immediate
from ..errors import StoreError, StoreFormatError, StoreUnavailableError, UserError
from ..items import Item
from ..sessions import Session, SQLiteSession
from ..sessions._codec import encode_items
from ..sessions._sqlite import _SCHEMA as _SESSION_SCHEMA
from ..sessions._sqlite import _TABLE as _SESSION_TABLE
from ._protocol import Clock, system_clock
from ._sql_store import SQLRunStore
from ._sqlite_dialect import SQLiteDialect
from ._statements import Program, Statement, Together, drive, execute, execute_many
from ._upkeep import check_format
from ._wakeup import Changes, Notifier, touch, watch_file

__all__ = ["SQLiteRunStore"]

_T = TypeVar("_T")


class SQLiteRunStore(SQLRunStore):
    """A run store in a SQLite file: no server needed.

    Several processes can share the file: it runs in WAL mode, every write is
    one ``BEGIN IMMEDIATE`` transaction, and writers wait up to
    ``busy_timeout`` seconds for each other. Writes run in a worker thread, so the
    event loop never waits for a lock or a flush; reads run on the loop's own thread
    (in WAL mode a read does not wait for writers), without the hand-over to the
    worker thread and back, which costs about as much as reading a short run::

        store = SQLiteRunStore("runs.db")
        result = await Runner.run(agent, "Book it", store=store)

    ``inline=True`` runs writes on the event loop's thread too, which saves a process
    that drives one run at a time (a worker, a script) a tenth to a third of its time
    per turn; the loop then waits for each commit's flush (well under a millisecond on a
    local disk). A transaction that finds the file locked (another connection writing,
    or the other transaction of this store under way) is not waited for on the loop: it
    goes to the worker thread, which waits up to ``busy_timeout``.

    Other processes waiting on the store (``changes()``, a ``tether worker``) are woken
    through a side file, ``<path>-wake``, whose time a decision's append sets.

    Signed by default: every event row carries an HMAC-SHA256 chained over the
    previous row, so edited, removed or reordered rows are refused on load
    (``StoreIntegrityError``). The key is ``signing_key`` if given (a key, a list
    of keys whose first signs, or a ``pathlib.Path`` to a key file), else
    ``TETHER_STORE_KEY``, else the key file ``TETHER_KEY_FILE`` or
    ``~/.config/tether/store.key`` (created 0600 on first use; refused if others may
    read it or it sits in the store file's directory: ``SigningKeyError``).
    ``signing_key=False`` stores unsigned rows, which anyone who can write the file
    can forge.
    ``clock`` (an aware-datetime callable) decides lease expiry and timestamps;
    every process sharing a store should use the same clock (the default is
    the machine's UTC clock).
    """

    _update_first = True  # (each statement is a call into SQLite: one fewer an append)

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        signing_key: SigningKey = None,
        clock: Clock = system_clock,
        busy_timeout: float = 30.0,
        inline: bool = False,
    ) -> None:
        self._path = os.fspath(path)
        keys = resolve_keys(signing_key, data_dir=_data_dir(self._path))
        # No retries: waiting for the write lock (busy_timeout) is SQLite's, and a call
        # that failed wrote nothing.
        super().__init__(SQLiteDialect(self._path), keys, clock, retry_for=0.0)
        self._busy_timeout = busy_timeout
        self._inline = inline
        self._lock = threading.Lock()
        self._worker = _Worker()
        self._conn: sqlite3.Connection | None = None
        # Whether the connection waits for another's write lock (busy_timeout) or not (a
        # transaction on the loop): set only when that changes, not twice per transaction.
        self._waits = True
        forget_in_child(self, SQLiteRunStore._forked)

    def _forked(self) -> tuple[object, ...]:
        # In a forked child (``tether._fork``): the parent's connection is not used here, its
        # locks may have been held by another of its threads at the fork, and its
        # subscribers wait on the parent's event loops.
        conn, self._conn = self._conn, None
        self._lock = threading.Lock()
        self._worker = _Worker()
        self._notifier = Notifier()
        return (conn,)

    @property
    def path(self) -> str:
        """The database file."""
        return self._path

    def holds_session(self, session: object) -> bool:
        """Whether ``session`` is a ``SQLiteSession`` in this store's file: then a stored run
        writes its session items in the same transaction as its ``SessionSynced`` event."""
        if not isinstance(session, SQLiteSession) or session.db_path == ":memory:":
            return False
        try:
            return os.path.samefile(session.db_path, self._path)
        except OSError:
            return False

    def _session_statements(self, session: Session, items: list[Item]) -> tuple[Statement, ...]:
        if not isinstance(session, SQLiteSession) or not self.holds_session(session):
            raise UserError(f"Session {session.session_id!r} is not in {self._path}.")
        # The session's table may not exist yet in this file: created in the same transaction.
        rows = [(session.session_id, text) for text in encode_items(items)]
        return (
            *(execute(statement) for statement in _SESSION_SCHEMA.split(";") if statement.strip()),
            execute_many(f"INSERT INTO {_SESSION_TABLE} (session_id, item) VALUES (?, ?)", rows),
        )

    async def migrate(self) -> int:
        """Bring the store's schema to this tether's version (``STORE_VERSION``), in one
        transaction, and return the version it had (a new file is created at this
        version). The command line does the same: ``tether store migrate runs.db``.

        A store of an older version is refused (``StoreVersionError``) until it is
        migrated, so that a migration is a step of a deploy, not a side effect of
        the first process to start; a store of a newer version that this tether may
        read is left as it is."""
        return await asyncio.to_thread(self._migrate)

    async def close(self) -> None:
        """Close the database connection."""
        await asyncio.to_thread(self._close)
        self._worker.stop()

    # -- the worker thread ----------------------------------------------------------

    async def _alone(
        self, make: Callable[[], Program[_T]], write: bool = True, durable: bool = True
    ) -> _T:
        # A read of one statement is its own snapshot (SQLite's implicit transaction): no
        # BEGIN and COMMIT around it.
        return await self._transact(make, write, durable, alone=not write)

    async def _transact(
        self,
        make: Callable[[], Program[_T]],
        write: bool,
        durable: bool = True,
        *,
        alone: bool = False,
    ) -> _T:
        # On the loop only on an open connection that nobody else is using (never wait for
        # a lock on the loop): the first open, which may wait for another process, and a
        # transaction that finds the write lock taken go to the worker thread.
        here = self._inline or not write
        if here and self._conn is not None and self._lock.acquire(blocking=False):
            try:
                return self._transaction(make, write, durable, at_once=True, alone=alone)
            except _Busy:
                pass  # nothing was written: wait for the other writer off the loop
            finally:
                self._lock.release()
        return await self._worker.run(self._locked, make, write, durable, alone)

    def _locked(
        self, make: Callable[[], Program[_T]], write: bool, durable: bool, alone: bool
    ) -> _T:
        with self._lock:
            return self._transaction(make, write, durable, alone=alone)

    def _transaction(
        self,
        make: Callable[[], Program[_T]],
        write: bool,
        durable: bool = True,
        *,
        at_once: bool = False,
        alone: bool = False,
    ) -> _T:
        """Drive ``make()`` in one transaction (the caller holds the lock); ``at_once``:
        raise ``_Busy`` rather than wait for another connection's write lock;
        ``durable=False``: its commit does not sync the WAL (the next durable one does);
        ``alone``: a read of one step, a lone statement without BEGIN and COMMIT."""
        try:
            conn = self._connection()
            if self._waits == at_once:
                waits = not at_once
                conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000) * waits}")
                self._waits = waits
            level = None if durable else conn.execute("PRAGMA synchronous").fetchone()[0]
            if level is not None:
                conn.execute("PRAGMA synchronous = NORMAL")
            try:
                program = make()
                if alone:
                    return drive(program, lambda step: _execute_alone(conn, step))
                with immediate(conn) if write else _reading(conn):
                    return drive(program, lambda statement: _execute(conn, statement))
            finally:
                if level is not None:
                    conn.execute(f"PRAGMA synchronous = {int(level)}")
        except sqlite3.OperationalError as exc:
            if at_once and _busy(exc):
                raise _Busy from exc
            raise self._error(exc) from exc
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        conn = self._open(migrate=False)[0]
        self._conn = conn
        self._waits = True  # connect() set busy_timeout
        return conn

    def _open(self, *, migrate: bool) -> tuple[sqlite3.Connection, int]:
        conn = connect(self._path, self._busy_timeout)
        try:
            # Read before anything writes: a file that is not a database (or not a
            # store, or of a version to migrate first) must be left exactly as it was.
            self._check(conn, create=False, migrate=migrate)
            enable_wal(conn, self._busy_timeout)
            with immediate(conn):
                version = self._check(conn, create=True, migrate=migrate)
        except BaseException:
            conn.close()
            raise
        return conn, version

    def _check(self, conn: sqlite3.Connection, *, create: bool, migrate: bool) -> int:
        program = check_format(self._dialect, create=create, migrate=migrate)
        return drive(program, lambda statement: _execute(conn, statement))

    def _migrate(self) -> int:
        with self._lock:
            try:
                conn, version = self._open(migrate=True)
                conn.close()
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
        return version

    def _close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- wake-ups: a side file's time (``_wakeup``) -----------------------------------

    def _wake_file(self) -> str | None:
        return None if _data_dir(self._path) is None else f"{self._path}-wake"

    def _woken(self) -> None:
        super()._woken()
        wake_file = self._wake_file()
        if wake_file is not None:
            touch(wake_file)

    @asynccontextmanager
    async def _watch(self, changes: Changes) -> AsyncIterator[None]:
        wake_file = self._wake_file()
        if wake_file is None:  # a database in memory has no other process
            yield
            return
        async with watch_file(wake_file, changes):
            yield

    def _error(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc)
        if "not a database" in text or "malformed" in text:
            return StoreFormatError(
                f"{self._path} is not a SQLite database or is damaged ({text}). Point the run "
                "store at another file. Nothing was written."
            )
        if "locked" in text or "busy" in text:
            # The wait for the lock (busy_timeout) was the retry; the call wrote nothing.
            return StoreUnavailableError(
                f"SQLite ({self._path})",
                f"{text}: another connection held the write lock for over "
                f"{self._busy_timeout:g}s; pass a larger busy_timeout if that is normal",
            )
        if "unable to open" in text or "readonly" in text:
            hint = "check that the directory exists and that this process may write to the file"
        else:
            hint = "nothing of the failed call was written; retry once the cause is fixed"
        return StoreError(f"SQLite run store {self._path} failed ({text}): {hint}.")


class _Worker:
    """The store's own thread, which runs its transactions off the loop one after another.

    ``asyncio.to_thread`` hands each call to the loop's pool through a
    ``concurrent.futures.Future`` chained to an asyncio one: a condition, callbacks both
    ways and a context switch more on the way back. A turn makes two commits, each a call
    here, and that hand-over took about a fifth of the turn; a queue the thread waits on
    and a result set on the caller's loop (``call_soon_threadsafe``) cost half as much.
    The thread ends after ``_IDLE`` seconds without work (a store never closed leaves no
    thread behind for long) and is started again by the next call."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def run(self, func: Callable[..., _T], /, *args: Any) -> _T:
        """``func(*args)`` in the thread, in this task's context: its result or its error.
        Cancelled before the thread takes it up, it does not run; once taken up, it runs to
        its end (the transaction commits or rolls back), as with ``asyncio.to_thread``."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()
        job = (loop, future, contextvars.copy_context(), func, args)
        with self._lock:
            thread = self._thread
            if thread is None or not thread.is_alive():  # (none in a forked child)
                # Each thread has a queue of its own: one that is ending (``stop``) or that
                # the fork left behind takes no job of the next.
                self._jobs = queue.SimpleQueue()
                thread = self._thread = threading.Thread(
                    target=self._work, args=(self._jobs,), name="tether-sqlite", daemon=True
                )
                thread.start()
            self._jobs.put(job)
        return await future

    def stop(self) -> None:
        """Let the thread end once the work queued before this is done."""
        with self._lock:
            if self._thread is not None:
                self._jobs.put(None)
                self._thread = None

    def _work(self, jobs: queue.SimpleQueue[_Job | None]) -> None:
        while True:
            try:
                job = jobs.get(timeout=_IDLE)
            except queue.Empty:
                with self._lock:  # (a job is put under the lock: none can slip in now)
                    if not jobs.empty():
                        continue
                    if self._thread is threading.current_thread():
                        self._thread = None
                    return
            if job is None:
                return
            _carry_out(*job)
            del job  # (nothing of the call is kept while the thread waits)


_Job = tuple[
    asyncio.AbstractEventLoop, "asyncio.Future[Any]", contextvars.Context, Callable[..., Any], Any
]

_IDLE = 10.0
"""Seconds a store's thread waits for work before it ends."""


def _carry_out(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    context: contextvars.Context,
    func: Callable[..., Any],
    args: Any,
) -> None:
    if future.cancelled():
        return
    try:
        result = context.run(func, *args)
    except BaseException as exc:
        _settle(loop, future, _failed, exc)
    else:
        _settle(loop, future, _done, result)


def _settle(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    how: Callable[[asyncio.Future[Any], Any], None],
    value: Any,
) -> None:
    # A closed loop (RuntimeError) has nobody waiting for the answer.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(how, future, value)


def _done(future: asyncio.Future[Any], result: Any) -> None:
    if not future.cancelled():
        future.set_result(result)


def _failed(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.cancelled():
        future.set_exception(exc)


class _Busy(Exception):
    """Another connection holds the write lock (an inline transaction does not wait)."""


def _busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


def _data_dir(path: str) -> str | None:
    # A key file found by default must not sit beside the data it signs.
    if path in ("", ":memory:") or path.startswith("file:"):
        return None
    return os.path.dirname(os.path.abspath(path))


@contextmanager
def _reading(conn: sqlite3.Connection) -> Iterator[None]:
    # One read transaction: every statement of the program reads the same snapshot.
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def _execute_alone(conn: sqlite3.Connection, step: Statement | Together) -> Any:
    # Queries sent together read one snapshot: a transaction of their own.
    if isinstance(step, Together):
        with _reading(conn):
            return _execute(conn, step)
    return _execute(conn, step)


def _execute(conn: sqlite3.Connection, statement: Statement | Together) -> Any:
    if isinstance(statement, Together):
        return tuple(_execute(conn, each) for each in statement.statements)
    if statement.answer == "many":
        conn.executemany(statement.text, statement.params)
        return None
    cursor = conn.execute(statement.text, statement.params)
    return statement.reply(cursor.fetchall() if statement.returns_rows else [], cursor.rowcount)
