"""``PostgresSession``: sessions in a PostgreSQL table, through psycopg 3's async API."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
import zlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .._fork import forget_in_child
from ..errors import UserError
from ..items import Item
from ._codec import decode_item, encode_items
from ._errors import MissingDependencyError, SessionError
from ._protocol import check_limit

try:
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("PostgresSession", "psycopg", "postgres") from exc

__all__ = ["PostgresSession"]

_T = TypeVar("_T")
_Conn = psycopg.AsyncConnection[Any]

# A transaction on a connection is not private to one task: any task using the
# connection meanwhile would run inside it. Sessions sharing a connection
# therefore take turns on it.
_CONNECTION_LOCKS: weakref.WeakKeyDictionary[_Conn, asyncio.Lock] = weakref.WeakKeyDictionary()


class PostgresSession:
    """A session stored in a PostgreSQL table (created on first use if missing).

    Give it a DSN and it opens, owns and closes its own connection; or give it
    an open ``psycopg.AsyncConnection`` that you keep owning (operations then
    join any transaction you have open on it)::

        session = PostgresSession("user-42", "postgresql://app@db/app")
        await session.add_items([user_message("Hi")])
        await session.close()

    Appends to one session are serialised with a transaction-scoped advisory
    lock, so concurrent writers from any number of processes lose nothing
    and each batch stays contiguous. Items are stored as ``json`` (not
    ``jsonb``), which keeps each item's text, and so its key order, exactly.
    """

    def __init__(
        self,
        session_id: str,
        dsn: str | None = None,
        *,
        connection: _Conn | None = None,
        table: str = "tether_session_items",
    ) -> None:
        if (dsn is None) == (connection is None):
            raise UserError("PostgresSession takes either a dsn or a connection (exactly one).")
        parts = table.split(".")
        if len(parts) > 2 or not all(parts):
            raise UserError(
                f"PostgresSession table must be 'name' or 'schema.name', not {table!r}."
            )
        self._session_id = session_id
        self._dsn = dsn
        self._conn = connection
        self._owns_connection = connection is None
        self._table_name = table
        self._table = sql.Identifier(*parts)
        self._index = sql.Identifier(f"{parts[-1]}_session_idx")
        # Advisory locks are database-wide; a key derived from the table name
        # keeps tether's locks apart from the application's own.
        self._lock_space = zlib.crc32(table.encode()) - 2**31
        self._table_ready = False
        self._connect_lock = asyncio.Lock()
        forget_in_child(self, PostgresSession._forked)

    def _forked(self) -> tuple[object, ...]:
        # In a forked child (``tether._fork``): a connection the session opened is the
        # parent's (its socket carries the parent's session) and is not used there; one the
        # application passed in stays the application's to handle.
        self._connect_lock = asyncio.Lock()
        if not self._owns_connection:
            return ()
        conn, self._conn = self._conn, None
        return (conn,)

    @property
    def session_id(self) -> str:
        """The key this session's items are stored under."""
        return self._session_id

    async def get_items(self, limit: int | None = None) -> list[Item]:
        """The stored items, oldest first; with ``limit``, only the latest ``limit`` of them."""
        limit = check_limit(limit)
        if limit == 0:
            return []
        if limit is None:
            query = sql.SQL(
                "SELECT id, item::text FROM {t} WHERE session_id = %s ORDER BY id"
            ).format(t=self._table)
            params: list[Any] = [self._session_id]
        else:
            query = sql.SQL(
                "SELECT id, item FROM (SELECT id, item::text AS item FROM {t} "
                "WHERE session_id = %s ORDER BY id DESC LIMIT %s) AS latest ORDER BY id"
            ).format(t=self._table)
            params = [self._session_id, limit]

        async def select(conn: _Conn) -> list[Item]:
            rows = await (await conn.execute(query, params)).fetchall()
            return [decode_item(text, self._where(row_id)) for row_id, text in rows]

        return await self._run(select)

    async def add_items(self, items: list[Item]) -> None:
        """Append a batch of items in one transaction: all of them are stored, or none."""
        encoded = encode_items(items)
        if not encoded:
            return
        insert = sql.SQL("INSERT INTO {t} (session_id, item) VALUES (%s, %s::json)").format(
            t=self._table
        )

        async def append(conn: _Conn) -> None:
            async with conn.transaction():
                await self._lock_session(conn)
                async with conn.cursor() as cur:
                    await cur.executemany(insert, [(self._session_id, text) for text in encoded])

        await self._run(append)

    async def pop_item(self) -> Item | None:
        """Remove and return the newest item, or ``None`` when the session is empty."""
        newest = sql.SQL(
            "SELECT id, item::text FROM {t} WHERE session_id = %s ORDER BY id DESC LIMIT 1"
        ).format(t=self._table)
        delete = sql.SQL("DELETE FROM {t} WHERE id = %s").format(t=self._table)

        async def pop(conn: _Conn) -> Item | None:
            async with conn.transaction():
                await self._lock_session(conn)
                row = await (await conn.execute(newest, [self._session_id])).fetchone()
                if row is None:
                    return None
                # Decode before deleting: an unreadable item is reported, not dropped.
                item = decode_item(row[1], self._where(row[0]))
                await conn.execute(delete, [row[0]])
                return item

        return await self._run(pop)

    async def clear(self) -> None:
        """Remove every item of this session (other sessions in the table are untouched)."""
        delete = sql.SQL("DELETE FROM {t} WHERE session_id = %s").format(t=self._table)

        async def clear(conn: _Conn) -> None:
            async with conn.transaction():
                await self._lock_session(conn)
                await conn.execute(delete, [self._session_id])

        await self._run(clear)

    async def close(self) -> None:
        """Close the connection this session opened; a connection passed in is left open."""
        if self._owns_connection and self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    async def __aenter__(self) -> PostgresSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- plumbing ---------------------------------------------------------------

    async def _run(self, op: Callable[[_Conn], Awaitable[_T]]) -> _T:
        conn = await self._connection()
        lock = _CONNECTION_LOCKS.setdefault(conn, asyncio.Lock())
        try:
            async with lock:
                if self._owns_connection:
                    conn = await self._checked(conn)
                if not self._table_ready:
                    await self._create_table(conn)
                    self._table_ready = True
                return await op(conn)
        except psycopg.Error as exc:
            raise SessionError(
                f"PostgreSQL session store (table {self._table_name}) failed: "
                f"{_one_line(exc)}. Nothing was lost; retry once the cause is fixed."
            ) from exc

    async def _connection(self) -> _Conn:
        async with self._connect_lock:
            if self._conn is not None and not (self._owns_connection and self._conn.closed):
                return self._conn
            assert self._dsn is not None  # an owned connection always has a DSN
            try:
                self._conn = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
            except psycopg.Error as exc:
                raise SessionError(
                    f"Could not connect to PostgreSQL ({_describe(self._dsn)}): "
                    f"{_one_line(exc)}. Check that the server is running and that the "
                    "DSN's host, port, database, user and password are right."
                ) from exc
            return self._conn

    async def _checked(self, conn: _Conn) -> _Conn:
        # An idle connection may have died with a server restart: checked before each use
        # (one empty query) and replaced, so a restart does not fail the next call.
        try:
            await conn.execute("")
            return conn
        except psycopg.Error:
            with contextlib.suppress(psycopg.Error):
                await conn.close()
            return await self._connection()

    async def _create_table(self, conn: _Conn) -> None:
        async with conn.transaction():
            found = await (
                await conn.execute("SELECT to_regclass(%s)", [self._table.as_string(conn)])
            ).fetchone()
            if found is not None and found[0] is not None:
                return
            # CREATE ... IF NOT EXISTS can still collide when two clients run it
            # at once; the lock makes the second wait and then find the table.
            await conn.execute("SELECT pg_advisory_xact_lock(%s::int4, 0)", [self._lock_space])
            await conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {t} ("
                    "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                    "session_id TEXT NOT NULL, "
                    "item JSON NOT NULL, "
                    "created_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                ).format(t=self._table)
            )
            await conn.execute(
                sql.SQL("CREATE INDEX IF NOT EXISTS {i} ON {t} (session_id, id)").format(
                    i=self._index, t=self._table
                )
            )

    async def _lock_session(self, conn: _Conn) -> None:
        # Held until commit: writers to one session take turns, so ids follow
        # commit order and a batch is never interleaved with another.
        await conn.execute(
            "SELECT pg_advisory_xact_lock(%s::int4, hashtext(%s))",
            [self._lock_space, self._session_id],
        )

    def _where(self, row_id: int) -> str:
        return f"PostgreSQL session {self._session_id!r} in table {self._table_name} (id {row_id})"


def _describe(dsn: str) -> str:
    """Where a DSN points, without its password."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        return "an unparsable DSN"
    host = params.get("host") or params.get("hostaddr") or "the default host"
    port = params.get("port") or 5432
    database, user = params.get("dbname"), params.get("user")
    return f"host {host}, port {port}, database {database!r}, user {user!r}"


def _one_line(exc: BaseException) -> str:
    """A driver message on one line (libpq spreads one error over several)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines).rstrip(".") or type(exc).__name__
