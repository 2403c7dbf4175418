"""``SQLiteRunStore``: the default run store, on the standard library's ``sqlite3``."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from .._sqlite import connect, enable_wal, immediate
from ..approvals._standing import RuleScope, StandingApproval, already_revoked, check_rule_after
from ..errors import (
    RuleNotFoundError,
    RunBusyError,
    RunConflictError,
    RunNotFoundError,
    StoreError,
    StoreFormatError,
    StoreUnavailableError,
    StoreVersionError,
    UserError,
)
from ..items import Item
from ..journal._events import Event
from ..journal._fold import RunView
from ..sessions._codec import encode_items
from ..sessions._protocol import Session
from ..sessions._sqlite import _SCHEMA as _SESSION_SCHEMA
from ..sessions._sqlite import _TABLE as _SESSION_TABLE
from ..sessions._sqlite import SQLiteSession
from ._codec import chain_mac, decode_events, encode_events, head_of, verify_rows
from ._gate import FoldGate, admit, fold
from ._passing import passes_lease
from ._projection import Changes, PendingRow, replay
from ._protocol import (
    STORE_FORMAT,
    STORE_READABLE_FROM,
    STORE_VERSION,
    Clock,
    Order,
    PendingKey,
    check_after,
    check_append,
    check_limit,
    check_order,
    check_ttl,
    decode_cursor,
    encode_cursor,
    signing_key_bytes,
    system_clock,
    to_utc,
    version_problem,
)
from ._records import Lease, PendingApproval, RunPage, RunStatus, RunSummary, RunTip, StoredRun
from ._rules import RULE_COLUMNS, RuleUnavailable, rule_from_row, rule_row

__all__ = ["SQLiteRunStore"]

_T = TypeVar("_T")

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
    seq INTEGER NOT NULL,
    head_mac TEXT,
    lease_owner TEXT,
    lease_until TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX tether_runs_created ON tether_runs (created_at, id);
CREATE INDEX tether_runs_status ON tether_runs (status, updated_at);
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
    # required_approvals is filled from the events of the runs that wait (see _upgrade).
    4: """
