"""Withdrawing a decision before its call runs, as a user of an in-memory run sees it: the
call waits again and never runs on the withdrawn decision; a started call refuses it."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from tether import (
    Agent,
    Approver,
    Governance,
    NotAuthorizedError,
    Runner,
    RunState,
    UserError,
    function_tool,
)
from tether.approvals import verify_receipts
from tether.errors import DecisionMismatchError, NotRevocableError, StateFormatError
from tether.journal import DecisionRevoked, ToolStarted
from tether.testing import ScriptedModel, message, tool_call

KEY = "receipt-key"
ANA = Approver("ana", roles=frozenset({"finance"}))
BEN = Approver("ben", roles=frozenset({"finance"}))
CARL = Approver("carl", roles=frozenset({"finance"}))


def _agent(ran: list[str], turns: list[Any], *, required: int = 1) -> Agent[None]:
    @function_tool(needs_approval=True, approvers={"finance"}, required_approvals=required)
    def pay(invoice: str) -> str:
        """Pay an invoice."""
        ran.append(invoice)
        return f"paid {invoice}"

    return Agent(name="Payer", model=ScriptedModel(turns), tools=[pay])


def _one_call() -> list[Any]:
    return [[tool_call("pay", {"invoice": "A-1"}, "c1")], message("Paid.")]


async def _paused(agent: Agent[None], governance: Governance | None = None) -> RunState:
    result = await Runner.run(agent, "Pay it", governance=governance)
    assert result.interruptions
    return result.to_state()


def _reload(agent: Agent[None], state: RunState, extra: tuple[Any, ...] = ()) -> RunState:
    """The state as another process reads it (its journal folded again)."""
    return RunState(agent, [*state.journal, *extra], governance=state.governance)


async def test_a_withdrawn_approval_never_runs_and_the_call_waits_again() -> None:
    ran: list[str] = []
    agent = _agent(ran, _one_call())
    state = await _paused(agent)
    state.approve(state.interruptions[0], by=ANA, reason="looks right")
    state.revoke("c1", by=ANA, reason="wrong invoice")

    assert [item.call_id for item in state.interruptions] == ["c1"]
    resumed = await Runner.run(agent, _reload(agent, state))
    assert [item.call_id for item in resumed.interruptions] == ["c1"]
    assert ran == []

    # Decided again, it runs once.
    state = resumed.to_state()
    state.approve(state.interruptions[0], by=ANA)
    done = await Runner.run(agent, state)
    assert done.final_output == "Paid."
    assert ran == ["A-1"]


async def test_a_withdrawn_rejection_lets_the_call_be_approved() -> None:
    ran: list[str] = []
    agent = _agent(ran, _one_call())
    state = await _paused(agent)
    state.reject("c1", by=ANA, message="no")
    state.revoke("c1", by=ANA)
    state.approve("c1", by=ANA)
    assert (await Runner.run(agent, state)).final_output == "Paid."
    assert ran == ["A-1"]


async def test_revoking_a_started_or_completed_call_is_refused() -> None:
    ran: list[str] = []
    agent = _agent(ran, _one_call())
    state = await _paused(agent)
    state.approve("c1", by=ANA)
    started = _reload(agent, state, (ToolStarted("c1"),))  # a worker wrote it, then crashed
    before = len(started.journal)
    with pytest.raises(NotRevocableError, match="in_doubt"):
        started.revoke("c1", by=ANA)
    assert len(started.journal) == before

    done = (await Runner.run(agent, state)).to_state()
    assert ran == ["A-1"]
    with pytest.raises(NotRevocableError):
        done.revoke("c1", by=ANA)


async def test_nothing_to_revoke_is_refused() -> None:
    agent = _agent([], _one_call())
    state = await _paused(agent)
    with pytest.raises(NotRevocableError, match="no decision"):
        state.revoke("c1", by=ANA)  # undecided
    with pytest.raises(NotRevocableError, match="current turn"):
        state.revoke("nope", by=ANA)


async def test_only_the_approver_who_decided_may_withdraw_and_only_while_allowed() -> None:
    agent = _agent([], _one_call())
    state = await _paused(agent)
    state.approve("c1", by=ANA)
    before = state.journal
    with pytest.raises(NotRevocableError, match="own"):
        state.revoke("c1", by=BEN)
    demoted = Approver("ana", roles=frozenset({"support"}))  # the same person, no longer finance
    with pytest.raises(NotAuthorizedError):
        state.revoke("c1", by=demoted)
    assert state.journal == before
    assert state.interruptions == []  # still approved


async def test_four_eyes_one_approval_of_two_withdrawn_still_waits_for_two() -> None:
    ran: list[str] = []
    agent = _agent(ran, _one_call(), required=2)
    state = await _paused(agent)
    state.approve("c1", by=ANA)
    state.approve("c1", by=BEN)
    assert state.interruptions == []

    state.revoke("c1", by=ANA)  # the first (partial) one: Ben's alone is 1 of 2
    assert [item.call_id for item in state.interruptions] == ["c1"]
    resumed = await Runner.run(agent, _reload(agent, state))
    assert [item.call_id for item in resumed.interruptions] == ["c1"]
    assert ran == []

    state = resumed.to_state()
    with pytest.raises(NotAuthorizedError):  # Ben's approval still counts
        state.approve("c1", by=BEN)
    state.approve("c1", by=CARL)
    assert (await Runner.run(agent, state)).final_output == "Paid."
    assert ran == ["A-1"]


async def test_four_eyes_the_last_approval_withdrawn_leaves_the_first() -> None:
    agent = _agent([], _one_call(), required=2)
    state = await _paused(agent)
    state.approve("c1", by=ANA)
    state.approve("c1", by=BEN)
    state.revoke("c1", by=BEN)
    reloaded = _reload(agent, state)
    assert [item.call_id for item in reloaded.interruptions] == ["c1"]
    reloaded.approve("c1", by=CARL)  # Ana's and Carl's: two
    assert reloaded.interruptions == []


async def test_a_withdrawn_always_approval_decides_no_other_call() -> None:
    ran: list[str] = []
    turns = [
        [tool_call("pay", {"invoice": "A-1"}, "c1"), tool_call("pay", {"invoice": "A-2"}, "c2")],
        [tool_call("pay", {"invoice": "A-3"}, "c3")],
        message("Paid."),
    ]
    agent = _agent(ran, turns)
    state = await _paused(agent)
    state.approve("c1", always=True, by=ANA)
    assert state.interruptions == []  # c2 approved by the always decision too

    state.revoke("c1", by=ANA)
    assert [item.call_id for item in state.interruptions] == ["c1", "c2"]
    revoked = [e for e in state.journal if isinstance(e, DecisionRevoked)]
    assert [(e.call_id, e.by) for e in revoked] == [("c1", "ana"), ("c2", "ana")]

    state = _reload(agent, state)
    state.approve("c1", by=ANA)
    state.approve("c2", by=ANA)
    later = await Runner.run(agent, state)
    assert ran == ["A-1", "A-2"]
    assert [item.call_id for item in later.interruptions] == ["c3"]  # no longer "always"


async def test_withdrawing_a_decision_an_always_made_ends_the_always() -> None:
    ran: list[str] = []
    turns = [
        [tool_call("pay", {"invoice": "A-1"}, "c1"), tool_call("pay", {"invoice": "A-2"}, "c2")],
        message("Paid."),
    ]
    agent = _agent(ran, turns)
    state = await _paused(agent)
    state.approve("c1", always=True, by=ANA)
    state.revoke("c2", by=ANA)  # the automatic one: c1's decision stands
    assert [item.call_id for item in state.interruptions] == ["c2"]
    resumed = await Runner.run(agent, _reload(agent, state))
    assert ran == ["A-1"]
    assert [item.call_id for item in resumed.interruptions] == ["c2"]


async def test_the_audit_trail_and_receipts_show_the_withdrawal() -> None:
    agent = _agent([], _one_call())
    governance = Governance(receipt_key=KEY)
    state = await _paused(agent, governance)
    state = RunState(agent, state.journal, governance=governance)
    state.approve("c1", by=ANA)
    state.revoke("c1", by=ANA, reason="wrong invoice")

    trail = [r for r in state.audit() if r.call_id == "c1"]
    assert [r.kind for r in trail] == ["requested", "decided", "revoked"]
    decided, revoked = trail[1], trail[2]
    assert (revoked.by, revoked.reason, revoked.revokes) == ("ana", "wrong invoice", decided.seq)
    assert revoked.receipt

    checks = verify_receipts(state.journal, KEY)
    assert [(c.verdict, c.status, c.revoked, c.honoured) for c in checks] == [
        ("approved", "valid", True, False),
        ("revoked", "valid", False, True),
    ]


async def test_an_edited_or_misplaced_withdrawal_is_refused_on_load() -> None:
    agent = _agent([], _one_call())
    state = await _paused(agent)
    state.approve("c1", by=ANA)
    state.revoke("c1", by=ANA)
    *head, revocation = state.journal
    assert isinstance(revocation, DecisionRevoked)
    with pytest.raises(DecisionMismatchError, match="seal"):
        RunState(agent, [*head, dataclasses.replace(revocation, reason="edited")])
    # A withdrawal written after the call started: the fold refuses it.
    with pytest.raises(StateFormatError, match="withdrawal"):
        RunState(agent, [*head, ToolStarted("c1"), revocation])


async def test_revoke_refuses_bad_arguments_and_records_nothing() -> None:
    agent = _agent([], _one_call())
    state = await _paused(agent)
    state.approve("c1", by=ANA)
    before = state.journal
    with pytest.raises(UserError, match="reason must be a str"):
        state.revoke("c1", by=ANA, reason=3)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="Decide on an item"):
        state.revoke(7, by=ANA)  # type: ignore[arg-type]
    assert state.journal == before


async def test_a_withdrawn_edit_puts_back_the_models_arguments() -> None:
    ran: list[str] = []

    @function_tool(needs_approval=True, editable=True)
    def pay(invoice: str) -> str:
        """Pay an invoice."""
        ran.append(invoice)
        return f"paid {invoice}"

    agent = Agent(name="Payer", model=ScriptedModel(_one_call()), tools=[pay])
    state = await _paused(agent)
    asked = state.interruptions[0]
    state.approve(asked, arguments={"invoice": "B-2"}, by=ANA)
    state.revoke("c1", by=ANA, fingerprint=state.journal[-1].edited_fingerprint)  # type: ignore[union-attr]

    [waiting] = _reload(agent, state).interruptions
    assert (waiting.arguments, waiting.fingerprint) == (asked.arguments, asked.fingerprint)
    assert waiting.original_arguments is None
    state = _reload(agent, state)
    state.approve(waiting, by=ANA)
    assert (await Runner.run(agent, state)).final_output == "Paid."
    assert ran == ["A-1"]


async def test_the_gateway_reports_the_decision_that_stood_not_a_withdrawn_one() -> None:
    from tether.gateway._outcome import outcome

    upstream = json.dumps({"content": [{"type": "text", "text": "sent hi"}], "isError": False})

    @function_tool(needs_approval=True)
    def relay(text: str) -> str:
        """An upstream MCP tool: the gateway's run ends on its result."""
        return upstream

    model = ScriptedModel([[tool_call("relay", {"text": "hi"}, "c1")], message(upstream)])
    agent = Agent(name="Gateway", model=model, tools=[relay])
    state = await _paused(agent)
    state.reject("c1", by=ANA, message="no")
    state.revoke("c1", by=ANA, reason="misclicked")  # the rejection no longer stands
    state.approve("c1", by=ANA)
    done = await Runner.run(agent, state)
    result = outcome(done.to_state().journal, "completed", done.run_id)
    assert not result.is_error
    assert [c.text for c in result.content if c.type == "text"] == ["sent hi"]
