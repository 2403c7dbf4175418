"""The small tables kept beside a run store (the inbox's sign-ins, delegations, channel
announcements), in either of its databases, behind one interface.

A book writes its statements once, in SQL both SQLite and PostgreSQL take: ``?``
parameters, ``{name}`` for each of its tables and ``{real}`` for a floating-point column in
its schema. ``side_table(store, tables, schema)`` gives it the table beside ``store``:

- a SQLite file store: tables in the same file, named ``tether_session_*`` (the store leaves
  tables so named alone), through ``tether._sqlite.SideTable``;
- a PostgreSQL store: tables in the schema ``<store schema>_inbox`` of its database,
  through ``PostgresSideTable``;
- any other store: ``None`` (the book keeps its rows in memory).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from typing import Any, Protocol

from .._fork import forget_in_child
from .._sqlite import SideTable
from ._protocol import RunStore
from ._sqlite import SQLiteRunStore

__all__ = ["PostgresSideTable", "SideTables", "side_table"]


class SideTables(Protocol):
    """Tables a book runs its statements on (``run`` returns the rows and the count of rows
    changed); ``aclose`` closes the connection and a later statement opens another."""

    async def run(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[list[Any], int]: ...

    async def aclose(self) -> None: ...


class PostgresSideTable:
    """Tables in the schema ``schema`` of a PostgreSQL database: one autocommit connection,
    opened on first use (creating the schema and ``ddl``), opened again once if it died."""

    def __init__(self, dsn: str, schema: str, names: Mapping[str, str], ddl: str) -> None:
        from psycopg import sql

        self.dsn = dsn
        self.names = {
            key: sql.Identifier(schema, name).as_string(None) for key, name in names.items()
        }
        self._create = (
            f"CREATE SCHEMA IF NOT EXISTS {sql.Identifier(schema).as_string(None)}; "
            + ddl.format(real="DOUBLE PRECISION", **self.names)
        )
        self._conn: Any = None
        self._lock = asyncio.Lock()
        forget_in_child(self, PostgresSideTable._forked)

    def _forked(self) -> tuple[object, ...]:
        # In a forked child (``tether._fork``): the connection is the parent's (its socket
        # carries the parent's session), neither used nor closed there; the child opens its own.
        conn, self._conn = self._conn, None
        self._lock = asyncio.Lock()
        return (conn,)

    def _text(self, statement: str) -> str:
        text = statement.format(**self.names).replace("?", "%s")
        # Untyped parameters compared with IS NULL need a type in PostgreSQL.
        return text.replace("(%s IS NULL", "(%s::text IS NULL")

    async def run(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[list[Any], int]:
        import psycopg

        async with self._lock:
            for attempt in (1, 2):  # once more on a fresh connection if the old one died
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = await psycopg.AsyncConnection.connect(
                            self.dsn, autocommit=True
                        )
                        await self._conn.execute(self._create)
                    cursor = await self._conn.execute(self._text(sql), params)
                    rows = list(await cursor.fetchall()) if cursor.description else []
                    return rows, cursor.rowcount
                except psycopg.OperationalError:
                    self._conn = None
                    if attempt == 2:
                        raise
        return [], 0  # pragma: no cover - the loop returns or raises

    async def aclose(self) -> None:
        async with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()


def side_table(
    store: RunStore, tables: Mapping[str, tuple[str, str]], schema: str
) -> SideTables | None:
    """The tables beside ``store``; ``tables`` maps each ``{name}`` of the statements to its
    table's name in a SQLite file and in PostgreSQL. ``None`` for a store of neither kind
    (or a SQLite store in memory)."""
    if isinstance(store, SQLiteRunStore) and store.path != ":memory:":
        return sqlite_side_table(store.path, tables, schema)
    # A PostgreSQL store was made with its module imported (psycopg may not be installed).
    postgres = sys.modules.get("tether.store._postgres")
    if postgres is not None and isinstance(store, postgres.PostgresRunStore):
        return postgres_side_table(store.dsn, f"{store.schema}_inbox", tables, schema)
    return None


def sqlite_side_table(path: str, tables: Mapping[str, tuple[str, str]], schema: str) -> SideTables:
    """The tables in the SQLite file at ``path``."""
    return SideTable(path, {key: names[0] for key, names in tables.items()}, schema)


def postgres_side_table(
    dsn: str, schema_name: str, tables: Mapping[str, tuple[str, str]], schema: str
) -> PostgresSideTable:
    """The tables in the schema ``schema_name`` of the PostgreSQL database at ``dsn``."""
    return PostgresSideTable(
        dsn, schema_name, {key: names[1] for key, names in tables.items()}, schema
    )
