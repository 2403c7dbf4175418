"""``SQLiteSession``: the default session store, on the standard library's ``sqlite3``."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .._sqlite import forget_connection_in_child, immediate, open_with_schema
from ..items import Item
from ._codec import decode_item, encode_items
from ._errors import SessionError
from ._protocol import check_limit

__all__ = ["SQLiteSession"]

_T = TypeVar("_T")

_TABLE = "tether_session_items"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {_TABLE} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    item TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS {_TABLE}_session ON {_TABLE} (session_id, id);
"""


class SQLiteSession:
    """A session stored in a SQLite database: a file, or memory (the default).

    Many sessions can share one file, and several processes can use the same
    file at once: the database runs in WAL mode, writers wait up to
    ``busy_timeout`` seconds for each other, and every write is a single
    ``BEGIN IMMEDIATE`` transaction. Calls run in a worker thread, so they
    never block the event loop.

    ``":memory:"`` keeps the items for as long as this object lives; each
    ``SQLiteSession(..., ":memory:")`` has its own private database::

        session = SQLiteSession("user-42", "conversations.db")
        await session.add_items([user_message("Hi")])
        await session.close()
    """

    def __init__(
        self,
        session_id: str,
        db_path: str | os.PathLike[str] = ":memory:",
        *,
        busy_timeout: float = 30.0,
    ) -> None:
        self._session_id = session_id
        self._db_path = os.fspath(db_path)
        self._busy_timeout = busy_timeout
        # One connection per object, used by one worker thread at a time: the
        # lock keeps concurrent coroutines from interleaving on it.
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        forget_connection_in_child(self, self._db_path)

    @property
    def session_id(self) -> str:
        """The key this session's items are stored under."""
        return self._session_id

    @property
    def db_path(self) -> str:
        """The database file, or ``":memory:"``."""
        return self._db_path

    async def get_items(self, limit: int | None = None) -> list[Item]:
        """The stored items, oldest first; with ``limit``, only the latest ``limit`` of them."""
        limit = check_limit(limit)
        if limit == 0:
            return []
        return await self._call(self._get_items, limit)

    async def add_items(self, items: list[Item]) -> None:
        """Append a batch of items in one transaction: all of them are stored, or none."""
        encoded = encode_items(items)
        if encoded:
            await self._call(self._add_items, encoded)

    async def pop_item(self) -> Item | None:
        """Remove and return the newest item, or ``None`` when the session is empty."""
        return await self._call(self._pop_item)

    async def clear(self) -> None:
        """Remove every item of this session (other sessions in the file are untouched)."""
        await self._call(self._clear)

    async def close(self) -> None:
        """Close the database connection. A ``":memory:"`` session's items are gone after this."""
        await asyncio.to_thread(self._close)

    async def __aenter__(self) -> SQLiteSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- worker-thread side ---------------------------------------------------

    def _get_items(self, conn: sqlite3.Connection, limit: int | None) -> list[Item]:
        if limit is None:
            sql = f"SELECT id, item FROM {_TABLE} WHERE session_id = ? ORDER BY id"
            params: tuple[Any, ...] = (self._session_id,)
        else:
            sql = (
                f"SELECT id, item FROM (SELECT id, item FROM {_TABLE} WHERE session_id = ? "
                "ORDER BY id DESC LIMIT ?) ORDER BY id"
            )
            params = (self._session_id, limit)
        # One statement is one consistent snapshot, even while others write.
        rows = conn.execute(sql, params).fetchall()
        return [decode_item(text, self._where(row_id)) for row_id, text in rows]

    def _add_items(self, conn: sqlite3.Connection, encoded: list[str]) -> None:
        with immediate(conn):
            conn.executemany(
                f"INSERT INTO {_TABLE} (session_id, item) VALUES (?, ?)",
                [(self._session_id, text) for text in encoded],
            )

    def _pop_item(self, conn: sqlite3.Connection) -> Item | None:
        with immediate(conn):
            row = conn.execute(
                f"SELECT id, item FROM {_TABLE} WHERE session_id = ? ORDER BY id DESC LIMIT 1",
                (self._session_id,),
            ).fetchone()
            if row is None:
                return None
            # Decode before deleting: an unreadable item is reported, not dropped.
            item = decode_item(row[1], self._where(row[0]))
            conn.execute(f"DELETE FROM {_TABLE} WHERE id = ?", (row[0],))
        return item

    def _clear(self, conn: sqlite3.Connection) -> None:
        with immediate(conn):
            conn.execute(f"DELETE FROM {_TABLE} WHERE session_id = ?", (self._session_id,))

    async def _call(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.to_thread(self._locked, fn, *args)

    def _locked(self, fn: Callable[..., _T], *args: Any) -> _T:
        with self._lock:
            try:
                return fn(self._connection(), *args)
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        self._conn = open_with_schema(self._db_path, self._busy_timeout, _SCHEMA)
        return self._conn

    def _close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _where(self, row_id: int) -> str:
        return f"SQLite session {self._session_id!r} in {self._db_path} (row id {row_id})"

    def _error(self, exc: sqlite3.Error) -> SessionError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            hint = (
                f"another connection held the write lock for over {self._busy_timeout:g}s; "
                "retry, or pass a larger busy_timeout"
            )
        elif "unable to open" in text or "readonly" in text:
            hint = "check that the directory exists and that this process may write to the file"
        elif isinstance(exc, sqlite3.DatabaseError) and "not a database" in text:
            hint = "the file is not a SQLite database or is damaged; point db_path at another file"
        else:
            hint = "the batch was not stored; retry once the cause is fixed"
        return SessionError(f"SQLite session store {self._db_path} failed ({text}): {hint}.")
