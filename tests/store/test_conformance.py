"""One conformance suite for every run store: SQLite (a file) and PostgreSQL (a real server).

What a user relies on: compare-and-append, leases, projections that agree with
the events, and typed errors that leave the store as it was.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tether import RunConflictError, RunNotFoundError, StateError, UserError
from tether.errors import RunBusyError, StoreFormatError, StoreIntegrityError, StoreVersionError
from tether.items import user_message
from tether.journal._binding import fingerprint, sealed
from tether.journal._events import (
    ApprovalDecided,
    ApprovalRequested,
    Event,
    ModelResponded,
    RunCompleted,
    RunFailed,
    RunStarted,
    ToolCompleted,
    ToolStarted,
)
from tether.store import RunStore, SQLiteRunStore, pending_key
from tether.testing import tool_call

from .backends import Backend
from .conftest import make_backend


@pytest.fixture(params=["sqlite", "sqlite-inline", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The conformance suite also holds a SQLite store whose transactions run on the loop."""
    return make_backend(request, tmp_path)


KEY = "app-signing-key"


def started(run_id: str, agent: str = "Booker") -> RunStarted:
    return RunStarted(run_id, agent, [user_message("Book a table")], max_turns=10)


# Events the fold accepts: the store refuses any other (see test_the_store_refuses_...).
_ARGS = '{"seats":2}'
_TOOLS = {"c2": "pay", "c3": "pay"}
"""Calls named so use these tools where a test says so (``tool=``); the rest book tables."""


def responded(*calls: str | tuple[str, str]) -> ModelResponded:
    """The model's response asking for ``calls`` (a call id, or ``(call id, tool)``)."""
    items = []
    for call in calls:
        call_id, tool = call if isinstance(call, tuple) else (call, "book_table")
        items.append(tool_call(tool, _ARGS, call_id))
    return ModelResponded("Booker", items)


def begun(run_id: str, *calls: str | tuple[str, str]) -> list[Event]:
    """A run's first two events: started, and a response asking for ``calls``."""
    return [started(run_id), responded(*calls)]


def asked(call_id: str, tool: str = "book_table") -> ApprovalRequested:
    return ApprovalRequested(
        call_id, "Booker", tool, _ARGS, fingerprint("Booker", tool, call_id, _ARGS)
    )


def decided(
    call_id: str,
    approve: bool,
    run_id: str,
    *,
    tool: str = "book_table",
    by: str = "ana",
    **kw: Any,
) -> ApprovalDecided:
    fp = fingerprint("Booker", tool, call_id, _ARGS)
    return sealed(ApprovalDecided(call_id, fp, approve, by=by, **kw), run_id, 1)


def approved(call_id: str, run_id: str = "r1", tool: str = "book_table") -> ApprovalDecided:
    return decided(call_id, True, run_id, tool=tool)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[RunStore]:
    opened = backend.open(signing_key=KEY)
    yield opened
    await opened.close()


async def test_a_run_is_created_at_seq_0_and_loads_as_appended(store: RunStore) -> None:
    events: list[Event] = begun("r1", "c1")
    assert await store.append("r1", 0, events) == 2
    assert await store.append("r1", 2, [asked("c1")]) == 3

    run = await store.load("r1")
    assert run.events == (*events, asked("c1"))
    assert (run.run_id, run.root_agent, run.seq, run.status) == ("r1", "Booker", 3, "waiting")


async def test_creating_an_existing_run_conflicts_and_writes_nothing(store: RunStore) -> None:
    await store.append("r1", 0, [started("r1")])
    with pytest.raises(RunConflictError, match="already exists"):
        await store.append("r1", 0, [started("r1", agent="Other")])
    run = await store.load("r1")
    assert run.events == (started("r1"),) and run.root_agent == "Booker"


async def test_a_stale_append_conflicts_and_writes_nothing(store: RunStore) -> None:
    await store.append("r1", 0, [*begun("r1", "c1"), asked("c1")])
    with pytest.raises(RunConflictError, match="is at event 3, not 1"):
        await store.append("r1", 1, [ToolStarted("c1")])
    assert (await store.load("r1")).events == (*begun("r1", "c1"), asked("c1"))


