"""The run store's reads, once for every SQL backend: a run with its events, its tip,
and the keyset pages of runs and of pending approvals.

Each is a program (``_statements``) in the neutral SQL of ``_dialect``; the
backend drives it in a read transaction, one snapshot for all its statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, NamedTuple, get_args

from ..errors import RunNotFoundError
from ._codec import head_of
from ._dialect import Dialect
from ._engine import touched
from ._pending_rows import PENDING_COLUMNS
from ._protocol import PendingKey, encode_cursor
from ._records import ChangedRuns, PendingApproval, RunPage, RunStatus, RunSummary, RunTip
from ._statements import Program, select, select_one, together

__all__ = [
    "Joined",
    "Loaded",
    "changed_runs",
    "due_approvals",
    "joined",
    "list_runs",
    "load",
    "pending_approvals",
    "recoverable",
    "tip",
]

_FREE = "(r.lease_owner IS NULL OR r.lease_until <= :now)"
# The status a reader sees: the fold's, as each append stores it (a run in doubt as 'running'
# with in_doubt set, see _projection.status_columns), except that a call in flight under a
# live lease is a tool running now, not a call in doubt (the process that runs it is alive).
# Only the lease is read at read time, from the row itself: no other table.
_STATUS = f"CASE WHEN r.in_doubt AND {_FREE} THEN 'in_doubt' ELSE r.status END"
_SUMMARY_COLUMNS = (
    "r.id",
    "r.root_agent",
    f"{_STATUS} AS status",
    "r.seq",
    "r.lease_owner",
    "r.lease_until",
    "r.created_at",
    "r.updated_at",
)
SUMMARY = "SELECT " + ", ".join(_SUMMARY_COLUMNS) + " FROM {runs} r"
"""Runs as ``RunSummary`` rows (``summary``); takes ``:now``."""

# The stored columns that each status a reader sees comes from (see _STATUS), spelled so that
# the index on (status, created_at, id) bounds the scan.
_STORED: dict[str, str] = {
    "running": f"r.status = 'running' AND (NOT r.in_doubt OR NOT {_FREE})",
    "in_doubt": f"r.status = 'running' AND r.in_doubt AND {_FREE}",
}

# Every value the status column holds (a run in doubt is stored 'running').
_EVERY_STATUS = ", ".join(f"'{s}'" for s in get_args(RunStatus) if s != "in_doubt")

_PENDING = ", ".join(PENDING_COLUMNS)
_PENDING_OF_P = ", ".join(f"p.{column}" for column in PENDING_COLUMNS)

EventRows = list[tuple[int, str, str | None]]


# A run's summary with its seal (``_seal``) and head: the columns of SUMMARY, then
# ``r.seal`` and ``r.head_mac``.
_SEALED_COLUMNS = (*_SUMMARY_COLUMNS, "r.seal", "r.head_mac")
_SEALED = "SELECT " + ", ".join(_SEALED_COLUMNS) + " FROM {runs} r"

# A load that asks for no MACs withholds the rows of a sealed run of at least
# ``Dialect.joined_from`` rows: their texts are read next, joined in one value (``joined``),
# which costs less to read and to hand to Python than the rows (3,000 rows of SQLite: 0.6 ms
# against 1.7; of PostgreSQL, about a quarter of the client's CPU). Any other run's rows are read
# with it, with their MACs if it has no seal or the load asked for them (its seal, if it
# matches, stands for them: ``_seal``).
_WITHHELD = "NOT :macs AND r.seal IS NOT NULL AND r.seq >= :joined_from"
# (The run's row is looked up first, so that rows withheld are not scanned.)
_ROWS = (
    "SELECT v.seq, {event}, CASE WHEN :macs OR r.seal IS NULL THEN v.mac END "
    f"FROM {{runs}} r JOIN {{events}} v ON v.run_id = r.id WHERE r.id = :id AND NOT ({_WITHHELD})"
)

# A run's summary and its event rows in one statement, for a backend whose transaction costs
# statements of its own (``Dialect.load_at_once``): the summary's row first (sequence number
# -1), then each event's ``(seq, text, mac)``.
_LOAD = (
    f"SELECT -1, NULL, NULL, {', '.join(_SEALED_COLUMNS)} FROM {{runs}} r WHERE r.id = :id "
    "UNION ALL "
    + _ROWS.replace(" END ", " END, " + ", ".join(["NULL"] * len(_SEALED_COLUMNS)) + " ")
    + " ORDER BY 1"
)

# A run's event texts joined by newlines in seq order, the very text its seal's digest
# hashes, with how many rows there are and their first and last seq: a seal that matches
# stands for rows 1..seq only. SQLite's ``group_concat`` joins the rows in the order of the
# scan, the primary key's (run, seq); were it ever another, the digest would not match, and
# the rows would be read one by one.
_JOINED = (
    "SELECT {joined}, count(*), (SELECT min(seq) FROM {events} WHERE run_id = :id), "
    "(SELECT max(seq) FROM {events} WHERE run_id = :id) FROM {events} v WHERE v.run_id = :id"
)


class Joined(NamedTuple):
    """A run's event texts read as one (``joined``)."""

    text: str | None
    """The rows' texts in seq order, each after the first preceded by a newline (``None``:
    the run has none)."""
    rows: tuple[int, int | None, int | None]
    """How many rows were joined, and the first and last seq among them."""


