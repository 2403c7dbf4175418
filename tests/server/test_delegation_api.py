"""Delegation through the inbox's JSON API: an approver hands their approvals to another
for a period; the delegate decides for them within it (403, nothing recorded, outside)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tether import Approver, Governance, Runner
from tether.server import App, TokenAuth
from tether.store import SQLiteRunStore

from .weather_agents import ANA, agent

ZOE = Approver("zoe", "Zoe")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_a_delegate_decides_for_the_delegator_through_the_api_within_the_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INBOX_TOOL_LOG", str(tmp_path / "tools.log"))
    clock = Clock()
    governance = Governance(clock=clock)
    store = SQLiteRunStore(tmp_path / "runs.db", clock=clock)
    tokens = TokenAuth({"tok-ana": ANA, "tok-zoe": ZOE})
    app = App(agents=[agent], store=store, governance=governance, authenticate=tokens)
    transport = httpx.ASGITransport(app=app.asgi)
    client = httpx.AsyncClient(transport=transport, base_url="http://inbox.test")
    ana, zoe = {"Authorization": "Bearer tok-ana"}, {"Authorization": "Bearer tok-zoe"}
    try:
        runs = []
        for city in ("Oslo", "Rome"):
            result = await Runner.run(agent, f"city:{city}", store=store, governance=governance)
            runs.append(result.run_id)

        async def as_zoe(run_id: str, **extra: Any) -> httpx.Response:
            shown = (await client.get(f"/api/runs/{run_id}", headers=zoe)).json()
            body = {"decision": "approve", "fingerprint": shown["pending"][0]["fingerprint"]}
            return await client.post(
                f"/api/runs/{run_id}/calls/call_0/decision", json=body | extra, headers=zoe
            )

        assert (await as_zoe(runs[0])).status_code == 403  # on her own: not a forecaster
        ends = (clock.now + timedelta(hours=1)).isoformat()
        body = {"to": "zoe", "ends": ends, "reason": "leave"}
        made = await client.post("/api/delegations", json=body, headers=ana)
        assert made.status_code == 200, made.text
        assert made.json()["from_roles"] == ["forecaster"] and made.json()["live"]
        listed = (await client.get("/api/delegations", headers=zoe)).json()["delegations"]
        assert [(d["from_id"], d["to"]) for d in listed] == [("ana", "zoe")]

        assert (await as_zoe(runs[0], on_behalf_of="ana")).status_code == 200
        clock.now += timedelta(hours=2)
        late = await as_zoe(runs[1], on_behalf_of="ana")
        assert late.status_code == 403 and "no delegation" in late.json()["error"]

        audit = (await client.get(f"/api/runs/{runs[0]}", headers=ana)).json()["audit"]
        decided = [(e["by"], e["on_behalf_of"]) for e in audit if e["kind"] == "decided"]
        assert decided == [("zoe", "ana")]
        pending = (await client.get(f"/api/runs/{runs[1]}", headers=ana)).json()["pending"]
        assert [call["call_id"] for call in pending] == ["call_0"]
    finally:
        await client.aclose()
        await app.aclose()
        await store.close()
