"""The OpenAI Agents SDK (openai-agents 0.24, in its own environment) as the gateway's client:
its own ``MCPServerStdio`` starts the gateway, its ``MCPServerStreamableHttp`` reaches one over
HTTP. A payment waits for finance, is approved through the inbox's HTTP API and returns the
upstream's result once; a rejected payment never reaches the upstream."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from openai_server import FakeOpenAIServer
from reference_env import reference_python as reference_python  # a fixture
from tether import Approver
from tether.gateway import Gateway, load_config
from tether.server import App, TokenAuth

from .conftest import HERE, ROOT, Loop, free_port, upstream_calls, wait_listening, write_config

TOKEN = "s3cret-ana"


class Inbox:
    """The inbox's side: the gateway's agents and store behind the inbox's HTTP API."""

    def __init__(self, config: Path) -> None:
        self.loop = Loop()
        self.gateway: Gateway = self.loop.hold(lambda: Gateway(load_config(config)))
        self.app = App(
            agents=self.gateway.agents,
            store=self.gateway.store,
            governance=self.gateway.governance,
            authenticate=TokenAuth({TOKEN: Approver("ana", roles=frozenset({"finance"}))}),
        )

    def api(self, method: str, path: str, body: Any = None) -> Any:
        async def send() -> Any:
            transport = httpx.ASGITransport(app=self.app)
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx.AsyncClient(transport=transport, base_url="http://inbox") as http:
                response = await http.request(method, path, json=body, headers=headers)
            assert response.status_code < 300, response.text
            return response.json()

        return self.loop.run(send())

    def decide(self, arguments: dict[str, Any], decision: str, **body: Any) -> None:
        """Wait for the payment with ``arguments`` to be pending, then decide it."""
        wanted = json.dumps(arguments)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rows = self.api("GET", "/api/approvals?tool=pay")["approvals"]
            row = next((r for r in rows if r["arguments"] == wanted), None)
            if row is not None:
                path = f"/api/runs/{row['run_id']}/calls/{row['call_id']}/decision"
                fingerprint = row["fingerprint"]
                self.api("POST", path, {"decision": decision, "fingerprint": fingerprint, **body})
                return
            time.sleep(0.05)
        raise AssertionError(f"no payment {wanted} waits")


def test_an_openai_agents_client_waits_for_the_decision_over_stdio_and_http(
    reference_python: Path, tmp_path: Path
) -> None:
    config = write_config(tmp_path)
    model = FakeOpenAIServer().start()
    for account, amount, call_id in [("acme", 12, "c1"), ("acme", 13, "c2"), ("evil", 9, "c3")]:
        model.responses.add(tool_calls=[("pay", {"account": account, "amount": amount}, call_id)])
        model.responses.add(text=f"Done with {account}.")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    port = free_port()
    command = ["-m", "tether.gateway", str(config), "--transport", "http", "--port", str(port)]
    gateway = subprocess.Popen([sys.executable, *command], env=env, stderr=subprocess.PIPE)
    inbox = Inbox(config)
    program: subprocess.Popen[str] | None = None
    try:
        wait_listening(port, gateway)
        url = f"http://127.0.0.1:{port}/mcp"
        program = subprocess.Popen(
            [reference_python, HERE / "agents_client.py", sys.executable, config, url],
            env={
                **env,
                "OPENAI_BASE_URL": model.url + "/v1",
                "OPENAI_API_KEY": "test",
                "OPENAI_AGENTS_DISABLE_TRACING": "1",
            },
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        inbox.decide({"account": "acme", "amount": 12}, "approve")
        inbox.decide({"account": "acme", "amount": 13}, "approve", reason="invoice 13")
        inbox.decide({"account": "evil", "amount": 9}, "reject", message="Not this account.")
        out, err = program.communicate(timeout=60)
        assert program.returncode == 0, err
    finally:
        if program is not None and program.poll() is None:
            program.kill()  # it failed to finish: the assertion above says why
            program.wait(10)
        inbox.loop.close()
        gateway.terminate()
        gateway.wait(10)
        model._http.shutdown()

    runs = [json.loads(line) for line in out.splitlines()]
    assert [run["transport"] for run in runs] == ["stdio", "http", "http"]
    assert [run["final"] for run in runs] == [f"Done with {a}." for a in ("acme", "acme", "evil")]
    seen = [json.dumps(run["tool_outputs"]) for run in runs]
    assert "paid 12 EUR to acme" in seen[0]
    assert "paid 13 EUR to acme" in seen[1]
    assert "Not this account." in seen[2] and "paid" not in seen[2]
    # The model saw what the agent's tool returned: the upstream's result, or the rejection.
    outputs = [_tool_output(request) for request in model.responses.requests[1::2]]
    assert "paid 12 EUR to acme" in outputs[0] and "Not this account." in outputs[2]
    pays = [call for call in upstream_calls(tmp_path) if call["tool"] == "pay"]
    assert pays == [
        {"tool": "pay", "account": "acme", "amount": 12, "memo": ""},
        {"tool": "pay", "account": "acme", "amount": 13, "memo": ""},
    ]


def _tool_output(request: dict[str, Any]) -> str:
    items = [i for i in request["input"] if i.get("type") == "function_call_output"]
    return str(items[-1]["output"])