async def test_two_writers_racing_on_one_run_one_wins(backend: Backend) -> None:
    first, second = backend.open(signing_key=KEY), backend.open(signing_key=KEY)
    try:
        await first.append("r1", 0, [*begun("r1", "c1"), asked("c1")])
        outcomes = await asyncio.gather(
            first.append("r1", 3, [approved("c1"), ToolStarted("c1")]),
            second.append("r1", 3, [decided("c1", False, "r1", by="bo")]),
            return_exceptions=True,
        )
        wins = [o for o in outcomes if isinstance(o, int)]
        losses = [o for o in outcomes if isinstance(o, RunConflictError)]
        assert len(wins) == 1 and len(losses) == 1
        run = await second.load("r1")
        if outcomes[0] == 5:
            assert run.events[3:] == (approved("c1"), ToolStarted("c1"))
        else:
            assert run.events[3:] == (decided("c1", False, "r1", by="bo"),)
        assert run.seq == wins[0]
    finally:
        await first.close()
        await second.close()


async def test_appending_to_an_unknown_run_is_a_typed_error(store: RunStore) -> None:
    with pytest.raises(RunNotFoundError, match="no run 'nope'"):
        await store.append("nope", 3, [ToolStarted("c1")])
    with pytest.raises(RunNotFoundError):
        await store.load("nope")
    with pytest.raises(RunNotFoundError):
        await store.acquire("nope", "w1", 30)
    with pytest.raises(RunNotFoundError):
        await store.delete("nope")
    assert (await store.list_runs()).runs == ()


async def test_malformed_appends_are_user_errors(store: RunStore) -> None:
    with pytest.raises(UserError, match="RunStarted first"):
        await store.append("r1", 0, [ToolStarted("c1")])
    with pytest.raises(UserError, match="names run 'other'"):
        await store.append("r1", 0, [started("other")])
    await store.append("r1", 0, [started("r1")])
    with pytest.raises(UserError, match="at least one event"):
        await store.append("r1", 1, [])
    with pytest.raises(UserError, match="only the first event"):
        await store.append("r1", 1, [started("r1")])
    assert (await store.load("r1")).seq == 1


async def test_eight_concurrent_lease_attempts_exactly_one_wins(backend: Backend) -> None:
    stores = [backend.open() for _ in range(8)]
    try:
        await stores[0].append("r1", 0, [started("r1")])
        outcomes = await asyncio.gather(
            *(s.acquire("r1", f"worker-{i}", 30) for i, s in enumerate(stores)),
            return_exceptions=True,
        )
        winners = [o for o in outcomes if not isinstance(o, BaseException)]
        busy = [o for o in outcomes if isinstance(o, RunBusyError)]
        assert len(winners) == 1 and len(busy) == 7
        summary = (await stores[0].list_runs()).runs[0]
        assert summary.lease_owner == winners[0].owner
        assert all(e.owner == winners[0].owner for e in busy)
    finally:
        for s in stores:
            await s.close()


async def test_a_held_lease_refuses_others_and_an_expired_one_is_taken_over(
    backend: Backend, store: RunStore
) -> None:
    await store.append("r1", 0, begun("r1", "c1"))
    lease = await store.acquire("r1", "w1", ttl=30)
    assert lease.until == backend.clock.now + timedelta(seconds=30)
    assert await store.acquire("r1", "w1", ttl=30)  # already ours: fine
    with pytest.raises(RunBusyError, match="'w1'"):
        await store.acquire("r1", "w2", ttl=30)
    # Another owner cannot append while the lease is live; the holder can.
    with pytest.raises(RunBusyError):
        await store.append("r1", 2, [asked("c1")], owner="w2")
    with pytest.raises(RunBusyError):
        await store.append("r1", 2, [asked("c1")])
    assert await store.append("r1", 2, [asked("c1")], owner="w1") == 3

    backend.clock.advance(31)  # w1 died
    assert [r.run_id for r in await store.recoverable()] == []  # waiting on a person
    taken = await store.acquire("r1", "w2", ttl=30)
    assert taken.owner == "w2"
    with pytest.raises(RunBusyError, match="'w2'"):
        await store.renew("r1", "w1", ttl=30)
    with pytest.raises(RunBusyError):
        await store.append("r1", 3, [ToolStarted("c1")], owner="w1")
    assert (await store.load("r1")).seq == 3

    await store.renew("r1", "w2", ttl=60)
    backend.clock.advance(45)
    with pytest.raises(RunBusyError):  # renewed: still w2's
        await store.acquire("r1", "w3", ttl=30)
    await store.release("r1", "w1")  # not w1's: nothing happens
    with pytest.raises(RunBusyError):
        await store.acquire("r1", "w3", ttl=30)
    await store.release("r1", "w2")
    assert (await store.acquire("r1", "w3", ttl=30)).owner == "w3"


