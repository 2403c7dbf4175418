"""Withdrawing a decision through the inbox: the API endpoint and its statuses, the call
page's "Withdraw my decision", ``tether inbox revoke RUN:CALL``, and the inbox's revoke
losing cleanly to a worker that started the call first."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tether import Agent, Approver, Runner, function_tool
from tether.cli import main
from tether.errors import NotRevocableError
from tether.journal import DecisionRevoked, ToolStarted
from tether.server import Inbox
from tether.store import SQLiteRunStore, StoredRun
from tether.testing import ScriptedModel, message, tool_call

from .conftest import Served, start_process
from .test_http import fingerprint_of, paused_run, resume_decided


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def _approve(client: httpx.AsyncClient, server: Served, run_id: str, who: str) -> None:
    answer = await client.post(
        f"/api/runs/{run_id}/calls/call_0/decision",
        json={"decision": "approve", "fingerprint": await fingerprint_of(server, run_id, "call_0")},
        headers=server.headers(who),
    )
    assert answer.status_code == 200, answer.text


async def test_a_decision_withdrawn_over_the_api_never_runs_and_refusals_are_409(
    server: Served,
) -> None:
    run_id = await paused_run(server, "city:Bern")
    url = f"/api/runs/{run_id}/calls/call_0/revoke"
    async with httpx.AsyncClient(base_url=server.url) as client:
        await _approve(client, server, run_id, "ana")
        shown = (await client.get(f"/api/runs/{run_id}", headers=server.headers("ana"))).json()
        [withdrawable] = shown["withdrawable"]
        assert withdrawable["by"] == "ana" and shown["pending"] == []

        body = {"fingerprint": withdrawable["fingerprint"], "reason": "wrong city"}
        other = await client.post(url, json=body, headers=server.headers("ben"))
        assert other.status_code == 409 and other.json()["type"] == "NotRevocableError"
        missing = await client.post(
            "/api/runs/nope/calls/call_0/revoke", json=body, headers=server.headers("ana")
        )
        assert missing.status_code == 404
        withdrawn = await client.post(url, json=body, headers=server.headers("ana"))
        assert withdrawn.status_code == 200, withdrawn.text
        assert withdrawn.json()["revoked_by"] == "ana"

        assert await resume_decided(server) == 0  # waiting for a decision again
        shown = (await client.get(f"/api/runs/{run_id}", headers=server.headers("ana"))).json()
        assert shown["status"] == "waiting"
        assert [c["call_id"] for c in shown["pending"]] == ["call_0"]
        revoked = [e for e in shown["audit"] if e["kind"] == "revoked"]
        assert [(e["by"], e["reason"], e["receipt_status"]) for e in revoked] == [
            ("ana", "wrong city", "valid")
        ]
        decided = [e for e in shown["audit"] if e["kind"] == "decided"]
        assert [e["receipt_status"] for e in decided] == ["revoked"]  # no longer honoured
        again = await client.post(url, json=body, headers=server.headers("ana"))
        assert again.status_code == 409  # nothing left to withdraw

        await _approve(client, server, run_id, "ana")
        assert await resume_decided(server) == 1
        late = await client.post(url, json=body, headers=server.headers("ana"))
    assert late.status_code == 409 and late.json()["type"] == "NotRevocableError"
    assert server.tool_runs() == ["get_weather Bern"]  # once, on the second approval


async def test_four_eyes_one_approval_withdrawn_leaves_one_of_two(server: Served) -> None:
    run_id = await paused_run(server, "city:publishOslo")
    async with httpx.AsyncClient(base_url=server.url) as client:
        await _approve(client, server, run_id, "ana")
        await _approve(client, server, run_id, "ben")
        fingerprint = await fingerprint_of(server, run_id, "call_0")
        withdrawn = await client.post(
            f"/api/runs/{run_id}/calls/call_0/revoke",
            json={"fingerprint": fingerprint},
            headers=server.headers("ana"),
        )
        assert withdrawn.status_code == 200, withdrawn.text
        shown = (await client.get(f"/api/runs/{run_id}", headers=server.headers("ana"))).json()
    assert shown["pending"][0]["approvals"] == {"required": 2, "by": ["ben"]}
    assert await resume_decided(server) == 0
    assert server.tool_runs() == []


async def test_the_call_page_withdraws_the_signed_in_approvers_decision(server: Served) -> None:
    run_id = await paused_run(server, "city:Lima")
    page = f"/runs/{run_id}/calls/call_0"
    async with httpx.AsyncClient(base_url=server.url) as browser:
        await _approve(browser, server, run_id, "ana")
        as_ben = await browser.get(page, headers=server.headers("ben"))
        assert "Withdraw my decision" not in as_ben.text  # not his decision

        token = _csrf((await browser.get("/login")).text)
        await browser.post("/login", data={"token": "tok-ana", "csrf": token})
        shown = await browser.get(page)
        assert "Withdraw my decision" in shown.text
        form = re.search(
            r'action="([^"]+/revoke)".*?name="fingerprint" value="([^"]+)"', shown.text, re.S
        )
        assert form is not None
        done = await browser.post(
            form.group(1),
            data={"csrf": _csrf(shown.text), "fingerprint": form.group(2), "reason": "oops"},
        )
        assert done.status_code == 303
        after = await browser.get(page)
    assert "Withdraw my decision" not in after.text
    assert "Approve" in after.text  # waiting for a decision again
    assert "revoked" in after.text


def test_tether_inbox_revoke_run_call(
    server: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = asyncio.run(paused_run(server, "city:Quito"))
    url = ["inbox", "--url", server.url]
    monkeypatch.setenv("TETHER_TOKEN", "tok-ana")
    assert main([*url, "approve", run_id, "call_0"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("TETHER_TOKEN", "tok-ben")
    assert main([*url, "revoke", f"{run_id}:call_0"]) == 3  # not his decision
    assert "only their own decision" in capsys.readouterr().err
    monkeypatch.setenv("TETHER_TOKEN", "tok-ana")
    assert main([*url, "revoke", f"{run_id}:call_0", "--reason", "later"]) == 0
    assert f"withdrew the decision of ana on call_0 of run {run_id}" in capsys.readouterr().out
    assert main([*url, "--json", "list", "--run", run_id]) == 0
    assert [a["call_id"] for a in json.loads(capsys.readouterr().out)["approvals"]] == ["call_0"]
    assert main([*url, "revoke", f"{run_id}:call_0"]) == 3  # nothing left to withdraw
    assert "no decision" in capsys.readouterr().err


def test_tether_inbox_undo_runs_the_compensation_once(
    server: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def completed() -> str:
        run_id = await paused_run(server, "city:Lyon")
        async with httpx.AsyncClient(base_url=server.url) as client:
            await _approve(client, server, run_id, "ana")
        assert await resume_decided(server) == 1
        return run_id

    run_id = asyncio.run(completed())
    args = ["inbox", "--app", "tests.server.inbox_app:app", "undo", f"{run_id}:call_0"]
    roleless = start_process([*args, "--by", "intern"], server.env)
    _, err = roleless.communicate(timeout=60)
    assert roleless.returncode == 4, err
    named = start_process([*args, "--by", "ana", "--role", "forecaster"], server.env)
    out, err = named.communicate(timeout=60)
    assert named.returncode == 0, err
    assert f"undone: call_0 of run {run_id}: Forgot: Sunny in Lyon".encode() in out
    again = start_process([*args, "--by", "ben", "--role", "forecaster"], server.env)
    _, err = again.communicate(timeout=60)
    assert again.returncode == 3 and b"undone already" in err
    assert server.tool_runs() == ["get_weather Lyon", "undo get_weather Lyon"]

    monkeypatch.setenv("TETHER_TOKEN", "tok-ana")
    assert main(["inbox", "--url", server.url, "undo", f"{run_id}:call_0"]) == 1
    assert "use --app" in capsys.readouterr().err


class _StartsFirst:
    """A store through which the revoke reads the run (its second read: the first is the
    inbox's check that the approver sees the run) just before a worker starts the call:
    that read returns the run as it was, then the worker's ``ToolStarted`` is appended."""

    def __init__(self, store: SQLiteRunStore) -> None:
        self._store = store
        self.loads = 0

    async def load(self, run_id: str) -> StoredRun:
        stored = await self._store.load(run_id)
        self.loads += 1
        if self.loads == 2:
            await self._store.append(run_id, stored.seq, [ToolStarted("c1")])
        return stored

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def test_an_inbox_revoke_racing_a_started_call_reloads_and_is_refused(
    tmp_path: Path,
) -> None:
    ran: list[str] = []

    @function_tool(needs_approval=True)
    def refund(order: str) -> str:
        """Refund an order."""
        ran.append(order)
        return "refunded"

    model = ScriptedModel([[tool_call("refund", {"order": "o-1"}, "c1")], message("Done.")])
    agent = Agent(name="Support", model=model, tools=[refund])
    store = SQLiteRunStore(tmp_path / "race.db")
    try:
        paused = await Runner.run(agent, "Refund", store=store)
        ana = Approver("ana")
        await Inbox(store, [agent]).decide(paused.run_id, "c1", ana, "approve")
        racing = _StartsFirst(store)
        with pytest.raises(NotRevocableError, match="in_doubt"):
            await Inbox(racing, [agent]).revoke(paused.run_id, "c1", ana)  # type: ignore[arg-type]
        # Read, conflicted on the append (the worker's ToolStarted), read again, refused.
        assert racing.loads >= 4
        events = (await store.load(paused.run_id)).events
        assert not any(isinstance(e, DecisionRevoked) for e in events)
        assert isinstance(events[-1], ToolStarted)
    finally:
        await store.close()