class Loaded(NamedTuple):
    """A run as a load reads it."""

    summary: RunSummary
    seal: str | None
    """The run's seal, as its row holds it."""
    head: str | None
    """The MAC at the run's head, as its row holds it."""
    rows: EventRows
    """The event rows ``(seq, text, mac)``, each MAC ``None`` if the run has a seal and
    the load asked for none; none if ``withheld``."""
    withheld: bool
    """Whether the rows were withheld, to be read joined (``joined``)."""


def load(d: Dialect, run_id: str, now: datetime, *, macs: bool = True) -> Program[Loaded]:
    """The run as ``Loaded``: its event rows with their MACs if ``macs`` or the run has no
    seal, else without them or (a run of ``joined_from`` rows or more) withheld. One
    statement where the dialect says so (``load_at_once``), else queries sent together (one
    snapshot in the backend's read transaction)."""
    params = {"id": run_id, "now": d.stamp(now), "macs": macs, "joined_from": d.joined_from}
    if d.load_at_once:
        rows = yield select(d.sql(_LOAD), params)
        if not rows or rows[0][0] != -1:
            raise RunNotFoundError(run_id)
        found, events = rows[0][3:], [row[:3] for row in rows[1:]]
    else:
        found, events = yield together(
            select_one(d.sql(f"{_SEALED} WHERE r.id = :id"), params),
            select(d.sql(f"{_ROWS} ORDER BY v.seq"), params),
        )
        if found is None:
            raise RunNotFoundError(run_id)
    seal, seq = found[-2], found[3]
    withheld = not macs and seal is not None and seq >= d.joined_from
    return Loaded(summary(d, found), seal, found[-1], events, withheld)


def joined(d: Dialect, run_id: str) -> Program[Joined]:
    """The run's event texts in one value (``Joined``), in a statement of their own."""
    text, count, first, last = yield select_one(d.sql(_JOINED), {"id": run_id})
    return Joined(text, (count, first, last))


def tip(d: Dialect, key: bytes | None, run_id: str) -> Program[RunTip]:
    """Where the run's journal ends (``RunTip``), in one small query."""
    # A signed store's head is the runs row's MAC; otherwise the last event's text.
    text = "NULL" if key else "e.{event}"
    row = yield select_one(
        d.sql(
            f"SELECT r.seq, r.head_mac, {text} FROM {{runs}} r LEFT JOIN {{events}} e "
            "ON e.run_id = r.id AND e.seq = r.seq WHERE r.id = :id"
        ),
        {"id": run_id},
    )
    if row is None:
        raise RunNotFoundError(run_id)
    return RunTip(row[0], head_of(key, row[1], row[2]))


