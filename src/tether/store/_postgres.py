"""``PostgresRunStore``: runs in PostgreSQL tables, through psycopg 3 and ``psycopg-pool``."""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

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
from ..sessions._errors import MissingDependencyError
from ..sessions._protocol import Session
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
from ._retry import DEFAULT_RETRY_FOR, retried, retry_store_call
from ._rules import RULE_COLUMNS, RuleUnavailable, rule_from_row, rule_row

try:
    import psycopg
    from psycopg import sql
    from psycopg_pool import AsyncConnectionPool, PoolTimeout
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("PostgresRunStore", "psycopg-pool", "postgres") from exc

__all__ = ["PostgresRunStore"]

_Conn = psycopg.AsyncConnection[Any]

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
    seq bigint NOT NULL,
    head_mac text,
    lease_owner text,
    lease_until timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version bigint NOT NULL
);
CREATE INDEX runs_created ON {s}.runs (created_at, id);
CREATE INDEX runs_status ON {s}.runs (status, updated_at);
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
    # required_approvals is filled from the events of the runs that wait (see _setup).
    4: """
ALTER TABLE {s}.pending ADD COLUMN required_approvals bigint NOT NULL DEFAULT 1;
CREATE INDEX rules_granted ON {s}.rules (granted_at, id);
CREATE INDEX rules_run ON {s}.rules (scope_id) WHERE scope = 'run'
""",
}

_PENDING_COLUMNS = (
    "run_id, call_id, agent, tool, arguments, requested_at, expires_at, kind, required_approvals"
)

# A rule that may count one more use at %(live_at)s.
_LIVE = (
    "revoked_at IS NULL AND (max_uses IS NULL OR uses < max_uses) "
    "AND (expires_at IS NULL OR expires_at > %(live_at)s)"
)

# The status a reader sees: the fold's, except that a call in flight under a live lease is a
# tool running now, not a call in doubt (the process that runs it is alive).
_STATUS = (
    "CASE WHEN r.status = 'in_doubt' AND r.lease_owner IS NOT NULL "
    "AND r.lease_until > %(now)s THEN 'running' "
    # A store written before the status column held 'in_doubt' (rebuild_projections updates it).
    "WHEN r.status = 'running' AND (r.lease_owner IS NULL OR r.lease_until <= %(now)s) "
    "AND EXISTS (SELECT 1 FROM {s}.in_flight f WHERE f.run_id = r.id) "
    "THEN 'in_doubt' ELSE r.status END"
)
_SUMMARY = (
    "SELECT r.id, r.root_agent, " + _STATUS + " AS status, r.seq, r.lease_owner, "
    "r.lease_until, r.created_at, r.updated_at FROM {s}.runs r"
)


