"""The SQLite dialect of the run store: its schema and migrations, times as text, and
the words its SQL says differently (see ``_dialect``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ._dialect import Dialect
from ._statements import Statement, select

__all__ = ["SQLiteDialect"]

# The rules table as version 3 added it (the fresh schema and migration 2 share it).
_RULES_TABLE = """
CREATE TABLE tether_rules (
    id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    tool TEXT NOT NULL,
    scope TEXT NOT NULL,
    scope_id TEXT,
    condition TEXT NOT NULL,
    max_uses INTEGER,
    uses INTEGER NOT NULL,
    expires_at TEXT,
    granted_by TEXT NOT NULL,
    granted_roles TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    reason TEXT,
    receipt TEXT,
    revoked_at TEXT,
    revoked_by TEXT,
    revoked_roles TEXT,
    revoke_reason TEXT
) WITHOUT ROWID;
CREATE INDEX tether_rules_tool ON tether_rules (agent, tool, granted_at)
"""

_SCHEMA = (
    """
CREATE TABLE tether_store (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE tether_runs (
    id TEXT PRIMARY KEY,
    root_agent TEXT NOT NULL,
    status TEXT NOT NULL,
    in_doubt INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL,
    head_mac TEXT,
    seal TEXT,
    lease_owner TEXT,
    lease_until TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    touched_at TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX tether_runs_created ON tether_runs (created_at, id);
CREATE INDEX tether_runs_status_touched ON tether_runs (status, touched_at);
CREATE INDEX tether_runs_status_created ON tether_runs (status, created_at, id);
CREATE TABLE tether_events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    event TEXT NOT NULL,
    mac TEXT,
    appended_at TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE tether_pending (
    run_id TEXT NOT NULL,
    call_id TEXT NOT NULL,
    agent TEXT NOT NULL,
    tool TEXT NOT NULL,
    arguments TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    expires_at TEXT,
    kind TEXT NOT NULL DEFAULT 'approval',
    required_approvals INTEGER NOT NULL DEFAULT 1,
    requested_by TEXT,
    PRIMARY KEY (run_id, call_id)
) WITHOUT ROWID;
CREATE INDEX tether_pending_requested ON tether_pending (requested_at);
CREATE INDEX tether_pending_expires ON tether_pending (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE tether_in_flight (
    run_id TEXT NOT NULL,
    call_id TEXT NOT NULL,
    started_seq INTEGER NOT NULL,
    PRIMARY KEY (run_id, call_id)
) WITHOUT ROWID;
"""
    + _RULES_TABLE
    + """;
CREATE INDEX tether_rules_granted ON tether_rules (granted_at, id);
CREATE INDEX tether_rules_run ON tether_rules (scope_id) WHERE scope = 'run';
"""
)

# Forward migrations: MIGRATIONS[v] takes a store from version v to v + 1.
_MIGRATIONS: dict[int, str] = {
    1: """
ALTER TABLE tether_pending ADD COLUMN expires_at TEXT;
CREATE INDEX tether_pending_expires ON tether_pending (expires_at) WHERE expires_at IS NOT NULL
""",
    2: _RULES_TABLE,
    3: """
ALTER TABLE tether_pending ADD COLUMN kind TEXT NOT NULL DEFAULT 'approval'
""",
    # Version 5 also signs new event rows another way; older rows verify as they are.
    # required_approvals is filled from the events of the runs that wait (see _upkeep.check_format).
    4: """
ALTER TABLE tether_pending ADD COLUMN required_approvals INTEGER NOT NULL DEFAULT 1;
CREATE INDEX tether_rules_granted ON tether_rules (granted_at, id);
CREATE INDEX tether_rules_run ON tether_rules (scope_id) WHERE scope = 'run'
""",
    # Version 6: a status filter reads its runs through an index, in listing order. The runs
    # in flight get their status folded again (see _upkeep._migrate).
    5: """
CREATE INDEX tether_runs_status_created ON tether_runs (status, created_at, id)
""",
    # Version 7: no statement; the in_flight rows are deleted (see _upkeep._migrate).
    6: "",
    # Version 8: who asked for the run, on each of its pending calls (filled from the events
    # of the runs that wait, see _upkeep._migrate).
    7: "ALTER TABLE tether_pending ADD COLUMN requested_by TEXT",
    # Version 9: a run in doubt is stored 'running' with in_doubt set, and the index on
    # status holds touched_at (the update time to the minute) instead of updated_at, so that
    # a turn's commits leave the run's index entries alone. A migrated row's touched_at is
    # its update time (never later than it, which is all that reads of it need). A run's
    # seal (one MAC over its rows, see _seal) is written by its next append that pauses or
    # ends it; until then its loads check each row's MAC.
    8: """
ALTER TABLE tether_runs ADD COLUMN in_doubt INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tether_runs ADD COLUMN touched_at TEXT NOT NULL DEFAULT '';
ALTER TABLE tether_runs ADD COLUMN seal TEXT;
DROP INDEX tether_runs_status;
UPDATE tether_runs SET touched_at = updated_at, in_doubt = (status = 'in_doubt');
UPDATE tether_runs SET status = 'running' WHERE status = 'in_doubt';
CREATE INDEX tether_runs_status_touched ON tether_runs (status, touched_at)
""",
}

# Tables another part of tether may keep in the same file (sessions share it).
_SHARED_PREFIX = "tether_session"

_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"


def _statements(script: str) -> tuple[str, ...]:
    return tuple(statement for statement in script.split(";") if statement.strip())


_WORDS = {
    "runs": "tether_runs",
    "events": "tether_events",
    "pending": "tether_pending",
    "in_flight": "tether_in_flight",
    "rules": "tether_rules",
    "meta": "tether_store",
    "event": "event",
    # (``_reads._JOINED``: the rows come in the primary key's order, seq order.)
    "joined": "group_concat(v.event, char(10))",
    "json": "",
    "for_update": "",  # BEGIN IMMEDIATE already holds the write lock
    "is": "IS",
    "if_new": "",
    "pending_by_expiry": "tether_pending INDEXED BY tether_pending_expires",
    # Left alone, SQLite walks the created_at index to skip a sort: every run.
    "runs_by_touch": "tether_runs r INDEXED BY tether_runs_status_touched",
}


class SQLiteDialect(Dialect):
    """SQLite: tables named ``tether_*``, times as fixed-width UTC text (so that text
    order is time order), and the index hints its planner needs."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.where = path
        self.meta_table = "tether_store"
        self.words = _WORDS
        self.schema = _statements(_SCHEMA)
        self.migrations = {step: _statements(script) for step, script in _MIGRATIONS.items()}
        # A short run's rows cost no more than its texts joined, read after them.
        self.joined_from = 64

    def replace_into(self, table: str, columns: tuple[str, ...], key: tuple[str, ...]) -> str:
        values = ", ".join(f":{column}" for column in columns)
        return f"INSERT OR REPLACE INTO {{{table}}} ({', '.join(columns)}) VALUES ({values})"

    def stamp(self, moment: datetime) -> str:
        # Fixed width in UTC, so text order is time order (``_TIME``; isoformat is the fast
        # way to write it).
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat("T", "microseconds") + "Z"

    def time(self, stored: Any) -> datetime:
        # ``_TIME`` text, read the fast way (strptime takes ten times as long).
        return datetime.fromisoformat(stored).replace(tzinfo=UTC)

    rule_time = time

    def time_text(self, stored: Any) -> str:
        return str(stored)

    def time_param(self, text: str) -> str:
        return text

    def list_tables(self) -> Statement:
        return select("SELECT name FROM sqlite_master WHERE type='table'")

    def foreign(self, tables: Iterable[str]) -> list[str]:
        return sorted(
            name
            for name in tables
            if not name.startswith(_SHARED_PREFIX) and not name.startswith("sqlite_")
        )

    def not_a_store(self, foreign: list[str]) -> str:
        return (
            f"{self.where} is a SQLite database but not a tether run store (it has "
            f"tables {foreign[:5]}). Give the run store its own file. Nothing was written."
        )

    def not_described(self, meta: dict[str, str]) -> str:
        return (
            f"{self.where} has a tether_store table that does not describe a tether run "
            f"store ({meta!r}). Give the run store its own file. Nothing was written."
        )
