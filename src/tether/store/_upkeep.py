"""The run store's upkeep, once for every SQL backend: delete and prune runs, fold their
projections again (``rebuild``), and check the store's format and migrate its schema.

Each is a program (``_statements``) in the neutral SQL of ``_dialect``, driven by the
backend inside one write transaction, as ``_engine``'s writes are.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..errors import RunBusyError, RunNotFoundError, StoreFormatError, StoreVersionError
from ._codec import decode_events
from ._dialect import Dialect
from ._pending_rows import PENDING_COLUMNS, pending_row
from ._projection import replay, status_columns
from ._protocol import STORE_FORMAT, STORE_READABLE_FROM, STORE_VERSION, version_problem
from ._statements import Program, execute, execute_many, select, select_one

__all__ = ["check_format", "delete", "prune", "rebuild", "rebuild_runs"]


# -- delete, prune, rebuild ----------------------------------------------------------


def delete(d: Dialect, run_id: str, now: datetime) -> Program[None]:
    """Remove a run that no live lease holds, with everything derived from it."""
    row = yield select_one(
        d.sql("SELECT lease_owner, lease_until FROM {runs} WHERE id = :id{for_update}"),
        {"id": run_id},
    )
    if row is None:
        raise RunNotFoundError(run_id)
    if row[0] is not None and row[1] > d.stamp(now):
        raise RunBusyError(run_id, row[0], d.time_text(row[1]))
    yield from _delete_rows(d, [run_id])


def prune(d: Dialect, before: datetime) -> Program[int]:
    """Delete the runs completed before ``before``; how many."""
    rows = yield select(
        d.sql(
            # touched_at is never later than updated_at: the index on (status, touched_at)
            # bounds the search.
            "SELECT id FROM {runs} WHERE status = 'completed' AND touched_at < :before "
            "AND updated_at < :before{for_update}"
        ),
        {"before": d.stamp(before)},
    )
    ids = [row[0] for row in rows]
    yield from _delete_rows(d, ids)
    return len(ids)


def _delete_rows(d: Dialect, ids: list[str]) -> Program[None]:
    for table, column in (
        ("events", "run_id"),
        ("pending", "run_id"),
        ("in_flight", "run_id"),
        ("runs", "id"),
    ):
        yield execute_many(
            d.sql(f"DELETE FROM {{{table}}} WHERE {column} = :id"), [{"id": i} for i in ids]
        )
    # Standing approvals scoped to a deleted run can never apply again.
    yield execute_many(
        d.sql("DELETE FROM {rules} WHERE scope = 'run' AND scope_id = :id"),
        [{"id": i} for i in ids],
    )


def rebuild(d: Dialect, run_id: str | None) -> Program[None]:
    """Fold the projections of one run (or of all) again from their events."""
    if run_id is None:
        rows = yield select(d.sql("SELECT id FROM {runs}{for_update}"))
    else:
        rows = yield select(
            d.sql("SELECT id FROM {runs} WHERE id = :id{for_update}"), {"id": run_id}
        )
        if not rows:
            raise RunNotFoundError(run_id)
    yield from rebuild_runs(d, [row[0] for row in rows])


def rebuild_runs(d: Dialect, ids: list[str]) -> Program[None]:
    """Fold the projections of runs ``ids`` again from their events (in the caller's
    transaction)."""
    for one in ids:
        yield execute(d.sql("DELETE FROM {pending} WHERE run_id = :id"), {"id": one})
        yield execute(d.sql("DELETE FROM {in_flight} WHERE run_id = :id"), {"id": one})
        rows = yield select(
            d.sql("SELECT {event}, appended_at FROM {events} WHERE run_id = :id ORDER BY seq"),
            {"id": one},
        )
        events = decode_events(one, [row[0] for row in rows])
        times = (d.time(row[1]) for row in rows)
        pending, _, folded = replay(zip(events, times, strict=True))
        yield execute_many(
            d.sql(_insert("pending", PENDING_COLUMNS)),
            [pending_row(d, one, row, d.stamp(at)) for row, at in pending.values()],
        )
        status, doubt = status_columns(folded)
        yield execute(
            d.sql("UPDATE {runs} SET status = :status, in_doubt = :doubt WHERE id = :id"),
            {"status": status, "doubt": doubt, "id": one},
        )


def _insert(table: str, columns: Sequence[str]) -> str:
    values = ", ".join(f":{column}" for column in columns)
    return f"INSERT INTO {{{table}}} ({', '.join(columns)}) VALUES ({values})"


# -- the schema ---------------------------------------------------------------------


def check_format(d: Dialect, *, create: bool, migrate: bool) -> Program[int]:
    """Check that the store's place holds a run store this tether can use, or nothing;
    with ``create``, create a new store there, and with ``migrate`` too, bring an older
    one up to date. The version the store had (``STORE_VERSION`` for a new one)."""
    tables = {row[0] for row in (yield d.list_tables())}
    if d.meta_table not in tables:
        foreign = d.foreign(tables)
        if foreign:
            raise StoreFormatError(d.not_a_store(foreign))
        if create:
            for statement in d.schema:
                yield execute(statement)
            yield execute_many(
                d.sql("INSERT INTO {meta} (key, value) VALUES (:key, :value)"),
                [
                    {"key": "format", "value": STORE_FORMAT},
                    {"key": "version", "value": str(STORE_VERSION)},
                    {"key": "readable_from", "value": str(STORE_READABLE_FROM)},
                ],
            )
        return STORE_VERSION
    meta = dict((yield select(d.sql("SELECT key, value FROM {meta}"))))
    if meta.get("format") != STORE_FORMAT or not str(meta.get("version", "")).isdigit():
        raise StoreFormatError(d.not_described(meta))
    version = int(meta["version"])
    readable_from = int(meta.get("readable_from", version))
    problem = version_problem(d.where, version, readable_from)
    if problem is not None and not (migrate and version < STORE_VERSION):
        raise StoreVersionError(problem)
    if version < STORE_VERSION and create:
        yield from _migrate(d, version)
    return version


def _migrate(d: Dialect, version: int) -> Program[None]:
    # The dialect's statements first: version 9's store the runs in doubt as 'running' with
    # in_doubt set (the rebuilds below write both columns too).
    for step in range(version, STORE_VERSION):
        for statement in d.migrations[step]:
            yield execute(statement)
    if version < 5:
        # required_approvals came with version 5: fold it from the events of the
        # runs that wait (the others have no pending rows to fill).
        waiting = yield select(d.sql("SELECT DISTINCT run_id FROM {pending}"))
        yield from rebuild_runs(d, [row[0] for row in waiting])
    if version < 6:
        # Readers take the status columns as the fold's since version 6; a store written
        # before it held 'running' for runs in doubt: fold those again.
        doubt = yield select(
            d.sql(
                "SELECT DISTINCT f.run_id FROM {in_flight} f JOIN {runs} r ON r.id = f.run_id "
                "WHERE r.status = 'running' AND NOT r.in_doubt"
            )
        )
        yield from rebuild_runs(d, [row[0] for row in doubt])
    if version < 8:
        # Version 8 shows who asked on each pending call: fold it from the events of the
        # runs that wait (before the in_flight rows go, which a rebuild does not write).
        waiting = yield select(d.sql("SELECT DISTINCT run_id FROM {pending}"))
        yield from rebuild_runs(d, [row[0] for row in waiting])
    if version < 7:
        # Version 7 no longer keeps in_flight (the status says 'in_doubt'): its rows, read
        # by nothing, go. The empty table stays for processes of version 6 during a
        # rolling deploy (they write it and read nothing from it).
        yield execute(d.sql("DELETE FROM {in_flight}"))
    yield execute(
        d.sql("UPDATE {meta} SET value = :value WHERE key = 'version'"),
        {"value": str(STORE_VERSION)},
    )
    yield execute(
        d.sql(d.replace_into("meta", ("key", "value"), ("key",))),
        {"key": "readable_from", "value": str(STORE_READABLE_FROM)},
    )