async def test_a_run_created_with_a_lease_is_leased_at_once(store: RunStore) -> None:
    await store.append("r1", 0, [started("r1")], owner="w1", lease_ttl=30)
    with pytest.raises(RunBusyError):
        await store.acquire("r1", "w2", ttl=30)
    summary = (await store.list_runs()).runs[0]
    assert summary.lease_owner == "w1"


async def test_an_append_with_release_gives_its_owners_lease_up_with_it(
    backend: Backend, store: RunStore
) -> None:
    # By the store that holds the run's view (PostgreSQL: the one-statement append) and by
    # another store object (the append in a transaction that reads the run's row).
    other = backend.open(signing_key=KEY)
    try:
        for writer, run_id in ((store, "r1"), (other, "r2")):
            await store.append(run_id, 0, begun(run_id, "c1"), owner="w1", lease_ttl=30)
            seq = await store.append(run_id, 2, [ToolStarted("c1")], owner="w1")
            done = [ToolCompleted("c1", "booked"), RunCompleted("done")]
            await writer.append(run_id, seq, done, owner="w1", release=True)
            summary = (await store.load(run_id)).summary
            assert (summary.status, summary.lease_owner, summary.lease_until) == (
                "completed",
                None,
                None,
            )
            assert (await store.acquire(run_id, "w2", ttl=30)).owner == "w2"
    finally:
        await other.close()


async def test_an_append_that_takes_the_lease_and_gives_it_up_leaves_it_free(
    backend: Backend, store: RunStore
) -> None:
    # As ``acquire`` before it and ``release`` after it would: whether the lease was free
    # or another owner's had expired, and whichever store object writes it (PostgreSQL:
    # the one-statement append, and the append in a transaction that reads the run's row).
    other = backend.open(signing_key=KEY)
    try:
        for writer, run_id in ((store, "r1"), (other, "r2")):
            await store.append(run_id, 0, begun(run_id, "c1"))
            take_and_give_up = {"owner": "w1", "lease_ttl": 30, "release": True}
            seq = await writer.append(run_id, 2, [ToolStarted("c1")], **take_and_give_up)
            assert (await store.load(run_id)).summary.lease_owner is None
            await store.acquire(run_id, "w3", ttl=30)
            backend.clock.advance(60)  # w3's lease expired: w2 may take it
            take_and_give_up["owner"] = "w2"
            done = [ToolCompleted("c1", "booked")]
            await writer.append(run_id, seq, done, **take_and_give_up)  # type: ignore[arg-type]
            summary = (await store.load(run_id)).summary
            assert (summary.lease_owner, summary.lease_until) == (None, None)
    finally:
        await other.close()


async def test_an_append_with_release_leaves_a_lease_it_does_not_hold(
    backend: Backend, store: RunStore
) -> None:
    await store.append("r1", 0, begun("r1", "c1"), owner="w1", lease_ttl=30)
    backend.clock.advance(60)  # w1's lease expired: w2 may append, and holds no lease
    await store.append("r1", 2, [ToolStarted("c1")], owner="w2", release=True)
    assert (await store.load("r1")).summary.lease_owner == "w1"


