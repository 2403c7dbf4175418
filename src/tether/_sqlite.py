"""What the SQLite session and run stores share: opening a file, WAL, write transactions;
and ``SideTable``, the small tables kept beside a run store in its file."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ._fork import forget_in_child

__all__ = [
    "SideTable",
    "connect",
    "enable_wal",
    "forget_connection_in_child",
    "immediate",
    "open_with_schema",
]


def connect(path: str, busy_timeout: float) -> sqlite3.Connection:
    """A connection that waits up to ``busy_timeout`` seconds for other writers.

    ``isolation_level=None``: tether issues BEGIN/COMMIT itself, so a batch is
    exactly one transaction and reads never hold a write lock.
    """
    conn = sqlite3.connect(
        path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    except BaseException:
        conn.close()
        raise
    return conn


def enable_wal(conn: sqlite3.Connection, busy_timeout: float) -> None:
    """Put the database in WAL mode, so readers in other processes go on while one writes.

    Switching the journal mode takes an exclusive lock, and SQLite reports
    "database is locked" at once (without its busy handler) when another
    connection is opening or switching the same new file at that moment. The
    switch is retried until ``busy_timeout``; a file already in WAL is not touched.
    """
    deadline = time.monotonic() + busy_timeout
    pause = 0.001
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() == "wal":
                return
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if ("locked" not in text and "busy" not in text) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction that takes the lock up front, so it cannot deadlock on upgrade."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        # A failed COMMIT can leave the transaction open; close it so the
        # connection stays usable and nothing of the batch is kept.
        if conn.in_transaction:
            conn.rollback()
        raise


def open_with_schema(path: str, busy_timeout: float, schema: str) -> sqlite3.Connection:
    """A connection to ``path`` (in WAL mode unless ``:memory:``) whose tables ``schema``
    (statements separated by ``;``) has created if they were missing, in one write
    transaction; nothing is left open if that fails."""
    conn = connect(path, busy_timeout)
    try:
        if path != ":memory:":
            enable_wal(conn, busy_timeout)
        with immediate(conn):
            for statement in schema.split(";"):
                if statement.strip():
                    conn.execute(statement)
    except BaseException:
        conn.close()
        raise
    return conn


def forget_connection_in_child(owner: Any, path: str) -> None:
    """In each child forked while ``owner`` lives (``tether._fork``), give it a fresh
    ``_lock`` and forget its ``_conn`` (the parent's connection, which SQLite forbids using
    across a fork): it opens its own on next use. A private ``":memory:"`` database is the
    child's own copy, and kept."""
    forget_in_child(owner, functools.partial(_forked, memory=path == ":memory:"))


def _forked(owner: Any, *, memory: bool) -> tuple[object, ...]:
    owner._lock = threading.Lock()  # another of the parent's threads may have held it
    if memory:
        return ()
    conn, owner._conn = owner._conn, None
    return (conn,)


class SideTable:
    """Tables kept beside a run store in its SQLite file (the inbox's sign-ins, delegations,
    channel announcements): one connection, opened on first use with ``schema`` (created if
    missing), statements run one at a time in a thread; ``aclose`` closes it and a later
    statement opens it again.

    Statements and ``schema`` name each table as ``{key}`` of ``names`` (its name in the
    file) and a floating-point column's type as ``{real}``."""

    def __init__(self, path: str, names: Mapping[str, str], schema: str) -> None:
        self.path = path
        self.names = dict(names)
        self.schema = schema.format(real="REAL", **self.names)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        forget_connection_in_child(self, path)

    def _run(self, sql: str, params: tuple[Any, ...]) -> tuple[list[Any], int]:
        with self._lock:
            if self._conn is None:
                conn = sqlite3.connect(
                    self.path, timeout=5.0, isolation_level=None, check_same_thread=False
                )
                conn.executescript(self.schema)
                self._conn = conn
            cursor = self._conn.execute(sql.format(**self.names), params)
            return cursor.fetchall(), cursor.rowcount

    async def run(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[list[Any], int]:
        """The rows ``sql`` returns and the rows it changed."""
        return await asyncio.to_thread(self._run, sql, params)

    async def aclose(self) -> None:
        """Close the connection (a later statement opens a new one)."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
