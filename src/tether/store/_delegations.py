"""Delegations kept beside a run store, so that every process of one inbox sees them.

- ``SQLiteDelegationBook``: a table in the run store's SQLite file
  (``tether_session_delegations``; the store leaves tables named ``tether_session*`` alone).
- ``PostgresDelegationBook``: a table ``delegations`` in the schema ``<store schema>_inbox``
  of a PostgreSQL store's database (beside the inbox's sign-ins and channels).

``delegation_book(store)`` picks the one beside ``store`` (else a ``MemoryDelegationBook``).
A delegation is written once and never changed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import Any

from .._sqlite import SideTable
from ..approvals import Delegation, MemoryDelegationBook
from ._protocol import RunStore
from ._sqlite import SQLiteRunStore

__all__ = ["PostgresDelegationBook", "SQLiteDelegationBook", "delegation_book"]

_COLUMNS = "id, from_id, from_roles, to_id, starts, ends, made_by, made_at, reason"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, from_id TEXT NOT NULL, "
    "from_roles TEXT NOT NULL, to_id TEXT NOT NULL, starts TEXT NOT NULL, ends TEXT NOT NULL, "
    "made_by TEXT NOT NULL, made_at TEXT NOT NULL, reason TEXT)"
)


class _SQLDelegations:
    """The statements, in SQL both SQLite and PostgreSQL take (``?`` parameters)."""

    async def _do(self, sql: str, *params: Any) -> list[Any]:
        raise NotImplementedError

    async def save_delegation(self, delegation: Delegation) -> None:
        d = delegation
        await self._do(
            f"INSERT INTO {{table}} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            *(d.id, d.from_id, json.dumps(sorted(d.from_roles)), d.to, _text(d.starts)),
            *(_text(d.ends), d.by, _text(d.at), d.reason),
        )

    async def delegations(
        self, *, to: str | None = None, from_id: str | None = None
    ) -> list[Delegation]:
        rows = await self._do(
            f"SELECT {_COLUMNS} FROM {{table}} WHERE (? IS NULL OR to_id = ?) "
            "AND (? IS NULL OR from_id = ?) ORDER BY made_at, id",
            *(to, to, from_id, from_id),
        )
        return [_delegation(row) for row in rows]


class SQLiteDelegationBook(_SQLDelegations):
    """Delegations in a table of the run store's SQLite file."""

    TABLE = "tether_session_delegations"

    def __init__(self, path: str) -> None:
        self.path = path
        self._table = SideTable(path, _SCHEMA.format(table=self.TABLE))

    async def _do(self, sql: str, *params: Any) -> list[Any]:
        return (await self._table.run(sql.format(table=self.TABLE), params))[0]

    async def aclose(self) -> None:
        """Close the connection (a later call opens a new one)."""
        await self._table.aclose()


class PostgresDelegationBook(_SQLDelegations):
    """Delegations in the table ``delegations`` of the schema ``<store schema>_inbox``."""

    def __init__(self, dsn: str, schema: str) -> None:
        from psycopg import sql

        self.dsn = dsn
        self._table = sql.Identifier(schema, "delegations").as_string(None)
        self._schema = sql.Identifier(schema).as_string(None)
        self._conn: Any = None
        self._lock = asyncio.Lock()

    async def _do(self, statement: str, *params: Any) -> list[Any]:
        import psycopg

        async with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
                create = _SCHEMA.format(table=self._table)
                await self._conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self._schema}; {create}")
            text = statement.format(table=self._table).replace("?", "%s")
            # Untyped parameters compared with IS NULL need a type in PostgreSQL.
            text = text.replace("(%s IS NULL", "(%s::text IS NULL")
            cursor = await self._conn.execute(text, params)
            return list(await cursor.fetchall()) if cursor.description else []

    async def aclose(self) -> None:
        """Close the connection (a later call opens a new one)."""
        async with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()


def delegation_book(
    store: RunStore,
) -> SQLiteDelegationBook | PostgresDelegationBook | MemoryDelegationBook:
    """The delegation book beside ``store``: its SQLite file, its PostgreSQL database, else
    this process's memory."""
    if isinstance(store, SQLiteRunStore) and store.path != ":memory:":
        return SQLiteDelegationBook(store.path)
    postgres = sys.modules.get("tether.store._postgres")
    if postgres is not None and isinstance(store, postgres.PostgresRunStore):
        return PostgresDelegationBook(store.dsn, f"{store.schema}_inbox")
    return MemoryDelegationBook()


def _text(moment: datetime) -> str:
    # Fixed width in UTC: text order is time order.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _delegation(row: Any) -> Delegation:
    id_, from_id, roles, to, starts, ends, by, at, reason = row
    return Delegation(
        id_, from_id, frozenset(json.loads(roles)), to, datetime.fromisoformat(starts),
        datetime.fromisoformat(ends), by, datetime.fromisoformat(at), reason,
    )  # fmt: skip
