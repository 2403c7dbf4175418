"""The gateway over stdio: a real MCP client talks to ``python -m tether.gateway`` (its own
process), which calls a real upstream MCP server; approvers decide through the run store."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError

from tether import Approver, grant_standing_approval
from tether.approvals import RuleScope
from tether.gateway import REQUEST_KEY_META, Gateway, load_config
from tether.store import audit_run, decide, review

from .conftest import ROOT, Loop, upstream_calls, write_config

ANA = Approver("ana", roles=frozenset({"finance"}))


class Rig:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.config = write_config(folder)
        self.loop = Loop()
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "tether.gateway", str(self.config)],
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
            cwd=str(folder),
        )

        def client() -> Any:
            return _session(stdio_client(params))

        self.client: ClientSession = self.loop.hold(client)
        # The approver's side: the same configuration gives the same agents and store.
        self.approver: Gateway = self.loop.hold(lambda: Gateway(load_config(self.config)))

    def call(self, name: str, arguments: dict[str, Any], key: str | None = None) -> Any:
        return self.loop.run(self._call(name, arguments, key, []))

    def start(self, name: str, arguments: dict[str, Any], key: str, progress: list[str]) -> Any:
        return self.loop.start(self._call(name, arguments, key, progress))

    async def _call(
        self, name: str, arguments: dict[str, Any], key: str | None, progress: list[str]
    ) -> Any:
        async def report(done: float, total: float | None, message: str | None) -> None:
            progress.append(message or "")

        meta = {REQUEST_KEY_META: key} if key else None
        return await self.client.call_tool(name, arguments, progress_callback=report, meta=meta)

    def waiting(self, tool: str, timeout: float = 20) -> Any:
        """The pending row of ``tool`` once the gateway's run asked for a decision."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.loop.run(self.approver.store.pending_approvals(tool=tool))
            if rows:
                return rows[0]
            time.sleep(0.05)
        raise AssertionError(f"no call of {tool} waits")

    def decide(self, row: Any, decision: str, **options: Any) -> None:
        agent = self.approver.agents[0]
        fingerprint = self.loop.run(self._fingerprint(row.run_id, agent))
        self.loop.run(
            decide(
                self.approver.store,
                row.run_id,
                agent,
                row.call_id,
                decision=decision,  # type: ignore[arg-type]
                by=ANA,
                fingerprint=fingerprint,
                governance=self.approver.governance,
                **options,
            )
        )

    async def _fingerprint(self, run_id: str, agent: Any) -> str:
        from tether.store import load_state

        state = await load_state(self.approver.store, run_id, agent)
        return state.interruptions[0].fingerprint


def _session(transport: Any) -> Any:
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def opened() -> Any:
        async with transport as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            yield session

    return opened()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    made = Rig(tmp_path_factory.mktemp("gateway-stdio"))
    yield made
    made.loop.close()


def test_the_client_sees_the_upstream_tools_but_the_hidden_ones(rig: Rig) -> None:
    listed = rig.loop.run(rig.client.list_tools())
    tools = {tool.name: tool for tool in listed.tools}
    listed_names = {"balance", "pay", "transfer", "refund", "statement", "freeze", "slow", "crash"}
    assert set(tools) == listed_names
    assert tools["balance"].annotations is not None
    assert tools["balance"].annotations.read_only_hint is True
    assert tools["pay"].input_schema["required"] == ["account", "amount"]


def test_a_call_without_approval_returns_the_upstream_result_and_is_journaled(rig: Rig) -> None:
    result = rig.call("balance", {"account": "acme"})
    assert not result.is_error
    assert result.content[0].text == "acme: 120 EUR"
    run_id = result.meta["tether/run_id"]
    kinds = [r.kind for r in rig.loop.run(audit_run(rig.approver.store, run_id))]
    assert kinds == ["run_started", "started", "executed", "completed"]
    assert upstream_calls(rig.folder).count({"tool": "balance", "account": "acme"}) == 1


def test_an_approved_call_waits_then_runs_once_and_a_retry_returns_its_outcome(rig: Rig) -> None:
    progress: list[str] = []
    pending = rig.start("pay", {"account": "acme", "amount": 40}, "pay-1", progress)
    row = rig.waiting("pay")
    assert upstream_calls(rig.folder).count(_pay("acme", 40)) == 0
    time.sleep(0.3)  # a few progress notifications
    rig.decide(row, "approve")
    result = pending.result(20)
    assert not result.is_error
    assert result.content[0].text == "paid 40 EUR to acme"
    assert any("waiting for approval by finance of pay" in line for line in progress)
    again = rig.call("pay", {"account": "acme", "amount": 40}, key="pay-1")
    assert again.content[0].text == "paid 40 EUR to acme"
    assert upstream_calls(rig.folder).count(_pay("acme", 40)) == 1
    records = rig.loop.run(audit_run(rig.approver.store, row.run_id))
    decided = [r for r in records if r.kind == "decided"]
    assert [(r.by, r.verdict) for r in decided] == [("ana", "approved")]


