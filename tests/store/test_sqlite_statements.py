"""The statements a SQLite store's append sends, counted at the connection: an append of a run
whose view the store holds (each of a turn's commits) updates the run's row under the
conditions that say it is still that run, then inserts the events; it reads nothing, and
sends no statement for pending calls it does not change. Where the row is not the one the
view folds, or its index's touch time is of another minute, the update changes nothing and
the append reads the row, in the same transaction, as any other append does."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tether.errors import RunBusyError, RunConflictError
from tether.journal._events import ToolCompleted, ToolStarted
from tether.store import RunStore, SQLiteRunStore, _sqlite

from .backends import FakeClock
from .test_conformance import asked, begun, decided

OWNER = "worker-1"
LATER = "lease_until = '2999-01-01T00:00:00.000000Z'"
"""A lease that has not expired."""


@contextmanager
def sent(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The first words of each statement the store hands its connection meanwhile (an
    ``executemany`` of no rows included), with ``BEGIN`` and ``COMMIT``."""
    assert isinstance(store, SQLiteRunStore)
    texts: list[str] = []
    execute = _sqlite._execute

    def noted(conn: Any, statement: Any) -> Any:
        texts.append(" ".join(statement.text.split()[:3]))
        return execute(conn, statement)

    def traced(text: str) -> None:
        if text in ("BEGIN IMMEDIATE", "COMMIT"):
            texts.append(text)

    with monkeypatch.context() as patch:
        patch.setattr(_sqlite, "_execute", noted)
        assert store._conn is not None
        store._conn.set_trace_callback(traced)
        try:
            yield texts
        finally:
            store._conn.set_trace_callback(None)


async def started(store: RunStore) -> int:
    """A run leased to ``OWNER``, asking for call c1: its seq."""
    return await store.append("r1", 0, begun("r1", "c1"), owner=OWNER, lease_ttl=30)


TURN = ["BEGIN IMMEDIATE", "UPDATE tether_runs SET", "INSERT INTO tether_events", "COMMIT"]


async def test_a_turns_commits_update_the_run_and_insert_its_events_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (A clock that stays within its minute: a new minute moves the touch time.)
    store = SQLiteRunStore(tmp_path / "runs.db", signing_key="key", clock=FakeClock())
    seq = await started(store)
    with sent(store, monkeypatch) as texts:
        seq = await store.append("r1", seq, [ToolStarted("c1")], owner=OWNER)
        assert texts == TURN
        texts.clear()
        seq = await store.append("r1", seq, [ToolCompleted("c1", "done")], owner=OWNER)
        assert texts == TURN
    reader = SQLiteRunStore(tmp_path / "runs.db", signing_key="key")
    loaded = await reader.load("r1")
    await reader.close()
    assert loaded.seq == seq == 4
    assert loaded.events[2:] == (ToolStarted("c1"), ToolCompleted("c1", "done"))
    assert loaded.summary.status == "running"
    await store.close()


async def test_an_append_in_another_minute_reads_the_row_and_moves_its_touch_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    path = tmp_path / "runs.db"
    store = SQLiteRunStore(path, signing_key="key", clock=clock)
    seq = await started(store)
    clock.advance(90)
    with sent(store, monkeypatch) as texts:
        seq = await store.append("r1", seq, [ToolStarted("c1")], owner=OWNER)
        assert "SELECT seq, head_mac," in texts
        texts.clear()
        await store.append("r1", seq, [ToolCompleted("c1", "done")], owner=OWNER)
        assert texts == TURN  # the same minute again
    touched = _raw(path, "SELECT touched_at FROM tether_runs WHERE id = 'r1'")
    assert touched == "2026-01-01T12:01:00.000000Z"
    await store.close()


async def test_an_append_over_a_row_moved_behind_the_stores_back_is_judged_by_the_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "runs.db"
    store = SQLiteRunStore(path, signing_key="key")
    seq = await started(store)
    # A status another tether wrote (the row's, not the view's): the append reads the row
    # and writes the status its fold gives.
    _raw(path, "UPDATE tether_runs SET status = 'waiting' WHERE id = 'r1'")
    seq = await store.append("r1", seq, [ToolStarted("c1")], owner=OWNER)
    assert _raw(path, "SELECT status FROM tether_runs WHERE id = 'r1'") == "running"
    # Another owner's live lease stops it, as it stops any append.
    _raw(path, f"UPDATE tether_runs SET lease_owner = 'other', {LATER} WHERE id = 'r1'")
    with pytest.raises(RunBusyError):
        await store.append("r1", seq, [ToolCompleted("c1", "done")], owner=OWNER)
    _raw(path, "UPDATE tether_runs SET lease_owner = NULL, lease_until = NULL WHERE id = 'r1'")
    # Another store's append moved the run on: a conflict, and nothing written.
    other = SQLiteRunStore(path, signing_key="key")
    await other.append("r1", seq, [ToolCompleted("c1", "done")])
    with pytest.raises(RunConflictError):
        await store.append("r1", seq, [ToolCompleted("c1", "again")], owner=OWNER)
    assert (await other.load("r1")).events[-1] == ToolCompleted("c1", "done")
    await other.close()
    await store.close()


async def test_a_decision_passes_the_lease_on_the_held_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A person's decision, appended by a store that holds the run's view, passes the
    # worker's live lease without reading the row.
    path = tmp_path / "runs.db"
    clock = FakeClock()
    worker = SQLiteRunStore(path, signing_key="key", clock=clock)
    await worker.append("r0", 0, begun("r0", "c0"), owner=OWNER, lease_ttl=30)
    inbox = SQLiteRunStore(path, signing_key="key", clock=clock)
    seq = await inbox.append("r1", 0, begun("r1", "c1"))
    await inbox.append("r1", seq, [asked("c1")])
    _raw(path, f"UPDATE tether_runs SET lease_owner = 'w', {LATER} WHERE id = 'r1'")
    with sent(inbox, monkeypatch) as texts:
        await inbox.append("r1", seq + 1, [decided("c1", True, "r1")])
    assert not any(text.startswith("SELECT") for text in texts)
    assert (await worker.load("r1")).events[-2:] == (asked("c1"), decided("c1", True, "r1"))
    await inbox.close()
    await worker.close()


def _raw(path: Path, sql: str) -> Any:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        rows = conn.execute(sql).fetchall()
    finally:
        conn.close()
    return rows[0][0] if rows else None
