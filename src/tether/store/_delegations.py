"""Delegations kept beside a run store, so that every process of one inbox sees them.

- ``SQLiteDelegationBook``: a table in the run store's SQLite file
  (``tether_session_delegations``; the store leaves tables named ``tether_session*`` alone).
- ``PostgresDelegationBook``: a table ``delegations`` in the schema ``<store schema>_inbox``
  of a PostgreSQL store's database (beside the inbox's sign-ins and channels).

``delegation_book(store)`` picks the one beside ``store`` (else a ``MemoryDelegationBook``).
A delegation is written once and never changed.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from .._duration import iso_utc
from ..approvals import Delegation, MemoryDelegationBook
from ._protocol import RunStore
from ._side_tables import SideTables, postgres_side_table, side_table, sqlite_side_table

__all__ = ["PostgresDelegationBook", "SQLiteDelegationBook", "delegation_book"]

_COLUMNS = "id, from_id, from_roles, to_id, starts, ends, made_by, made_at, reason"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, from_id TEXT NOT NULL, "
    "from_roles TEXT NOT NULL, to_id TEXT NOT NULL, starts TEXT NOT NULL, ends TEXT NOT NULL, "
    "made_by TEXT NOT NULL, made_at TEXT NOT NULL, reason TEXT)"
)


_TABLES = {"table": ("tether_session_delegations", "delegations")}


class SQLDelegationBook:
    """The statements, in SQL both SQLite and PostgreSQL take (``_side_tables``)."""

    def __init__(self, table: SideTables) -> None:
        self._table = table

    async def _do(self, sql: str, *params: Any) -> list[Any]:
        return (await self._table.run(sql, params))[0]

    async def save_delegation(self, delegation: Delegation) -> None:
        d = delegation
        await self._do(
            f"INSERT INTO {{table}} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            *(d.id, d.from_id, json.dumps(sorted(d.from_roles)), d.to, iso_utc(d.starts)),
            *(iso_utc(d.ends), d.by, iso_utc(d.at), d.reason),
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

    async def aclose(self) -> None:
        """Close the connection (a later call opens a new one)."""
        await self._table.aclose()


class SQLiteDelegationBook(SQLDelegationBook):
    """Delegations in a table of the run store's SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(sqlite_side_table(path, _TABLES, _SCHEMA))


class PostgresDelegationBook(SQLDelegationBook):
    """Delegations in the table ``delegations`` of the schema ``<store schema>_inbox``."""

    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn = dsn
        super().__init__(postgres_side_table(dsn, schema, _TABLES, _SCHEMA))


def delegation_book(store: RunStore) -> SQLDelegationBook | MemoryDelegationBook:
    """The delegation book beside ``store``: its SQLite file, its PostgreSQL database, else
    this process's memory."""
    table = side_table(store, _TABLES, _SCHEMA)
    return MemoryDelegationBook() if table is None else SQLDelegationBook(table)


def _delegation(row: Any) -> Delegation:
    id_, from_id, roles, to, starts, ends, by, at, reason = row
    return Delegation(
        id_, from_id, frozenset(json.loads(roles)), to, datetime.fromisoformat(starts),
        datetime.fromisoformat(ends), by, datetime.fromisoformat(at), reason,
    )  # fmt: skip
