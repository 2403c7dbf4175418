"""The inbox's event stream reads what changed in one query per poll, however many runs
changed and whatever the stream announced before (it used to read each updated run's
pending calls again, one query per run)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from tether import Approver, Runner
from tether.server import App
from tether.server.http.events import _Changes
from tether.store import SQLiteRunStore
from tether.store._statements import Program

from .weather_agents import agent

_T = TypeVar("_T")
ANA = Approver("ana", roles=("forecaster",))


class CountingStore(SQLiteRunStore):
    """A SQLite store that counts its transactions (each read is one)."""

    transactions = 0

    async def _transact(
        self,
        make: Callable[[], Program[_T]],
        write: bool,
        durable: bool = True,
        *,
        alone: bool = False,
    ) -> _T:
        self.transactions += 1  # a read alone (no BEGIN and COMMIT) is one call too
        return await super()._transact(make, write, durable, alone=alone)


async def test_one_query_per_poll_announces_requests_decisions_and_updates(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("INBOX_TOOL_LOG", str(tmp_path / "tools.log"))
    store = CountingStore(tmp_path / "runs.db")
    app = App(agents=[agent], store=store)
    stream = _Changes(app, Approver("ana", roles=("forecaster",)))
    try:
        window = app.inbox.governance.now() - timedelta(seconds=1)
        runs = [(await Runner.run(agent, f"city:C{i}", store=store)).run_id for i in range(5)]

        store.transactions = 0
        first = await stream.since(window)
        assert store.transactions == 1
        assert sorted(d["run_id"] for k, d in first if k == "approval_requested") == sorted(runs)
        assert sorted(d["run_id"] for k, d in first if k == "run_updated") == sorted(runs)
        for run_id in runs:  # a run's requests come before its update
            kinds = [k for k, d in first if d["run_id"] == run_id]
            assert kinds == ["approval_requested", "run_updated"]

        decided = runs[2]
        await app.inbox.decide(decided, "call_0", ANA, "approve")
        store.transactions = 0
        second = await stream.since(window)
        assert store.transactions == 1
        assert [(k, d["run_id"]) for k, d in second] == [
            ("approval_removed", decided),
            ("run_updated", decided),
        ]
        assert second[1][1]["status"] == "running"
        store.transactions = 0
        assert await stream.since(window) == []  # nothing new: nothing sent again
        assert store.transactions == 1
    finally:
        await store.close()
