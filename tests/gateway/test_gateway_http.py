"""The gateway over streamable HTTP, decided through the approval inbox's HTTP API: a remote
MCP client, the gateway process, and an inbox (``tether.server.App``) sharing its store."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tether import Approver
from tether.gateway import REQUEST_KEY_META, Gateway, load_config
from tether.server import App, TokenAuth, Worker

from .conftest import ROOT, Loop, free_port, upstream_calls, wait_listening, write_config

TOKEN = "s3cret-ana"


class Rig:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        config = write_config(folder)
        port = free_port()
        command = ["-m", "tether.gateway", str(config), "--transport", "http"]
        self.process = subprocess.Popen(
            [sys.executable, *command, "--port", str(port)],
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
            cwd=folder,
            stderr=subprocess.PIPE,
        )
        self.loop = Loop()
        # The inbox process: the gateway's agents, its store and governance, an API token.
        self.approver: Gateway = self.loop.hold(lambda: Gateway(load_config(config)))
        self.inbox = App(
            agents=self.approver.agents,
            store=self.approver.store,
            governance=self.approver.governance,
            authenticate=TokenAuth({TOKEN: Approver("ana", roles=frozenset({"finance"}))}),
        )
        wait_listening(port, self.process)
        url = f"http://127.0.0.1:{port}/mcp"

        @asynccontextmanager
        async def client() -> Any:
            async with (
                httpx2.AsyncClient() as http,
                streamable_http_client(url, http_client=http) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                yield session

        self.client: ClientSession = self.loop.hold(client)

    async def api(self, method: str, path: str, body: Any = None) -> Any:
        transport = httpx.ASGITransport(app=self.inbox)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://inbox") as http:
            response = await http.request(method, path, json=body, headers=headers)
        assert response.status_code < 300, response.text
        return response.json()

    def close(self) -> None:
        self.loop.close()
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    made = Rig(tmp_path_factory.mktemp("gateway-http"))
    yield made
    made.close()


def test_a_call_over_http_is_decided_in_the_inbox_and_runs_once(rig: Rig) -> None:
    progress: list[str] = []

    async def call() -> Any:
        async def report(done: float, total: float | None, message: str | None) -> None:
            progress.append(message or "")

        return await rig.client.call_tool(
            "pay",
            {"account": "acme", "amount": 7},
            progress_callback=report,
            meta={REQUEST_KEY_META: "http-pay-1"},
        )

    pending = rig.loop.start(call())
    deadline = time.monotonic() + 20
    listed: list[Any] = []
    while not listed and time.monotonic() < deadline:
        listed = rig.loop.run(rig.api("GET", "/api/approvals?tool=pay"))["approvals"]
        time.sleep(0.05)
    (row,) = listed
    assert row["agent"] == "gateway/bank"
    assert row["arguments"] == '{"account": "acme", "amount": 7}'
    path = f"/api/runs/{row['run_id']}/calls/{row['call_id']}/decision"
    body = {"decision": "approve", "fingerprint": row["fingerprint"], "reason": "invoice 17"}
    rig.loop.run(rig.api("POST", path, body))
    # An inbox worker with the gateway's agents races the gateway to carry it out; whoever
    # takes the run's lease calls the upstream, once.
    rig.loop.run(Worker(rig.inbox).run_once())
    result = pending.result(20)
    assert not result.is_error
    assert result.content[0].text == "paid 7 EUR to acme"
    assert progress and "waiting for approval by finance" in progress[0]

    again = rig.loop.run(
        rig.client.call_tool(
            "pay", {"account": "acme", "amount": 7}, meta={REQUEST_KEY_META: "http-pay-1"}
        )
    )
    assert again.content[0].text == "paid 7 EUR to acme"
    calls = [c for c in upstream_calls(rig.folder) if c["tool"] == "pay"]
    assert calls == [{"tool": "pay", "account": "acme", "amount": 7, "memo": ""}]
    run = rig.loop.run(rig.api("GET", f"/api/runs/{row['run_id']}"))
    assert run["status"] == "completed"
    assert [r["kind"] for r in run["audit"]].count("decided") == 1
