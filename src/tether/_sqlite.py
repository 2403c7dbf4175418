"""What the SQLite session and run stores share: opening a file, WAL, write transactions."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["connect", "enable_wal", "immediate"]


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
