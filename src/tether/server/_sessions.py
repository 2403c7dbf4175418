"""The web page's sign-ins, kept server-side beside the run store, so that they can end.

A browser that signs in gets a random session id in its cookie; the store keeps only its
SHA-256 (someone who reads the table cannot sign in with it), with the approver, when it
began and when it was last used, and an HMAC of the API token it signed in with (never
the token). Signing out deletes the row, so the same cookie no longer works anywhere.

- ``SQLiteSessions``: a table ``tether_session_inbox`` in the run store's own file.
- ``PostgresSessions``: a table in the schema ``<store schema>_inbox`` of its database.
- ``MemorySessions``: in the process (for other stores): sessions end with it.

``sessions_for(store)`` picks the one beside a store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from .._governance import Approver
from ..store import RunStore
from ..store._side_tables import (
    SideTables,
    postgres_side_table,
    side_table,
    sqlite_side_table,
)

__all__ = [
    "MemorySessions",
    "OwnSessions",
    "PostgresSessions",
    "SessionBook",
    "SignIn",
    "SQLiteSessions",
    "sessions_for",
]


@dataclass(frozen=True)
class SignIn:
    """One browser's sign-in: who, the HMAC of the token it signed in with (never the
    token), when it began and when it was last used (seconds since the epoch)."""

    approver: Approver
    credential: str
    created_at: float
    seen_at: float

    def row(self) -> tuple[str, str, float, float]:
        who = [self.approver.id, self.approver.display_name, sorted(self.approver.roles)]
        return (json.dumps(who), self.credential, self.created_at, self.seen_at)

    @classmethod
    def of(cls, who: str, credential: str, created_at: float, seen_at: float) -> SignIn:
        approver_id, name, roles = json.loads(who)
        approver = Approver(approver_id, name, roles=frozenset(roles))
        return cls(approver, credential, float(created_at), float(seen_at))


class SessionBook(Protocol):
    """Where sign-ins are kept, by the SHA-256 of their session id (``App(sessions=...)``).

    Every server process of one inbox must see the same book: the default is a table
    beside the run store. Times are seconds since the epoch, by the governance's clock.
    """

    async def add(self, key: str, sign_in: SignIn) -> None:
        """Keep a new sign-in."""
        ...

    async def get(self, key: str) -> SignIn | None:
        """The sign-in kept under ``key``, or ``None``."""
        ...

    async def seen(self, key: str, at: float) -> None:
        """Record that the sign-in was used at ``at``."""
        ...

    async def remove(self, key: str) -> None:
        """Forget the sign-in (signing out; an ended session). Nothing if there is none."""
        ...

    async def all(self) -> list[tuple[str, SignIn]]:
        """Every sign-in kept, with its key, oldest first (an admin's list)."""
        ...


class MemorySessions:
    """Sign-ins in this process (they end with it, and other processes do not see them)."""

    def __init__(self) -> None:
        self._rows: dict[str, SignIn] = {}

    async def add(self, key: str, sign_in: SignIn) -> None:
        self._rows[key] = sign_in

    async def get(self, key: str) -> SignIn | None:
        return self._rows.get(key)

    async def seen(self, key: str, at: float) -> None:
        found = self._rows.get(key)
        if found:
            self._rows[key] = SignIn(found.approver, found.credential, found.created_at, at)

    async def remove(self, key: str) -> None:
        self._rows.pop(key, None)

    async def all(self) -> list[tuple[str, SignIn]]:
        return sorted(self._rows.items(), key=lambda row: (row[1].created_at, row[0]))

    async def aclose(self) -> None:
        """Nothing to close."""


_COLUMNS = "key, who, credential, created_at, seen_at"


_TABLES = {"table": ("tether_session_inbox", "sessions")}
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, who TEXT NOT NULL, "
    "credential TEXT NOT NULL, created_at {real} NOT NULL, seen_at {real} NOT NULL)"
)


class SQLSessions:
    """Sign-ins in a table beside the run store (``tether.store._side_tables``): the same
    statements for its SQLite file and its PostgreSQL database."""

    def __init__(self, table: SideTables) -> None:
        self._table = table

    async def _do(self, sql: str, *params: Any) -> list[Any]:
        return (await self._table.run(sql, params))[0]

    async def add(self, key: str, sign_in: SignIn) -> None:
        await self._do(
            f"INSERT INTO {{table}} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)", key, *sign_in.row()
        )

    async def get(self, key: str) -> SignIn | None:
        rows = await self._do(
            "SELECT who, credential, created_at, seen_at FROM {table} WHERE key = ?", key
        )
        return SignIn.of(*rows[0]) if rows else None

    async def seen(self, key: str, at: float) -> None:
        await self._do("UPDATE {table} SET seen_at = ? WHERE key = ?", at, key)

    async def remove(self, key: str) -> None:
        await self._do("DELETE FROM {table} WHERE key = ?", key)

    async def all(self) -> list[tuple[str, SignIn]]:
        rows = await self._do(f"SELECT {_COLUMNS} FROM {{table}} ORDER BY created_at, key")
        return [(row[0], SignIn.of(*row[1:])) for row in rows]

    async def prune(self, before: float) -> None:
        """Forget sign-ins last used before ``before`` (they cannot be used any more)."""
        await self._do("DELETE FROM {table} WHERE seen_at < ?", before)

    async def aclose(self) -> None:
        """Close the connection (a later call opens a new one)."""
        await self._table.aclose()


class SQLiteSessions(SQLSessions):
    """Sign-ins in a table of the run store's SQLite file (``tether_session_inbox``)."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(sqlite_side_table(path, _TABLES, _SCHEMA))


class PostgresSessions(SQLSessions):
    """Sign-ins in a table ``sessions`` of the schema ``<store schema>_inbox`` (PostgreSQL)."""

    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn = dsn
        self.schema = schema
        super().__init__(postgres_side_table(dsn, schema, _TABLES, _SCHEMA))


OwnSessions = MemorySessions | SQLSessions
"""A session book ``sessions_for`` makes (each closes its connection with ``aclose``)."""


def sessions_for(store: RunStore) -> OwnSessions:
    """The session book beside ``store``: its SQLite file, its PostgreSQL database, else
    this process's memory."""
    table = side_table(store, _TABLES, _SCHEMA)
    return MemorySessions() if table is None else SQLSessions(table)