ALTER TABLE tether_pending ADD COLUMN required_approvals INTEGER NOT NULL DEFAULT 1;
CREATE INDEX tether_rules_granted ON tether_rules (granted_at, id);
CREATE INDEX tether_rules_run ON tether_rules (scope_id) WHERE scope = 'run'
""",
}

# Tables another part of tether may keep in the same file (sessions share it).
_SHARED_PREFIX = "tether_session"

# The status a reader sees: the fold's, except that a call in flight under a live lease is a
# tool running now, not a call in doubt (the process that runs it is alive).
_STATUS = (
    "CASE WHEN r.status = 'in_doubt' AND r.lease_owner IS NOT NULL AND r.lease_until > :now "
    "THEN 'running' "
    # A store written before the status column held 'in_doubt' (rebuild_projections updates it).
    "WHEN r.status = 'running' AND (r.lease_owner IS NULL OR r.lease_until <= :now) "
    "AND EXISTS (SELECT 1 FROM tether_in_flight f WHERE f.run_id = r.id) "
    "THEN 'in_doubt' ELSE r.status END"
)
_SUMMARY = (
    f"SELECT r.id, r.root_agent, {_STATUS} AS status, r.seq, r.lease_owner, r.lease_until, "
    "r.created_at, r.updated_at FROM tether_runs r"
)


_PENDING_COLUMNS = (
    "run_id, call_id, agent, tool, arguments, requested_at, expires_at, kind, required_approvals"
)

# A rule that may count one more use at :live_at.
_LIVE = (
    "revoked_at IS NULL AND (max_uses IS NULL OR uses < max_uses) "
    "AND (expires_at IS NULL OR expires_at > :live_at)"
)


def _ts(moment: datetime) -> str:
    # Fixed width in UTC, so text order is time order.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _dt(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


class SQLiteRunStore:
    """A run store in a SQLite file: no server needed.

    Several processes can share the file: it runs in WAL mode, every write is
    one ``BEGIN IMMEDIATE`` transaction, and writers wait up to
    ``busy_timeout`` seconds for each other. Calls run in a worker thread, so
    they never block the event loop::

        store = SQLiteRunStore("runs.db", signing_key=os.environ["TETHER_KEY"])
        result = await Runner.run(agent, "Book it", store=store)

    With ``signing_key``, every event row carries an HMAC chained over the
    previous row, so edited, removed or reordered rows are refused on load.
    ``clock`` (an aware-datetime callable) decides lease expiry and timestamps;
    every process sharing a store should use the same clock (the default is
    the machine's UTC clock).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        signing_key: bytes | str | None = None,
        clock: Clock = system_clock,
        busy_timeout: float = 30.0,
    ) -> None:
        self._path = os.fspath(path)
        self._key = signing_key_bytes(signing_key)
        self._clock = clock
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._gate = FoldGate()

    @property
    def path(self) -> str:
        """The database file."""
        return self._path

    # -- the protocol ---------------------------------------------------------------

    async def append(
        self,
        run_id: str,
        expected_seq: int,
        events: Sequence[Event],
        *,
        owner: str | None = None,
        lease_ttl: float | None = None,
    ) -> int:
        """See ``RunStore.append``."""
        root_agent = check_append(run_id, expected_seq, events)
        ttl = check_ttl(lease_ttl) if lease_ttl is not None else None
        texts = encode_events(events)
        return await self._call(
            self._append, run_id, expected_seq, list(events), texts, root_agent, owner, ttl
        )

    def holds_session(self, session: object) -> bool:
        """Whether ``session`` is a ``SQLiteSession`` in this store's file: then a stored run
        writes its session items in the same transaction as its ``SessionSynced`` event."""
        if not isinstance(session, SQLiteSession) or session.db_path == ":memory:":
            return False
        try:
            return os.path.samefile(session.db_path, self._path)
        except OSError:
            return False

    async def append_with_session(
        self,
        run_id: str,
        expected_seq: int,
        events: Sequence[Event],
        session: Session,
        items: list[Item],
        *,
        owner: str | None = None,
    ) -> int:
        """``append``, and add ``items`` to ``session`` in the same transaction: both or
        neither (``session`` must be one that ``holds_session`` accepts)."""
        if not isinstance(session, SQLiteSession) or not self.holds_session(session):
            raise UserError(f"Session {session.session_id!r} is not in {self._path}.")
        check_append(run_id, expected_seq, events)
        texts = encode_events(events)
        rows = (session.session_id, encode_items(items))
        return await self._call(
            self._append, run_id, expected_seq, list(events), texts, None, owner, None, rows
        )

    async def append_with_rule_use(
        self,
        run_id: str,
        expected_seq: int,
        events: Sequence[Event],
        rule_id: str,
        *,
        now: datetime,
        owner: str | None = None,
    ) -> int | None:
        """``append``, counting one use of the standing approval ``rule_id`` in the same
        transaction; ``None``, and nothing written, if the rule is not live at ``now``
        (revoked, expired, used up). The loop stores a rule's decision this way."""
        check_append(run_id, expected_seq, events)
        texts = encode_events(events)
        use = (rule_id, _ts(to_utc(now, "now")))
        try:
            return await self._call(
                self._append,
                run_id,
                expected_seq,
                list(events),
                texts,
                None,
                owner,
                None,
                None,
                use,
            )
        except RuleUnavailable:
            return None

    # -- standing approvals (RuleBook) -----------------------------------------------

    async def save_rule(self, rule: StandingApproval) -> None:
        """See ``RuleBook.save_rule``."""
        await self._call(self._save_rule, rule_row(rule, _ts))

    async def get_rule(self, rule_id: str) -> StandingApproval:
        """See ``RuleBook.get_rule``."""
        sql = f"SELECT {RULE_COLUMNS} FROM tether_rules WHERE id = :id"
        rows = await self._call(self._select, sql, {"id": rule_id})
        if not rows:
            raise RuleNotFoundError(f"No standing approval {rule_id!r} in {self._path}.")
        return rule_from_row(rows[0], _dt)

    async def list_rules(
        self,
        *,
        agent: str | None = None,
        tool: str | None = None,
        scope: RuleScope | None = None,
        live_at: datetime | None = None,
        limit: int = 100,
        after: tuple[datetime, str] | None = None,
    ) -> list[StandingApproval]:
        """See ``RuleBook.list_rules``."""
        where = ["1"]
        params: dict[str, Any] = {"limit": check_limit(limit)}
        if agent is not None:
            where.append("agent = :agent")
            params["agent"] = agent
        if tool is not None:
            where.append("tool = :tool")
            params["tool"] = tool
        if scope is not None:
            where.append("scope = :scope AND scope_id IS :scope_id")
            params["scope"], params["scope_id"] = scope.kind, scope.id
        if live_at is not None:
            where.append(_LIVE)
            params["live_at"] = _ts(to_utc(live_at, "live_at"))
        if after is not None:
            at, params["r_id"] = check_rule_after(after)
            params["r_at"] = _ts(at)
            where.append("(granted_at, id) > (:r_at, :r_id)")
        sql = (
            f"SELECT {RULE_COLUMNS} FROM tether_rules WHERE {' AND '.join(where)} "
            "ORDER BY granted_at, id LIMIT :limit"
        )
        return [rule_from_row(row, _dt) for row in await self._call(self._select, sql, params)]

    async def revoke_rule(
        self,
        rule_id: str,
        *,
        by: str,
        roles: tuple[str, ...],
        at: datetime,
        reason: str | None,
    ) -> StandingApproval:
        """See ``RuleBook.revoke_rule``."""
        stamp = _ts(to_utc(at, "at"))
        revoked = await self._call(
            self._revoke_rule, rule_id, by, json.dumps(list(roles)), stamp, reason
        )
        if not revoked:
            raise already_revoked(await self.get_rule(rule_id))
        return await self.get_rule(rule_id)

    async def use_rule(self, rule_id: str, *, now: datetime) -> bool:
        """See ``RuleBook.use_rule``."""
        return await self._call(self._use_rule, rule_id, _ts(to_utc(now, "now")))

    async def load(self, run_id: str) -> StoredRun:
        """See ``RunStore.load``."""
        summary, rows = await self._call(self._load, run_id)
        verify_rows(run_id, summary.seq, rows, self._key)
        events = decode_events(run_id, [text for _, text, _ in rows])
        self._gate.remember(run_id, summary.created_at, summary.seq, events)
        last = rows[-1] if rows else (0, None, None)
        return StoredRun(summary, tuple(events), head_of(self._key, last[2], last[1]))

    async def tip(self, run_id: str) -> RunTip:
        """Where run ``run_id``'s journal ends (``RunTip``), in one small query: how a
        resume checks that the state it holds is still the whole stored run."""
        return await self._call(self._tip, run_id)

    async def acquire(self, run_id: str, owner: str, ttl: float) -> Lease:
        """See ``RunStore.acquire``."""
        return await self._call(self._acquire, run_id, owner, check_ttl(ttl), False)

    async def renew(self, run_id: str, owner: str, ttl: float) -> Lease:
        """See ``RunStore.renew``."""
        return await self._call(self._acquire, run_id, owner, check_ttl(ttl), True)

    async def release(self, run_id: str, owner: str) -> None:
        """See ``RunStore.release``."""
        await self._call(self._release, run_id, owner)

    async def list_runs(
        self,
        *,
        status: RunStatus | None = None,
        agent: str | None = None,
        updated_before: datetime | None = None,
        updated_after: datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
        order: Order = "oldest",
    ) -> RunPage:
        """See ``RunStore.list_runs``."""
        newest = check_order(order)
        where = ["1"]
        params: dict[str, Any] = {"limit": check_limit(limit) + 1}
        if status is not None:
            where.append("status = :status")
            params["status"] = status
        if agent is not None:
            where.append("root_agent = :agent")
            params["agent"] = agent
        if updated_before is not None:
            where.append("updated_at < :before")
            params["before"] = _ts(to_utc(updated_before, "updated_before"))
        if updated_after is not None:
            where.append("updated_at > :after")
            params["after"] = _ts(to_utc(updated_after, "updated_after"))
        if cursor is not None:
            params["c_at"], params["c_id"] = decode_cursor(cursor)
            where.append(f"(created_at, id) {'<' if newest else '>'} (:c_at, :c_id)")
        direction = "DESC" if newest else "ASC"
        source = _SUMMARY
        if updated_after is not None:
            # What changed since: a short range of the index on (status, updated_at) for each
            # stored status (the column holds only these three; in_doubt is derived), then
            # sorted. Left alone, SQLite walks the created_at index to skip the sort: every
            # run. (No index of its own: it would cost every append a page.)
            source = (
                _SUMMARY.replace("tether_runs r", "tether_runs r INDEXED BY tether_runs_status")
                + " WHERE r.status IN ('running', 'waiting', 'completed')"
            )
        sql = (
            f"SELECT * FROM ({source}) "
            f"WHERE {' AND '.join(where)} "
            f"ORDER BY created_at {direction}, id {direction} LIMIT :limit"
        )
        rows = await self._call(self._select, sql, params)
        more = len(rows) == limit + 1
        rows = rows[:limit]
        runs = tuple(_summary(row) for row in rows)
        next_cursor = encode_cursor(rows[-1][6], rows[-1][0]) if more else None
        return RunPage(runs, next_cursor)

    async def pending_approvals(
        self,
        *,
        run_id: str | None = None,
        agent: str | None = None,
        limit: int = 100,
        tool: str | None = None,
        requested_before: datetime | None = None,
        requested_after: datetime | None = None,
        order: Order = "oldest",
        after: PendingKey | None = None,
    ) -> list[PendingApproval]:
        """See ``RunStore.pending_approvals``."""
        newest = check_order(order)
        where = ["1"]
        params: dict[str, Any] = {"limit": check_limit(limit)}
        for column, value in (("run_id", run_id), ("agent", agent), ("tool", tool)):
            if value is not None:
                where.append(f"{column} = :{column}")
                params[column] = value
        if requested_before is not None:
            where.append("requested_at <= :before")
            params["before"] = _ts(to_utc(requested_before, "requested_before"))
        if requested_after is not None:
            where.append("requested_at >= :after")
            params["after"] = _ts(to_utc(requested_after, "requested_after"))
        if after is not None:
            at, params["k_run"], params["k_call"] = check_after(after)
            params["k_at"] = _ts(at)
            # Spelled so that the index on requested_at bounds the scan.
            beyond = "<" if newest else ">"
            where.append(
                f"requested_at {beyond}= :k_at AND (requested_at {beyond} :k_at "
                f"OR (run_id, call_id) {beyond} (:k_run, :k_call))"
            )
        direction = "DESC" if newest else "ASC"
        sql = (
            f"SELECT {_PENDING_COLUMNS} FROM tether_pending WHERE {' AND '.join(where)} "
            f"ORDER BY requested_at {direction}, run_id {direction}, call_id {direction} "
            "LIMIT :limit"
        )
        return [_pending(row) for row in await self._call(self._select, sql, params)]

    async def due_approvals(self, *, now: datetime, limit: int = 100) -> list[PendingApproval]:
        """See ``RunStore.due_approvals``."""
        sql = (
            f"SELECT {_PENDING_COLUMNS} FROM tether_pending INDEXED BY tether_pending_expires "
            "WHERE expires_at IS NOT NULL AND expires_at <= :due "
            "ORDER BY expires_at, run_id, call_id LIMIT :limit"
        )
        params = {"due": _ts(to_utc(now, "now")), "limit": check_limit(limit)}
        return [_pending(row) for row in await self._call(self._select, sql, params)]

    async def recoverable(self) -> list[RunSummary]:
        """See ``RunStore.recoverable``."""
        sql = (
            # The status column is the fold's: the index on it finds the candidates, so a
            # worker's poll costs what it returns, not the runs stored.
            f"{_SUMMARY} WHERE r.status IN ('running', 'in_doubt') "
            "AND (r.lease_owner IS NULL OR r.lease_until <= :now) ORDER BY r.created_at, r.id"
        )
        return [_summary(row) for row in await self._call(self._select, sql, {})]

    async def delete(self, run_id: str) -> None:
        """See ``RunStore.delete``."""
        await self._call(self._delete, run_id)

    async def prune(self, *, completed_before: datetime) -> int:
        """See ``RunStore.prune``."""
        before = _ts(to_utc(completed_before, "completed_before"))
        return await self._call(self._prune, before)

    async def rebuild_projections(self, run_id: str | None = None) -> None:
        """See ``RunStore.rebuild_projections``."""
        await self._call(self._rebuild, run_id)

    async def migrate(self) -> int:
        """Bring the store's schema to this tether's version (``STORE_VERSION``), in one
        transaction, and return the version it had (a new file is created at this
        version). The command line does the same: ``tether store migrate runs.db``.

        A store of an older version is refused (``StoreVersionError``) until it is
        migrated, so that a migration is a step of a deploy, not a side effect of
        the first process to start; a store of a newer version that this tether may
        read is left as it is."""
        return await asyncio.to_thread(self._migrate)

    async def close(self) -> None:
        """Close the database connection."""
        await asyncio.to_thread(self._close)

    async def __aenter__(self) -> SQLiteRunStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- worker-thread side ---------------------------------------------------------

    def _append(
        self,
        conn: sqlite3.Connection,
        run_id: str,
        expected_seq: int,
        events: list[Event],
        texts: list[str],
        root_agent: str | None,
        owner: str | None,
        ttl: float | None,
        session_rows: tuple[str, list[str]] | None = None,
        rule_use: tuple[str, str] | None = None,
    ) -> int:
        now = self._clock()
        stamp = _ts(now)
        with immediate(conn):
            row = conn.execute(
                "SELECT seq, head_mac, lease_owner, lease_until, created_at FROM tether_runs "
                "WHERE id = ?",
                (run_id,),
            ).fetchone()
            if expected_seq == 0:
                if row is not None:
                    raise RunConflictError(run_id, 0, row[0])
                lease_owner = owner if ttl is not None else None
                lease_until = _ts(now + timedelta(seconds=ttl)) if ttl is not None else None
                conn.execute(
                    "INSERT INTO tether_runs (id, root_agent, status, seq, lease_owner, "
                    "lease_until, created_at, updated_at, version) "
                    "VALUES (?, ?, 'running', 0, ?, ?, ?, ?, 0)",
                    (run_id, root_agent, lease_owner, lease_until, stamp, stamp),
                )
                head: str | None = None
                created = _dt(stamp)
            else:
                if row is None:
                    raise RunNotFoundError(run_id)
                seq, head, lease_owner, lease_until, created_text = row
                if seq != expected_seq:
                    raise RunConflictError(run_id, expected_seq, seq)
                if (
                    lease_owner is not None
                    and lease_owner != owner
                    and lease_until > stamp
                    and not passes_lease(events, owner)
                ):
                    raise RunBusyError(run_id, lease_owner, lease_until)
                created = _dt(created_text)
            # The fold first: an event it refuses raises here, and nothing is written.
            view = self._gate.take(run_id, created, expected_seq)
            if view is None:
                view = fold(_stored_events(conn, run_id)) if expected_seq else RunView()
            todo = admit(view, events)
            if rule_use is not None and not self._use_rule_in(conn, *rule_use):
                raise RuleUnavailable(rule_use[0])  # rolls the whole append back
            rows = []
            for offset, (event, text) in enumerate(zip(events, texts, strict=True)):
                seq = expected_seq + 1 + offset
                mac = chain_mac(self._key, head, run_id, seq, text) if self._key else None
                rows.append((run_id, seq, event.kind, text, mac, stamp))
                head = mac
            conn.executemany(
                "INSERT INTO tether_events (run_id, seq, kind, event, mac, appended_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            if session_rows is not None:
                for statement in _SESSION_SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                session_id, items = session_rows
                conn.executemany(
                    f"INSERT INTO {_SESSION_TABLE} (session_id, item) VALUES (?, ?)",
                    [(session_id, text) for text in items],
                )
            _write(conn, run_id, todo, stamp)
            new_seq = expected_seq + len(events)
            conn.execute(
                "UPDATE tether_runs SET seq = ?, head_mac = ?, status = ?, updated_at = ?, "
                "version = version + 1 WHERE id = ?",
                (new_seq, head, todo.status, stamp, run_id),
            )
        self._gate.keep(run_id, created, new_seq, view)
        return new_seq

    def _use_rule_in(self, conn: sqlite3.Connection, rule_id: str, now: str) -> bool:
        # The one place a use is counted: only while the rule is live, so concurrent
        # runs (serialised by the write lock) never count more than max_uses.
        cursor = conn.execute(
            f"UPDATE tether_rules SET uses = uses + 1 WHERE id = :id AND {_LIVE}",
            {"id": rule_id, "live_at": now},
        )
        return cursor.rowcount == 1

    def _use_rule(self, conn: sqlite3.Connection, rule_id: str, now: str) -> bool:
        with immediate(conn):
            return self._use_rule_in(conn, rule_id, now)

    def _save_rule(self, conn: sqlite3.Connection, row: tuple[Any, ...]) -> None:
        with immediate(conn):
            marks = ", ".join("?" * len(row))
            conn.execute(f"INSERT INTO tether_rules ({RULE_COLUMNS}) VALUES ({marks})", row)

    def _revoke_rule(
        self,
        conn: sqlite3.Connection,
        rule_id: str,
        by: str,
        roles: str,
        at: str,
        reason: str | None,
    ) -> bool:
        with immediate(conn):
            cursor = conn.execute(
                "UPDATE tether_rules SET revoked_at = ?, revoked_by = ?, revoked_roles = ?, "
                "revoke_reason = ? WHERE id = ? AND revoked_at IS NULL",
                (at, by, roles, reason, rule_id),
            )
            if cursor.rowcount == 1:
                return True
            if conn.execute("SELECT 1 FROM tether_rules WHERE id = ?", (rule_id,)).fetchone():
                return False
        raise RuleNotFoundError(f"No standing approval {rule_id!r} in {self._path}.")

    def _load(
        self, conn: sqlite3.Connection, run_id: str
    ) -> tuple[RunSummary, list[tuple[int, str, str | None]]]:
        # One read transaction: the summary and the events are one snapshot.
        conn.execute("BEGIN")
        try:
            row = conn.execute(f"{_SUMMARY} WHERE r.id = :id", {"id": run_id, **self._now()})
            found = row.fetchone()
            if found is None:
                raise RunNotFoundError(run_id)
            rows = conn.execute(
                "SELECT seq, event, mac FROM tether_events WHERE run_id = ? ORDER BY seq",
                (run_id,),
            ).fetchall()
        finally:
            conn.execute("COMMIT")
        return _summary(found), rows

    def _tip(self, conn: sqlite3.Connection, run_id: str) -> RunTip:
        # A signed store's head is the runs row's MAC; otherwise the last event's text.
        text = "NULL" if self._key else "e.event"
        row = conn.execute(
            f"SELECT r.seq, r.head_mac, {text} FROM tether_runs r LEFT JOIN tether_events e "
            "ON e.run_id = r.id AND e.seq = r.seq WHERE r.id = ?",
            (run_id,),
        ).fetchone()
        if row is None:
            raise RunNotFoundError(run_id)
        return RunTip(row[0], head_of(self._key, row[1], row[2]))

    def _acquire(
        self, conn: sqlite3.Connection, run_id: str, owner: str, ttl: float, renew: bool
    ) -> Lease:
        now = self._clock()
        until = now + timedelta(seconds=ttl)
        with immediate(conn):
            if renew:
                # Ours until someone else takes it, even if it expired meanwhile.
                condition = "lease_owner = :owner"
            else:
                condition = "(lease_owner IS NULL OR lease_until <= :now OR lease_owner = :owner)"
            cursor = conn.execute(
                "UPDATE tether_runs SET lease_owner = :owner, lease_until = :until, "
                f"version = version + 1 WHERE id = :id AND {condition}",
                {"owner": owner, "until": _ts(until), "now": _ts(now), "id": run_id},
            )
            if cursor.rowcount == 0:
                row = conn.execute(
                    "SELECT lease_owner, lease_until FROM tether_runs WHERE id = ?", (run_id,)
                ).fetchone()
                if row is None:
                    raise RunNotFoundError(run_id)
                raise RunBusyError(run_id, row[0], row[1])
        return Lease(run_id, owner, until)

    def _release(self, conn: sqlite3.Connection, run_id: str, owner: str) -> None:
        with immediate(conn):
            conn.execute(
                "UPDATE tether_runs SET lease_owner = NULL, lease_until = NULL, "
                "version = version + 1 WHERE id = ? AND lease_owner = ?",
                (run_id, owner),
            )

    def _select(self, conn: sqlite3.Connection, sql: str, params: dict[str, Any]) -> list[Any]:
        return conn.execute(sql, {**params, **self._now()}).fetchall()

    def _delete(self, conn: sqlite3.Connection, run_id: str) -> None:
        with immediate(conn):
            row = conn.execute(
                "SELECT lease_owner, lease_until FROM tether_runs WHERE id = ?", (run_id,)
            ).fetchone()
            if row is None:
                raise RunNotFoundError(run_id)
            if row[0] is not None and row[1] > self._now()["now"]:
                raise RunBusyError(run_id, row[0], row[1])
            _delete_rows(conn, [run_id])

    def _prune(self, conn: sqlite3.Connection, before: str) -> int:
        with immediate(conn):
            ids = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM tether_runs WHERE status = 'completed' AND updated_at < ?",
                    (before,),
                )
            ]
            _delete_rows(conn, ids)
        return len(ids)

    def _rebuild(self, conn: sqlite3.Connection, run_id: str | None) -> None:
        with immediate(conn):
            if run_id is None:
                ids = [row[0] for row in conn.execute("SELECT id FROM tether_runs")]
            else:
                if conn.execute("SELECT 1 FROM tether_runs WHERE id = ?", (run_id,)).fetchone():
                    ids = [run_id]
                else:
                    raise RunNotFoundError(run_id)
            _rebuild_runs(conn, ids)

    # -- connection -----------------------------------------------------------------

    def _now(self) -> dict[str, str]:
        return {"now": _ts(self._clock())}

    async def _call(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.to_thread(self._locked, fn, *args)

    def _locked(self, fn: Callable[..., _T], *args: Any) -> _T:
        with self._lock:
            try:
                return fn(self._connection(), *args)
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        conn = self._open(migrate=False)
        self._conn = conn
        return conn

    def _open(self, *, migrate: bool) -> sqlite3.Connection:
        conn = connect(self._path, self._busy_timeout)
        try:
            # Read before anything writes: a file that is not a database (or not a
            # store, or of a version to migrate first) must be left exactly as it was.
            self._check_format(conn, create=False, migrate=migrate)
            enable_wal(conn, self._busy_timeout)
            with immediate(conn):
                self._check_format(conn, create=True, migrate=migrate)
        except BaseException:
            conn.close()
            raise
        return conn

    def _migrate(self) -> int:
        with self._lock:
            try:
                conn = connect(self._path, self._busy_timeout)
                try:
                    before = _stored_version(conn)
                finally:
                    conn.close()
                self._open(migrate=True).close()
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
        return STORE_VERSION if before is None else before

    def _check_format(self, conn: sqlite3.Connection, *, create: bool, migrate: bool) -> None:
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if "tether_store" not in tables:
            foreign = sorted(
                name
                for name in tables
                if not name.startswith(_SHARED_PREFIX) and not name.startswith("sqlite_")
            )
            if foreign:
                raise StoreFormatError(
                    f"{self._path} is a SQLite database but not a tether run store (it has "
                    f"tables {foreign[:5]}). Give the run store its own file. Nothing was written."
                )
            if create:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.executemany(
                    "INSERT INTO tether_store (key, value) VALUES (?, ?)",
                    [
                        ("format", STORE_FORMAT),
                        ("version", str(STORE_VERSION)),
                        ("readable_from", str(STORE_READABLE_FROM)),
                    ],
                )
            return
        meta = dict(conn.execute("SELECT key, value FROM tether_store").fetchall())
        if meta.get("format") != STORE_FORMAT or not str(meta.get("version", "")).isdigit():
            raise StoreFormatError(
                f"{self._path} has a tether_store table that does not describe a tether run "
                f"store ({meta!r}). Give the run store its own file. Nothing was written."
            )
        version = int(meta["version"])
        readable_from = int(meta.get("readable_from", version))
        problem = version_problem(self._path, version, readable_from)
        if problem is not None and not (migrate and version < STORE_VERSION):
            raise StoreVersionError(problem)
        if version < STORE_VERSION and create:
            for step in range(version, STORE_VERSION):
                for statement in _MIGRATIONS[step].split(";"):
                    if statement.strip():
                        conn.execute(statement)
            if version < 5:
                # required_approvals came with version 5: fold it from the events of the
                # runs that wait (the others have no pending rows to fill).
                waiting = conn.execute("SELECT DISTINCT run_id FROM tether_pending").fetchall()
                _rebuild_runs(conn, [row[0] for row in waiting])
            conn.execute(
                "UPDATE tether_store SET value = ? WHERE key = 'version'", (str(STORE_VERSION),)
            )
            conn.execute(
                "INSERT OR REPLACE INTO tether_store (key, value) VALUES ('readable_from', ?)",
                (str(STORE_READABLE_FROM),),
            )

    def _close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _error(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc)
        if "not a database" in text or "malformed" in text:
            return StoreFormatError(
                f"{self._path} is not a SQLite database or is damaged ({text}). Point the run "
                "store at another file. Nothing was written."
            )
        if "locked" in text or "busy" in text:
            # The wait for the lock (busy_timeout) was the retry; the call wrote nothing.
            return StoreUnavailableError(
                f"SQLite ({self._path})",
                f"{text}: another connection held the write lock for over "
                f"{self._busy_timeout:g}s; pass a larger busy_timeout if that is normal",
            )
        if "unable to open" in text or "readonly" in text:
            hint = "check that the directory exists and that this process may write to the file"
        else:
            hint = "nothing of the failed call was written; retry once the cause is fixed"
        return StoreError(f"SQLite run store {self._path} failed ({text}): {hint}.")


def _stored_events(conn: sqlite3.Connection, run_id: str) -> list[Event]:
    rows = conn.execute(
        "SELECT event FROM tether_events WHERE run_id = ? ORDER BY seq", (run_id,)
    ).fetchall()
    return decode_events(run_id, [row[0] for row in rows])


def _write(conn: sqlite3.Connection, run_id: str, todo: Changes, stamp: str) -> None:
    """Apply an append's projection changes (in its transaction)."""
    conn.executemany(
        "INSERT OR REPLACE INTO tether_pending (run_id, call_id, agent, tool, arguments, "
        "requested_at, expires_at, kind, required_approvals) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [_pending_row(run_id, row, stamp) for row in todo.put],
    )
    conn.executemany(
        "UPDATE tether_pending SET arguments = ?, expires_at = ?, required_approvals = ? "
        "WHERE run_id = ? AND call_id = ?",
        [
            (row.arguments, _opt_ts(row.expires_at), row.required_approvals, run_id, row.call_id)
            for row in todo.update
        ],
    )
    conn.executemany(
        "DELETE FROM tether_pending WHERE run_id = ? AND call_id = ?",
        [(run_id, call_id) for call_id in todo.drop],
    )
    conn.executemany(
        "INSERT OR REPLACE INTO tether_in_flight (run_id, call_id, started_seq) VALUES (?, ?, ?)",
        [(run_id, call_id, seq) for call_id, seq in todo.fly],
    )
    conn.executemany(
        "DELETE FROM tether_in_flight WHERE run_id = ? AND call_id = ?",
        [(run_id, call_id) for call_id in todo.land],
    )


def _pending_row(run_id: str, row: PendingRow, requested_at: str) -> tuple[object, ...]:
    return row.values(run_id, requested_at, _opt_ts(row.expires_at))


def _opt_ts(moment: datetime | None) -> str | None:
    return _ts(moment) if moment is not None else None


def _stored_version(conn: sqlite3.Connection) -> int | None:
    """The version a store file says it has; ``None`` for a file with no store yet."""
    try:
        row = conn.execute("SELECT value FROM tether_store WHERE key = 'version'").fetchone()
    except sqlite3.OperationalError:  # no such table: a new (or foreign) file
        return None
    return int(row[0]) if row is not None and str(row[0]).isdigit() else None


def _rebuild_runs(conn: sqlite3.Connection, ids: list[str]) -> None:
    """Fold the projections of runs ``ids`` again from their events (in the caller's
    transaction)."""
    for one in ids:
        conn.execute("DELETE FROM tether_pending WHERE run_id = ?", (one,))
        conn.execute("DELETE FROM tether_in_flight WHERE run_id = ?", (one,))
        rows = conn.execute(
            "SELECT event, appended_at FROM tether_events WHERE run_id = ? ORDER BY seq",
            (one,),
        ).fetchall()
        events = decode_events(one, [row[0] for row in rows])
        pending, in_flight, status = replay(zip(events, (_dt(row[1]) for row in rows), strict=True))
        conn.executemany(
            "INSERT INTO tether_pending (run_id, call_id, agent, tool, arguments, "
            "requested_at, expires_at, kind, required_approvals) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [_pending_row(one, row, _ts(at)) for row, at in pending.values()],
        )
        conn.executemany(
            "INSERT INTO tether_in_flight (run_id, call_id, started_seq) VALUES (?, ?, ?)",
            [(one, call_id, seq) for call_id, seq in in_flight.items()],
        )
        conn.execute("UPDATE tether_runs SET status = ? WHERE id = ?", (status, one))


def _delete_rows(conn: sqlite3.Connection, ids: list[str]) -> None:
    for table, column in (
        ("tether_events", "run_id"),
        ("tether_pending", "run_id"),
        ("tether_in_flight", "run_id"),
        ("tether_runs", "id"),
    ):
        conn.executemany(f"DELETE FROM {table} WHERE {column} = ?", [(i,) for i in ids])
    # Standing approvals scoped to a deleted run can never apply again.
    conn.executemany(
        "DELETE FROM tether_rules WHERE scope = 'run' AND scope_id = ?", [(i,) for i in ids]
    )


def _pending(row: Sequence[Any]) -> PendingApproval:
    expires = _dt(row[6]) if row[6] is not None else None
    kind: Literal["approval", "output_review"] = (
        "output_review" if row[7] == "output_review" else "approval"
    )
    return PendingApproval(
        row[0], row[1], row[2], row[3], row[4], _dt(row[5]), expires, kind, row[8]
    )


def _summary(row: Sequence[Any]) -> RunSummary:
    return RunSummary(
        run_id=row[0],
        root_agent=row[1],
        status=row[2],
        seq=row[3],
        lease_owner=row[4],
        lease_until=_dt(row[5]) if row[5] is not None else None,
        created_at=_dt(row[6]),
        updated_at=_dt(row[7]),
    )
