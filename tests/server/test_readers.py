"""Read permissions (``App(readers=...)``): an approver who may not see an agent's runs gets
404 for them, as for runs that do not exist, finds them in no list and no event stream,
cannot start them, and neither can the CLI through the server.

The application is served in process (``httpx.ASGITransport``) on a SQLite file; the
event stream is read from the ASGI application directly (that transport buffers whole
responses).
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tether import Agent, Approver, Runner, UserError, grant_standing_approval
from tether.approvals import RuleScope
from tether.cli import main
from tether.server import App, TokenAuth
from tether.server._describe import readers_said
from tether.store import SQLiteRunStore

from .weather_agents import CityModel, agent, get_time, get_weather

payments: Agent[Any] = Agent(
    name="Payments",
    instructions="Answer weather questions for the finance team.",
    model=CityModel(),
    tools=[get_weather, get_time],
)
ANA = {"Authorization": "Bearer tok-ana"}  # a forecaster: may not see Payments
FIN = {"Authorization": "Bearer tok-fin"}  # a forecaster in finance: sees both
APPROVERS = {
    "tok-ana": Approver("ana", roles=("forecaster",)),
    "tok-fin": Approver("fin", roles=("forecaster", "finance")),
}


def _app(store: Path) -> App:
    return App(
        agents=[agent, payments],
        store=SQLiteRunStore(store),
        authenticate=TokenAuth(APPROVERS),
        readers={"Payments": {"finance"}},
        sse_poll_interval=0.02,
    )


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> App:
    monkeypatch.setenv("INBOX_TOOL_LOG", str(tmp_path / "tools.log"))
    return _app(tmp_path / "runs.db")


@pytest.fixture
async def client(app: App) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://inbox") as client:
        yield client
    await app.store.close()


async def _paused(app: App, which: Agent[Any], text: str) -> str:
    return (await Runner.run(which, text, store=app.store)).run_id


def _not_found(response: httpx.Response) -> None:
    assert response.status_code == 404, response.text
    assert response.json()["type"] == "RunNotFoundError"


async def test_a_hidden_agents_run_is_404_like_a_missing_one_on_the_api_and_the_pages(
    app: App, client: httpx.AsyncClient
) -> None:
    hidden = await _paused(app, payments, "city:Zurich")
    _not_found(await client.get(f"/api/runs/{hidden}", headers=ANA))
    missing = await client.get("/api/runs/run_nothing", headers=ANA)
    _not_found(missing)
    assert (await client.get(f"/runs/{hidden}", headers=ANA)).status_code == 404
    assert (await client.get(f"/runs/{hidden}/calls/call_0", headers=ANA)).status_code == 404
    shown = await client.get(f"/api/runs/{hidden}", headers=FIN)
    assert shown.status_code == 200 and shown.json()["status"] == "waiting"

    # Seeing is asked first, whoever the call's policy would allow: nothing is recorded.
    fingerprint = shown.json()["pending"][0]["fingerprint"]
    decision = {"decision": "approve", "fingerprint": fingerprint}
    _not_found(
        await client.post(f"/api/runs/{hidden}/calls/call_0/decision", json=decision, headers=ANA)
    )
    batch = {"decisions": [{"run_id": hidden, "call_id": "call_0", **decision}]}
    refused = (await client.post("/api/decisions", json=batch, headers=ANA)).json()
    assert [(r["outcome"], r["type"]) for r in refused["results"]] == [
        ("refused", "RunNotFoundError")
    ]
    assert (await app.store.load(hidden)).status == "waiting"
    decided = await client.post(
        f"/api/runs/{hidden}/calls/call_0/decision", json=decision, headers=FIN
    )
    assert decided.status_code == 200, decided.text


async def test_lists_leave_a_hidden_agents_runs_and_calls_out(
    app: App, client: httpx.AsyncClient
) -> None:
    hidden = await _paused(app, payments, "city:Zurich")
    seen = await _paused(app, agent, "city:Oslo")

    def runs(answer: httpx.Response) -> set[str]:
        return {row["run_id"] for row in answer.json()["runs"]}

    def calls(answer: httpx.Response) -> set[str]:
        return {row["run_id"] for row in answer.json()["approvals"]}

    assert runs(await client.get("/api/runs", headers=ANA)) == {seen}
    assert calls(await client.get("/api/approvals", headers=ANA)) == {seen}
    assert runs(await client.get("/api/runs", headers=FIN)) == {seen, hidden}
    assert calls(await client.get("/api/approvals", headers=FIN)) == {seen, hidden}
    for path in ("/", "/runs"):
        page = (await client.get(path, headers=ANA)).text
        assert seen in page and hidden not in page
        assert hidden in (await client.get(path, headers=FIN)).text

    # A page cut short by hidden calls still leads to the rest.
    first = (await client.get("/api/approvals?limit=1&order=oldest", headers=ANA)).json()
    assert first["approvals"] == [] and first["next_cursor"]
    rest = await client.get(
        f"/api/approvals?limit=1&order=oldest&cursor={first['next_cursor']}", headers=ANA
    )
    assert calls(rest) == {seen}


async def test_starting_a_hidden_agents_run_is_refused_as_an_unknown_agent(
    app: App, client: httpx.AsyncClient
) -> None:
    refused = await client.post("/api/runs", json={"agent": "Payments", "input": "x"}, headers=ANA)
    assert refused.status_code == 422 and refused.json()["type"] == "UnknownAgentError"
    assert "Payments" not in refused.json()["error"].split("known:")[1]
    assert not (await app.store.list_runs()).runs
    started = await client.post("/api/runs", json={"agent": "Payments", "input": "x"}, headers=FIN)
    assert started.status_code == 201


async def test_a_hidden_agents_standing_approvals_are_not_listed_nor_revoked(
    app: App, client: httpx.AsyncClient
) -> None:
    fin = APPROVERS["tok-fin"]
    rule = await grant_standing_approval(
        app.store, payments, "get_weather", by=fin, scope=RuleScope.agent(), match={}, max_uses=3
    )
    assert (await client.get("/api/rules", headers=ANA)).json()["rules"] == []
    listed = (await client.get("/api/rules", headers=FIN)).json()["rules"]
    assert [r["id"] for r in listed] == [rule.id]
    revoked = await client.post(f"/api/rules/{rule.id}/revocation", json={}, headers=ANA)
    assert revoked.status_code == 404 and revoked.json()["type"] == "RuleNotFoundError"
    assert (await client.get("/api/rules?live=true", headers=FIN)).json()["rules"]


async def _events(
    app: App, headers: dict[str, str], after_ready: Callable[[], Awaitable[str]]
) -> list[tuple[str, Any]]:
    """The events ``/api/events`` sends ``headers``' approver: once it is ready,
    ``after_ready`` writes runs; read on until the approval of the run it names is
    announced."""
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/events",
        "raw_path": b"/api/events",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("inbox", 80),
    }
    chunks: asyncio.Queue[bytes] = asyncio.Queue()
    gone = asyncio.Event()
    requested = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if requested:
            return requested.pop()
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            await chunks.put(message.get("body", b""))

    task = asyncio.create_task(app(scope, receive, send))
    events: list[tuple[str, Any]] = []
    until: str | None = None
    try:
        while True:
            text = (await asyncio.wait_for(chunks.get(), 10)).decode()
            for kind, data in re.findall(r"event: (\w+)\ndata: (.*)\n", text):
                events.append((kind, json.loads(data)))
            if until is None and events:
                until = await after_ready()
            # A poll reads new approvals, then updated runs: an approval committed between
            # the two reads comes in the next poll, after its run was announced as waiting.
            if ("approval_requested", until) in [(k, d.get("run_id")) for k, d in events]:
                return events
    finally:
        gone.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_event_stream_leaves_a_hidden_agents_runs_out(
    app: App, client: httpx.AsyncClient
) -> None:
    written: list[str] = []

    async def runs() -> str:
        written.append(await _paused(app, payments, "city:Zurich"))
        written.append(await _paused(app, agent, "city:Oslo"))
        return written[-1]

    events = await _events(app, ANA, runs)
    hidden, seen = written
    named = {data.get("run_id") for _, data in events}
    assert seen in named and hidden not in named
    assert ("approval_requested", seen) in [(k, d.get("run_id")) for k, d in events]

    written.clear()
    events = await _events(app, FIN, runs)
    hidden, seen = written
    assert {hidden, seen} <= {data.get("run_id") for _, data in events}


def test_the_cli_through_a_server_lists_no_hidden_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INBOX_TOOL_LOG", str(tmp_path / "tools.log"))

    async def write() -> tuple[str, str]:
        app = _app(tmp_path / "runs.db")
        try:
            return await _paused(app, payments, "city:Zurich"), await _paused(
                app, agent, "city:Oslo"
            )
        finally:
            await app.store.close()

    hidden, seen = asyncio.run(write())
    served = _app(tmp_path / "runs.db")  # a fresh store for the CLI's own event loop
    in_process = functools.partial(httpx.AsyncClient, transport=httpx.ASGITransport(app=served))
    monkeypatch.setattr(httpx, "AsyncClient", in_process)
    monkeypatch.setenv("TETHER_TOKEN", "tok-ana")
    url = ["inbox", "--url", "http://inbox", "--json"]
    assert main([*url, "list"]) == 0
    assert {a["run_id"] for a in json.loads(capsys.readouterr().out)["approvals"]} == {seen}
    assert main([*url, "runs"]) == 0
    assert {r["run_id"] for r in json.loads(capsys.readouterr().out)["runs"]} == {seen}
    assert main([*url, "show", hidden]) != 0
    assert "404" in capsys.readouterr().err
    monkeypatch.setenv("TETHER_TOKEN", "tok-fin")
    assert main([*url, "show", hidden]) == 0


def test_readers_name_the_applications_agents_and_some_roles(tmp_path: Path) -> None:
    store = str(tmp_path / "runs.db")
    with pytest.raises(UserError, match="'Nobody', not an agent of this application"):
        App(agents=[agent, payments], store=store, readers={"Nobody": {"finance"}})
    with pytest.raises(UserError, match="at least one"):
        App(agents=[agent, payments], store=store, readers={"Payments": set()})
    everyone = App(agents=[agent, payments], store=store, readers={"*": "staff"}).inbox.readers
    assert not everyone.sees(Approver("ana", roles=("forecaster",)), "Weather")
    assert everyone.sees(Approver("sam", roles=("staff",)), "Payments")


def test_serve_says_who_sees_which_agents_runs(tmp_path: Path) -> None:
    store = str(tmp_path / "runs.db")

    def said(readers: dict[str, Any] | None) -> str:
        return readers_said(
            App(agents=[agent, payments], store=store, readers=readers).inbox.readers
        )

    assert said(None) == "everyone signed in sees every run"
    assert said({"Payments": {"ops", "finance"}, "*": "staff"}) == (
        "Payments by finance or ops; other agents by staff"
    )
    assert said({"Payments": "finance"}) == (
        "Payments by finance; other agents by everyone signed in"
    )
