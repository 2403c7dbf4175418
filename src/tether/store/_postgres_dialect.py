"""The PostgreSQL dialect of the run store: its schema (in a schema of its own) and
migrations, times as ``timestamptz``, events as ``json``, and the words its SQL says
differently (see ``_dialect``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ._dialect import Dialect
from ._statements import Statement, select

__all__ = ["PostgresDialect"]

# The rules table as version 3 added it (the fresh schema and migration 2 share it).
_RULES_TABLE = """
CREATE TABLE {s}.rules (
    id text PRIMARY KEY,
    agent text NOT NULL,
    tool text NOT NULL,
    scope text NOT NULL,
    scope_id text,
    condition text NOT NULL,
    max_uses bigint,
    uses bigint NOT NULL,
    expires_at timestamptz,
    granted_by text NOT NULL,
    granted_roles text NOT NULL,
    granted_at timestamptz NOT NULL,
    reason text,
    receipt text,
    revoked_at timestamptz,
    revoked_by text,
    revoked_roles text,
    revoke_reason text
);
CREATE INDEX rules_tool ON {s}.rules (agent, tool, granted_at)
"""

_SCHEMA = (
    """
CREATE TABLE {s}.store_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE {s}.runs (
    id text PRIMARY KEY,
    root_agent text NOT NULL,
    status text NOT NULL,
    in_doubt boolean NOT NULL DEFAULT false,
    seq bigint NOT NULL,
    head_mac text,
    seal text,
    lease_owner text,
    lease_until timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    touched_at timestamptz NOT NULL,
    version bigint NOT NULL
);
CREATE INDEX runs_created ON {s}.runs (created_at, id);
CREATE INDEX runs_status_touched ON {s}.runs (status, touched_at);
CREATE INDEX runs_status_created ON {s}.runs (status, created_at, id);
CREATE TABLE {s}.events (
    run_id text NOT NULL,
    seq bigint NOT NULL,
    kind text NOT NULL,
    event json NOT NULL,
    mac text,
    appended_at timestamptz NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE {s}.pending (
    run_id text NOT NULL,
    call_id text NOT NULL,
    agent text NOT NULL,
    tool text NOT NULL,
    arguments text NOT NULL,
    requested_at timestamptz NOT NULL,
    expires_at timestamptz,
    kind text NOT NULL DEFAULT 'approval',
    required_approvals bigint NOT NULL DEFAULT 1,
    requested_by text,
    PRIMARY KEY (run_id, call_id)
);
CREATE INDEX pending_requested ON {s}.pending (requested_at);
CREATE INDEX pending_expires ON {s}.pending (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE {s}.in_flight (
    run_id text NOT NULL,
    call_id text NOT NULL,
    started_seq bigint NOT NULL,
    PRIMARY KEY (run_id, call_id)
);
"""
    + _RULES_TABLE
    + """;
CREATE INDEX rules_granted ON {s}.rules (granted_at, id);
CREATE INDEX rules_run ON {s}.rules (scope_id) WHERE scope = 'run'
"""
)

# Forward migrations: _MIGRATIONS[v] takes a store from version v to v + 1.
_MIGRATIONS: dict[int, str] = {
    1: """
ALTER TABLE {s}.pending ADD COLUMN expires_at timestamptz;
CREATE INDEX pending_expires ON {s}.pending (expires_at) WHERE expires_at IS NOT NULL
""",
    2: _RULES_TABLE,
    3: """
ALTER TABLE {s}.pending ADD COLUMN kind text NOT NULL DEFAULT 'approval'
""",
    # Version 5 also signs new event rows another way; older rows verify as they are.
    # required_approvals is filled from the events of the runs that wait (see _upkeep.check_format).
    4: """
ALTER TABLE {s}.pending ADD COLUMN required_approvals bigint NOT NULL DEFAULT 1;
CREATE INDEX rules_granted ON {s}.rules (granted_at, id);
CREATE INDEX rules_run ON {s}.rules (scope_id) WHERE scope = 'run'
""",
    # Version 6: a status filter reads its runs through an index, in listing order. The runs
    # in flight get their status folded again (see _upkeep._migrate).
    5: """
CREATE INDEX runs_status_created ON {s}.runs (status, created_at, id)
""",
    # Version 7: no statement; the in_flight rows are deleted (see _upkeep._migrate).
    6: "",
    # Version 8: who asked for the run, on each of its pending calls (filled from the events
    # of the runs that wait, see _upkeep._migrate).
    7: "ALTER TABLE {s}.pending ADD COLUMN requested_by text",
    # Version 9: a run in doubt is stored 'running' with in_doubt set, and the index on
    # status holds touched_at (the update time to the minute) instead of updated_at, so that
    # a turn's commits leave the run's index entries alone. A migrated row's touched_at is
    # its update time (never later than it, which is all that reads of it need). A run's
    # seal (one MAC over its rows, see _seal) is written by its next append that pauses or
    # ends it; until then its loads check each row's MAC.
    8: """
ALTER TABLE {s}.runs ADD COLUMN in_doubt boolean NOT NULL DEFAULT false;
ALTER TABLE {s}.runs ADD COLUMN touched_at timestamptz;
ALTER TABLE {s}.runs ADD COLUMN seal text;
DROP INDEX {s}.runs_status;
UPDATE {s}.runs SET touched_at = updated_at, in_doubt = (status = 'in_doubt');
UPDATE {s}.runs SET status = 'running' WHERE status = 'in_doubt';
ALTER TABLE {s}.runs ALTER COLUMN touched_at SET NOT NULL;
CREATE INDEX runs_status_touched ON {s}.runs (status, touched_at)
""",
}


# An append as one statement (see ``_engine.append_at_once``): the run's row moves on only
# if it is still the run the caller folded, at its seq and head, and no other owner's live
# lease stops it (with ``take``, the run is leased to the owner as it moves; with
# ``release``, the owner's own lease goes, one it takes here too); the events,
# the new pending calls (replacing an earlier request of the same call id) and the
# deletion of those no longer pending happen only with it. The events' seqs follow the
# expected one in the order given (an array parameter fewer to send).
# PostgreSQL runs each data-modifying WITH clause to completion, in the statement's own
# transaction, whether or not the query reads it. One round trip, no BEGIN or COMMIT.
# The indexed columns (status, touched_at) are set to what they hold most of the time: an
# update that changes no indexed value adds no index entries (a heap-only tuple).
_MOVE_AND_ADD = (
    "WITH run AS ("
    "UPDATE {runs} SET seq = :seq, head_mac = :head, seal = :seal, status = :status, "
    "in_doubt = :doubt, "
    "updated_at = :now, touched_at = :touched, version = version + 1, "
    "lease_owner = CASE WHEN :release AND (:take OR lease_owner = :owner) THEN NULL "
    "WHEN :take THEN :owner ELSE lease_owner END, "
    "lease_until = CASE WHEN :release AND (:take OR lease_owner = :owner) THEN NULL "
    "WHEN :take THEN :until::timestamptz ELSE lease_until END "
    "WHERE id = :id AND seq = :expected AND created_at = :created "
    "AND head_mac IS NOT DISTINCT FROM :previous "
    "AND (:passes OR lease_owner IS NULL OR lease_owner = :owner OR lease_until <= :now) "
    "RETURNING id"
    "), added AS ("
    "INSERT INTO {events} (run_id, seq, kind, event, mac, appended_at) "
    "SELECT run.id, :expected + e.n, e.kind, e.event::json, e.mac, :now FROM run, "
    "unnest(:kinds::text[], :texts::text[], :macs::text[]) WITH ORDINALITY "
    "AS e (kind, event, mac, n)"
)
_PENDING = (
    "), asked AS ("
    "INSERT INTO {pending} (run_id, call_id, agent, tool, arguments, requested_at, "
    "expires_at, kind, required_approvals, requested_by) "
    "SELECT run.id, p.call_id, p.agent, p.tool, p.arguments, :now, p.expires_at, p.kind, "
    "p.required, p.requested_by FROM run, "
    "unnest(:put_calls::text[], :put_agents::text[], :put_tools::text[], "
    ":put_arguments::text[], :put_expires::timestamptz[], :put_kinds::text[], "
    ":put_required::bigint[], :put_by::text[]) "
    "AS p (call_id, agent, tool, arguments, expires_at, kind, required, requested_by) "
    "ON CONFLICT (run_id, call_id) DO UPDATE SET agent = EXCLUDED.agent, "
    "tool = EXCLUDED.tool, arguments = EXCLUDED.arguments, "
    "requested_at = EXCLUDED.requested_at, expires_at = EXCLUDED.expires_at, "
    "kind = EXCLUDED.kind, required_approvals = EXCLUDED.required_approvals, "
    "requested_by = EXCLUDED.requested_by"
    "), settled AS ("
    "DELETE FROM {pending} d USING run "
    "WHERE d.run_id = run.id AND d.call_id = ANY(:drop::text[])"
)
_RAN = ") SELECT count(*) FROM run"  # 1 if the run moved on, 0 if the append was refused
_APPEND_AT_ONCE = _MOVE_AND_ADD + _PENDING + _RAN

# The same append for one that changes no pending call (most of a run's appends): without
# the pending table's two clauses, nine parameters fewer to send.
_APPEND_EVENTS_AT_ONCE = _MOVE_AND_ADD + _RAN

# A neutral ``:name`` parameter (not the ``::`` of a cast).
_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
# One cast to an array type: sent in binary (the text format escapes every quote of every
# element in Python, an event's JSON text included; the binary one copies it).
_ARRAY = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)(?=::\w+\[\])")


def _statements(script: str, schema: str) -> tuple[str, ...]:
    return tuple(statement.format(s=schema) for statement in script.split(";") if statement.strip())


class PostgresDialect(Dialect):
    """PostgreSQL: the tables in schema ``schema`` (a quoted identifier), times as
    ``timestamptz`` (the driver hands ``datetime`` both ways), events stored as ``json``
    (not ``jsonb``, which keeps each event's exact text, the text its MAC covers) and
    read back as text, rows locked ``FOR UPDATE`` by the writes that read them first."""

    def __init__(self, name: str, schema: str) -> None:
        super().__init__()
        self.where = f"PostgreSQL schema {name!r}"
        self.name = name
        self.meta_table = "store_meta"
        tables = ("runs", "events", "pending", "in_flight", "rules")
        self.words = {table: f"{schema}.{table}" for table in tables} | {
            "meta": f"{schema}.store_meta",
            "event": "event::text",
            "joined": "string_agg(v.event::text, chr(10) ORDER BY v.seq)",
            "json": "::json",
            "for_update": " FOR UPDATE",
            "is": "IS NOT DISTINCT FROM",
            "if_new": " ON CONFLICT (id) DO NOTHING",
            "pending_by_expiry": f"{schema}.pending",
            "runs_by_touch": f"{schema}.runs r",
        }
        self.schema = (f"CREATE SCHEMA IF NOT EXISTS {schema}", *_statements(_SCHEMA, schema))
        self.migrations = {
            step: _statements(script, schema) for step, script in _MIGRATIONS.items()
        }
        self.append_at_once = _APPEND_AT_ONCE
        self.append_events_at_once = _APPEND_EVENTS_AT_ONCE
        # A load's one statement runs in autocommit: no BEGIN and COMMIT sent with it.
        self.load_at_once = True
        # The joined texts' read (a round trip, and the server's sort) costs less than the
        # rows cost the client from about this many rows on.
        self.joined_from = 512

    def placeholders(self, text: str) -> str:
        return _PARAMETER.sub(r"%(\1)s", _ARRAY.sub(r"%(\1)b", text))

    def replace_into(self, table: str, columns: tuple[str, ...], key: tuple[str, ...]) -> str:
        values = ", ".join(f":{column}" for column in columns)
        changes = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in key)
        return (
            f"INSERT INTO {{{table}}} ({', '.join(columns)}) VALUES ({values}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {changes}"
        )

    def stamp(self, moment: datetime) -> datetime:
        return moment

    def time(self, stored: Any) -> datetime:
        # As the server hands it back: in the session's time zone.
        value: datetime = stored
        return value

    def rule_time(self, stored: Any) -> datetime:
        # Rules compare and sign their times in UTC.
        value: datetime = stored
        return value.astimezone(UTC)

    def time_text(self, stored: Any) -> str:
        value: datetime = stored
        return value.isoformat()

    def time_param(self, text: str) -> datetime:
        return datetime.fromisoformat(text)

    def list_tables(self) -> Statement:
        return select(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %(name)s",
            {"name": self.name},
        )

    def foreign(self, tables: Iterable[str]) -> list[str]:
        return sorted(tables)  # the schema is the store's own

    def not_a_store(self, foreign: list[str]) -> str:
        return (
            f"{self.where} holds tables {foreign[:5]} but is not a tether run store. Give "
            "the store its own schema (schema=...). Nothing was written."
        )

    def not_described(self, meta: dict[str, str]) -> str:
        return (
            f"{self.where} has a store_meta table that does not describe a tether run "
            f"store ({meta!r}). Nothing was written."
        )
