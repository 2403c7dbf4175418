"""Who asked: over HTTP the gateway serves only its configured clients (a bearer token each,
from the environment); the client's name is journaled on the run (``RunStarted``), shown on
the inbox's pending call, and under four-eyes the client may not approve its own call."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tether import Approver
from tether.errors import GatewayConfigError
from tether.gateway import (
    INPUT_REQUIRED_META,
    REQUEST_KEY_META,
    Gateway,
    load_config,
    parse_config,
)
from tether.journal import RunStarted
from tether.server import App, TokenAuth

from .conftest import ROOT, Loop, free_port, upstream_calls, wait_listening, write_config

CLIENTS = {"TEST_GATEWAY_ANA": "tok-client-ana", "TEST_GATEWAY_CI": "tok-client-ci"}
PEOPLE = {
    "tok-ana": Approver("ana", roles=frozenset({"finance"})),
    "tok-bob": Approver("bob", roles=frozenset({"finance"})),
    "tok-eve": Approver("eve", roles=frozenset({"finance"})),
}
EXTRA = """
[clients.ana]
token_env = "TEST_GATEWAY_ANA"

[clients.ci]
token_env = "TEST_GATEWAY_CI"
"""


class Rig:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        config = write_config(folder, EXTRA)
        # Four-eyes on pay: two approvers, and not the client who asked.
        text = config.read_text().replace("editable = true", "required_approvals = 2")
        config.write_text(text)
        self.port = free_port()
        command = ["-m", "tether.gateway", str(config), "--transport", "http"]
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        self.process = subprocess.Popen(
            [sys.executable, *command, "--port", str(self.port)],
            env=env,
            cwd=folder,
            stderr=subprocess.PIPE,
        )
        self.loop = Loop()
        self.approver: Gateway = self.loop.hold(lambda: Gateway(load_config(config)))
        self.inbox = App(
            agents=self.approver.agents,
            store=self.approver.store,
            governance=self.approver.governance,
            authenticate=TokenAuth(PEOPLE),
        )
        wait_listening(self.port, self.process)
        self.url = f"http://127.0.0.1:{self.port}/mcp"

    async def call(self, token: str | None, tool: str, arguments: dict[str, Any], key: str) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}

        @asynccontextmanager
        async def session() -> Any:
            async with (
                httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=120)) as http,
                streamable_http_client(self.url, http_client=http) as (read, write),
                ClientSession(read, write) as opened,
            ):
                await opened.initialize()
                yield opened

        async with session() as opened:
            return await opened.call_tool(tool, arguments, meta={REQUEST_KEY_META: key})

    async def paused(self, token: str, tool: str, arguments: dict[str, Any], state: Any) -> Any:
        """A 2026-07-28 call on a connection of its own that asks for ``input_required``,
        or comes back with ``state``; an MCP error is returned (the transport would wrap it)."""
        headers = {"Authorization": f"Bearer {token}"}
        meta: Any = {INPUT_REQUIRED_META: True}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30)) as http,
            streamable_http_client(self.url, http_client=http) as (read, write),
            ClientSession(read, write) as opened,
        ):
            await opened.discover()
            try:
                return await opened.call_tool(
                    tool,
                    arguments,
                    meta=meta,
                    request_state=state,
                    allow_input_required=True,
                )
            except MCPError as refused:
                return refused

    def api(self, token: str, method: str, path: str, body: Any = None) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.inbox)
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(transport=transport, base_url="http://inbox") as http:
                return await http.request(method, path, json=body, headers=headers)

        return self.loop.run(send())

    def page(self, token: str, path: str) -> str:
        async def browse() -> str:
            transport = httpx.ASGITransport(app=self.inbox)
            async with httpx.AsyncClient(transport=transport, base_url="http://inbox") as web:
                login = (await web.get("/login")).text
                csrf = re.search(r'name="csrf" value="([^"]+)"', login)
                assert csrf, login
                await web.post("/login", data={"token": token, "csrf": csrf.group(1)})
                return (await web.get(path)).text

        return self.loop.run(browse())

    def close(self) -> None:
        self.loop.close()
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with pytest.MonkeyPatch.context() as patch:
        for name, token in CLIENTS.items():  # the inbox's side reads the same configuration
            patch.setenv(name, token)
        made = Rig(tmp_path_factory.mktemp("gateway-clients"))
        yield made
        made.close()


def test_a_client_without_a_valid_token_is_refused_and_nothing_is_journaled(rig: Rig) -> None:
    for headers in ({}, {"Authorization": "Bearer tok-wrong"}, {"Authorization": "tok-client-ana"}):
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        response = httpx.post(rig.url, json=body, headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["error"]["data"]["type"] == "unauthorized"
    with pytest.raises(ExceptionGroup) as raised:  # the mcp client's own error on a 401
        rig.loop.run(rig.call(None, "balance", {"account": "acme"}, "anon-1"))
    assert "401" in "".join(traceback.format_exception(raised.value))
    assert rig.loop.run(rig.approver.store.list_runs()).runs == ()
    assert upstream_calls(rig.folder) == []


def test_who_asked_is_journaled_shown_and_may_not_approve_under_four_eyes(rig: Rig) -> None:
    pending = rig.loop.start(
        rig.call("tok-client-ana", "pay", {"account": "acme", "amount": 21}, "p1")
    )
    deadline = time.monotonic() + 20
    rows: list[Any] = []
    while not rows and time.monotonic() < deadline:
        rows = rig.api("tok-ana", "GET", "/api/approvals?tool=pay").json()["approvals"]
        time.sleep(0.05)
    (row,) = rows
    assert row["requested_by"] == "ana"  # in the inbox's list too
    run_id = row["run_id"]
    stored = rig.loop.run(rig.approver.store.load(run_id))
    assert isinstance(stored.events[0], RunStarted)
    assert stored.events[0].requested_by == "ana"
    (shown,) = rig.api("tok-bob", "GET", f"/api/runs/{run_id}").json()["pending"]
    assert shown["requested_by"] == "ana"
    page = rig.page("tok-bob", f"/runs/{run_id}/calls/{row['call_id']}")
    assert '<span id="requested-by">ana</span>' in page
    assert '<span class="muted">for ana</span>' in rig.page("tok-bob", "/")  # the list

    path = f"/api/runs/{run_id}/calls/{row['call_id']}/decision"
    approve = {"decision": "approve", "fingerprint": row["fingerprint"]}
    refused = rig.api("tok-ana", "POST", path, approve)
    assert refused.status_code == 403, refused.text
    assert "asked for call" in refused.text
    assert upstream_calls(rig.folder) == []
    assert rig.api("tok-bob", "POST", path, approve).status_code < 300
    assert rig.api("tok-eve", "POST", path, approve).status_code < 300
    result = pending.result(30)
    assert result.content[0].text == "paid 21 EUR to acme"
    audit = rig.api("tok-bob", "GET", f"/api/runs/{run_id}").json()["audit"]
    assert [a["by"] for a in audit if a["kind"] == "decided"] == ["bob", "eve"]
    assert upstream_calls(rig.folder) == [
        {"tool": "pay", "account": "acme", "amount": 21, "memo": ""}
    ]


def test_a_paused_call_comes_back_to_the_client_it_was_given_to_only(rig: Rig) -> None:
    arguments = {"account": "acme", "amount": 22}
    first = rig.loop.run(rig.paused("tok-client-ci", "pay", arguments, None))
    assert isinstance(first, types.InputRequiredResult) and first.request_state is not None
    # Another client with ci's state is refused.
    refused = rig.loop.run(rig.paused("tok-client-ana", "pay", arguments, first.request_state))
    assert isinstance(refused, MCPError) and refused.code == -32602
    rows = rig.api("tok-bob", "GET", "/api/approvals?tool=pay").json()["approvals"]
    (row,) = [r for r in rows if r["run_id"] == first.meta["tether/run_id"]]  # type: ignore[index]
    path = f"/api/runs/{row['run_id']}/calls/{row['call_id']}/decision"
    approve = {"decision": "approve", "fingerprint": row["fingerprint"]}
    for approver in ("tok-bob", "tok-eve"):  # four-eyes on pay in this rig
        assert rig.api(approver, "POST", path, approve).status_code < 300
    state: str | None = first.request_state
    result: Any = None
    for _ in range(400):  # ci comes back, on a new connection each time, until it is done
        result = rig.loop.run(rig.paused("tok-client-ci", "pay", arguments, state))
        if not isinstance(result, types.InputRequiredResult):
            break
        state = result.request_state
        time.sleep(0.05)
    assert isinstance(result, types.CallToolResult)
    assert result.content[0].text == "paid 22 EUR to acme"
    paid = {"tool": "pay", "account": "acme", "amount": 22, "memo": ""}
    assert upstream_calls(rig.folder).count(paid) == 1


def test_request_ids_are_each_clients_own(rig: Rig) -> None:
    mine = rig.loop.run(rig.call("tok-client-ana", "balance", {"account": "acme"}, "same-id"))
    theirs = rig.loop.run(rig.call("tok-client-ci", "balance", {"account": "globex"}, "same-id"))
    assert theirs.content[0].text == "globex: 120 EUR"  # not refused as a reused id
    assert mine.meta["tether/run_id"] != theirs.meta["tether/run_id"]


def test_a_client_table_names_its_token_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    base = 'store = "runs.db"\n[servers.s]\ncommand = "x"\n'
    monkeypatch.setenv("TEST_GATEWAY_ONE", "same")
    monkeypatch.setenv("TEST_GATEWAY_TWO", "same")
    cases = [
        ("[clients.a]\n", "clients.a.token_env: missing"),
        ('[clients.a]\ntoken_env = "TEST_GATEWAY_UNSET"\n', "is not set"),
        ('[clients.a]\ntoken = "tok"\n', "clients.a.token: unknown key"),
        (
            '[clients.a]\ntoken_env = "TEST_GATEWAY_ONE"\n'
            '[clients.b]\ntoken_env = "TEST_GATEWAY_TWO"\n',
            "the same token as client 'a'",
        ),
    ]
    for extra, message in cases:
        with pytest.raises(GatewayConfigError, match=message):
            parse_config(base + extra)
    config = parse_config(base + '[clients.a]\ntoken_env = "TEST_GATEWAY_ONE"\n')
    assert dict(config.clients) == {"same": "a"}
    assert "same" not in repr(config)
