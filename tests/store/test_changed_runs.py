"""``changed_runs``: the runs written since a time, each with every call it waits on now, a
keyset page at a time (what the inbox's event stream reads each poll), on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from tether.errors import UserError
from tether.journal._events import RunCompleted
from tether.store import ChangedRuns, RunStore

from .backends import Backend
from .test_conformance import approved, asked, begun, started


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[RunStore]:
    opened = backend.open()
    yield opened
    await opened.close()


def waits(page: ChangedRuns) -> dict[str, list[str]]:
    return {
        run.run_id: [p.call_id for p in page.pending if p.run_id == run.run_id] for run in page.runs
    }


async def test_changed_runs_come_with_what_they_wait_on_now_and_page(
    backend: Backend, store: RunStore
) -> None:
    await store.append("old", 0, [*begun("old", "c1"), asked("c1")])
    backend.clock.advance(10)
    since = backend.clock.now
    backend.clock.advance(1)
    await store.append("a", 0, [*begun("a", "c1", "c2"), asked("c1"), asked("c2")])
    await store.append("b", 0, [started("b"), RunCompleted("done")])
    await store.append("c", 0, [*begun("c", "c1"), asked("c1")])
    await store.append("c", 3, [approved("c1", "c")])

    whole = await store.changed_runs(since=since)
    assert waits(whole) == {"a": ["c1", "c2"], "b": [], "c": []}
    assert [run.status for run in whole.runs] == ["waiting", "completed", "running"]
    assert whole.next_cursor is None

    seen: dict[str, list[str]] = {}
    page = await store.changed_runs(since=since, limit=1)
    while True:
        assert len(page.runs) == 1
        seen |= waits(page)
        if page.next_cursor is None:
            break
        page = await store.changed_runs(since=since, limit=1, cursor=page.next_cursor)
    assert seen == waits(whole)

    later = await store.changed_runs(since=backend.clock.now + timedelta(seconds=1))
    assert later.runs == () and later.pending == ()
    with pytest.raises(UserError, match="aware datetime"):
        await store.changed_runs(since=since.replace(tzinfo=None))