def list_runs(
    d: Dialect,
    *,
    status: RunStatus | None,
    agent: str | None,
    updated_before: datetime | None,
    updated_after: datetime | None,
    limit: int,
    cursor: tuple[str, str] | None,
    newest: bool,
    now: datetime,
) -> Program[RunPage]:
    """A keyset page of runs (see ``RunStore.list_runs``); arguments already checked,
    ``cursor`` decoded."""
    query, params = _runs_query(
        d, status, agent, updated_before, updated_after, limit + 1, cursor, newest, now
    )
    rows = yield select(d.sql(query), params)
    more = len(rows) == limit + 1
    rows = rows[:limit]
    next_cursor = encode_cursor(d.time_text(rows[-1][6]), rows[-1][0]) if more else None
    return RunPage(tuple(summary(d, row) for row in rows), next_cursor)


def changed_runs(
    d: Dialect, since: datetime, limit: int, cursor: tuple[str, str] | None, now: datetime
) -> Program[ChangedRuns]:
    """A keyset page of the runs written since ``since``, with the calls each waits on now,
    in one query (see ``RunStore.changed_runs``)."""
    query, params = _runs_query(d, None, None, None, since, limit + 1, cursor, False, now)
    rows = yield select(
        d.sql(
            f"SELECT c.*, {_PENDING_OF_P} FROM ({query}) c "
            "LEFT JOIN {pending} p ON p.run_id = c.id "
            "ORDER BY c.created_at, c.id, p.requested_at, p.call_id"
        ),
        params,
    )
    runs: list[RunSummary] = []
    waiting: list[PendingApproval] = []
    for row in rows:
        if not runs or runs[-1].run_id != row[0]:
            runs.append(summary(d, row))
        if row[8] is not None:
            waiting.append(pending(d, row[8:]))
    next_cursor = None
    if len(runs) == limit + 1:
        beyond = runs.pop()
        waiting = [row for row in waiting if row.run_id != beyond.run_id]
        last = runs[-1]
        next_cursor = encode_cursor(d.time_text(d.stamp(last.created_at)), last.run_id)
    return ChangedRuns(tuple(runs), tuple(waiting), next_cursor)


def _runs_query(
    d: Dialect,
    status: RunStatus | None,
    agent: str | None,
    updated_before: datetime | None,
    updated_after: datetime | None,
    limit: int,
    cursor: tuple[str, str] | None,
    newest: bool,
    now: datetime,
) -> tuple[str, dict[str, Any]]:
    """The neutral SQL (``SUMMARY`` rows) and parameters of a keyset page of runs."""
    where = ["1 = 1"]
    params: dict[str, Any] = {"limit": limit, "now": d.stamp(now)}
    if status is not None:
        where.append(_STORED.get(status, "r.status = :status"))
        params["status"] = status
    if agent is not None:
        where.append("r.root_agent = :agent")
        params["agent"] = agent
    if updated_before is not None:
        where.append("r.updated_at < :before")
        params["before"] = d.stamp(updated_before)
    source = SUMMARY
    if updated_after is not None:
        # What changed since: a short range of the index on (status, touched_at) for each
        # status a run can have, from the step ``touched_at`` rounds the time down to (a run
        # updated since was touched since), then filtered and sorted (left alone, a planner
        # may walk the index on created_at to skip the sort: every run).
        source = source.replace("{runs} r", "{runs_by_touch}")
        where.append(
            f"r.status IN ({_EVERY_STATUS}) AND r.touched_at >= :touched AND r.updated_at > :after"
        )
        params["after"] = d.stamp(updated_after)
        params["touched"] = d.stamp(touched(updated_after))
    if cursor is not None:
        c_at, params["c_id"] = cursor
        params["c_at"] = d.time_param(c_at)
        where.append(f"(r.created_at, r.id) {'<' if newest else '>'} (:c_at, :c_id)")
    direction = "DESC" if newest else "ASC"
    query = (
        f"{source} WHERE {' AND '.join(where)} "
        f"ORDER BY r.created_at {direction}, r.id {direction} LIMIT :limit"
    )
    return query, params


