"""The run stores under test, each opened fresh per test, with a clock the test moves."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from tether.store import PostgresRunStore, RunStore, SQLiteRunStore


@dataclass
class FakeClock:
    """Time that moves only when the test says so."""

    now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Backend:
    """How to open stores on one database, and to reach its tables behind the store's back."""

    name: str
    clock: FakeClock
    open: Callable[..., RunStore]
    raw: Callable[[str, tuple[Any, ...]], list[Any]]
    """Run SQL with ``{events}``, ``{runs}``, ``{pending}``, ``{in_flight}``, ``{rules}``,
    ``{meta}`` named."""
    schema: str | None = None
    """The PostgreSQL schema the stores live in."""


def sqlite_backend(path: Path, clock: FakeClock, **defaults: Any) -> Backend:
    names = {
        "events": "tether_events",
        "runs": "tether_runs",
        "pending": "tether_pending",
        "in_flight": "tether_in_flight",
        "rules": "tether_rules",
        "meta": "tether_store",
    }

    def open_store(**options: Any) -> RunStore:
        return SQLiteRunStore(path, clock=clock, **{**defaults, **options})

    def raw(sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            return conn.execute(sql.format(**names), params).fetchall()
        finally:
            conn.close()

    return Backend("sqlite", clock, open_store, raw)


def postgres_backend(dsn: str, clock: FakeClock) -> Backend:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    names = {
        key: f'"{schema}".{key}' for key in ("events", "runs", "pending", "in_flight", "rules")
    } | {
        "meta": f'"{schema}".store_meta',
        "schema": f'"{schema}"',
    }

    def open_store(**options: Any) -> RunStore:
        options.setdefault("schema", schema)
        return PostgresRunStore(dsn, clock=clock, max_connections=4, **options)

    def raw(sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with psycopg.connect(dsn, autocommit=True) as conn:
            cur = conn.execute(sql.format(**names).replace("?", "%s"), params)
            return cur.fetchall() if cur.description else []

    return Backend("postgres", clock, open_store, raw, schema)
