"""The gateway's newer client patterns, with real ``ClientSession``s over stdio.

- The client's own user decides (MCP elicitation): a client with an elicitation callback
  starts ``python -m tether.gateway CONFIG --client kim`` and answers the gateway's
  questions (``refund``: ``decided_by = "client_or_inbox"``; ``balance`` of the vault:
  ``"client"``). A client without the capability: test_gateway_stdio.py.
- ``input_required`` (2026-07-28): a client that connected with ``server/discover`` gets
  a sealed request state at once for a call that waits, and comes back with it (on a new
  connection, to a new gateway process, too) for the outcome.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError

from tether import Approver
from tether.gateway import INPUT_REQUIRED_META, Gateway, load_config
from tether.gateway._elicit import QUESTION_KEY
from tether.store import audit_run, decide, load_state

from .conftest import ROOT, Loop, upstream_calls, write_config

STATE_KEY = "GATEWAY_TEST_STATE_KEY"
ANA = Approver("ana", roles=frozenset({"finance"}))
PAUSE = {INPUT_REQUIRED_META: True}


class Rig:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.config = write_config(folder, request_state_key_env=STATE_KEY)
        self.loop = Loop()
        self.questions: list[str] = []
        self.answers: list[types.ElicitResult | types.ErrorData] = []

        async def answer(context: Any, params: types.ElicitRequestParams) -> Any:
            self.questions.append(params.message)
            return self.answers.pop(0)

        named = ["--client", "kim"]
        self.asked: ClientSession = self.loop.hold(lambda: self._client(named, answer))
        # 2026-07-28, no name: it declares elicitation too (its questions come in results).
        self.modern: ClientSession = self.loop.hold(lambda: self._client([], answer, modern=True))
        # The approver's side: the same configuration gives the same agents and store.
        self.approver: Gateway = self.loop.hold(lambda: Gateway(load_config(self.config)))

    @asynccontextmanager
    async def _client(self, extra: list[str], answer: Any, *, modern: bool = False) -> Any:
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
            await (session.discover() if modern else session.initialize())
            yield session

    def call(self, session: ClientSession, name: str, arguments: dict[str, Any]) -> Any:
        return self.loop.run(session.call_tool(name, arguments))

    def decisions(self, run_id: str) -> list[Any]:
        records = self.loop.run(audit_run(self.approver.store, run_id))
        return [r for r in records if r.kind == "decided"]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv(STATE_KEY, "a test key of the request states, 40 bytes")
        made = Rig(tmp_path_factory.mktemp("gateway-asks"))
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


def test_a_client_that_fails_to_ask_its_user_leaves_the_call_to_the_policy(rig: Rig) -> None:
    # "client": nobody else may decide, so the call is rejected, saying why.
    rig.answers.append(types.ErrorData(code=-32603, message="no user at the keyboard"))
    result = rig.call(rig.asked, "balance", {"account": "vault"})
    assert result.is_error and "could not ask its user" in result.content[0].text
    (decided,) = rig.decisions(result.meta["tether/run_id"])
    assert (decided.by, decided.verdict) == ("kim", "rejected")
    assert "no user at the keyboard" in (decided.reason or "")
    # "client_or_inbox": the call waits for the inbox, and is not asked about again.
    rig.answers.append(types.ErrorData(code=-32603, message="no user at the keyboard"))
    asked = len(rig.questions)
    pending = rig.loop.start(rig.asked.call_tool("refund", {"account": "initech", "amount": 10}))
    row = rig.loop.run(_waiting(rig, "refund", "initech"))
    for _ in range(400):  # the gateway asks once the run waits; the client answers an error
        if len(rig.questions) > asked and not rig.answers:
            break
        time.sleep(0.05)
    assert not pending.done()
    rig.loop.run(_approve(rig, row.run_id))
    assert pending.result(20).content[0].text == "refunded 10 EUR to initech"
    assert len(rig.questions) == asked + 1
    assert [(d.by, d.verdict) for d in rig.decisions(row.run_id)] == [("ana", "approved")]


def _pay(account: str, amount: int) -> dict[str, Any]:
    return {"tool": "pay", "account": account, "amount": amount, "memo": ""}


async def _come_back(
    session: ClientSession,
    arguments: dict[str, Any],
    state: str,
    tool: str = "pay",
    responses: dict[str, Any] | None = None,
) -> Any:
    """Call again with ``state`` until the outcome comes (each answer a fresh state)."""
    for _ in range(400):
        result = await session.call_tool(
            tool,
            arguments,
            request_state=state,
            input_responses=responses,
            allow_input_required=True,
        )
        if not isinstance(result, types.InputRequiredResult):
            return result
        assert result.request_state is not None
        state = result.request_state
        await asyncio.sleep(0.05)
    raise AssertionError("the call never ended")


def test_a_waiting_call_answers_input_required_and_its_outcome_comes_back_later(rig: Rig) -> None:
    arguments = {"account": "acme", "amount": 41}
    first = rig.loop.run(
        rig.modern.call_tool("pay", arguments, allow_input_required=True, meta=PAUSE)
    )
    assert isinstance(first, types.InputRequiredResult)
    assert first.request_state is not None and "acme" not in first.request_state  # sealed
    assert first.meta is not None
    run_id = first.meta["tether/run_id"]
    assert first.meta["tether/waiting"].startswith("waiting for approval by finance of pay")
    again = rig.loop.run(
        rig.modern.call_tool(
            "pay", arguments, request_state=first.request_state, allow_input_required=True
        )
    )
    assert isinstance(again, types.InputRequiredResult)  # still waits: the same call
    assert again.meta is not None and again.meta["tether/run_id"] == run_id
    assert upstream_calls(rig.folder).count(_pay("acme", 41)) == 0
    rig.loop.run(_approve(rig, run_id))

    async def reconnected() -> Any:  # a new connection: a new gateway process, the same key
        async with rig._client([], None, modern=True) as session:
            return await _come_back(session, arguments, first.request_state or "")

    result = rig.loop.run(reconnected())
    assert result.content[0].text == "paid 41 EUR to acme"
    assert result.meta["tether/run_id"] == run_id
    # The first connection reads the same outcome; the upstream was called once.
    same = rig.loop.run(_come_back(rig.modern, arguments, again.request_state or ""))
    assert same.content[0].text == "paid 41 EUR to acme"
    assert upstream_calls(rig.folder).count(_pay("acme", 41)) == 1


def test_a_request_state_is_good_only_for_its_own_call(rig: Rig) -> None:
    arguments = {"account": "acme", "amount": 42}
    first = rig.loop.run(
        rig.modern.call_tool("pay", arguments, allow_input_required=True, meta=PAUSE)
    )
    assert isinstance(first, types.InputRequiredResult) and first.request_state is not None
    for other, state in [
        ({"account": "acme", "amount": 4200}, first.request_state),  # other arguments
        (arguments, first.request_state[:-4] + "AAAA"),  # tampered with
    ]:
        with pytest.raises(MCPError) as raised:
            rig.loop.run(
                rig.modern.call_tool("pay", other, request_state=state, allow_input_required=True)
            )
        assert raised.value.code == -32602
    assert _pay("acme", 4200) not in upstream_calls(rig.folder)


def test_a_call_that_needs_nobody_answers_at_once(rig: Rig) -> None:
    result = rig.loop.run(rig.modern.call_tool("balance", {"account": "acme"}, meta=PAUSE))
    assert result.content[0].text == "acme: 120 EUR"


def test_a_call_that_does_not_ask_for_input_required_stays_open(rig: Rig) -> None:
    # A 2026-07-28 client that does not say it comes back (as most do not yet).
    arguments = {"account": "acme", "amount": 43}
    pending = rig.loop.start(rig.modern.call_tool("pay", arguments))
    row = rig.loop.run(_waiting(rig, "pay", '"amount": 43'))
    rig.loop.run(_approve(rig, row.run_id))
    assert pending.result(20).content[0].text == "paid 43 EUR to acme"


async def _waiting(rig: Rig, tool: str, text: str) -> Any:
    """The pending row of the call of ``tool`` whose arguments hold ``text``."""
    for _ in range(400):
        for row in await rig.approver.store.pending_approvals(tool=tool):
            if text in row.arguments:
                return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"no call of {tool} with {text} waits")


async def _approve(rig: Rig, run_id: str) -> None:
    agent = rig.approver.agents[0]
    state = await load_state(rig.approver.store, run_id, agent)
    (item,) = state.interruptions
    await decide(
        rig.approver.store,
        run_id,
        agent,
        item.call_id,
        decision="approve",
        by=ANA,
        fingerprint=item.fingerprint,
        governance=rig.approver.governance,
    )


@pytest.mark.parametrize(
    ("tool", "arguments", "action", "outcome"),
    [
        ("refund", {"account": "acme", "amount": 9}, "accept", "refunded 9 EUR to acme"),
        ("balance", {"account": "vault"}, "decline", "Declined by the client's user."),
    ],
)
def test_a_paused_call_asks_the_clients_user_in_its_input_required_result(
    rig: Rig, tool: str, arguments: dict[str, Any], action: str, outcome: str
) -> None:
    call = {"tool": tool, **arguments}
    before = upstream_calls(rig.folder).count(call)
    first = rig.loop.run(
        rig.modern.call_tool(tool, arguments, allow_input_required=True, meta=PAUSE)
    )
    assert isinstance(first, types.InputRequiredResult) and first.input_requests is not None
    asked = first.input_requests[QUESTION_KEY]
    assert isinstance(asked, types.ElicitRequest)
    assert f"{tool!r}" in asked.params.message
    assert json.dumps(arguments, indent=2).splitlines()[1].strip() in asked.params.message
    answer = types.ElicitResult(action=action, content={"reason": "checked"})  # type: ignore[arg-type]
    result = rig.loop.run(
        _come_back(rig.modern, arguments, first.request_state or "", tool, {QUESTION_KEY: answer})
    )
    assert outcome in result.content[0].text
    assert result.is_error is (action != "accept")
    reached = upstream_calls(rig.folder).count(call) - before
    assert reached == (1 if action == "accept" else 0)
    (decided,) = rig.decisions(result.meta["tether/run_id"])
    verdict = "approved" if action == "accept" else "rejected"
    assert (decided.by, decided.verdict, decided.reason) == ("client", verdict, "checked")
