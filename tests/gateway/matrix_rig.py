"""The rig of the client matrix (test_gateway_matrix.py): one gateway over streamable HTTP,
one inbox served over HTTP on the same store (its API decides, its page for the browser),
and each client's session of five calls made at once (every client's at the same time),
decided as they arrive.

Every client calls as its own account (the client's name), so the upstream's log tells its
calls apart: ``pay`` 1 (approved), 2 (rejected), 3 (approved with the amount edited to 30),
``transfer`` 4 (four-eyes: ana, then bob) and ``freeze bigcorp`` (its approval expires after
half a second; nobody decides it).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import httpx2
import uvicorn
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from tether import Approver
from tether.gateway import Gateway, load_config
from tether.mcp import MCPServerStdio, MCPServerStreamableHttp
from tether.server import App, TokenAuth

from .conftest import ROOT, Loop, free_port, upstream_calls, wait_listening, write_config

PEOPLE = {
    "tok-ana": Approver("ana", roles=frozenset({"finance"})),
    "tok-bob": Approver("bob", roles=frozenset({"finance"})),
}
REJECTION = "Not this account."
EDITED = 30
Call = tuple[str, dict[str, Any]]


def calls_for(account: str) -> dict[str, Call]:
    """A client's five calls, by the outcome each is for."""
    return {
        "approve": ("pay", {"account": account, "amount": 1}),
        "reject": ("pay", {"account": account, "amount": 2}),
        "edit": ("pay", {"account": account, "amount": 3}),
        "four_eyes": ("transfer", {"source": account, "target": "payroll", "amount": 4}),
        "expire": ("freeze", {"account": "bigcorp"}),
    }


def reached(folder: Path, tool: str, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    """The upstream's calls of ``tool`` with (at least) ``arguments``."""
    return [
        call
        for call in upstream_calls(folder)
        if call["tool"] == tool and all(call.get(k) == v for k, v in arguments.items())
    ]


@dataclass
class Seen:
    """A call's result as the client received it."""

    texts: list[str]
    is_error: bool | None = None
    """``None``: the client hands over text alone (the Agents SDK gives its model no flag)."""
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, result: types.CallToolResult) -> Seen:
        texts = [c.text for c in result.content if isinstance(c, types.TextContent)]
        return cls(texts, bool(result.is_error), dict(result.meta or {}))


@dataclass
class Decided:
    """What the approvers saw while deciding a client's calls."""

    waited: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Each decided call's upstream calls when it was first seen pending (none: it waited)."""
    after_one: tuple[Any, list[dict[str, Any]]] | None = None
    """The four-eyes call after ana's approval: its approvals, and the upstream's calls."""
    audit: list[tuple[str, str]] = field(default_factory=list)
    """The four-eyes run's decisions: (who, verdict)."""
    requested_by: str | None = None
    """Who asked for the four-eyes call, as the inbox shows it."""


@dataclass
class Observed:
    """One client's session: its results, what the approvers saw, the upstream's log."""

    account: str
    results: dict[str, Seen]
    decided: Decided
    upstream: list[dict[str, Any]]


