"""PostgreSQL's append in one statement: the run loop's appends (by the run's owner, of a
run the store holds the view of) write only the run they were folded against.

The statement moves the run's row on only if the run is still at the expected seq, was
created when the held view's run was and has its head, and no other owner's live lease
stops it. Otherwise nothing is written and the append runs again in a transaction that
reads and folds the stored run, which gives the same answers as before: a conflict, a
busy run, a refusal, or an append to the run as it is now.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from services import PostgresServer
from tether import RunConflictError, StateError
from tether.errors import RunBusyError
from tether.journal._events import ToolCompleted, ToolStarted
from tether.store import PostgresRunStore, _engine

from .test_conformance import asked, begun, decided
from .test_outage import CommitCutter


@pytest.fixture
async def stores(postgres_dsn: str) -> AsyncIterator[tuple[PostgresRunStore, PostgresRunStore]]:
    """Two stores (two processes, say) on one schema."""
    schema = f"at_once_{uuid.uuid4().hex[:10]}"
    one = PostgresRunStore(postgres_dsn, schema=schema, signing_key=b"k" * 32)
    other = PostgresRunStore(postgres_dsn, schema=schema, signing_key=b"k" * 32)
    try:
        yield one, other
    finally:
        await one.close()
        await other.close()


@pytest.fixture
def at_once(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each one-statement append wrote (``True``) or left it to a transaction."""
    wrote: list[bool] = []
    plain = _engine.append_at_once

    def counted(*args: object) -> _engine.Program[_engine.Appended | None]:
        done = yield from plain(*args)  # type: ignore[arg-type]
        wrote.append(done is not None)
        return done

    monkeypatch.setattr(_engine, "append_at_once", counted)
    return wrote


async def _kinds(store: PostgresRunStore, run_id: str) -> list[str]:
    return [event.kind for event in (await store.load(run_id)).events]


async def test_the_owners_appends_go_at_once_and_load_verified(
    stores: tuple[PostgresRunStore, PostgresRunStore], at_once: list[bool]
) -> None:
    one, other = stores
    await one.append("r", 0, begun("r", "c1"), owner="w")
    await one.append("r", 2, [ToolStarted("c1")], owner="w")
    await one.append("r", 3, [ToolCompleted("c1", "done")], owner="w")
    assert at_once == [True, True]
    stored = await other.load("r")  # every row's MAC checked, from another store
    assert [event.kind for event in stored.events] == [
        "run_started",
        "model_responded",
        "tool_started",
        "tool_completed",
    ]
    summary = stored.summary
    assert (summary.seq, summary.status) == (4, "running")


async def test_an_approval_request_and_the_owners_decision_go_at_once(
    stores: tuple[PostgresRunStore, PostgresRunStore], at_once: list[bool]
) -> None:
    one, other = stores
    await one.append("r", 0, begun("r", "c1"), owner="w")
    await one.append("r", 2, [asked("c1")], owner="w")
    waiting = await other.pending_approvals(run_id="r")
    assert [(p.call_id, p.tool, p.arguments) for p in waiting] == [
        ("c1", "book_table", '{"seats":2}')
    ]
    assert (await other.load("r")).summary.status == "waiting"
    await one.append("r", 3, [decided("c1", True, "r")], owner="w")
    assert await other.pending_approvals(run_id="r") == []
    assert at_once == [True, True]


async def test_what_the_array_text_format_escapes_is_stored_as_written(
    stores: tuple[PostgresRunStore, PostgresRunStore], at_once: list[bool]
) -> None:
    # The statement sends its arrays in binary; an event's JSON holding quotes, backslashes,
    # braces, commas, the word NULL and white space reads back as written, and its MAC
    # verifies from another store.
    one, other = stores
    output = 'say "hi" \\ {a,b} NULL\t\u2003 \\"} end'
    await one.append("r", 0, begun("r", "c1"), owner="w")
    await one.append("r", 2, [ToolStarted("c1"), ToolCompleted("c1", output)], owner="w")
    assert at_once == [True]
    stored = await other.load("r")
    assert [event.kind for event in stored.events] == [
        "run_started",
        "model_responded",
        "tool_started",
        "tool_completed",
    ]
    assert stored.events[-1] == ToolCompleted("c1", output)