async def test_an_append_with_a_lease_ttl_leases_the_run_with_it(
    backend: Backend, store: RunStore
) -> None:
    other = backend.open(signing_key=KEY)
    try:
        for writer, run_id in ((store, "r1"), (other, "r2")):
            await store.append(run_id, 0, [*begun(run_id, "c1"), asked("c1")])
            resumed = [approved("c1", run_id), ToolStarted("c1")]
            await writer.append(run_id, 3, resumed, owner="w1", lease_ttl=30)
            summary = (await store.load(run_id)).summary
            assert (summary.lease_owner, summary.lease_until) == (
                "w1",
                backend.clock.now + timedelta(seconds=30),
            )
            with pytest.raises(RunBusyError, match="'w1'"):
                await store.acquire(run_id, "w2", ttl=30)
            # Another owner's live lease refuses it, as it refuses acquire.
            with pytest.raises(RunBusyError, match="'w1'"):
                await writer.append(run_id, 5, [ToolCompleted("c1", "ok")], owner="w2", lease_ttl=9)
            assert (await store.load(run_id)).seq == 5
    finally:
        await other.close()


@pytest.mark.parametrize("signed", [True, False])
async def test_an_append_with_an_expected_head_writes_only_at_that_head(
    backend: Backend, signed: bool
) -> None:
    store = backend.open(signing_key=KEY if signed else False)
    other = backend.open(signing_key=KEY if signed else False)
    try:
        for writer in (store, other):
            await store.append("r1", 0, [*begun("r1", "c1"), asked("c1")])
            await store.load("r1")
            tip = await store.tip("r1")
            # The run deleted and made again, as long: another history at the same seq.
            await store.delete("r1")
            await store.append("r1", 0, [*begun("r1", "c2"), asked("c2")])
            with pytest.raises(RunConflictError, match="ends with another event than the state"):
                await writer.append("r1", 3, [approved("c2")], expected_head=tip.head)
            assert (await store.load("r1")).seq == 3
            now = await store.tip("r1")
            assert await writer.append("r1", 3, [approved("c2")], expected_head=now.head) == 4
            await store.delete("r1")
    finally:
        await store.close()
        await other.close()


async def test_pending_and_status_follow_the_events(backend: Backend, store: RunStore) -> None:
    await store.append("r1", 0, begun("r1", "c1", ("c2", "pay")), owner="w1", lease_ttl=30)
    assert (await store.load("r1")).status == "running"
    seq = await store.append("r1", 2, [asked("c1"), asked("c2", tool="pay")], owner="w1")
    await store.release("r1", "w1")
    pending = await store.pending_approvals()
    assert [(p.run_id, p.call_id, p.tool, p.arguments) for p in pending] == [
        ("r1", "c1", "book_table", '{"seats":2}'),
        ("r1", "c2", "pay", '{"seats":2}'),
    ]
    assert pending[0].requested_at == backend.clock.now
    assert (await store.load("r1")).status == "waiting"
    assert [p.call_id for p in await store.pending_approvals(run_id="r1", limit=1)] == ["c1"]
    assert await store.pending_approvals(agent="Nobody") == []

    await store.acquire("r1", "w1", ttl=30)
    seq = await store.append("r1", seq, [approved("c1"), ToolStarted("c1")], owner="w1")
    assert [p.call_id for p in await store.pending_approvals()] == ["c2"]
    assert (await store.load("r1")).status == "running"  # w1 runs c1

    backend.clock.advance(60)  # w1 died inside the tool
    assert (await store.load("r1")).status == "in_doubt"
    assert [r.run_id for r in await store.recoverable()] == ["r1"]
    assert [r.run_id for r in (await store.list_runs(status="in_doubt")).runs] == ["r1"]

    await store.acquire("r1", "w2", ttl=30)
    assert (await store.load("r1")).status == "running"
    seq = await store.append(
        "r1",
        seq,
        [ToolCompleted("c1", "booked"), approved("c2", tool="pay"), ToolStarted("c2")],
        owner="w2",
    )
    seq = await store.append(
        "r1", seq, [ToolCompleted("c2", "paid"), RunCompleted("done")], owner="w2"
    )
    await store.release("r1", "w2")
    assert (await store.load("r1")).status == "completed"
    assert await store.pending_approvals() == []
    assert await store.recoverable() == []


