"""``list_runs(status=...)`` answers with the status a reader sees, now that the filter is
spelled on the stored column (and its index): a run in doubt under a live lease is a tool
running now, listed as ``running``; once the lease is gone it is ``in_doubt``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tether.journal._events import RunCompleted, ToolStarted
from tether.store import RunStore

from .backends import Backend
from .test_conformance import approved, asked, begun, started


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[RunStore]:
    opened = backend.open()
    yield opened
    await opened.close()


async def listed(store: RunStore) -> dict[str, list[str]]:
    statuses = ("running", "waiting", "in_doubt", "completed", "failed")
    out = {}
    for status in statuses:
        for order in ("oldest", "newest"):
            page = await store.list_runs(status=status, order=order)  # type: ignore[arg-type]
            ids = [run.run_id for run in page.runs]
            assert all(run.status == status for run in page.runs)
            out[status] = sorted(ids)
    return out


async def test_a_status_filter_lists_what_readers_see_as_the_lease_comes_and_goes(
    backend: Backend, store: RunStore
) -> None:
    await store.append("doubt", 0, [*begun("doubt", "c1"), asked("c1"), approved("c1", "doubt")])
    await store.acquire("doubt", "w1", ttl=30)
    await store.append("doubt", 4, [ToolStarted("c1")], owner="w1")
    await store.append("wait", 0, [*begun("wait", "c1"), asked("c1")])
    await store.append("new", 0, [started("new")])
    await store.append("done", 0, [started("done"), RunCompleted("ok")])

    assert await listed(store) == {
        "running": ["doubt", "new"],  # the tool runs now, under w1's lease
        "waiting": ["wait"],
        "in_doubt": [],
        "completed": ["done"],
        "failed": [],
    }
    backend.clock.advance(31)  # w1 died: its lease ran out
    after = await listed(store)
    assert (after["running"], after["in_doubt"]) == (["new"], ["doubt"])
    assert [run.run_id for run in await store.recoverable()] == ["doubt", "new"]
