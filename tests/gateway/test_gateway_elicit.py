"""The client's own user decides (MCP elicitation): a real ``ClientSession`` with an
elicitation callback starts ``python -m tether.gateway CONFIG --client kim`` over stdio and
answers the gateway's questions (``refund``: ``decided_by = "client_or_inbox"``; ``balance``
of the vault: ``"client"``). A client without the capability: test_gateway_stdio.py."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client

from tether.gateway import Gateway, load_config
from tether.store import audit_run

from .conftest import ROOT, Loop, upstream_calls, write_config


class Rig:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.config = write_config(folder)
        self.loop = Loop()
        self.questions: list[str] = []
        self.answers: list[types.ElicitResult] = []

        async def answer(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
            self.questions.append(params.message)
            return self.answers.pop(0)

        named = ["--client", "kim"]
        self.asked: ClientSession = self.loop.hold(lambda: self._client(named, answer))
        # The approver's side: the same configuration gives the same agents and store.
        self.approver: Gateway = self.loop.hold(lambda: Gateway(load_config(self.config)))

    @asynccontextmanager
    async def _client(self, extra: list[str], answer: Any) -> Any:
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "tether.gateway", str(self.config), *extra],
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
            cwd=str(self.folder),
        )
        async with (
            stdio_client(params) as (read, write),
            ClientSession(read, write, elicitation_callback=answer) as session,
        ):
            await session.initialize()
            yield session

    def call(self, session: ClientSession, name: str, arguments: dict[str, Any]) -> Any:
        return self.loop.run(session.call_tool(name, arguments))

    def decisions(self, run_id: str) -> list[Any]:
        records = self.loop.run(audit_run(self.approver.store, run_id))
        return [r for r in records if r.kind == "decided"]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    made = Rig(tmp_path_factory.mktemp("gateway-elicit"))
    yield made
    made.loop.close()


def _refund(account: str, amount: int) -> dict[str, Any]:
    return {"tool": "refund", "account": account, "amount": amount}


def test_the_clients_user_approves_and_the_upstream_runs_once(rig: Rig) -> None:
    rig.answers.append(types.ElicitResult(action="accept", content={"reason": "customer asked"}))
    result = rig.call(rig.asked, "refund", {"account": "acme", "amount": 5})
    assert not result.is_error
    assert result.content[0].text == "refunded 5 EUR to acme"
    question = rig.questions[-1]
    assert "'refund'" in question and "'bank'" in question and '"amount": 5' in question
    assert upstream_calls(rig.folder).count(_refund("acme", 5)) == 1
    (decided,) = rig.decisions(result.meta["tether/run_id"])
    assert (decided.by, decided.verdict, decided.roles) == ("kim", "approved", ("finance",))
    assert decided.reason == "customer asked"


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("decline", "Declined by the client's user."),
        ("cancel", "The client's user dismissed the question without deciding"),
    ],
)
def test_a_declined_or_dismissed_question_rejects_the_call(
    rig: Rig, action: str, message: str
) -> None:
    amount = 6 if action == "decline" else 7
    rig.answers.append(types.ElicitResult(action=action))  # type: ignore[arg-type]
    result = rig.call(rig.asked, "refund", {"account": "acme", "amount": amount})
    assert result.is_error
    assert message in result.content[0].text
    assert (result.meta["tether/error"], result.meta["tether/by"]) == ("rejected", "kim")
    assert upstream_calls(rig.folder).count(_refund("acme", amount)) == 0
    (decided,) = rig.decisions(result.meta["tether/run_id"])
    assert (decided.by, decided.verdict) == ("kim", "rejected")


def test_only_the_clients_user_may_approve_and_is_asked_only_when_approval_is_needed(
    rig: Rig,
) -> None:
    asked = len(rig.questions)
    assert rig.call(rig.asked, "balance", {"account": "acme"}).content[0].text == "acme: 120 EUR"
    assert len(rig.questions) == asked  # no approval needed for these arguments: no question
    rig.answers.append(types.ElicitResult(action="accept"))
    result = rig.call(rig.asked, "balance", {"account": "vault"})
    assert result.content[0].text == "vault: 120 EUR"
    assert len(rig.questions) == asked + 1