async def test_rebuilt_projections_equal_the_maintained_ones(
    backend: Backend, store: RunStore
) -> None:
    await store.append("a", 0, [*begun("a", "c1", "c2", "c3"), asked("c1"), asked("c2")])
    await store.append("a", 4, [asked("c3")])
    backend.clock.advance(5)
    b = [*begun("b", "c1"), asked("c1"), approved("c1", "b"), ToolStarted("c1")]
    await store.append("b", 0, b)
    await store.append("c", 0, [started("c"), RunCompleted("ok")])
    await store.append("a", 5, [approved("c1", "a")])

    async def snapshot() -> tuple[object, ...]:
        runs = (await store.list_runs()).runs
        return (
            await store.pending_approvals(),
            [(r.run_id, r.status) for r in runs],
        )

    maintained = await snapshot()
    # "a" can go on: c1 is approved (c2 and c3 still wait for a person).
    assert maintained[1] == [("a", "running"), ("b", "in_doubt"), ("c", "completed")]
    assert [(p.run_id, p.call_id) for p in maintained[0]] == [("a", "c2"), ("a", "c3")]
    backend.raw("DELETE FROM {pending}", ())
    backend.raw("UPDATE {runs} SET status = 'running', in_doubt = (1 = 0)", ())
    assert await snapshot() != maintained  # the projections really are gone

    await store.rebuild_projections("b")
    await store.rebuild_projections()
    assert await snapshot() == maintained
    with pytest.raises(RunNotFoundError):
        await store.rebuild_projections("nope")


async def test_list_runs_filters_and_pages(backend: Backend, store: RunStore) -> None:
    for i in range(5):
        await store.append(f"r{i}", 0, [started(f"r{i}", agent="Booker" if i % 2 else "Payer")])
        backend.clock.advance(10)
    await store.append("r0", 1, [RunCompleted(None)])

    page = await store.list_runs(limit=2)
    seen = [r.run_id for r in page.runs]
    while page.next_cursor is not None:
        page = await store.list_runs(limit=2, cursor=page.next_cursor)
        seen += [r.run_id for r in page.runs]
    assert seen == ["r0", "r1", "r2", "r3", "r4"]

    assert [r.run_id for r in (await store.list_runs(agent="Booker")).runs] == ["r1", "r3"]
    assert [r.run_id for r in (await store.list_runs(status="completed")).runs] == ["r0"]
    t0 = backend.clock.now - timedelta(seconds=50)
    early = await store.list_runs(updated_before=t0 + timedelta(seconds=15))
    assert [r.run_id for r in early.runs] == ["r1"]  # r0 was updated last, by its completion
    late = await store.list_runs(updated_after=t0 + timedelta(seconds=25))
    assert [r.run_id for r in late.runs] == ["r0", "r3", "r4"]
    with pytest.raises(UserError, match="cursor"):
        await store.list_runs(cursor="not-a-cursor")
    with pytest.raises(UserError, match="aware datetime"):
        await store.list_runs(updated_before=t0.replace(tzinfo=None))


async def test_what_changed_since_includes_failed_runs(backend: Backend, store: RunStore) -> None:
    since = backend.clock.now
    backend.clock.advance(10)
    await store.append("ok", 0, [started("ok"), RunCompleted(1)])
    failure = RunFailed("ModelProviderError", "the model is away", True, "2026-12-06T12:00:00Z")
    await store.append("broken", 0, [started("broken"), failure])
    changed = await store.list_runs(updated_after=since)
    assert sorted((r.run_id, r.status) for r in changed.runs) == [
        ("broken", "failed"),
        ("ok", "completed"),
    ]


async def test_delete_and_prune(backend: Backend, store: RunStore) -> None:
    await store.append("old", 0, [started("old"), RunCompleted(1)])
    await store.append("open", 0, [*begun("open", "c1"), asked("c1")])
    backend.clock.advance(3600)
    await store.append("new", 0, [started("new"), RunCompleted(2)])

    assert await store.prune(completed_before=backend.clock.now - timedelta(minutes=1)) == 1
    assert [r.run_id for r in (await store.list_runs()).runs] == ["open", "new"]
    with pytest.raises(RunNotFoundError):
        await store.load("old")

    await store.acquire("open", "w1", ttl=30)
    with pytest.raises(RunBusyError):
        await store.delete("open")
    await store.release("open", "w1")
    await store.delete("open")
    assert await store.pending_approvals() == []
    assert [r.run_id for r in (await store.list_runs()).runs] == ["new"]
    assert backend.raw("SELECT count(*) FROM {events} WHERE run_id = 'open'", ()) == [(0,)]