class Inbox:
    """The inbox's HTTP API, as ana or bob."""

    def __init__(self, url: str) -> None:
        self.url = url

    def api(self, token: str, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        response = httpx.request(method, self.url + path, json=body, headers=headers, timeout=30)
        assert response.status_code < 300, response.text
        return response.json()

    def rows(self) -> list[dict[str, Any]]:
        return list(self.api("tok-ana", "GET", "/api/approvals?limit=500")["approvals"])

    def decide(self, token: str, row: dict[str, Any], decision: str, **body: Any) -> None:
        path = f"/api/runs/{row['run_id']}/calls/{row['call_id']}/decision"
        answer = {"decision": decision, "fingerprint": row["fingerprint"], **body}
        self.api(token, "POST", path, answer)


class Rig:
    """The module's gateway (HTTP, its own process) and inbox (served on the loop)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.config = write_config(folder)
        self.env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        port = free_port()
        command = ["-m", "tether.gateway", str(self.config), "--transport", "http"]
        self.process = subprocess.Popen(
            [sys.executable, *command, "--port", str(port)],
            env=self.env,
            cwd=folder,
            stderr=subprocess.PIPE,
        )
        self.gateway_url = f"http://127.0.0.1:{port}/mcp"
        self.loop = Loop()
        # The inbox process: the gateway's agents, its store and governance, people's tokens.
        approver = self.loop.hold(lambda: Gateway(load_config(self.config)))
        self.app = App(
            agents=approver.agents,
            store=approver.store,
            governance=approver.governance,
            authenticate=TokenAuth(PEOPLE),
            sse_poll_interval=0.2,
        )
        self.inbox = Inbox(self.loop.hold(lambda: served(self.app)))
        wait_listening(port, self.process)

    def close(self) -> None:
        self.loop.close()
        self.process.terminate()
        self.process.wait(10)

    def stdio_params(self, client: str) -> StdioServerParameters:
        """A stdio gateway that names ``client`` as who asks (``--client``)."""
        return StdioServerParameters(
            command=sys.executable,
            args=["-m", "tether.gateway", str(self.config), "--client", client],
            env=self.env,
            cwd=str(self.folder),
        )

    @asynccontextmanager
    async def http_session(self) -> AsyncIterator[ClientSession]:
        """An ``mcp`` client session with the module's HTTP gateway."""
        async with (
            httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=120)) as http,
            streamable_http_client(self.gateway_url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


@asynccontextmanager
async def served(app: App) -> AsyncIterator[str]:
    """``app`` served by uvicorn on a free loopback port, on this loop; its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the inbox stopped before it listened")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


# -- the clients: each makes its calls at once, in one session -------------------------------


async def mcp_stdio(rig: Rig, calls: list[Call]) -> list[Seen]:
    async with (
        stdio_client(rig.stdio_params("mcp-stdio")) as (read, write),
        ClientSession(read, write) as s,
    ):
        await s.initialize()
        results = await asyncio.gather(*(s.call_tool(tool, args) for tool, args in calls))
    return [Seen.of(result) for result in results]


async def mcp_http(rig: Rig, calls: list[Call]) -> list[Seen]:
    async with rig.http_session() as session:
        results = await asyncio.gather(*(session.call_tool(t, args) for t, args in calls))
    return [Seen.of(result) for result in results]


async def tether_stdio(rig: Rig, calls: list[Call]) -> list[Seen]:
    params = rig.stdio_params("tether-stdio")
    server = MCPServerStdio(
        "bank", command=params.command, args=params.args, env=rig.env, cwd=rig.folder
    )
    async with server:
        results = await asyncio.gather(*(server.call_tool(t, args) for t, args in calls))
    return [Seen.of(result) for result in results]


async def tether_http(rig: Rig, calls: list[Call]) -> list[Seen]:
    async with MCPServerStreamableHttp("bank", url=rig.gateway_url) as server:
        results = await asyncio.gather(*(server.call_tool(t, args) for t, args in calls))
    return [Seen.of(result) for result in results]


IN_PROCESS = {
    "mcp-stdio": mcp_stdio,
    "mcp-http": mcp_http,
    "tether-stdio": tether_stdio,
    "tether-http": tether_http,
}


def start(rig: Rig) -> dict[str, Any]:
    """Every in-process client's session, started at once; a future of its results each."""
    return {
        client: rig.loop.start(open_session(rig, list(calls_for(client).values())))
        for client, open_session in IN_PROCESS.items()
    }


def observed(rig: Rig, client: str, results: list[Seen], decided: Decided) -> Observed:
    calls = calls_for(client)
    return Observed(
        client, dict(zip(calls, results, strict=True)), decided, upstream_calls(rig.folder)
    )


DECIDED = ("approve", "reject", "edit", "four_eyes")
"""The outcomes a person decides (an expiring call is left alone)."""


def decide(rig: Rig, alive: Callable[[str], None], accounts: list[str]) -> dict[str, Decided]:
    """Decide each account's calls as they arrive in the inbox, each by its outcome;
    ``alive(account)`` raises if that client ended while its calls still wait."""
    decided = {account: Decided() for account in accounts}
    todo = {(account, outcome) for account in accounts for outcome in DECIDED}
    calls = {(a, o): call for a in accounts for o, call in calls_for(a).items()}
    deadline = time.monotonic() + 90
    while todo:
        for account in {account for account, _ in todo}:
            alive(account)
        assert time.monotonic() < deadline, f"these calls never waited: {sorted(todo)}"
        for row in rig.inbox.rows():
            key = next((k for k, call in calls.items() if _is(row, call)), None)
            if key in todo and _act(rig, row, key[1], calls[key], decided[key[0]]):
                todo.discard(key)
        time.sleep(0.05)
    return decided


def _act(rig: Rig, row: dict[str, Any], outcome: str, call: Call, decided: Decided) -> bool:
    """Decide ``row`` for ``outcome``; whether it is decided for good."""
    inbox, (tool, arguments) = rig.inbox, call
    if outcome not in decided.waited:
        decided.waited[outcome] = reached(rig.folder, tool, arguments)
    if outcome == "approve":
        inbox.decide("tok-ana", row, "approve")
    elif outcome == "reject":
        inbox.decide("tok-ana", row, "reject", message=REJECTION)
    elif outcome == "edit":
        inbox.decide("tok-ana", row, "approve", arguments={**arguments, "amount": EDITED})
    elif decided.after_one is None:
        inbox.decide("tok-ana", row, "approve")
        # Still waiting, for another person (as its run shows it), and not run.
        (shown,) = inbox.api("tok-bob", "GET", f"/api/runs/{row['run_id']}")["pending"]
        decided.after_one = (shown["approvals"], reached(rig.folder, tool, arguments))
        decided.requested_by = shown.get("requested_by")
        return False
    else:
        inbox.decide("tok-bob", row, "approve")
        run = inbox.api("tok-ana", "GET", f"/api/runs/{row['run_id']}")
        decided.audit = [(a["by"], a["verdict"]) for a in run["audit"] if a["kind"] == "decided"]
    return True


def _is(row: dict[str, Any], call: Call) -> bool:
    return (row["tool"], json.loads(row["arguments"])) == call
