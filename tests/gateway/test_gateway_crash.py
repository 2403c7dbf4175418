"""The gateway SIGKILLed with calls in every phase, then started again on the same store.

One gateway process (streamable HTTP) holds, when it is killed:

- ``e``: a call that completed before the kill (its client already has the result);
- ``a``: a call waiting for approval (killed before the upstream call; approved while the
  gateway is down);
- ``c``: a call whose output waits for review (killed after the upstream call);
- ``b``: a call under way upstream (the upstream logged that it started and holds);
- ``d``: a call the upstream just finished (killed as the upstream logs "finished", racing
  the gateway's journaling of the result).

After the restart, a client reconnects and retries each request with the same request id.
Each call is then completed once, or in doubt (shown so in the inbox, never run again by
itself); no call reaches the upstream twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
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
from tether.gateway import REQUEST_KEY_META, Gateway, load_config, run_id_for
from tether.server import App, TokenAuth
from tether.store import decide, load_state, review

from .conftest import ROOT, Loop, free_port, upstream_calls, wait_listening, write_config

ANA = Approver("ana", roles=frozenset({"finance"}))
TOKEN = "s3cret-ana"
LEASE_TTL = 2


class GatewayProcess:
    """``python -m tether.gateway CONFIG --transport http`` on a port of its own."""

    def __init__(self, config: Path) -> None:
        self.port = free_port()
        command = ["-m", "tether.gateway", str(config), "--transport", "http"]
        self.process = subprocess.Popen(
            [sys.executable, *command, "--port", str(self.port)],
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
            cwd=config.parent,
            stderr=subprocess.PIPE,
        )
        wait_listening(self.port, self.process)

    async def call(self, tool: str, arguments: dict[str, Any], key: str) -> Any:
        """One client: connect, call with request id ``key``, and go."""
        async with self._session() as session:
            return await session.call_tool(tool, arguments, meta={REQUEST_KEY_META: key})

    @asynccontextmanager
    async def _session(self) -> Any:
        url = f"http://127.0.0.1:{self.port}/mcp"
        async with (
            # A call without a progress token hears nothing while it waits: a long read timeout.
            httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=300)) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(10)


class Rig:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        # A short lease: a call cut off by the kill is in doubt two seconds later, not 30.
        self.config = write_config(folder, lease_ttl=LEASE_TTL)
        self.loop = Loop()
        # The inbox's side: the gateway's agents and store, and the inbox's HTTP API.
        self.approver: Gateway = self.loop.hold(lambda: Gateway(load_config(self.config)))
        self.inbox = App(
            agents=self.approver.agents,
            store=self.approver.store,
            governance=self.approver.governance,
            authenticate=TokenAuth({TOKEN: ANA}),
        )

    def log(self, **fields: Any) -> list[dict[str, Any]]:
        """The upstream's log lines that have all of ``fields``."""
        calls = upstream_calls(self.folder)
        return [c for c in calls if all(c.get(k) == v for k, v in fields.items())]

    def logged(self, timeout: float = 20, **fields: Any) -> dict[str, Any]:
        """The first log line with ``fields``, once the upstream wrote it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.log(**fields)
            if found:
                return found[0]
            time.sleep(0.01)
        raise AssertionError(f"the upstream never logged {fields}")

    def waiting(self, tool: str) -> Any:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            rows = self.loop.run(self.approver.store.pending_approvals(tool=tool))
            if rows:
                return rows[0]
            time.sleep(0.05)
        raise AssertionError(f"no call of {tool} waits")

    def fingerprint(self, run_id: str) -> str:
        agent = self.approver.agents[0]
        state = self.loop.run(load_state(self.approver.store, run_id, agent))
        return state.interruptions[0].fingerprint

    def api(self, path: str) -> Any:
        async def get() -> Any:
            transport = httpx.ASGITransport(app=self.inbox)
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx.AsyncClient(transport=transport, base_url="http://inbox") as http:
                response = await http.get(path, headers=headers)
            assert response.status_code == 200, response.text
            return response.json()

        return self.loop.run(get())

    def close(self) -> None:
        (self.folder / "release-b").touch()  # the first upstream, if still alive, lets go
        for line in self.log(tool="slow", event="started"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(line["pid"], signal.SIGKILL)  # an upstream orphaned by the kill
        self.loop.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path)
    yield made
    made.close()


def test_a_gateway_killed_mid_flight_runs_no_call_twice(rig: Rig) -> None:
    first = GatewayProcess(rig.config)
    try:
        done = rig.loop.run(first.call("balance", {"account": "acme"}, "e"))
        assert done.content[0].text == "acme: 120 EUR"
        cut_off = [
            rig.loop.start(first.call("pay", {"account": "acme", "amount": 5}, "a")),
            rig.loop.start(first.call("statement", {"account": "acme"}, "c")),
            rig.loop.start(first.call("slow", {"key": "b"}, "b")),
            rig.loop.start(first.call("slow", {"key": "d"}, "d")),
        ]
        pay, statement = rig.waiting("pay"), rig.waiting("statement")
        started = rig.logged(tool="slow", key="b", event="started")
        assert started["gateway"] == first.process.pid  # the upstream is the gateway's child
        rig.logged(tool="slow", key="d", event="started")
        (rig.folder / "release-d").touch()
        rig.logged(tool="slow", key="d", event="finished", timeout=5)
        first.process.send_signal(signal.SIGKILL)
        assert first.process.wait(10) == -signal.SIGKILL
    finally:
        first.stop()
    for client in cut_off[:3]:  # their clients lost the connection with the gateway
        with pytest.raises(Exception, match="unhandled errors"):
            client.result(20)
    try:  # d raced the kill: its client got the result just before, or lost the connection
        early = cut_off[3].result(20)
    except Exception as lost:
        assert "unhandled errors" in str(lost)
    else:
        assert early.content[0].text == "slow d done"

    # While the gateway is down, the inbox shows b in doubt, and finance approves a.
    run_b = run_id_for("bank", "client:b")
    (doubt,) = rig.api(f"/api/runs/{run_b}")["in_doubt"]
    assert json.loads(doubt["arguments"]) == {"key": "b"}
    assert rig.loop.run(_decide_pay(rig, pay.run_id)) > 0

    second = GatewayProcess(rig.config)
    try:
        retries = {
            key: rig.loop.start(second.call(tool, arguments, key))
            for key, tool, arguments in [
                ("e", "balance", {"account": "acme"}),
                ("a", "pay", {"account": "acme", "amount": 5}),
                ("c", "statement", {"account": "acme"}),
                ("b", "slow", {"key": "b"}),
                ("d", "slow", {"key": "d"}),
            ]
        }
        assert retries["e"].result(30).content[0].text == "acme: 120 EUR"
        assert retries["a"].result(30).content[0].text == "paid 5 EUR to acme"
        rig.loop.run(_review_statement(rig, statement.run_id))
        assert retries["c"].result(30).content[0].text == "acme: salary 3000, rent -1200"
        # b's lease dies with its process (LEASE_TTL); from then on the run is in doubt.
        in_doubt = retries["b"].result(60)
        assert in_doubt.is_error and in_doubt.meta["tether/error"] == "in_doubt"
        assert rig.api(f"/api/runs/{run_b}")["status"] == "in_doubt"
        raced = retries["d"].result(60)
        if raced.is_error:  # killed before the result was journaled: in doubt, not re-run
            assert raced.meta["tether/error"] == "in_doubt"
        else:
            assert raced.content[0].text == "slow d done"
    finally:
        second.stop()

    assert len(rig.log(tool="balance")) == 1
    assert len(rig.log(tool="pay")) == 1
    assert len(rig.log(tool="statement")) == 1
    assert len(rig.log(tool="slow", key="b", event="started")) == 1
    assert len(rig.log(tool="slow", key="d", event="started")) == 1


async def _decide_pay(rig: Rig, run_id: str) -> int:
    return await decide(
        rig.approver.store,
        run_id,
        rig.approver.agents[0],
        "call_0",
        decision="approve",
        by=ANA,
        fingerprint=(await load_state(rig.approver.store, run_id, rig.approver.agents[0]))
        .interruptions[0]
        .fingerprint,
        governance=rig.approver.governance,
    )


async def _review_statement(rig: Rig, run_id: str) -> None:
    agent = rig.approver.agents[0]
    state = await load_state(rig.approver.store, run_id, agent)
    await review(
        rig.approver.store,
        run_id,
        agent,
        state.interruptions[0].call_id,
        "released",
        by=ANA,
        fingerprint=state.interruptions[0].fingerprint,
        governance=rig.approver.governance,
    )
