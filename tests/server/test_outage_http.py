"""A decision made while the store's database is unavailable is answered 503 with the
typed, retryable error (what to do), and goes through when sent again."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from tether import Approver, Runner
from tether.server import App, TokenAuth
from tether.store import SQLiteRunStore

from .weather_agents import agent


async def test_a_decision_while_the_store_is_unavailable_is_503_and_can_be_sent_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "runs.db"
    store = SQLiteRunStore(path, busy_timeout=0.1)
    ana = Approver("ana", roles=("forecaster",))
    app = App(agents=[agent], store=store, authenticate=TokenAuth({"tok-ana": ana}))
    result = await Runner.run(agent, "city:Oslo", store=store)
    url = f"/api/runs/{result.run_id}/calls/call_0/decision"
    headers = {"Authorization": "Bearer tok-ana"}
    transport = httpx.ASGITransport(app=app.asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://inbox") as client:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock too long
        try:
            refused = await client.post(url, json={"decision": "approve"}, headers=headers)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert refused.status_code == 503
        assert refused.json()["type"] == "StoreUnavailableError"
        assert "retry" in refused.json()["error"]
        again = await client.post(url, json={"decision": "approve"}, headers=headers)
        assert again.status_code == 200, again.text
    assert [p.call_id for p in await store.pending_approvals()] == []
    await store.close()
