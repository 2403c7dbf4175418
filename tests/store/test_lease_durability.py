"""A lease's transactions commit without waiting for the disk; a run's events never do.

A lease lost in a crash only leaves its run free (and every append checks the lease it
finds), so taking, renewing and giving one up need no flush of their own: on SQLite such a
transaction runs with ``synchronous = NORMAL`` (the WAL is synced by the next commit that
needs it), on PostgreSQL with ``SET LOCAL synchronous_commit TO OFF``. Seen here where an
operator would see it: the statements SQLite traces, and the bytes sent to PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tether.journal._events import ToolStarted
from tether.store import PostgresRunStore, SQLiteRunStore

from .test_conformance import begun
from .test_round_trips import relayed


async def test_sqlite_syncs_the_wal_for_events_but_not_for_a_lease(tmp_path: Path) -> None:
    store = SQLiteRunStore(tmp_path / "runs.db", signing_key=b"k" * 32)
    try:
        events = begun("r1", "c1")
        await store.append("r1", 0, events)
        conn = store._conn
        assert isinstance(conn, sqlite3.Connection)
        traced: list[str] = []
        conn.set_trace_callback(traced.append)

        await store.acquire("r1", "worker-1", 30)
        await store.renew("r1", "worker-1", 30)
        await store.release("r1", "worker-1")
        lease = list(traced)
        traced.clear()
        await store.append("r1", len(events), [ToolStarted("c1")])
        append = list(traced)
        conn.set_trace_callback(None)
        level = conn.execute("PRAGMA synchronous").fetchone()[0]  # after the lease calls
    finally:
        await store.close()
    assert lease.count("PRAGMA synchronous = NORMAL") == 3
    assert not [s for s in append if s.startswith("PRAGMA synchronous")]
    assert level == 2  # FULL again: the append after them synced the WAL


async def test_postgres_waits_for_the_wal_for_events_but_not_for_a_lease(
    postgres_dsn: str,
) -> None:
    async with relayed(postgres_dsn) as (dsn, relay):
        sent: list[bytes] = []
        relay.watch = sent.append
        store = PostgresRunStore(dsn, schema="lease_durability", signing_key=b"k" * 32)
        try:
            events = begun("r1", "c1")
            await store.append("r1", 0, events)
            sent.clear()
            await store.acquire("r1", "worker-1", 30)
            await store.renew("r1", "worker-1", 30)
            await store.release("r1", "worker-1")
            lease = b"".join(sent)
            sent.clear()
            await store.append("r1", len(events), [ToolStarted("c1")])
            append = b"".join(sent)
        finally:
            await store.close()
    assert lease.count(b"SET LOCAL synchronous_commit TO OFF") == 3
    assert b"synchronous_commit" not in append