async def test_an_edited_event_row_is_refused_on_load(backend: Backend, store: RunStore) -> None:
    await store.append("r1", 0, [*begun("r1", "c1"), asked("c1")])
    backend.raw(
        "UPDATE {events} SET event = ? WHERE run_id = 'r1' AND seq = 2",
        (
            '{"kind":"approval_requested","call_id":"c1","agent":"Booker","tool":"book_table",'
            '"arguments":"{\\"seats\\":200}","fingerprint":"fp-c1"}',
        ),
    )
    with pytest.raises(StoreIntegrityError, match="event 2 does not match its MAC"):
        await store.load("r1")


async def test_a_row_deleted_in_the_middle_is_refused_on_load(
    backend: Backend, store: RunStore
) -> None:
    await store.append("r1", 0, [*begun("r1", "c1"), asked("c1"), approved("c1")])
    backend.raw("DELETE FROM {events} WHERE run_id = 'r1' AND seq = 2", ())
    with pytest.raises(StoreIntegrityError, match="events were removed"):
        await store.load("r1")


async def test_reordered_rows_are_refused_on_load(backend: Backend, store: RunStore) -> None:
    await store.append("r1", 0, [started("r1"), responded("c1", "c2"), asked("c1"), asked("c2")])
    rows = dict(backend.raw("SELECT seq, mac FROM {events} WHERE run_id = 'r1'", ()))
    texts = dict(backend.raw("SELECT seq, event FROM {events} WHERE run_id = 'r1'", ()))
    for seq, other in ((2, 3), (3, 2)):  # swap rows 2 and 3, MACs travelling with them
        text = texts[other] if isinstance(texts[other], str) else _json(texts[other])
        backend.raw(
            "UPDATE {events} SET event = ?, mac = ? WHERE run_id = 'r1' AND seq = ?",
            (text, rows[other], seq),
        )
    with pytest.raises(StoreIntegrityError, match="event 2 does not match its MAC"):
        await store.load("r1")


def _legacy_mac(previous: str, run_id: str, seq: int, text: str) -> str:
    # How a store before version 5 signed a row: HMAC-SHA256 over a JSON array.
    message = json.dumps([previous, run_id, seq, text], separators=(",", ":")).encode()
    return hmac.new(KEY.encode(), message, hashlib.sha256).hexdigest()


def make_version_8(backend: Backend) -> None:
    """Turn a store back into what tether with store version 8 wrote: a run in doubt with
    status 'in_doubt', no ``in_doubt``, ``touched_at`` or ``seal`` column, the status index on
    (status, updated_at), readable from version 5."""
    if backend.name == "sqlite":
        backend.raw("DROP INDEX tether_runs_status_touched", ())
    else:
        backend.raw("DROP INDEX {schema}.runs_status_touched", ())
    backend.raw("UPDATE {runs} SET status = 'in_doubt' WHERE in_doubt", ())
    backend.raw("ALTER TABLE {runs} DROP COLUMN in_doubt", ())
    backend.raw("ALTER TABLE {runs} DROP COLUMN touched_at", ())
    backend.raw("ALTER TABLE {runs} DROP COLUMN seal", ())
    name = "tether_runs_status" if backend.name == "sqlite" else "runs_status"
    backend.raw(f"CREATE INDEX {name} ON {{runs}} (status, updated_at)", ())
    backend.raw("UPDATE {meta} SET value = '8' WHERE key = 'version'", ())
    backend.raw("UPDATE {meta} SET value = '5' WHERE key = 'readable_from'", ())