async def test_a_view_another_store_moved_past_is_a_conflict_and_writes_nothing(
    stores: tuple[PostgresRunStore, PostgresRunStore], at_once: list[bool]
) -> None:
    one, other = stores
    await one.append("r", 0, begun("r", "c1"), owner="w")
    await other.load("r")
    await other.append("r", 2, [ToolStarted("c1")], owner="w")
    # ``one`` still holds the run at seq 2, so it tries the statement, which writes nothing.
    with pytest.raises(RunConflictError):
        await one.append("r", 2, [ToolStarted("c1")], owner="w")
    assert at_once == [True, False]
    assert await _kinds(other, "r") == ["run_started", "model_responded", "tool_started"]


async def test_another_owners_live_lease_stops_it_and_writes_nothing(
    stores: tuple[PostgresRunStore, PostgresRunStore], at_once: list[bool]
) -> None:
    one, other = stores
    await one.append("r", 0, begun("r", "c1"), owner="a", lease_ttl=60)
    with pytest.raises(RunBusyError):
        await one.append("r", 2, [ToolStarted("c1")], owner="b")
    assert at_once == [False]
    assert await _kinds(other, "r") == ["run_started", "model_responded"]
    # The lease's owner goes on (its view was spent: the transaction folds the stored run).
    await one.append("r", 2, [ToolStarted("c1")], owner="a")
    assert await _kinds(other, "r") == ["run_started", "model_responded", "tool_started"]


async def test_a_run_deleted_and_created_again_is_folded_as_it_is_now(
    stores: tuple[PostgresRunStore, PostgresRunStore], at_once: list[bool]
) -> None:
    one, other = stores
    await one.append("r", 0, begun("r", "c1"), owner="w")
    await one.append("r", 2, [ToolStarted("c1")], owner="w")  # one holds "r" at seq 3
    await other.delete("r")
    await other.append("r", 0, begun("r", "c9"), owner="w")
    await other.append("r", 2, [ToolStarted("c9")], owner="w")
    # Same id, same seq, another run: its fold refuses a call it never started...
    with pytest.raises(StateError):
        await one.append("r", 3, [ToolCompleted("c1", "done")], owner="w")
    assert await _kinds(other, "r") == ["run_started", "model_responded", "tool_started"]
    # ...and takes the completion of its own.
    await one.append("r", 3, [ToolCompleted("c9", "done")], owner="w")
    assert at_once == [True, True, False]  # the held view was of the deleted run
    assert [event.kind for event in (await other.load("r")).events][-1] == "tool_completed"


async def test_an_event_the_held_view_refuses_writes_nothing(
    stores: tuple[PostgresRunStore, PostgresRunStore], at_once: list[bool]
) -> None:
    one, other = stores
    await one.append("r", 0, begun("r", "c1"), owner="w")
    with pytest.raises(StateError):
        await one.append("r", 2, [ToolCompleted("nobody", "done")], owner="w")
    assert at_once == []
    assert await _kinds(other, "r") == ["run_started", "model_responded"]


@pytest.mark.parametrize("how", ["after", "before"])
async def test_a_statement_whose_outcome_is_unknown_lands_exactly_once(
    postgres: PostgresServer, how: str, at_once: list[bool]
) -> None:
    # The connection is cut as the statement goes out: after it reached the server (it
    # commits, the client never hears) or instead (nothing happens). The store reads the
    # run to settle which, and tries again only if it did not land.
    async with CommitCutter(postgres, marker=b"WITH run AS") as cutter:
        schema = f"cut_{uuid.uuid4().hex[:10]}"
        store = PostgresRunStore(cutter.dsn, schema=schema, retry_for=10, signing_key=b"k" * 32)
        try:
            await store.append("r", 0, begun("r", "c1"), owner="w")
            cutter.armed = how
            assert await store.append("r", 2, [ToolStarted("c1")], owner="w") == 3
            assert cutter.cuts == 1
            assert await _kinds(store, "r") == ["run_started", "model_responded", "tool_started"]
            assert await store.append("r", 3, [ToolCompleted("c1", "done")], owner="w") == 4
        finally:
            await store.close()
    assert at_once[-1] is True