def pending_approvals(
    d: Dialect,
    *,
    run_id: str | None,
    agent: str | None,
    limit: int,
    tool: str | None,
    requested_before: datetime | None,
    requested_after: datetime | None,
    newest: bool,
    after: PendingKey | None,
) -> Program[list[PendingApproval]]:
    """A keyset page of pending approvals (see ``RunStore.pending_approvals``)."""
    where = ["1 = 1"]
    params: dict[str, Any] = {"limit": limit}
    for column, value in (("run_id", run_id), ("agent", agent), ("tool", tool)):
        if value is not None:
            where.append(f"{column} = :{column}")
            params[column] = value
    if requested_before is not None:
        where.append("requested_at <= :before")
        params["before"] = d.stamp(requested_before)
    if requested_after is not None:
        where.append("requested_at >= :after")
        params["after"] = d.stamp(requested_after)
    if after is not None:
        at, params["k_run"], params["k_call"] = after
        params["k_at"] = d.stamp(at)
        # Spelled so that the index on requested_at bounds the scan.
        beyond = "<" if newest else ">"
        where.append(
            f"requested_at {beyond}= :k_at AND (requested_at {beyond} :k_at "
            f"OR (run_id, call_id) {beyond} (:k_run, :k_call))"
        )
    direction = "DESC" if newest else "ASC"
    rows = yield select(
        d.sql(
            f"SELECT {_PENDING} FROM {{pending}} WHERE {' AND '.join(where)} "
            f"ORDER BY requested_at {direction}, run_id {direction}, call_id {direction} "
            "LIMIT :limit"
        ),
        params,
    )
    return [pending(d, row) for row in rows]


def due_approvals(d: Dialect, now: datetime, limit: int) -> Program[list[PendingApproval]]:
    """Pending calls whose deadline is at or before ``now``, earliest first."""
    rows = yield select(
        d.sql(
            f"SELECT {_PENDING} FROM {{pending_by_expiry}} "
            "WHERE expires_at IS NOT NULL AND expires_at <= :due "
            "ORDER BY expires_at, run_id, call_id LIMIT :limit"
        ),
        {"due": d.stamp(now), "limit": limit},
    )
    return [pending(d, row) for row in rows]


def recoverable(d: Dialect, now: datetime) -> Program[list[RunSummary]]:
    """Runs running or in doubt whose lease is free or expired, oldest first."""
    rows = yield select(
        d.sql(
            # The status column is the fold's: the index on it finds the candidates, so a
            # worker's poll costs what it returns, not the runs stored.
            f"{SUMMARY} WHERE r.status = 'running' AND {_FREE} ORDER BY r.created_at, r.id"
        ),
        {"now": d.stamp(now)},
    )
    return [summary(d, row) for row in rows]


def summary(d: Dialect, row: Sequence[Any]) -> RunSummary:
    """A ``SUMMARY`` row."""
    return RunSummary(
        run_id=row[0],
        root_agent=row[1],
        status=row[2],
        seq=row[3],
        lease_owner=row[4],
        lease_until=d.time(row[5]) if row[5] is not None else None,
        created_at=d.time(row[6]),
        updated_at=d.time(row[7]),
    )


def pending(d: Dialect, row: Sequence[Any]) -> PendingApproval:
    """A ``pending`` row."""
    expires = d.time(row[6]) if row[6] is not None else None
    kind: Literal["approval", "output_review"] = (
        "output_review" if row[7] == "output_review" else "approval"
    )
    return PendingApproval(
        row[0], row[1], row[2], row[3], row[4], d.time(row[5]), expires, kind, row[8], row[9]
    )
