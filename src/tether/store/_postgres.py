"""``PostgresRunStore``: runs in PostgreSQL tables, through psycopg 3 and ``psycopg-pool``.

The store's algorithms are ``SQLRunStore``'s (``_engine``, ``_reads``,
``_rules``) in the PostgreSQL dialect (``_postgres_dialect``). What is
PostgreSQL's own is here: a connection pool that survives a server restart, each
program driven with ``await`` inside one transaction of a pooled connection,
retried through a brief outage (``_retry``), the schema checked (and created)
under an advisory lock, the mapping of psycopg's errors, and wake-ups
(``_wakeup``): ``NOTIFY`` in a waking append's transaction, a ``LISTEN``
connection per subscriber of ``changes()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from .._fork import forget_in_child
from .._signing import SigningKey, resolve_keys
from ..errors import StoreError, StoreUnavailableError, UserError
from ..items import Item
from ..sessions import MissingDependencyError, Session
from ._postgres_dialect import PostgresDialect
from ._protocol import Clock, system_clock
from ._retry import DEFAULT_RETRY_FOR
from ._sql_store import SQLRunStore
from ._statements import Program, Statement, Together, drive_async, execute
from ._upkeep import check_format
from ._wakeup import Changes, Notifier

try:
    import psycopg
    from psycopg import sql
    from psycopg_pool import AsyncConnectionPool, PoolTimeout
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("PostgresRunStore", "psycopg-pool", "postgres") from exc

__all__ = ["WAKE_CHANNEL", "PostgresRunStore"]

_log = logging.getLogger("tether.store")

WAKE_CHANNEL = "tether_wake"
"""The channel a waking append notifies (payload: the store's schema)."""

_Conn = psycopg.AsyncConnection[Any]
_T = TypeVar("_T")


class _Connection(psycopg.AsyncConnection[Any]):
    """A pooled connection that keeps one cursor for the statements it runs alone
    (``_alone``). A cursor made for each statement set up its adapters again and looked
    up each parameter's dumper anew: about a fifth of the driver's time for an append."""

    kept: psycopg.AsyncCursor[Any] | None = None


class PostgresRunStore(SQLRunStore):
    """A run store in PostgreSQL, for many processes on many machines.

    The tables live in their own schema (``tether`` unless ``schema=`` says
    otherwise), created on first use. Connections come from a
    ``psycopg_pool.AsyncConnectionPool`` that the store opens on first use and
    closes in ``close()``::

        store = PostgresRunStore("postgresql://app@db/app", signing_key=[new, old])

    Appends lock the run's row (``SELECT ... FOR UPDATE``), so concurrent
    writers queue and all but the first get ``RunConflictError``. Events are
    stored as ``json`` (not ``jsonb``), which keeps each event's exact text,
    the text its MAC covers. See ``SQLiteRunStore`` for ``signing_key`` (signed by default) and
    ``clock``.

    A brief outage of the server (a restart, a failover) is ridden out: every
    pooled connection is checked before use (a dead one is replaced), and a call
    that meets a transient failure is tried again for up to ``retry_for``
    seconds, where that is safe (reads; writes that certainly did not commit; an
    append whose commit outcome is unknown once the stored run says whether it
    landed). Then it raises ``StoreUnavailableError`` (``retryable``).
    ``connect_timeout`` bounds one wait for a connection.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = "tether",
        signing_key: SigningKey = None,
        clock: Clock = system_clock,
        max_connections: int = 10,
        retry_for: float = DEFAULT_RETRY_FOR,
        connect_timeout: float = 5.0,
    ) -> None:
        if not schema or not isinstance(schema, str):
            raise UserError(f"PostgresRunStore schema must be a name, not {schema!r}.")
        if not retry_for >= 0 or not connect_timeout > 0:
            raise UserError(
                "retry_for is seconds >= 0 and connect_timeout seconds > 0, not "
                f"{retry_for!r} and {connect_timeout!r}."
            )
        quoted = sql.Identifier(schema).as_string(None)
        dialect = PostgresDialect(schema, quoted)
        super().__init__(dialect, resolve_keys(signing_key), clock, retry_for=float(retry_for))
        self._dsn = dsn
        self._schema = schema
        self._max = max_connections
        self._connect_timeout = float(connect_timeout)
        self._pool: AsyncConnectionPool[_Connection] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._open_lock = asyncio.Lock()
        # Creating the schema is serialised across processes by an advisory lock.
        self._lock_key = zlib.crc32(f"tether.run_store:{schema}".encode()) - 2**31
        forget_in_child(self, PostgresRunStore._forked)

    def _forked(self) -> tuple[object, ...]:
        # In a forked child (``tether._fork``): the parent's pool is not used here (its
        # sockets carry the parent's sessions, its tasks and locks its event loop's), nor
        # closed (that would end the parent's sessions); the child opens its own.
        pool, self._pool = self._pool, None
        self._closing = set()
        self._open_lock = asyncio.Lock()
        self._notifier = Notifier()
        return (pool,)

    def holds_session(self, session: Session) -> bool:
        """``False``: a PostgreSQL store keeps no session items (see ``RunStore``)."""
        return False

    def _session_statements(self, session: Session, items: list[Item]) -> tuple[Statement, ...]:
        # Never called: this store holds no session (holds_session).
        raise UserError(
            f"Session {session.session_id!r} is not kept in PostgreSQL schema {self._schema!r}; "
            "the run stores its items through the session itself."
        )

    @property
    def dsn(self) -> str:
        """The database's connection string, as given."""
        return self._dsn

    @property
    def schema(self) -> str:
        """The schema the store's tables live in."""
        return self._schema

    @property
    def retry_for(self) -> float:
        """Seconds a call keeps trying through a transient failure (see the class)."""
        return self._retry_for

    async def migrate(self) -> int:
        """Bring the schema's tables to this tether's version (``STORE_VERSION``), in one
        transaction, and return the version they had (a new schema is created at this
        version). The command line does the same:
        ``tether store migrate postgresql://... --schema tether``.

        A store of an older version is refused (``StoreVersionError``) until it is
        migrated, so that a migration is a step of a deploy, not a side effect of the
        first process to start; a store of a newer version that this tether may read
        is left as it is."""
        try:
            conn = await psycopg.AsyncConnection.connect(
                self._dsn, connect_timeout=max(2, round(self._connect_timeout))
            )
            async with conn:
                return await self._setup(conn, migrate=True)
        except psycopg.Error as exc:
            raise _error(exc) from exc

    async def close(self) -> None:
        """Close the connection pool."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    # -- connections ------------------------------------------------------------------

    async def _transact(
        self, make: Callable[[], Program[_T]], write: bool, durable: bool = True
    ) -> _T:
        program = make()
        async with self._transaction(read_only=not write, durable=durable) as (conn, pipe):
            return await drive_async(program, lambda statement: _execute(conn, statement, pipe))

    @asynccontextmanager
    async def _transaction(
        self, *, read_only: bool = False, durable: bool = True
    ) -> AsyncIterator[tuple[_Conn, psycopg.AsyncPipeline]]:
        """A pooled connection in one transaction, in pipeline mode; driver errors become
        ``StoreError`` (``StoreUnavailableError`` for a transient one, saying whether it
        broke a commit).

        A statement whose answer the program does not need is sent without waiting for
        it, and the transaction's ``BEGIN`` and ``COMMIT`` travel with the statements
        around them: an append in a transaction is two round trips (its read of the run's
        row; then its inserts, its update and the commit) whatever its statements. (The run
        loop's appends are mostly one statement on its own, see ``_alone``.)"""
        committing = False
        pool: AsyncConnectionPool[_Connection] | None = None
        try:
            pool = await self._get_pool()
            async with pool.connection(timeout=self._connect_timeout) as conn:
                try:
                    async with conn.pipeline() as pipe:
                        # A read sees one snapshot for all its statements. BEGIN and COMMIT
                        # are sent as text, never prepared.
                        await conn.execute(_BEGIN_READ if read_only else "BEGIN", prepare=False)
                        if not durable:  # its COMMIT does not wait for the WAL's flush
                            await conn.execute(_NOT_DURABLE, prepare=False)
                        yield conn, pipe
                        # The body is done: what fails from here may have committed (a
                        # pipelined statement's failure also shows only from here).
                        committing = not read_only
                        await conn.execute("COMMIT", prepare=False)
                except BaseException:
                    await _roll_back(conn)
                    raise
        except psycopg.Error as exc:
            raise await self._failed(pool, exc, committing=committing) from exc

    async def _alone(
        self, make: Callable[[], Program[_T]], write: bool = True, durable: bool = True
    ) -> _T:
        # One round trip: one statement in autocommit (its own transaction), or BEGIN, the
        # statements and COMMIT pipelined. A write's failure may have come after its commit.
        program = make()
        pool: AsyncConnectionPool[_Connection] | None = None
        begin = (_BEGIN_READ,) if not write else ("BEGIN",) if durable else ("BEGIN", _NOT_DURABLE)

        async def run(step: Statement | Together) -> Any:
            # A statement alone is its own transaction, unless it needs a setting of one.
            if isinstance(step, Statement) and (durable or not write):
                return await _alone_statement(conn, step)
            return await _pipelined(conn, step, begin)

        try:
            pool = await self._get_pool()
            async with pool.connection(timeout=self._connect_timeout) as conn:
                return await _one_step(program, run)
        except psycopg.Error as exc:
            raise await self._failed(pool, exc, committing=write) from exc

    async def _failed(
        self, pool: AsyncConnectionPool[_Connection] | None, exc: psycopg.Error, *, committing: bool
    ) -> StoreError:
        """The ``StoreError`` for a driver's error; a pool whose server went away is dropped
        (one that only ran out of connections, every one busy, is kept)."""
        if (
            pool is not None
            and _connection_lost(exc)
            and not (isinstance(exc, PoolTimeout) and await self._server_answers())
        ):
            self._drop_pool(pool)
        return _error(exc, committing=committing)

    # -- wake-ups: NOTIFY in the append's transaction, LISTEN per subscriber -------------

    def _wake_statements(self) -> tuple[Statement, ...]:
        # Delivered on commit only; the payload says which schema's runs changed.
        return (execute("SELECT pg_notify(%s, %s)", (WAKE_CHANNEL, self._schema)),)

    @asynccontextmanager
    async def _watch(self, changes: Changes) -> AsyncIterator[None]:
        listening = asyncio.Event()
        task = asyncio.create_task(self._listen(changes, listening))
        try:
            # Listening before the subscriber reads the store (else polling covers it).
            # (``asyncio.timeout``, not ``wait_for``, which can lose a cancellation on 3.11.)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._connect_timeout):
                    await listening.wait()
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _listen(self, changes: Changes, listening: asyncio.Event) -> None:
        """Wake ``changes`` on every notification for this schema; a broken connection is
        opened again (a wake-up missed meanwhile is the subscriber's timeout)."""
        pause, again = 0.5, False
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True, connect_timeout=max(2, round(self._connect_timeout))
                )
                async with conn:
                    await conn.execute(f"LISTEN {WAKE_CHANNEL}")
                    listening.set()
                    if again:  # what was committed while not listening is looked at
                        changes.notify()
                    pause, again = 0.5, True
                    async for note in conn.notifies():
                        if note.payload == self._schema:
                            changes.notify()
            except psycopg.Error as exc:
                again = True
                _log.debug("listening for wake-ups failed, again in %.1fs: %s", pause, exc)
            listening.set()  # not listening: the subscriber goes on by polling
            await asyncio.sleep(pause)
            pause = min(pause * 2, 30.0)

    async def _server_answers(self) -> bool:
        try:
            conn = await psycopg.AsyncConnection.connect(
                self._dsn, connect_timeout=max(2, round(self._connect_timeout))
            )
        except psycopg.Error:
            return False
        await conn.close()
        return True

    async def _get_pool(self) -> AsyncConnectionPool[_Connection]:
        if self._pool is not None:
            return self._pool
        async with self._open_lock:
            if self._pool is None:
                # One direct connection first: it fails at once while the server is down
                # (a pool would keep trying with growing pauses), and checks the schema.
                conn = await psycopg.AsyncConnection.connect(
                    self._dsn, connect_timeout=max(2, round(self._connect_timeout))
                )
                async with conn:
                    await self._setup(conn)
                # Every connection is checked as it leaves the pool: after a server restart
                # the idle ones are dead, and each would otherwise fail one call.
                pool: AsyncConnectionPool[_Connection] = AsyncConnectionPool(
                    self._dsn,
                    connection_class=_Connection,
                    min_size=1,
                    max_size=self._max,
                    open=False,
                    check=_check_connection,
                    timeout=self._connect_timeout,
                    # Statements are prepared from their first use, not their fifth: a
                    # short run's appends are as quick as a long run's.
                    kwargs={
                        "connect_timeout": max(2, round(self._connect_timeout)),
                        "prepare_threshold": 0,
                        # The store's transactions say BEGIN and COMMIT themselves.
                        "autocommit": True,
                    },
                )
                await pool.open(wait=False)
                self._pool = pool
        return self._pool

    def _drop_pool(self, pool: AsyncConnectionPool[_Connection]) -> None:
        # The server went away: the next call opens a new pool (through one direct
        # connection, tried at once) instead of waiting out this pool's reconnect pauses.
        # Connections in use finish their work and are closed when they come back.
        if self._pool is pool:
            self._pool = None
            closing = asyncio.get_running_loop().create_task(pool.close(timeout=1))
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)

    async def _setup(self, conn: _Conn, *, migrate: bool = False) -> int:
        """Check the schema (creating a new one); with ``migrate``, bring an older one up to
        date. The version it had."""
        async with conn.transaction():
            # Creating or migrating the schema is serialised across processes.
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
            program = check_format(self._dialect, create=True, migrate=migrate)
            return await drive_async(program, lambda statement: _execute(conn, statement, None))


_BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
_NOT_DURABLE = "SET LOCAL synchronous_commit TO OFF"


async def _roll_back(conn: _Conn) -> None:
    # A transaction left open by a failure is rolled back before the connection goes back
    # to the pool (a broken connection is discarded by the pool instead).
    if not conn.broken and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        with contextlib.suppress(psycopg.Error):
            await conn.execute("ROLLBACK", prepare=False)


async def _check_connection(conn: _Conn) -> None:
    """Check a connection leaving the pool without a round trip while its socket is quiet:
    a server that closed it (a restart, a failover) left it readable, and only then is it
    asked (an empty query) whether it still answers."""
    if conn.closed:
        raise psycopg.OperationalError("the connection is closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        await AsyncConnectionPool.check_connection(conn)


async def _execute(
    conn: _Conn, statement: Statement | Together, pipe: psycopg.AsyncPipeline | None
) -> Any:
    if isinstance(statement, Together):
        # In pipeline mode every query is sent before the first answer is waited for.
        sent = [await conn.execute(each.text, each.params or None) for each in statement.statements]
        return tuple(
            [
                each.reply(await cur.fetchall(), cur.rowcount)
                for each, cur in zip(statement.statements, sent, strict=True)
            ]
        )
    if statement.answer == "many":
        if statement.params:
            async with conn.cursor() as cursor:
                await cursor.executemany(statement.text, statement.params)
        return None
    cur = await conn.execute(statement.text, statement.params or None)
    if statement.answer == "none":
        return None  # in pipeline mode, not waited for: its errors come with the next answer
    if statement.answer == "count" and pipe is not None:
        await pipe.sync()  # the row count is known once its result arrived
    rows = await cur.fetchall() if statement.returns_rows else []
    return statement.reply(rows, cur.rowcount)


async def _alone_statement(conn: _Connection, statement: Statement) -> Any:
    # One statement in autocommit, on the connection's kept cursor.
    if statement.answer == "many":
        return await _execute(conn, statement, None)
    cursor = conn.kept
    if cursor is None:
        cursor = conn.kept = conn.cursor()
    await cursor.execute(statement.text, statement.params or None)
    rows = await cursor.fetchall() if statement.returns_rows else []
    if len(rows) > _KEEP_ROWS:
        # A cursor holds its last result until its next statement: one of many rows (a
        # long run's load) goes with the cursor instead of staying in the pool.
        conn.kept = None
    return statement.reply(rows, cursor.rowcount)


_KEEP_ROWS = 64


async def _one_step(
    program: Program[_T], run: Callable[[Statement | Together], Awaitable[Any]]
) -> _T:
    """Drive ``program``, which must end after its first statement."""
    try:
        answer = await run(program.send(None))
        program.send(answer)
    except StopIteration as done:
        result: _T = done.value
        return result
    finally:
        program.close()
    raise RuntimeError("a program run alone must end after its first statement")


async def _pipelined(conn: _Conn, step: Statement | Together, begin: tuple[str, ...]) -> Any:
    # ``begin``, the statements and COMMIT are sent, then the pipeline's closing sync waits
    # once for all their answers; the rows are read from the cursors after it.
    statements = step.statements if isinstance(step, Together) else (step,)
    try:
        async with conn.pipeline():
            for text in begin:
                await conn.execute(text, prepare=False)
            sent = [await conn.execute(each.text, each.params or None) for each in statements]
            await conn.execute("COMMIT", prepare=False)
    except BaseException:
        await _roll_back(conn)
        raise
    replies = [
        each.reply(await cur.fetchall() if each.returns_rows else [], cur.rowcount)
        for each, cur in zip(statements, sent, strict=True)
    ]
    return tuple(replies) if isinstance(step, Together) else replies[0]


# Failures that pass: the server is down, restarting or shutting down, has no connection
# slot free, or a transaction lost a race it can simply run again.
_TRANSIENT_STATES = frozenset({"57P01", "57P02", "57P03", "53300", "40001", "40P01"})


def _transient(exc: psycopg.Error) -> bool:
    if isinstance(exc, psycopg.InterfaceError):
        return "closed" in str(exc) or "lost" in str(exc)
    state = exc.sqlstate
    if state is None:  # no answer from a server at all: refused, reset, pool timeout
        return isinstance(exc, psycopg.OperationalError)
    return state.startswith("08") or state in _TRANSIENT_STATES


def _connection_lost(exc: psycopg.Error) -> bool:
    # No server behind the connection (as opposed to a transaction that lost a race).
    state = exc.sqlstate
    return _transient(exc) and (state is None or state.startswith("08") or state[:3] == "57P")


def _error(exc: psycopg.Error, *, committing: bool = False) -> StoreError:
    said = next(iter(str(exc).splitlines()), "").strip() or type(exc).__name__
    if _transient(exc):
        return StoreUnavailableError(
            "PostgreSQL", f"{type(exc).__name__}: {said}", unknown_outcome=committing
        )
    return StoreError(
        f"PostgreSQL run store failed ({type(exc).__name__}: {exc}). Nothing of the failed "
        "call was written; check the server and retry."
    )