class PostgresRunStore:
    """A run store in PostgreSQL, for many processes on many machines.

    The tables live in their own schema (``tether`` unless ``schema=`` says
    otherwise), created on first use. Connections come from a
    ``psycopg_pool.AsyncConnectionPool`` that the store opens on first use and
    closes in ``close()``::

        store = PostgresRunStore("postgresql://app@db/app", signing_key=key)

    Appends lock the run's row (``SELECT ... FOR UPDATE``), so concurrent
    writers queue and all but the first get ``RunConflictError``. Events are
    stored as ``json`` (not ``jsonb``), which keeps each event's exact text,
    the text its MAC covers. See ``SQLiteRunStore`` for ``signing_key`` and
    ``clock``.

    A brief outage of the server (a restart, a failover) is ridden out: every
    pooled connection is checked before use (a dead one is replaced), and a call
    that meets a transient failure is tried again for up to ``retry_for``
    seconds, where that is safe (reads; writes that certainly did not commit; an
    append whose commit outcome is unknown once the stored run says whether it
    landed). Then it raises ``StoreUnavailableError`` (``retryable``).
    ``connect_timeout`` bounds one wait for a connection.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = "tether",
        signing_key: bytes | str | None = None,
        clock: Clock = system_clock,
        max_connections: int = 10,
        retry_for: float = DEFAULT_RETRY_FOR,
        connect_timeout: float = 5.0,
    ) -> None:
        if not schema or not isinstance(schema, str):
            raise UserError(f"PostgresRunStore schema must be a name, not {schema!r}.")
        self._dsn = dsn
        self._schema = schema
        self._s = sql.Identifier(schema)
        self._key = signing_key_bytes(signing_key)
        self._clock = clock
        self._max = max_connections
        if not retry_for >= 0 or not connect_timeout > 0:
            raise UserError(
                "retry_for is seconds >= 0 and connect_timeout seconds > 0, not "
                f"{retry_for!r} and {connect_timeout!r}."
            )
        self._retry_for = float(retry_for)
        self._connect_timeout = float(connect_timeout)
        self._pool: AsyncConnectionPool[_Conn] | None = None
        self._gate = FoldGate()
        self._closing: set[asyncio.Task[None]] = set()
        self._open_lock = asyncio.Lock()
        # Creating the schema is serialised across processes by an advisory lock.
        self._lock_key = zlib.crc32(f"tether.run_store:{schema}".encode()) - 2**31

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
        return await retry_store_call(
            lambda: self._append(run_id, expected_seq, events, root_agent, owner, ttl, None),
            within=self._retry_for,
            settle=lambda: self._landed(run_id, expected_seq, events),
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
        """See ``SQLiteRunStore.append_with_rule_use``."""
        check_append(run_id, expected_seq, events)
        use = (rule_id, to_utc(now, "now"))
        try:
            return await retry_store_call(
                lambda: self._append(run_id, expected_seq, events, None, owner, None, use),
                within=self._retry_for,
                settle=lambda: self._landed(run_id, expected_seq, events),
            )
        except RuleUnavailable:
            return None

    def holds_session(self, session: Session) -> bool:
        """``False``: a PostgreSQL store keeps no session items (see ``RunStore``)."""
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
        """Never called: this store holds no session (``holds_session``)."""
        raise UserError(
            f"Session {session.session_id!r} is not kept in PostgreSQL schema {self._schema!r}; "
            "the run stores its items through the session itself."
        )

    @property
    def retry_for(self) -> float:
        """Seconds a call keeps trying through a transient failure (see the class)."""
        return self._retry_for

    async def _landed(self, run_id: str, expected_seq: int, events: Sequence[Event]) -> int | None:
        # An append whose COMMIT outcome is unknown: the stored run says whether it landed
        # (its events at expected_seq+1..), or not (still at expected_seq: try again).
        try:
            stored = await self.load(run_id)
        except RunNotFoundError:
            if expected_seq == 0:
                return None
            raise
        new_seq = expected_seq + len(events)
        if stored.seq >= new_seq and stored.events[expected_seq:new_seq] == tuple(events):
            return new_seq
        if stored.seq == expected_seq:
            return None
        raise RunConflictError(run_id, expected_seq, stored.seq)

    # -- standing approvals (RuleBook) -----------------------------------------------

    @retried()
    async def save_rule(self, rule: StandingApproval) -> None:
        """See ``RuleBook.save_rule``."""
        row = rule_row(rule, lambda moment: moment)
        marks = ", ".join(["%s"] * len(row))
        async with self._transaction() as conn:
            await conn.execute(
                self._q("INSERT INTO {s}.rules (" + RULE_COLUMNS + ") VALUES (" + marks + ")"),
                row,
            )

    @retried()
    async def get_rule(self, rule_id: str) -> StandingApproval:
        """See ``RuleBook.get_rule``."""
        rows = await self._fetch(
            "SELECT " + RULE_COLUMNS + " FROM {s}.rules WHERE id = %(id)s", {"id": rule_id}
        )
        if not rows:
            raise RuleNotFoundError(
                f"No standing approval {rule_id!r} in PostgreSQL schema {self._schema!r}."
            )
        return rule_from_row(rows[0], _utc)

    @retried()
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
        where = ["true"]
        params: dict[str, Any] = {"limit": check_limit(limit)}
        if agent is not None:
            where.append("agent = %(agent)s")
            params["agent"] = agent
        if tool is not None:
            where.append("tool = %(tool)s")
            params["tool"] = tool
        if scope is not None:
            where.append("scope = %(scope)s AND scope_id IS NOT DISTINCT FROM %(scope_id)s")
            params["scope"], params["scope_id"] = scope.kind, scope.id
        if live_at is not None:
            where.append(_LIVE)
            params["live_at"] = to_utc(live_at, "live_at")
        if after is not None:
            at, params["r_id"] = check_rule_after(after)
            params["r_at"] = at
            where.append("(granted_at, id) > (%(r_at)s, %(r_id)s)")
        rows = await self._fetch(
            "SELECT "
            + RULE_COLUMNS
            + " FROM {s}.rules WHERE "
            + " AND ".join(where)
            + " ORDER BY granted_at, id LIMIT %(limit)s",
            params,
        )
        return [rule_from_row(row, _utc) for row in rows]

    @retried()
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
        async with self._transaction() as conn:
            cur = await conn.execute(
                self._q(
                    "UPDATE {s}.rules SET revoked_at = %s, revoked_by = %s, revoked_roles = %s, "
                    "revoke_reason = %s WHERE id = %s AND revoked_at IS NULL RETURNING id"
                ),
                (to_utc(at, "at"), by, json.dumps(list(roles)), reason, rule_id),
            )
            revoked = await cur.fetchone() is not None
        rule = await self.get_rule(rule_id)
        if not revoked:
            raise already_revoked(rule)
        return rule

    @retried()
    async def use_rule(self, rule_id: str, *, now: datetime) -> bool:
        """See ``RuleBook.use_rule``."""
        async with self._transaction() as conn:
            return await self._use_rule_in(conn, rule_id, to_utc(now, "now"))

    async def _use_rule_in(self, conn: _Conn, rule_id: str, now: datetime) -> bool:
        # The one place a use is counted. Under READ COMMITTED a concurrent update of the
        # same row waits for the first and re-checks the condition on the row it left, so
        # concurrent runs never count more than max_uses.
        cur = await conn.execute(
            self._q("UPDATE {s}.rules SET uses = uses + 1 WHERE id = %(id)s AND " + _LIVE),
            {"id": rule_id, "live_at": now},
        )
        return cur.rowcount == 1

    async def _append(
        self,
        run_id: str,
        expected_seq: int,
        events: Sequence[Event],
        root_agent: str | None,
        owner: str | None,
        ttl: float | None,
        rule_use: tuple[str, datetime] | None,
    ) -> int:
        texts = encode_events(events)
        now = self._clock()
        async with self._transaction() as conn:
            if expected_seq == 0:
                lease_owner = owner if ttl is not None else None
                until = now + timedelta(seconds=ttl) if ttl is not None else None
                cur = await conn.execute(
                    self._q(
                        "INSERT INTO {s}.runs (id, root_agent, status, seq, lease_owner, "
                        "lease_until, created_at, updated_at, version) VALUES "
                        "(%s, %s, 'running', 0, %s, %s, %s, %s, 0) "
                        "ON CONFLICT (id) DO NOTHING RETURNING created_at"
                    ),
                    (run_id, root_agent, lease_owner, until, now, now),
                )
                inserted = await cur.fetchone()
                if inserted is None:
                    raise RunConflictError(run_id, 0, None)
                head: str | None = None
                created: datetime = inserted[0]
                view = RunView()
            else:
                cur = await conn.execute(
                    self._q(
                        "SELECT seq, head_mac, lease_owner, lease_until, created_at "
                        "FROM {s}.runs WHERE id = %s FOR UPDATE"
                    ),
                    (run_id,),
                )
                row = await cur.fetchone()
                if row is None:
                    raise RunNotFoundError(run_id)
                seq, head, lease_owner, lease_until, created = row
                if seq != expected_seq:
                    raise RunConflictError(run_id, expected_seq, seq)
                if (
                    lease_owner is not None
                    and lease_owner != owner
                    and lease_until > now
                    and not passes_lease(events, owner)
                ):
                    raise RunBusyError(run_id, lease_owner, lease_until.isoformat())
                held = self._gate.take(run_id, created, expected_seq)
                view = held if held is not None else fold(await self._stored_events(conn, run_id))
            # The fold first: an event it refuses raises here, and nothing is written.
            todo = admit(view, events)
            if rule_use is not None and not await self._use_rule_in(conn, *rule_use):
                raise RuleUnavailable(rule_use[0])  # rolls the whole append back
            rows = []
            for offset, (event, text) in enumerate(zip(events, texts, strict=True)):
                seq = expected_seq + 1 + offset
                mac = chain_mac(self._key, head, run_id, seq, text) if self._key else None
                rows.append((run_id, seq, event.kind, text, mac, now))
                head = mac
            async with conn.cursor() as cursor:
                await cursor.executemany(
                    self._q(
                        "INSERT INTO {s}.events (run_id, seq, kind, event, mac, appended_at) "
                        "VALUES (%s, %s, %s, %s::json, %s, %s)"
                    ),
                    rows,
                )
            await self._write(conn, run_id, todo, now)
            new_seq = expected_seq + len(events)
            await conn.execute(
                self._q(
                    "UPDATE {s}.runs SET seq = %s, head_mac = %s, status = %s, updated_at = %s, "
                    "version = version + 1 WHERE id = %s"
                ),
                (new_seq, head, todo.status, now, run_id),
            )
        self._gate.keep(run_id, created, new_seq, view)
        return new_seq

    async def _stored_events(self, conn: _Conn, run_id: str) -> list[Event]:
        cur = await conn.execute(
            self._q("SELECT event::text FROM {s}.events WHERE run_id = %s ORDER BY seq"),
            (run_id,),
        )
        return decode_events(run_id, [row[0] for row in await cur.fetchall()])

    @retried()
    async def load(self, run_id: str) -> StoredRun:
        """See ``RunStore.load``."""
        async with self._transaction(read_only=True) as conn:
            cur = await conn.execute(
                self._q(_SUMMARY + " WHERE r.id = %(id)s"), {"id": run_id, "now": self._clock()}
            )
            found = await cur.fetchone()
            if found is None:
                raise RunNotFoundError(run_id)
            cur = await conn.execute(
                self._q(
                    "SELECT seq, event::text, mac FROM {s}.events WHERE run_id = %s ORDER BY seq"
                ),
                (run_id,),
            )
            rows = await cur.fetchall()
        summary = _summary(found)
        verify_rows(run_id, summary.seq, rows, self._key)
        events = tuple(decode_events(run_id, [row[1] for row in rows]))
        self._gate.remember(run_id, summary.created_at, summary.seq, events)
        last = rows[-1] if rows else (0, None, None)
        return StoredRun(summary, events, head_of(self._key, last[2], last[1]))

    @retried()
    async def tip(self, run_id: str) -> RunTip:
        """Where run ``run_id``'s journal ends (``RunTip``), in one small query: how a
        resume checks that the state it holds is still the whole stored run."""
        # A signed store's head is the runs row's MAC; otherwise the last event's text.
        text = "NULL" if self._key else "e.event::text"
        async with self._transaction(read_only=True) as conn:
            cur = await conn.execute(
                self._q(
                    f"SELECT r.seq, r.head_mac, {text} FROM {{s}}.runs r LEFT JOIN {{s}}.events e "
                    "ON e.run_id = r.id AND e.seq = r.seq WHERE r.id = %s"
                ),
                (run_id,),
            )
            row = await cur.fetchone()
        if row is None:
            raise RunNotFoundError(run_id)
        return RunTip(row[0], head_of(self._key, row[1], row[2]))

    @retried(idempotent=True)
    async def acquire(self, run_id: str, owner: str, ttl: float) -> Lease:
        """See ``RunStore.acquire``."""
        return await self._lease(run_id, owner, check_ttl(ttl), renew=False)

    @retried(idempotent=True)
    async def renew(self, run_id: str, owner: str, ttl: float) -> Lease:
        """See ``RunStore.renew``."""
        return await self._lease(run_id, owner, check_ttl(ttl), renew=True)

    @retried(idempotent=True)
    async def release(self, run_id: str, owner: str) -> None:
        """See ``RunStore.release``."""
        async with self._transaction() as conn:
            await conn.execute(
                self._q(
                    "UPDATE {s}.runs SET lease_owner = NULL, lease_until = NULL, "
                    "version = version + 1 WHERE id = %s AND lease_owner = %s"
                ),
                (run_id, owner),
            )

    @retried()
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
        where = ["true"]
        params: dict[str, Any] = {"limit": check_limit(limit) + 1, "now": self._clock()}
        if status is not None:
            where.append("status = %(status)s")
            params["status"] = status
        if agent is not None:
            where.append("root_agent = %(agent)s")
            params["agent"] = agent
        if updated_before is not None:
            where.append("updated_at < %(before)s")
            params["before"] = to_utc(updated_before, "updated_before")
        if updated_after is not None:
            where.append("updated_at > %(after)s")
            params["after"] = to_utc(updated_after, "updated_after")
        if cursor is not None:
            c_at, params["c_id"] = decode_cursor(cursor)
            params["c_at"] = datetime.fromisoformat(c_at)
            where.append(f"(created_at, id) {'<' if newest else '>'} (%(c_at)s, %(c_id)s)")
        direction = "DESC" if newest else "ASC"
        query = (
            "SELECT * FROM (" + _SUMMARY + ") AS runs WHERE " + " AND ".join(where) + " "
            f"ORDER BY created_at {direction}, id {direction} LIMIT %(limit)s"
        )
        rows = await self._fetch(query, params)
        more = len(rows) == limit + 1
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1][6].isoformat(), rows[-1][0]) if more else None
        return RunPage(tuple(_summary(row) for row in rows), next_cursor)

    @retried()
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
        where = ["true"]
        params: dict[str, Any] = {"limit": check_limit(limit)}
        for column, value in (("run_id", run_id), ("agent", agent), ("tool", tool)):
            if value is not None:
                where.append(f"{column} = %({column})s")
                params[column] = value
        if requested_before is not None:
            where.append("requested_at <= %(before)s")
            params["before"] = to_utc(requested_before, "requested_before")
        if requested_after is not None:
            where.append("requested_at >= %(after)s")
            params["after"] = to_utc(requested_after, "requested_after")
        if after is not None:
            params["k_at"], params["k_run"], params["k_call"] = check_after(after)
            beyond = "<" if newest else ">"
            where.append(
                f"(requested_at, run_id, call_id) {beyond} (%(k_at)s, %(k_run)s, %(k_call)s)"
            )
        direction = "DESC" if newest else "ASC"
        query = (
            f"SELECT {_PENDING_COLUMNS} FROM {{s}}.pending WHERE "
            + " AND ".join(where)
            + f" ORDER BY requested_at {direction}, run_id {direction}, call_id {direction} "
            "LIMIT %(limit)s"
        )
        return [PendingApproval(*row) for row in await self._fetch(query, params)]

    @retried()
    async def due_approvals(self, *, now: datetime, limit: int = 100) -> list[PendingApproval]:
        """See ``RunStore.due_approvals``."""
        query = (
            f"SELECT {_PENDING_COLUMNS} FROM {{s}}.pending "
            "WHERE expires_at IS NOT NULL AND expires_at <= %(due)s "
            "ORDER BY expires_at, run_id, call_id LIMIT %(limit)s"
        )
        params = {"due": to_utc(now, "now"), "limit": check_limit(limit)}
        return [PendingApproval(*row) for row in await self._fetch(query, params)]

    @retried()
    async def recoverable(self) -> list[RunSummary]:
        """See ``RunStore.recoverable``."""
        query = (
            # The status column is the fold's: the index on it finds the candidates.
            _SUMMARY + " WHERE r.status IN ('running', 'in_doubt') "
            "AND (r.lease_owner IS NULL OR r.lease_until <= %(now)s) ORDER BY r.created_at, r.id"
        )
        return [_summary(row) for row in await self._fetch(query, {"now": self._clock()})]

    @retried()
    async def delete(self, run_id: str) -> None:
        """See ``RunStore.delete``."""
        async with self._transaction() as conn:
            cur = await conn.execute(
                self._q("SELECT lease_owner, lease_until FROM {s}.runs WHERE id = %s FOR UPDATE"),
                (run_id,),
            )
            row = await cur.fetchone()
            if row is None:
                raise RunNotFoundError(run_id)
            if row[0] is not None and row[1] > self._clock():
                raise RunBusyError(run_id, row[0], row[1].isoformat())
            await self._delete_rows(conn, [run_id])

    @retried()
    async def prune(self, *, completed_before: datetime) -> int:
        """See ``RunStore.prune``."""
        before = to_utc(completed_before, "completed_before")
        async with self._transaction() as conn:
            cur = await conn.execute(
                self._q(
                    "SELECT id FROM {s}.runs WHERE status = 'completed' AND updated_at < %s "
                    "FOR UPDATE"
                ),
                (before,),
            )
            ids = [row[0] for row in await cur.fetchall()]
            await self._delete_rows(conn, ids)
        return len(ids)

    @retried(idempotent=True)
    async def rebuild_projections(self, run_id: str | None = None) -> None:
        """See ``RunStore.rebuild_projections``."""
        async with self._transaction() as conn:
            if run_id is None:
                cur = await conn.execute(self._q("SELECT id FROM {s}.runs FOR UPDATE"))
            else:
                cur = await conn.execute(
                    self._q("SELECT id FROM {s}.runs WHERE id = %s FOR UPDATE"), (run_id,)
                )
            ids = [row[0] for row in await cur.fetchall()]
            if run_id is not None and not ids:
                raise RunNotFoundError(run_id)
            await self._rebuild_runs(conn, ids)

    async def _rebuild_runs(self, conn: _Conn, ids: list[str]) -> None:
        # The projections of runs ``ids`` folded again from their events (in the caller's
        # transaction).
        for one in ids:
            await conn.execute(self._q("DELETE FROM {s}.pending WHERE run_id = %s"), (one,))
            await conn.execute(self._q("DELETE FROM {s}.in_flight WHERE run_id = %s"), (one,))
            cur = await conn.execute(
                self._q(
                    "SELECT event::text, appended_at FROM {s}.events WHERE run_id = %s ORDER BY seq"
                ),
                (one,),
            )
            rows = await cur.fetchall()
            events = decode_events(one, [row[0] for row in rows])
            pending, in_flight, status = replay(zip(events, (row[1] for row in rows), strict=True))
            async with conn.cursor() as cursor:
                await cursor.executemany(
                    self._q(_INSERT_PENDING),
                    [_pending_row(one, row, at) for row, at in pending.values()],
                )
                await cursor.executemany(
                    self._q(
                        "INSERT INTO {s}.in_flight (run_id, call_id, started_seq) "
                        "VALUES (%s, %s, %s)"
                    ),
                    [(one, call_id, seq) for call_id, seq in in_flight.items()],
                )
            await conn.execute(
                self._q("UPDATE {s}.runs SET status = %s WHERE id = %s"), (status, one)
            )

    async def migrate(self) -> int:
        """Bring the schema's tables to this tether's version (``STORE_VERSION``), in one
        transaction, and return the version they had (a new schema is created at this
        version). The command line does the same:
        ``tether store migrate postgresql://... --schema tether``.

        A store of an older version is refused (``StoreVersionError``) until it is
        migrated, so that a migration is a step of a deploy, not a side effect of the
        first process to start; a store of a newer version that this tether may read
        is left as it is."""
        try:
            conn = await psycopg.AsyncConnection.connect(
                self._dsn, connect_timeout=max(2, round(self._connect_timeout))
            )
            async with conn:
                return await self._setup(conn, migrate=True)
        except psycopg.Error as exc:
            raise _error(exc) from exc

    async def close(self) -> None:
        """Close the connection pool."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    async def __aenter__(self) -> PostgresRunStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- helpers --------------------------------------------------------------------

    def _q(self, text: str) -> sql.Composed:
        # Only the schema name is spliced in, as a quoted identifier.
        return sql.SQL(text).format(s=self._s)

    async def _lease(self, run_id: str, owner: str, ttl: float, *, renew: bool) -> Lease:
        now = self._clock()
        until = now + timedelta(seconds=ttl)
        if renew:
            condition = "lease_owner = %(owner)s"
        else:
            condition = "(lease_owner IS NULL OR lease_until <= %(now)s OR lease_owner = %(owner)s)"
        async with self._transaction() as conn:
            cur = await conn.execute(
                self._q(
                    "UPDATE {s}.runs SET lease_owner = %(owner)s, lease_until = %(until)s, "
                    "version = version + 1 WHERE id = %(id)s AND " + condition + " RETURNING id"
                ),
                {"owner": owner, "until": until, "now": now, "id": run_id},
            )
            if await cur.fetchone() is None:
                cur = await conn.execute(
                    self._q("SELECT lease_owner, lease_until FROM {s}.runs WHERE id = %s"),
                    (run_id,),
                )
                row = await cur.fetchone()
                if row is None:
                    raise RunNotFoundError(run_id)
                held = row[1].isoformat() if row[1] is not None else None
                raise RunBusyError(run_id, row[0], held)
        return Lease(run_id, owner, until)

    async def _write(self, conn: _Conn, run_id: str, todo: Changes, now: datetime) -> None:
        """Apply an append's projection changes (in its transaction)."""
        async with conn.cursor() as cursor:
            if todo.put:
                await cursor.executemany(
                    self._q(
                        _INSERT_PENDING + " ON CONFLICT (run_id, call_id) DO UPDATE SET "
                        "agent = EXCLUDED.agent, tool = EXCLUDED.tool, "
                        "arguments = EXCLUDED.arguments, requested_at = EXCLUDED.requested_at, "
                        "expires_at = EXCLUDED.expires_at, kind = EXCLUDED.kind, "
                        "required_approvals = EXCLUDED.required_approvals"
                    ),
                    [_pending_row(run_id, row, now) for row in todo.put],
                )
            if todo.update:
                await cursor.executemany(
                    self._q(
                        "UPDATE {s}.pending SET arguments = %s, expires_at = %s, "
                        "required_approvals = %s WHERE run_id = %s AND call_id = %s"
                    ),
                    [
                        (row.arguments, row.expires_at, row.required_approvals, run_id, row.call_id)
                        for row in todo.update
                    ],
                )
            if todo.drop:
                await cursor.execute(
                    self._q("DELETE FROM {s}.pending WHERE run_id = %s AND call_id = ANY(%s)"),
                    (run_id, list(todo.drop)),
                )
            if todo.fly:
                await cursor.executemany(
                    self._q(
                        "INSERT INTO {s}.in_flight (run_id, call_id, started_seq) "
                        "VALUES (%s, %s, %s) ON CONFLICT (run_id, call_id) "
                        "DO UPDATE SET started_seq = EXCLUDED.started_seq"
                    ),
                    [(run_id, call_id, seq) for call_id, seq in todo.fly],
                )
            if todo.land:
                await cursor.execute(
                    self._q("DELETE FROM {s}.in_flight WHERE run_id = %s AND call_id = ANY(%s)"),
                    (run_id, list(todo.land)),
                )

    async def _delete_rows(self, conn: _Conn, ids: list[str]) -> None:
        if not ids:
            return
        for table, column in (
            ("events", "run_id"),
            ("pending", "run_id"),
            ("in_flight", "run_id"),
            ("runs", "id"),
        ):
            await conn.execute(
                self._q("DELETE FROM {s}." + table + " WHERE " + column + " = ANY(%s)"), (ids,)
            )
        # Standing approvals scoped to a deleted run can never apply again.
        await conn.execute(
            self._q("DELETE FROM {s}.rules WHERE scope = 'run' AND scope_id = ANY(%s)"), (ids,)
        )

    async def _fetch(self, query: str, params: dict[str, Any]) -> list[Any]:
        async with self._transaction(read_only=True) as conn:
            cur = await conn.execute(self._q(query), params)
            return await cur.fetchall()

    @asynccontextmanager
    async def _transaction(self, *, read_only: bool = False) -> AsyncIterator[_Conn]:
        """A pooled connection inside one transaction; driver errors become ``StoreError``
        (``StoreUnavailableError`` for a transient one, saying whether it broke a commit)."""
        committing = False
        pool: AsyncConnectionPool[_Conn] | None = None
        try:
            pool = await self._get_pool()
            async with (
                pool.connection(timeout=self._connect_timeout) as conn,
                conn.transaction(),
            ):
                if read_only:
                    # One snapshot for every statement of a read.
                    await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield conn
                # The body is done: what fails from here may have committed.
                committing = not read_only
        except psycopg.Error as exc:
            # A pool that only ran out of connections (every one busy) is kept.
            if (
                pool is not None
                and _connection_lost(exc)
                and not (isinstance(exc, PoolTimeout) and await self._server_answers())
            ):
                self._drop_pool(pool)
            raise _error(exc, committing=committing) from exc

    async def _server_answers(self) -> bool:
        try:
            conn = await psycopg.AsyncConnection.connect(
                self._dsn, connect_timeout=max(2, round(self._connect_timeout))
            )
        except psycopg.Error:
            return False
        await conn.close()
        return True

    async def _get_pool(self) -> AsyncConnectionPool[_Conn]:
        if self._pool is not None:
            return self._pool
        async with self._open_lock:
            if self._pool is None:
                # One direct connection first: it fails at once while the server is down
                # (a pool would keep trying with growing pauses), and checks the schema.
                conn = await psycopg.AsyncConnection.connect(
                    self._dsn, connect_timeout=max(2, round(self._connect_timeout))
                )
                async with conn:
                    await self._setup(conn)
                # Every connection is checked as it leaves the pool: after a server restart
                # the idle ones are dead, and each would otherwise fail one call.
                pool: AsyncConnectionPool[_Conn] = AsyncConnectionPool(
                    self._dsn,
                    min_size=1,
                    max_size=self._max,
                    open=False,
                    check=AsyncConnectionPool.check_connection,
                    timeout=self._connect_timeout,
                    kwargs={"connect_timeout": max(2, round(self._connect_timeout))},
                )
                await pool.open(wait=False)
                self._pool = pool
        return self._pool

    def _drop_pool(self, pool: AsyncConnectionPool[_Conn]) -> None:
        # The server went away: the next call opens a new pool (through one direct
        # connection, tried at once) instead of waiting out this pool's reconnect pauses.
        # Connections in use finish their work and are closed when they come back.
        if self._pool is pool:
            self._pool = None
            closing = asyncio.get_running_loop().create_task(pool.close(timeout=1))
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)

    async def _setup(self, conn: _Conn, *, migrate: bool = False) -> int:
        """Check the schema (creating a new one); with ``migrate``, bring an older one up to
        date. The version it had."""
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
            cur = await conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (self._schema,),
            )
            tables = {row[0] for row in await cur.fetchall()}
            if "store_meta" not in tables:
                if tables:
                    raise StoreFormatError(
                        f"PostgreSQL schema {self._schema!r} holds tables {sorted(tables)[:5]} "
                        "but is not a tether run store. Give the store its own schema "
                        "(schema=...). Nothing was written."
                    )
                await conn.execute(self._q("CREATE SCHEMA IF NOT EXISTS {s}"))
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        await conn.execute(self._q(statement))
                await conn.execute(
                    self._q(
                        "INSERT INTO {s}.store_meta (key, value) "
                        "VALUES (%s, %s), (%s, %s), (%s, %s)"
                    ),
                    (
                        *("format", STORE_FORMAT),
                        *("version", str(STORE_VERSION)),
                        *("readable_from", str(STORE_READABLE_FROM)),
                    ),
                )
                return STORE_VERSION
            cur = await conn.execute(self._q("SELECT key, value FROM {s}.store_meta"))
            meta = dict(await cur.fetchall())
            if meta.get("format") != STORE_FORMAT or not str(meta.get("version", "")).isdigit():
                raise StoreFormatError(
                    f"PostgreSQL schema {self._schema!r} has a store_meta table that does not "
                    f"describe a tether run store ({meta!r}). Nothing was written."
                )
            version = int(meta["version"])
            readable_from = int(meta.get("readable_from", version))
            where = f"PostgreSQL schema {self._schema!r}"
            problem = version_problem(where, version, readable_from)
            if problem is not None and not (migrate and version < STORE_VERSION):
                raise StoreVersionError(problem)
            for step in range(version, STORE_VERSION):
                for statement in _MIGRATIONS[step].split(";"):
                    if statement.strip():
                        await conn.execute(self._q(statement))
            if version < 5:
                # required_approvals came with version 5: fold it from the events of the
                # runs that wait (the others have no pending rows to fill).
                cur = await conn.execute(self._q("SELECT DISTINCT run_id FROM {s}.pending"))
                await self._rebuild_runs(conn, [row[0] for row in await cur.fetchall()])
            if version < STORE_VERSION:
                await conn.execute(
                    self._q("UPDATE {s}.store_meta SET value = %s WHERE key = 'version'"),
                    (str(STORE_VERSION),),
                )
                await conn.execute(
                    self._q(
                        "INSERT INTO {s}.store_meta (key, value) VALUES ('readable_from', %s) "
                        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
                    ),
                    (str(STORE_READABLE_FROM),),
                )
            return version


