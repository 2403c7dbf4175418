"""Migrations are an explicit step: a new store just works, an older one is refused until
``store.migrate()`` (or ``tether store migrate``), and a newer one is used when its
``readable_from`` allows this tether, so that a rolling deploy keeps old workers going."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import get_args

import pytest

from tether.cli import main
from tether.errors import StoreVersionError
from tether.items import user_message
from tether.journal import RunStatus
from tether.journal._events import RunCompleted, RunStarted, ToolCompleted, ToolStarted
from tether.store import STORE_READABLE_FROM, STORE_VERSION, SQLiteRunStore

from .backends import Backend, FakeClock, postgres_backend, sqlite_backend
from .test_conformance import approved, asked, begun, make_version_8


def started(run_id: str) -> RunStarted:
    return RunStarted(run_id, "Booker", [user_message("Book a table")], max_turns=10)


def meta(backend: Backend) -> dict[str, str]:
    return dict(backend.raw("SELECT key, value FROM {meta}", ()))


def make_version_7(backend: Backend) -> None:
    """Turn a store back into what tether with store version 7 wrote: no ``requested_by``
    on pending rows."""
    make_version_8(backend)
    backend.raw("ALTER TABLE {pending} DROP COLUMN requested_by", ())
    backend.raw("UPDATE {meta} SET value = '7' WHERE key = 'version'", ())


def make_version_6(backend: Backend, in_flight: tuple[tuple[str, str, int], ...] = ()) -> None:
    """Turn a store back into what tether with store version 6 wrote: ``in_flight`` rows
    (run, call, seq of its ``ToolStarted``) for the calls started and not completed."""
    make_version_7(backend)
    for row in in_flight:
        backend.raw("INSERT INTO {in_flight} (run_id, call_id, started_seq) VALUES (?, ?, ?)", row)
    backend.raw("UPDATE {meta} SET value = '6' WHERE key = 'version'", ())


def make_version_5(backend: Backend, in_flight: tuple[tuple[str, str, int], ...] = ()) -> None:
    """Turn a store back into what tether with store version 5 wrote (runs in doubt held
    status 'running' there until their projections were rebuilt)."""
    make_version_6(backend, in_flight)
    if backend.name == "sqlite":
        backend.raw("DROP INDEX tether_runs_status_created", ())
    else:
        backend.raw("DROP INDEX {schema}.runs_status_created", ())
    backend.raw("UPDATE {runs} SET status = 'running' WHERE status = 'in_doubt'", ())
    backend.raw("UPDATE {meta} SET value = '5' WHERE key = 'version'", ())


def make_version_4(backend: Backend) -> None:
    """Turn a store back into what tether with store version 4 wrote."""
    make_version_5(backend)
    if backend.name == "sqlite":
        backend.raw("DROP INDEX tether_rules_granted", ())
        backend.raw("DROP INDEX tether_rules_run", ())
    else:
        backend.raw("DROP INDEX {schema}.rules_granted", ())
        backend.raw("DROP INDEX {schema}.rules_run", ())
    backend.raw("ALTER TABLE {pending} DROP COLUMN required_approvals", ())
    backend.raw("DELETE FROM {meta} WHERE key = 'readable_from'", ())
    backend.raw("UPDATE {meta} SET value = '4' WHERE key = 'version'", ())


async def test_a_new_store_just_works_and_records_who_can_read_it(backend: Backend) -> None:
    store = backend.open()
    try:
        assert await store.append("r1", 0, [started("r1")]) == 1
    finally:
        await store.close()
    assert meta(backend)["version"] == str(STORE_VERSION)
    assert meta(backend)["readable_from"] == str(STORE_READABLE_FROM)


async def test_an_older_store_is_refused_untouched_until_it_is_migrated(
    backend: Backend,
) -> None:
    first = backend.open()
    await first.append("r1", 0, [started("r1")])
    await first.close()
    make_version_4(backend)
    before = meta(backend)
    store = backend.open()
    try:
        with pytest.raises(StoreVersionError, match=r"version 4.*tether store migrate"):
            await store.load("r1")
        with pytest.raises(StoreVersionError, match="tether store migrate"):
            await store.append("r2", 0, [started("r2")])
        assert meta(backend) == before
        assert backend.raw("SELECT id FROM {runs}", ()) == [("r1",)]
        assert await store.migrate() == 4
        assert (await store.load("r1")).seq == 1
        assert await store.append("r2", 0, [started("r2")]) == 1
        assert await store.migrate() == STORE_VERSION  # nothing more to do
    finally:
        await store.close()
    assert meta(backend)["version"] == str(STORE_VERSION)
    assert meta(backend)["readable_from"] == str(STORE_READABLE_FROM)


async def test_version_6_lists_runs_by_status_through_an_index_and_folds_doubt_again(
    backend: Backend,
) -> None:
    first = backend.open()
    r1 = [*begun("r1", "c1"), asked("c1"), approved("c1"), ToolStarted("c1")]
    await first.append("r1", 0, r1)
    await first.append("r2", 0, [*begun("r2", "c1"), asked("c1")])
    await first.close()
    make_version_5(backend, (("r1", "c1", len(r1)),))  # r1, in doubt, held 'running' then
    store = backend.open()
    try:
        assert await store.migrate() == 5
        by_status = {s: (await store.list_runs(status=s)).runs for s in ("in_doubt", "waiting")}
    finally:
        await store.close()
    assert [run.run_id for run in by_status["in_doubt"]] == ["r1"]
    assert [run.run_id for run in by_status["waiting"]] == ["r2"]
    assert sorted(backend.raw("SELECT id, status, in_doubt FROM {runs}", ())) == [
        ("r1", "running", True),  # in doubt (store version 9)
        ("r2", "waiting", False),
    ]
    index = "tether_runs_status_created" if backend.name == "sqlite" else "runs_status_created"
    assert index in indexes(backend)


async def test_version_7_writes_no_in_flight_rows_and_drops_the_old_ones(
    backend: Backend,
) -> None:
    first = backend.open()
    r1 = [*begun("r1", "c1"), ToolStarted("c1")]
    await first.append("r1", 0, r1)
    await first.close()
    assert backend.raw("SELECT run_id FROM {in_flight}", ()) == []
    make_version_6(backend, (("r1", "c1", len(r1)),))
    store = backend.open()
    try:
        assert await store.migrate() == 6
        assert (await store.load("r1")).status == "in_doubt"
        assert [run.run_id for run in (await store.list_runs(status="in_doubt")).runs] == ["r1"]
        await store.rebuild_projections()
    finally:
        await store.close()
    assert backend.raw("SELECT run_id FROM {in_flight}", ()) == []
    assert backend.raw("SELECT id, status, in_doubt FROM {runs}", ()) == [("r1", "running", True)]
    assert meta(backend)["version"] == str(STORE_VERSION)


def indexes(backend: Backend) -> set[str]:
    if backend.name == "sqlite":
        rows = backend.raw("SELECT name FROM sqlite_master WHERE type = 'index'", ())
    else:
        rows = backend.raw(
            "SELECT indexname FROM pg_indexes WHERE schemaname = ?", (backend.schema,)
        )
    return {row[0] for row in rows}


async def test_a_newer_store_readable_by_this_version_is_used_as_it_is(backend: Backend) -> None:
    first = backend.open()
    await first.append("r1", 0, [started("r1")])
    await first.close()
    newer = str(STORE_VERSION + 1)
    backend.raw("UPDATE {meta} SET value = ? WHERE key = 'version'", (newer,))
    store = backend.open()
    try:
        assert (await store.load("r1")).seq == 1
        assert await store.append("r2", 0, [started("r2")]) == 1
        assert await store.migrate() == STORE_VERSION + 1  # never taken back
    finally:
        await store.close()
    assert meta(backend)["version"] == newer


async def test_a_newer_store_not_readable_by_this_version_is_refused(backend: Backend) -> None:
    first = backend.open()
    await first.append("r1", 0, [started("r1")])
    await first.close()
    newer = str(STORE_VERSION + 1)
    backend.raw("UPDATE {meta} SET value = ? WHERE key = 'version'", (newer,))
    backend.raw("UPDATE {meta} SET value = ? WHERE key = 'readable_from'", (newer,))
    store = backend.open()
    try:
        with pytest.raises(StoreVersionError, match=r"readable from version .*Upgrade tether"):
            await store.load("r1")
        with pytest.raises(StoreVersionError, match="Upgrade tether"):
            await store.migrate()
    finally:
        await store.close()


def test_tether_store_migrate_migrates_a_sqlite_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "runs.db"
    backend = sqlite_backend(path, FakeClock())

    async def create() -> None:
        store = SQLiteRunStore(path)
        await store.append("r1", 0, [started("r1")])
        await store.close()

    asyncio.run(create())
    make_version_4(backend)
    assert main(["store", "migrate", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: migrated from version 4 to {STORE_VERSION}.\n"
    assert main(["store", "migrate", str(path)]) == 0
    assert "nothing to migrate" in capsys.readouterr().out
    assert meta(backend)["version"] == str(STORE_VERSION)


def test_tether_store_migrate_migrates_a_postgresql_schema(
    postgres_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    backend = postgres_backend(postgres_dsn, FakeClock())
    assert backend.schema is not None

    async def create() -> None:
        store = backend.open()
        await store.append("r1", 0, [started("r1")])
        await store.close()

    asyncio.run(create())
    make_version_4(backend)
    assert main(["store", "migrate", postgres_dsn, "--schema", backend.schema]) == 0
    out = capsys.readouterr().out
    assert out.endswith(f": migrated from version 4 to {STORE_VERSION}.\n")
    assert "tether-test" not in out  # the password is not shown
    assert meta(backend)["version"] == str(STORE_VERSION)


def test_tether_store_migrate_says_what_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("not a database, just notes\n" * 100)
    assert main(["store", "migrate", str(other)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tether: ") and "not a SQLite database" in err


def test_tether_store_migrate_does_not_create_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo.db"
    assert main(["store", "migrate", str(missing)]) == 1
    assert "no run store at" in capsys.readouterr().err
    assert not missing.exists()


async def test_version_8_shows_who_asked_on_each_pending_call(backend: Backend) -> None:
    first = backend.open()
    asking = [RunStarted("r1", "Booker", [user_message("Pay")], max_turns=10, requested_by="ana")]
    await first.append("r1", 0, [*asking, *begun("r1", "c1")[1:], asked("c1")])
    await first.append("r2", 0, [*begun("r2", "c2"), asked("c2")])  # nobody named
    assert {(p.run_id, p.requested_by) for p in await first.pending_approvals()} == {
        ("r1", "ana"),
        ("r2", None),
    }
    await first.close()
    make_version_7(backend)
    store = backend.open()
    try:
        assert await store.migrate() == 7
        assert {(p.run_id, p.requested_by) for p in await store.pending_approvals()} == {
            ("r1", "ana"),
            ("r2", None),
        }
    finally:
        await store.close()
    assert meta(backend)["version"] == str(STORE_VERSION)


async def test_version_9_keeps_doubt_beside_the_status_and_reads_as_before(
    backend: Backend,
) -> None:
    first = backend.open()
    # r1 in doubt, nobody's lease; r2 in doubt under w1's live lease (its tool runs now);
    # r3 waits; r4 completed.
    await first.append("r1", 0, [*begun("r1", "c1"), ToolStarted("c1")])
    await first.append("r2", 0, begun("r2", "c1"))
    await first.acquire("r2", "w1", ttl=600)
    await first.append("r2", 2, [ToolStarted("c1")], owner="w1")
    await first.append("r3", 0, [*begun("r3", "c1"), asked("c1")])
    await first.append("r4", 0, [started("r4"), RunCompleted("ok")])
    await first.close()
    make_version_8(backend)
    assert sorted(backend.raw("SELECT id, status FROM {runs}", ())) == [
        ("r1", "in_doubt"),
        ("r2", "in_doubt"),
        ("r3", "waiting"),
        ("r4", "completed"),
    ]
    store = backend.open()
    try:
        with pytest.raises(StoreVersionError, match="version 8"):
            await store.load("r1")
        assert await store.migrate() == 8
        listed = {s: (await store.list_runs(status=s)).runs for s in get_args(RunStatus)}
        assert {s: [run.run_id for run in runs] for s, runs in listed.items()} == {
            "running": ["r2"],
            "waiting": ["r3"],
            "in_doubt": ["r1"],
            "completed": ["r4"],
            "failed": [],
        }
        assert [run.run_id for run in await store.recoverable()] == ["r1"]
        assert [(run.run_id, run.status) for run in (await store.list_runs()).runs] == [
            ("r1", "in_doubt"),
            ("r2", "running"),
            ("r3", "waiting"),
            ("r4", "completed"),
        ]
        backend.clock.advance(3630)  # w1's lease ran out: r2 is in doubt too
        assert [run.run_id for run in await store.recoverable()] == ["r1", "r2"]
        # Settling the doubt clears the flag in the append's transaction.
        await store.append("r1", 3, [ToolCompleted("c1", "done")])
        assert (await store.load("r1")).status == "running"
        changed = await store.changed_runs(since=backend.clock.now - timedelta(seconds=1))
        assert [(run.run_id, run.status) for run in changed.runs] == [("r1", "running")]
        # Version 9's seal: none on a migrated run, whose load checks every row.
        assert backend.raw("SELECT id FROM {runs} WHERE seal IS NOT NULL", ()) == []
        assert (await store.load("r3")).status == "waiting"
    finally:
        await store.close()
    assert sorted(backend.raw("SELECT id, status, in_doubt FROM {runs}", ())) == [
        ("r1", "running", False),
        ("r2", "running", True),
        ("r3", "waiting", False),
        ("r4", "completed", False),
    ]
    # A migrated row's touched_at is its update time (r1's moved with its append).
    rows = backend.raw("SELECT id FROM {runs} WHERE touched_at = updated_at", ())
    assert sorted(row[0] for row in rows) == ["r2", "r3", "r4"]
    names = indexes(backend)
    prefix = "tether_" if backend.name == "sqlite" else ""
    assert f"{prefix}runs_status_touched" in names
    assert f"{prefix}runs_status" not in names
    assert meta(backend)["version"] == meta(backend)["readable_from"] == "9"
