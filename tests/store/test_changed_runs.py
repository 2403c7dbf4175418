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


async def test_what_changed_since_a_time_inside_a_minute_is_exactly_what_was_written_after_it(
    backend: Backend, store: RunStore
) -> None:
    # The runs are found through the index on (status, touched_at), the update time to the
    # minute; what the reads answer is still the update time itself.
    backend.clock.advance(10)  # 12:00:10
    await store.append("a", 0, [*begun("a", "c1"), asked("c1")])
    backend.clock.advance(20)  # 12:00:30
    mid = backend.clock.now
    await store.append("b", 0, [*begun("b", "c1"), asked("c1")])  # at mid: not after it
    backend.clock.advance(10)  # 12:00:40
    await store.append("c", 0, [started("c")])
    backend.clock.advance(40)  # 12:01:20
    await store.append("a", 3, [approved("c1", "a")])  # a's index entry moves a minute on

    async def since(moment: timedelta) -> list[str]:
        page = await store.changed_runs(since=mid + moment)
        listed = await store.list_runs(updated_after=mid + moment)
        assert [run.run_id for run in listed.runs] == [run.run_id for run in page.runs]
        return [run.run_id for run in page.runs]

    assert await since(timedelta(seconds=-30)) == ["a", "b", "c"]
    assert await since(timedelta(0)) == ["a", "c"]
    assert await since(timedelta(seconds=10)) == ["a"]  # c at 12:00:40 exactly: not after
    assert await since(timedelta(seconds=30)) == ["a"]
    assert await since(timedelta(seconds=50)) == []