async def test_rows_signed_by_a_version_4_store_still_load_and_the_chain_goes_on(
    backend: Backend, store: RunStore
) -> None:
    await store.append("r1", 0, [*begun("r1", "c1"), asked("c1")])
    await store.close()
    # Rewrite the run as a version 4 store signed it.
    texts = backend.raw("SELECT seq, event FROM {events} WHERE run_id = 'r1' ORDER BY seq", ())
    previous = ""
    for seq, text in texts:
        previous = _legacy_mac(previous, "r1", seq, text if isinstance(text, str) else _json(text))
        backend.raw("UPDATE {events} SET mac = ? WHERE run_id = 'r1' AND seq = ?", (previous, seq))
    backend.raw("UPDATE {runs} SET head_mac = ? WHERE id = 'r1'", (previous,))
    make_version_8(backend)
    if backend.name == "sqlite":  # and without what else versions 5 and 6 added
        backend.raw("DROP INDEX tether_rules_granted", ())
        backend.raw("DROP INDEX tether_rules_run", ())
        backend.raw("DROP INDEX tether_runs_status_created", ())
    else:
        backend.raw("DROP INDEX {schema}.rules_granted", ())
        backend.raw("DROP INDEX {schema}.rules_run", ())
        backend.raw("DROP INDEX {schema}.runs_status_created", ())
    backend.raw("ALTER TABLE {pending} DROP COLUMN required_approvals", ())
    backend.raw("ALTER TABLE {pending} DROP COLUMN requested_by", ())  # version 8's
    backend.raw("UPDATE {meta} SET value = '4' WHERE key = 'version'", ())

    upgraded = backend.open(signing_key=KEY)
    try:
        assert await upgraded.migrate() == 4  # an explicit step (see test_migrations.py)
        assert (await upgraded.load("r1")).events == (*begun("r1", "c1"), asked("c1"))
        await upgraded.append("r1", 3, [approved("c1")])  # signed the new way, chained on
        assert (await upgraded.load("r1")).events[-1] == approved("c1")
        # An old row is still protected by its old MAC.
        backend.raw(
            "UPDATE {events} SET event = ? WHERE run_id = 'r1' AND seq = 2",
            (
                '{"kind":"approval_requested","call_id":"c1","agent":"Booker",'
                '"tool":"book_table","arguments":"{\\"seats\\":9}","fingerprint":"fp-c1"}',
            ),
        )
        with pytest.raises(StoreIntegrityError, match="event 2 does not match its MAC"):
            await upgraded.load("r1")
    finally:
        await upgraded.close()


async def test_a_store_written_without_a_key_is_refused_with_one(backend: Backend) -> None:
    plain = backend.open(signing_key=False)
    await plain.append("r1", 0, [started("r1")])
    await plain.close()
    keyed = backend.open(signing_key=KEY)
    try:
        with pytest.raises(StoreIntegrityError, match="carries no MAC"):
            await keyed.load("r1")
    finally:
        await keyed.close()


async def test_a_newer_store_is_refused_and_left_alone(backend: Backend) -> None:
    first = backend.open()
    await first.append("r1", 0, [started("r1")])
    await first.close()
    backend.raw("UPDATE {meta} SET value = '99' WHERE key = 'version'", ())
    # ... that only tethers of version 99 can read (see test_migrations.py for the others).
    backend.raw("UPDATE {meta} SET value = '99' WHERE key = 'readable_from'", ())
    later = backend.open()
    try:
        with pytest.raises(StoreVersionError, match=r"version 99.*Upgrade tether"):
            await later.append("r2", 0, [started("r2")])
    finally:
        await later.close()
    assert backend.raw("SELECT id FROM {runs}", ()) == [("r1",)]


async def test_a_database_that_is_not_a_store_is_refused(backend: Backend, tmp_path: Path) -> None:
    if backend.name == "sqlite":
        other = tmp_path / "other.db"
        backend_raw_sqlite(other, "CREATE TABLE invoices (id INTEGER)")
        before = other.read_bytes()
        store: RunStore = SQLiteRunStore(other)
    else:
        backend.raw("CREATE SCHEMA {schema}", ())
        backend.raw("CREATE TABLE {schema}.invoices (id int)", ())
        store = backend.open()
    try:
        with pytest.raises(StoreFormatError, match="not a tether run store"):
            await store.append("r1", 0, [started("r1")])
    finally:
        await store.close()
    if backend.name == "sqlite":
        assert other.read_bytes() == before
    else:
        assert backend.raw("SELECT count(*) FROM {schema}.invoices", ()) == [(0,)]


