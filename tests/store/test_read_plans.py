"""The reads a worker's poll, the inbox and its event stream make are bounded by an index,
on both backends: each plan searches the runs and pending tables by a predicate the index
bounds (or walks the listing's own index in order, stopping at the page's limit), and never
scans them. Checked with the databases' own EXPLAIN over the statements the store runs.

PostgreSQL is asked with sequential scans disabled, so that a tiny test table does not make
a scan the cheapest plan: what is left is whether an index can bound the read at all.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tether.items import function_call, user_message
from tether.journal import ApprovalRequested, ModelResponded, RunStarted
from tether.journal._binding import fingerprint
from tether.store import RunStore
from tether.store import _reads as reads
from tether.store._dialect import Dialect
from tether.store._postgres_dialect import PostgresDialect
from tether.store._sqlite_dialect import SQLiteDialect
from tether.store._statements import Program, Statement, Together

from .backends import Backend

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def first(program: Program[Any]) -> Statement:
    """The first statement a read runs (its query over the runs or pending table; of
    queries sent together, the first)."""
    statement = next(program)
    program.close()
    return statement.statements[0] if isinstance(statement, Together) else statement


def bounded(d: Dialect) -> dict[str, Program[Any]]:
    """The reads that must search through an index bounded by their predicate."""
    status_pages = {
        f"list_runs(status={status!r}, {order})": reads.list_runs(
            d,
            status=status,  # type: ignore[arg-type]
            agent=None,
            updated_before=None,
            updated_after=None,
            limit=50,
            cursor=cursor,
            newest=order == "newest",
            now=NOW,
        )
        for status in ("running", "waiting", "in_doubt", "completed", "failed")
        for order, cursor in (("oldest", None), ("newest", (d.time_text(d.stamp(NOW)), "r1")))
    }
    return {
        "recoverable": reads.recoverable(d, NOW),
        **status_pages,
        "list_runs(updated_after=)": reads.list_runs(
            d,
            status=None,
            agent=None,
            updated_before=None,
            updated_after=NOW,
            limit=200,
            cursor=None,
            newest=False,
            now=NOW,
        ),
        "changed_runs": reads.changed_runs(d, NOW, 201, None, NOW),
        "changed_runs(cursor=)": reads.changed_runs(
            d, NOW, 201, (d.time_text(d.stamp(NOW)), "r1"), NOW
        ),
        "load": reads.load(d, "r1", NOW),
        "pending_approvals(run_id=)": pending(d, run_id="r1"),
        "pending_approvals(after=)": pending(d, after=(NOW, "r1", "c1")),
        "pending_approvals(requested_after=)": pending(d, requested_after=NOW),
        "due_approvals": reads.due_approvals(d, LATER, 11),
    }


def walks(d: Dialect) -> dict[str, Program[Any]]:
    """First pages with nothing to filter: an ordered walk of one index, up to the limit."""
    return {
        "pending_approvals() oldest": pending(d),
        "pending_approvals() newest": pending(d, newest=True),
    }


def pending(d: Dialect, *, newest: bool = False, **given: Any) -> Program[Any]:
    options: dict[str, Any] = {
        "run_id": None,
        "agent": None,
        "tool": None,
        "requested_before": None,
        "requested_after": None,
        "after": None,
    }
    return reads.pending_approvals(d, limit=51, newest=newest, **(options | given))


async def paused_runs(store: RunStore) -> None:
    """A few runs waiting for an approval that expires, so the tables and indexes hold rows."""
    for i in range(3):
        run_id = f"r{i}"
        call = function_call("pay", "{}", "c1")
        await store.append(
            run_id,
            0,
            [
                RunStarted(run_id, "Clerk", [user_message("pay")], 10),
                ModelResponded("Clerk", [call]),
                ApprovalRequested(
                    "c1",
                    "Clerk",
                    "pay",
                    "{}",
                    fingerprint("Clerk", "pay", "c1", "{}"),
                    expires_at=LATER.isoformat(),
                ),
            ],
        )


# -- SQLite: EXPLAIN QUERY PLAN --------------------------------------------------------


def sqlite_plan(path: str, statement: Statement) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(f"EXPLAIN QUERY PLAN {statement.text}", statement.params)
        return [row[3] for row in rows]
    finally:
        conn.close()


def sqlite_problems(plan: list[str], *, walk: bool) -> list[str]:
    # A SEARCH is bounded by its index's constraint; a SCAN reads the table or index through
    # (but the SCAN of a subquery's rows reads what that subquery's own plan bounds).
    subqueries = {
        line.split()[-1] for line in plan if line.startswith(("CO-ROUTINE", "MATERIALIZE"))
    }
    scans = [line for line in plan if line.startswith("SCAN") and line.split()[1] not in subqueries]
    if walk:  # one ordered walk of an index, which the LIMIT stops, and no sort
        ordered = len(scans) == 1 and " USING INDEX " in scans[0]
        return [] if ordered and not any("TEMP B-TREE" in line for line in plan) else plan
    return scans


# -- PostgreSQL: EXPLAIN (FORMAT JSON) ---------------------------------------------------


def postgres_plan(dsn: str, statement: Statement) -> dict[str, Any]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        row = conn.execute(f"EXPLAIN (FORMAT JSON) {statement.text}", statement.params).fetchone()
        assert row is not None
        plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
        found: dict[str, Any] = plan[0]["Plan"]
        return found


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)


def postgres_problems(plan: dict[str, Any], *, walk: bool) -> list[str]:
    problems = []
    for node in nodes(plan):
        if node.get("Relation Name") not in ("runs", "pending"):
            continue
        kind = node["Node Type"]
        if kind == "Bitmap Heap Scan":
            continue  # its Bitmap Index Scan child carries the index condition
        if kind not in ("Index Scan", "Index Only Scan"):
            problems.append(f"{kind} on {node['Relation Name']}")
        elif "Index Cond" not in node and not walk:
            problems.append(f"{kind} on {node['Relation Name']} without an index condition")
    for node in nodes(plan):
        if node["Node Type"] == "Bitmap Index Scan" and "Index Cond" not in node:
            problems.append("Bitmap Index Scan without an index condition")
        if walk and node["Node Type"] == "Sort":
            problems.append("a first page sorts what it read")
    return problems


@pytest.fixture
def dialect(backend: Backend) -> Dialect:
    if backend.schema is None:
        return SQLiteDialect(backend.raw("PRAGMA database_list", ())[0][2])
    return PostgresDialect(backend.schema, sql.Identifier(backend.schema).as_string(None))


def problems_of(
    backend: Backend, d: Dialect, statement: Statement, *, walk: bool, dsn: str | None
) -> list[str]:
    if backend.name == "sqlite":
        return sqlite_problems(sqlite_plan(d.where, statement), walk=walk)
    assert dsn is not None
    return postgres_problems(postgres_plan(dsn, statement), walk=walk)


async def test_no_read_of_a_poll_a_page_or_a_sweep_scans_runs_or_pending(
    backend: Backend, dialect: Dialect, request: pytest.FixtureRequest
) -> None:
    store = backend.open()
    try:
        await paused_runs(store)
    finally:
        await store.close()
    dsn = request.getfixturevalue("postgres_dsn") if backend.name == "postgres" else None
    found = {
        name: problems_of(backend, dialect, first(program), walk=False, dsn=dsn)
        for name, program in bounded(dialect).items()
    }
    found |= {
        name: problems_of(backend, dialect, first(program), walk=True, dsn=dsn)
        for name, program in walks(dialect).items()
    }
    assert {name: found for name, found in found.items() if found} == {}


def test_the_checks_catch_plans_that_read_everything() -> None:
    assert sqlite_problems(["SCAN r"], walk=False) == ["SCAN r"]
    assert sqlite_problems(["CO-ROUTINE c", "SCAN r", "SCAN c"], walk=False) == ["SCAN r"]
    assert sqlite_problems(["SCAN r USING INDEX tether_runs_created"], walk=False)
    walked = ["SCAN tether_pending USING INDEX x", "USE TEMP B-TREE FOR ORDER BY"]
    assert sqlite_problems(walked, walk=True)
    seq = {"Node Type": "Seq Scan", "Relation Name": "runs"}
    assert postgres_problems(seq, walk=False) == ["Seq Scan on runs"]
    full = {"Node Type": "Index Scan", "Relation Name": "runs", "Filter": "x"}
    assert postgres_problems(full, walk=False)
    # An incremental sort over the index's order sorts only rows of one request time.
    sort = {"Node Type": "Sort", "Plans": [{"Node Type": "Index Scan"}]}
    assert postgres_problems(sort, walk=True)
