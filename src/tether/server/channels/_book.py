"""What the channels sent, and which one-time links and Slack payloads were used: a book
kept beside the run store, so that every worker and server process of one inbox sees it.

- ``SQLiteChannelBook``: two tables in the run store's SQLite file
  (``tether_session_channels`` and ``tether_session_channel_nonces``; the store leaves
  tables named ``tether_session*`` alone).
- ``PostgresChannelBook``: two tables in the schema ``<store schema>_inbox`` of a
  PostgreSQL store's database.
- ``MemoryChannelBook``: in the process (other stores): one worker, and announcements are
  sent again after a restart.

An announcement is *claimed* by one process before it is sent (an insert that only one
process wins), so two workers never post the same request twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from ...store import RunStore
from ...store._side_tables import (
    SideTables,
    postgres_side_table,
    side_table,
    sqlite_side_table,
)

__all__ = [
    "Announcement",
    "ChannelBook",
    "MemoryChannelBook",
    "PostgresChannelBook",
    "SQLiteChannelBook",
    "book_for",
]


@dataclass(frozen=True, slots=True)
class Announcement:
    """One request as one channel announced it.

    ``state``: ``claimed`` (a process is sending it), ``open`` (sent; updated as the call
    is decided), ``failed`` (not sent yet; tried again at ``next_try``), ``closed`` (the
    call was decided and the announcement says so). ``ref``: what the channel needs to
    update it (a Slack message's channel and ``ts``). ``shown``: what it says now."""

    channel: str
    run_id: str
    call_id: str
    fingerprint: str
    state: str
    ref: dict[str, Any]
    shown: str
    tries: int
    next_try: float
    error: str | None = None
    seq: int = 0
    """The run's seq when ``shown`` was read: a run not appended to since is not read again."""


class ChannelBook(Protocol):
    """Where announcements and used one-time nonces are kept (times: epoch seconds)."""

    async def claim(self, channel: str, run_id: str, call_id: str, fp: str, at: float) -> bool:
        """Claim the announcement of a call on a channel: whether this caller won it."""
        ...

    async def save(self, item: Announcement) -> None:
        """Record an announcement's new state."""
        ...

    async def active(
        self, *, after: tuple[str, str, str] | None = None, limit: int = 200
    ) -> list[Announcement]:
        """A page of the announcements not closed (open, failed or claimed), by channel, run
        and call id, after the key ``after``."""
        ...

    async def failing(self, limit: int = 100) -> list[Announcement]:
        """Announcements whose post failed and waits for its next try."""
        ...

    async def spend(self, nonce: str, keep_until: float) -> bool:
        """Record a one-time nonce as used, remembered until ``keep_until`` (after which it
        is refused anyway, as stale or expired): whether it was unused until now."""
        ...

    async def spent(self, nonce: str) -> bool:
        """Whether a one-time nonce was used."""
        ...

    async def prune(self, now: float, closed_before: float) -> None:
        """Forget the nonces kept until before ``now``, and the closed announcements last
        touched before ``closed_before``."""
        ...


class MemoryChannelBook:
    """Announcements and nonces in this process."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str, str], Announcement] = {}
        self._nonces: dict[str, float] = {}

    async def claim(self, channel: str, run_id: str, call_id: str, fp: str, at: float) -> bool:
        key = (channel, run_id, call_id)
        if key in self._rows:
            return False
        self._rows[key] = Announcement(channel, run_id, call_id, fp, "claimed", {}, "", 0, at)
        return True

    async def save(self, item: Announcement) -> None:
        self._rows[(item.channel, item.run_id, item.call_id)] = item

    async def active(
        self, *, after: tuple[str, str, str] | None = None, limit: int = 200
    ) -> list[Announcement]:
        keys = sorted(k for k, row in self._rows.items() if row.state != "closed")
        return [self._rows[k] for k in keys if after is None or k > after][:limit]

    async def failing(self, limit: int = 100) -> list[Announcement]:
        return [row for row in self._rows.values() if row.state == "failed"][:limit]

    async def spend(self, nonce: str, keep_until: float) -> bool:
        if nonce in self._nonces:
            return False
        self._nonces[nonce] = keep_until
        return True

    async def spent(self, nonce: str) -> bool:
        return nonce in self._nonces

    async def prune(self, now: float, closed_before: float) -> None:
        self._nonces = {k: v for k, v in self._nonces.items() if v >= now}
        self._rows = {
            k: row
            for k, row in self._rows.items()
            if row.state != "closed" or row.next_try >= closed_before
        }

    async def aclose(self) -> None:
        """Nothing to close."""


_COLUMNS = "channel, run_id, call_id, fingerprint, state, ref, shown, tries, next_try, error, seq"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS {table} (channel TEXT NOT NULL, run_id TEXT NOT NULL, call_id "
    "TEXT NOT NULL, fingerprint TEXT NOT NULL, state TEXT NOT NULL, ref TEXT NOT NULL, shown "
    "TEXT NOT NULL, tries INTEGER NOT NULL, next_try {real} NOT NULL, error TEXT, seq INTEGER "
    "NOT NULL, PRIMARY KEY (channel, run_id, call_id)); CREATE TABLE IF NOT EXISTS {nonces} "
    "(nonce TEXT PRIMARY KEY, keep_until {real} NOT NULL)"
)


_TABLES = {
    "table": ("tether_session_channels", "channels"),
    "nonces": ("tether_session_channel_nonces", "channel_nonces"),
}


class SQLChannelBook:
    """The book's statements, once, in SQL both SQLite and PostgreSQL take (``?``
    parameters; ``{table}`` and ``{nonces}`` name the two tables), on the tables beside the
    run store (``tether.store._side_tables``)."""

    def __init__(self, table: SideTables) -> None:
        self._table = table

    async def _do(self, sql: str, *params: Any) -> tuple[list[Any], int]:
        return await self._table.run(sql, params)

    async def aclose(self) -> None:
        """Close the connection (a later call opens a new one)."""
        await self._table.aclose()

    async def claim(self, channel: str, run_id: str, call_id: str, fp: str, at: float) -> bool:
        _, count = await self._do(
            f"INSERT INTO {{table}} ({_COLUMNS}) VALUES (?, ?, ?, ?, 'claimed', ?, '', 0, ?, "
            "NULL, 0) ON CONFLICT DO NOTHING",
            *(channel, run_id, call_id, fp, "{}", at),
        )
        return count == 1

    async def save(self, item: Announcement) -> None:
        await self._do(
            "UPDATE {table} SET state = ?, ref = ?, shown = ?, tries = ?, next_try = ?, "
            "error = ?, seq = ? WHERE channel = ? AND run_id = ? AND call_id = ?",
            *(item.state, json.dumps(item.ref), item.shown, item.tries, item.next_try),
            *(item.error, item.seq, item.channel, item.run_id, item.call_id),
        )

    async def active(
        self, *, after: tuple[str, str, str] | None = None, limit: int = 200
    ) -> list[Announcement]:
        rows, _ = await self._do(
            f"SELECT {_COLUMNS} FROM {{table}} WHERE state != 'closed' AND (channel, run_id, "
            "call_id) > (?, ?, ?) ORDER BY channel, run_id, call_id LIMIT ?",
            *(after or ("", "", "")),
            limit,
        )
        return [_announcement(row) for row in rows]

    async def failing(self, limit: int = 100) -> list[Announcement]:
        rows, _ = await self._do(
            f"SELECT {_COLUMNS} FROM {{table}} WHERE state = 'failed' LIMIT ?", limit
        )
        return [_announcement(row) for row in rows]

    async def spend(self, nonce: str, keep_until: float) -> bool:
        _, count = await self._do(
            "INSERT INTO {nonces} (nonce, keep_until) VALUES (?, ?) ON CONFLICT DO NOTHING",
            nonce,
            keep_until,
        )
        return count == 1

    async def prune(self, now: float, closed_before: float) -> None:
        await self._do("DELETE FROM {nonces} WHERE keep_until < ?", now)
        await self._do("DELETE FROM {table} WHERE state = 'closed' AND next_try < ?", closed_before)

    async def spent(self, nonce: str) -> bool:
        rows, _ = await self._do("SELECT 1 FROM {nonces} WHERE nonce = ?", nonce)
        return bool(rows)


class SQLiteChannelBook(SQLChannelBook):
    """Announcements and nonces in tables of the run store's SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(sqlite_side_table(path, _TABLES, _SCHEMA))


class PostgresChannelBook(SQLChannelBook):
    """Announcements and nonces in tables ``channels`` and ``channel_nonces`` of the schema
    ``<store schema>_inbox`` (beside the sign-ins of ``PostgresSessions``)."""

    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn = dsn
        super().__init__(postgres_side_table(dsn, schema, _TABLES, _SCHEMA))


def _announcement(row: Any) -> Announcement:
    channel, run_id, call_id, fp, state, ref, shown, tries, next_try, error, seq = row
    return Announcement(
        channel, run_id, call_id, fp, state, json.loads(ref), shown, tries, next_try, error, seq
    )


def book_for(store: RunStore) -> MemoryChannelBook | SQLChannelBook:
    """The book beside ``store``: its SQLite file, its PostgreSQL database, else this
    process's memory."""
    table = side_table(store, _TABLES, _SCHEMA)
    return MemoryChannelBook() if table is None else SQLChannelBook(table)