async def test_a_file_of_random_bytes_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "noise.db"
    noise = os.urandom(4096)
    path.write_bytes(noise)
    store = SQLiteRunStore(path)
    with pytest.raises(StoreFormatError, match="not a SQLite database"):
        await store.load("r1")
    await store.close()
    assert path.read_bytes() == noise
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noise.db"]


def backend_raw_sqlite(path: Path, sql: str) -> None:
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute(sql)
    conn.commit()
    conn.close()


def _json(value: object) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


async def test_pending_approvals_page_by_keyset_both_ways_with_filters(
    backend: Backend, store: RunStore
) -> None:
    for n in range(5):
        run_id = f"r{n}"
        await store.append(run_id, 0, begun(run_id, "c1", ("c2", "pay")))
        await store.append(run_id, 2, [asked("c1"), asked("c2", tool="pay")])
        backend.clock.advance(10)

    async def walk(**filters: Any) -> list[tuple[str, str]]:
        seen: list[tuple[str, str]] = []
        after = None
        while True:
            rows = await store.pending_approvals(limit=3, after=after, **filters)
            seen.extend((p.run_id, p.call_id) for p in rows)
            if len(rows) < 3:
                return seen
            after = pending_key(rows[-1])

    everything = [(f"r{n}", c) for n in range(5) for c in ("c1", "c2")]
    assert await walk() == everything
    assert await walk(order="newest") == everything[::-1]
    assert await walk(tool="pay") == [(f"r{n}", "c2") for n in range(5)]
    t0 = (await store.pending_approvals(limit=1))[0].requested_at
    assert await walk(requested_after=t0 + timedelta(seconds=30)) == everything[6:]
    assert await walk(requested_before=t0 + timedelta(seconds=10), order="newest") == [
        ("r1", "c2"),
        ("r1", "c1"),
        ("r0", "c2"),
        ("r0", "c1"),
    ]
    with pytest.raises(UserError, match="order must be 'oldest' or 'newest'"):
        await store.pending_approvals(order="sideways")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="pending_key"):
        await store.pending_approvals(after=("r0", "c1"))  # type: ignore[arg-type]
    newest = await store.list_runs(order="newest", limit=2)
    older = await store.list_runs(order="newest", limit=10, cursor=newest.next_cursor)
    assert [r.run_id for r in newest.runs + older.runs] == ["r4", "r3", "r2", "r1", "r0"]


async def test_an_always_decision_covers_its_own_call_and_the_rows_follow_the_fold(
    store: RunStore,
) -> None:
    # The other calls of the tool are decided by events of their own (the decision path
    # appends them, authorized call by call); the store second-guesses nothing.
    await store.append("r1", 0, begun("r1", "c1", "c2", ("c3", "pay")))
    await store.append("r1", 2, [asked("c1"), asked("c2"), asked("c3", tool="pay")])
    always = decided("c1", True, "r1", always=True)
    await store.append("r1", 5, [always])
    assert [p.call_id for p in await store.pending_approvals()] == ["c2", "c3"]
    await store.rebuild_projections("r1")
    assert [p.call_id for p in await store.pending_approvals()] == ["c2", "c3"]


async def test_the_store_refuses_an_event_the_fold_refuses_and_writes_nothing(
    store: RunStore,
) -> None:
    await store.append("r1", 0, [*begun("r1", "c1"), asked("c1")])
    before = await store.load("r1")
    for bad in (
        ToolStarted("c1"),  # waits for approval: it cannot start
        ToolCompleted("c1", "done anyway"),
        ApprovalDecided("c1", "fp-forged", True, by="mallory"),  # not what was asked
        ToolStarted("c9"),  # no such call
    ):
        with pytest.raises(StateError):
            await store.append("r1", 3, [bad])
    with pytest.raises(StateError):  # a good event then a bad one: neither is written
        await store.append("r1", 3, [approved("c1"), ToolCompleted("c1", "no start")])
    after = await store.load("r1")
    assert (after.seq, after.events, after.status) == (3, before.events, "waiting")
    assert [p.call_id for p in await store.pending_approvals()] == ["c1"]
    # And the run goes on from where it was.
    assert await store.append("r1", 3, [approved("c1"), ToolStarted("c1")]) == 5