_INSERT_PENDING = (
    "INSERT INTO {s}.pending (run_id, call_id, agent, tool, arguments, requested_at, "
    "expires_at, kind, required_approvals) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def _pending_row(run_id: str, row: PendingRow, requested_at: datetime) -> tuple[object, ...]:
    return row.values(run_id, requested_at, row.expires_at)


def _utc(moment: datetime) -> datetime:
    # The server hands times back in the session's zone; rules compare and sign them in UTC.
    return moment.astimezone(UTC)


# Failures that pass: the server is down, restarting or shutting down, has no connection
# slot free, or a transaction lost a race it can simply run again.
_TRANSIENT_STATES = frozenset({"57P01", "57P02", "57P03", "53300", "40001", "40P01"})


def _transient(exc: psycopg.Error) -> bool:
    if isinstance(exc, psycopg.InterfaceError):
        return "closed" in str(exc) or "lost" in str(exc)
    state = exc.sqlstate
    if state is None:  # no answer from a server at all: refused, reset, pool timeout
        return isinstance(exc, psycopg.OperationalError)
    return state.startswith("08") or state in _TRANSIENT_STATES


def _connection_lost(exc: psycopg.Error) -> bool:
    # No server behind the connection (as opposed to a transaction that lost a race).
    state = exc.sqlstate
    return _transient(exc) and (state is None or state.startswith("08") or state[:3] == "57P")


def _error(exc: psycopg.Error, *, committing: bool = False) -> StoreError:
    said = next(iter(str(exc).splitlines()), "").strip() or type(exc).__name__
    if _transient(exc):
        return StoreUnavailableError(
            "PostgreSQL", f"{type(exc).__name__}: {said}", unknown_outcome=committing
        )
    return StoreError(
        f"PostgreSQL run store failed ({type(exc).__name__}: {exc}). Nothing of the failed "
        "call was written; check the server and retry."
    )


def _summary(row: Sequence[Any]) -> RunSummary:
    return RunSummary(
        run_id=row[0],
        root_agent=row[1],
        status=row[2],
        seq=row[3],
        lease_owner=row[4],
        lease_until=row[5],
        created_at=row[6],
        updated_at=row[7],
    )