def test_a_standing_approval_lets_matching_calls_through_without_a_pause(rig: Rig) -> None:
    agent = rig.approver.agents[0]
    rig.loop.run(
        grant_standing_approval(
            rig.approver.store,
            agent,
            "pay",
            by=ANA,
            reason="monthly globex invoice",
            match={"account": "globex"},
            scope=RuleScope.agent(),
            max_uses=1,
        )
    )
    result = rig.call("pay", {"account": "globex", "amount": 3})
    assert result.content[0].text == "paid 3 EUR to globex"
    records = rig.loop.run(audit_run(rig.approver.store, result.meta["tether/run_id"]))
    (decided,) = [r for r in records if r.kind == "decided"]
    assert (decided.by, decided.rule is not None) == ("ana", True)


def test_an_upstream_tool_error_is_a_tool_error(rig: Rig) -> None:
    result = rig.call("freeze", {"account": "nobody"})
    assert result.is_error
    assert "no account 'nobody'" in result.content[0].text
    assert result.meta["tether/error"] == "upstream_tool_error"


def test_a_reviewed_output_reaches_the_client_as_the_reviewer_left_it(rig: Rig) -> None:
    pending = rig.start("statement", {"account": "acme"}, "statement-1", [])
    row = rig.waiting("statement")
    assert row.kind == "output_review"
    assert upstream_calls(rig.folder).count({"tool": "statement", "account": "acme"}) == 1
    agent = rig.approver.agents[0]
    fingerprint = rig.loop.run(rig._fingerprint(row.run_id, agent))
    rig.loop.run(
        review(
            rig.approver.store,
            row.run_id,
            agent,
            row.call_id,
            "replaced",
            output="acme: 2 entries (amounts withheld)",
            by=ANA,
            fingerprint=fingerprint,
        )
    )
    result = pending.result(20)
    assert not result.is_error
    assert [c.text for c in result.content] == [
        "Note: a reviewer (ana) replaced the output.",
        "acme: 2 entries (amounts withheld)",
    ]
    assert upstream_calls(rig.folder).count({"tool": "statement", "account": "acme"}) == 1


def test_bad_requests_are_typed_errors_and_journal_nothing(rig: Rig) -> None:
    before = rig.loop.run(rig.approver.store.list_runs(limit=500))
    cases = [
        ("close_account", {"account": "acme"}, "unknown_tool"),  # hidden
        ("no_such_tool", {}, "unknown_tool"),
        ("pay", {"account": "acme"}, "invalid_arguments"),
        ("pay", {"account": "acme", "amount": "lots"}, "invalid_arguments"),
        ("balance", {"account": "x" * 70000}, "arguments_too_large"),
    ]
    for name, arguments, kind in cases:
        with pytest.raises(MCPError) as raised:
            rig.call(name, arguments)
        assert raised.value.code == -32602
        assert raised.value.data["type"] == kind, (name, arguments)
    after = rig.loop.run(rig.approver.store.list_runs(limit=500))
    assert len(after.runs) == len(before.runs)
    assert not any(call["tool"] == "close_account" for call in upstream_calls(rig.folder))


def test_a_request_id_reused_for_another_call_is_refused(rig: Rig) -> None:
    rig.call("balance", {"account": "acme"}, key="same")
    with pytest.raises(MCPError) as raised:
        rig.call("balance", {"account": "other"}, key="same")
    assert raised.value.data["type"] == "request_id_reused"


def _pay(account: str, amount: int) -> dict[str, Any]:
    return {"tool": "pay", "account": account, "amount": amount, "memo": ""}


def test_a_client_that_cannot_be_asked_is_refused_when_only_its_user_may_decide(rig: Rig) -> None:
    # balance of the vault: decided_by = "client"; this client declares no elicitation.
    before = rig.loop.run(rig.approver.store.list_runs(limit=500))
    with pytest.raises(MCPError) as raised:
        rig.call("balance", {"account": "vault"})
    assert raised.value.code == -32602
    assert raised.value.data["type"] == "elicitation_required"
    after = rig.loop.run(rig.approver.store.list_runs(limit=500))
    assert len(after.runs) == len(before.runs)
    assert {"tool": "balance", "account": "vault"} not in upstream_calls(rig.folder)
    # The same tool, where its arguments need no approval, runs for it.
    assert rig.call("balance", {"account": "acme"}).content[0].text == "acme: 120 EUR"


def test_a_client_that_cannot_be_asked_waits_for_the_inbox_when_policy_allows(rig: Rig) -> None:
    # refund: decided_by = "client_or_inbox"
    pending = rig.start("refund", {"account": "globex", "amount": 8}, "refund-1", [])
    row = rig.waiting("refund")
    rig.decide(row, "approve")
    result = pending.result(20)
    assert result.content[0].text == "refunded 8 EUR to globex"
    refund = {"tool": "refund", "account": "globex", "amount": 8}
    assert upstream_calls(rig.folder).count(refund) == 1
    records = rig.loop.run(audit_run(rig.approver.store, row.run_id))
    assert [(r.by, r.verdict) for r in records if r.kind == "decided"] == [("ana", "approved")]
