"""A decision applies to the call its approver saw, and ``always`` stays within what that
approver may decide: regression tests for decisions that crossed agents or carried over to
other arguments, as a user of an in-memory run sees them."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from typing import Any

import pytest

from tether import (
    Agent,
    ApprovalPolicy,
    Approver,
    NotPendingError,
    Runner,
    RunState,
    StaleDecisionError,
    function_tool,
)
from tether.errors import DecisionMismatchError
from tether.journal import ApprovalDecided
from tether.journal._binding import fingerprint
from tether.testing import ScriptedModel, message, tool_call

RAN: list[str] = []


def _delete_tool(agent: str, **policy: Any) -> Any:
    @function_tool(name="delete", needs_approval=True, **policy)
    def delete(path: str) -> str:
        """Delete a file."""
        RAN.append(f"{agent} {path}")
        return f"deleted {path}"

    return delete


@pytest.fixture(autouse=True)
def _clear() -> None:
    RAN.clear()


def _decisions(state: RunState) -> list[tuple[str, bool, str | None, bool]]:
    return [
        (e.call_id, e.approved, e.by, e.automatic)
        for e in state.journal
        if isinstance(e, ApprovalDecided)
    ]


async def test_an_always_approval_does_not_cross_to_another_agents_tool_of_that_name() -> None:
    admins = Agent(
        name="B",
        model=ScriptedModel(
            [[tool_call("delete", {"path": "/prod"}, "call_b")], message("B done.")]
        ),
        tools=[_delete_tool("B", approvers={"admin"}, required_approvals=2)],
    )
    helper = Agent(
        name="A",
        model=ScriptedModel(
            [
                [tool_call("delete", {"path": "/tmp/x"}, "call_a")],
                [tool_call("transfer_to_b", {}, "h1")],
            ]
        ),
        tools=[_delete_tool("A")],
        handoffs=[admins],
    )
    result = await Runner.run(helper, "Clean up")
    [item] = result.interruptions
    state = result.to_state()
    state.approve(item, always=True, by="nobody")  # a person with no roles

    result = await Runner.run(helper, state)

    # B's own delete waits for two admins: the always of A's delete does not decide it.
    assert RAN == ["A /tmp/x"]
    assert [(i.agent_name, i.call_id) for i in result.interruptions] == [("B", "call_b")]
    assert _decisions(result.to_state()) == [("call_a", True, "nobody", False)]


async def test_an_always_approval_decides_only_the_later_calls_its_approver_may_decide() -> None:
    def small(approver: Approver, item: Any, ctx: Any) -> bool:
        return int(item.parsed_arguments["amount"]) < 100

    @function_tool(needs_approval=True, approvers=ApprovalPolicy(check=small))
    def refund(amount: int) -> str:
        """Refund an amount."""
        RAN.append(f"refund {amount}")
        return "refunded"

    agent = Agent(
        name="Support",
        model=ScriptedModel(
            [
                [tool_call("refund", {"amount": 10}, "r1")],
                [tool_call("refund", {"amount": 20}, "r2")],
                [tool_call("refund", {"amount": 500}, "r3")],
                message("Done."),
            ]
        ),
        tools=[refund],
    )
    result = await Runner.run(agent, "Refund")
    state = result.to_state()
    state.approve(result.interruptions[0], always=True, by="ana")
    result = await Runner.run(agent, state)

    # r2 (20) was hers to decide, so her always took it; r3 (500) is not: it waits.
    assert RAN == ["refund 10", "refund 20"]
    assert [i.call_id for i in result.interruptions] == ["r3"]
    assert _decisions(result.to_state()) == [("r1", True, "ana", False), ("r2", True, "ana", True)]


async def test_always_decides_the_turns_other_calls_at_once_each_on_its_own_fingerprint() -> None:
    agent = Agent(
        name="A",
        model=ScriptedModel(
            [
                [
                    tool_call("delete", {"path": "/a"}, "c1"),
                    tool_call("delete", {"path": "/b"}, "c2"),
                ],
                message("Done."),
            ]
        ),
        tools=[_delete_tool("A")],
    )
    result = await Runner.run(agent, "Clean up")
    state = result.to_state()
    first, second = result.interruptions
    state.approve(first, always=True, by="ana")

    # Decided now, not when the run goes on: nothing of the turn waits any more.
    assert state.interruptions == []
    automatic = [e for e in state.journal if isinstance(e, ApprovalDecided) and e.automatic]
    assert [(e.call_id, e.fingerprint, e.by) for e in automatic] == [
        ("c2", second.fingerprint, "ana")
    ]
    result = await Runner.run(agent, state)
    assert result.final_output == "Done."
    assert RAN == ["A /a", "A /b"]


async def test_an_always_decision_never_takes_a_four_eyes_call_of_the_same_turn() -> None:
    @function_tool(needs_approval=True, required_approvals=2)
    def wire(amount: int) -> str:
        """Wire money."""
        RAN.append(f"wire {amount}")
        return "wired"

    @function_tool(needs_approval=True)
    def note(text: str) -> str:
        """Take a note."""
        RAN.append(f"note {text}")
        return "noted"

    agent = Agent(
        name="A",
        model=ScriptedModel(
            [[tool_call("note", {"text": "x"}, "n1"), tool_call("wire", {"amount": 5}, "w1")]]
        ),
        tools=[wire, note],
    )
    result = await Runner.run(agent, "Go")
    state = result.to_state()
    with pytest.raises(Exception, match="always=True would let one approver"):
        state.approve("w1", always=True, by="ana")
    state.approve("n1", always=True, by="ana")
    assert [i.call_id for i in state.interruptions] == ["w1"]


async def test_a_decision_naming_other_arguments_is_refused_and_nothing_recorded() -> None:
    agent = Agent(
        name="A",
        model=ScriptedModel([[tool_call("delete", {"path": "/a"}, "call_0")]]),
        tools=[_delete_tool("A")],
    )
    result = await Runner.run(agent, "Clean up")
    state = result.to_state()
    before = len(state.journal)
    [item] = state.interruptions
    with pytest.raises(StaleDecisionError):
        state.approve("call_0", by="ana", fingerprint="sha256:" + "0" * 64)
    with pytest.raises(StaleDecisionError):
        state.reject("call_0", by="ana", fingerprint="sha256:" + "0" * 64)
    assert len(state.journal) == before
    state.approve("call_0", by="ana", fingerprint=item.fingerprint)
    assert _decisions(state) == [("call_0", True, "ana", False)]


async def test_a_reused_call_id_gets_no_decision_made_on_its_earlier_call() -> None:
    agent = Agent(
        name="A",
        model=ScriptedModel(
            [
                [tool_call("delete", {"path": "/tmp/old"}, "call_0")],
                [tool_call("delete", {"path": "/home"}, "call_0")],  # the same id, reused
                message("Done."),
            ]
        ),
        tools=[_delete_tool("A")],
    )
    result = await Runner.run(agent, "Clean up")
    [seen] = result.interruptions  # what the approver saw: /tmp/old
    state = result.to_state()
    state.approve(seen, by="ana")
    result = await Runner.run(agent, state)
    [now] = result.interruptions
    assert now.call_id == seen.call_id and now.arguments == '{"path": "/home"}'

    state = result.to_state()
    before = len(state.journal)
    # A replayed decision (the item, or its fingerprint) is refused: it saw /tmp/old.
    with pytest.raises(StaleDecisionError):
        state.approve(seen, by="ana")
    with pytest.raises(StaleDecisionError):
        state.approve("call_0", by="ana", fingerprint=seen.fingerprint)
    assert len(state.journal) == before
    assert RAN == ["A /tmp/old"]


async def test_a_decision_on_a_call_no_longer_pending_is_refused() -> None:
    agent = Agent(
        name="A",
        model=ScriptedModel([[tool_call("delete", {"path": "/a"}, "call_0")]]),
        tools=[_delete_tool("A")],
    )
    result = await Runner.run(agent, "Clean up")
    state = result.to_state()
    [item] = state.interruptions
    state.reject(item, by="ana")
    with pytest.raises(NotPendingError):
        state.approve(item, by="ben")
    assert Counter(e.approved for e in state.journal if isinstance(e, ApprovalDecided)) == {
        False: 1
    }


async def test_the_compatibility_module_keeps_the_runs_governance() -> None:
    from tether import Governance, NotAuthorizedError
    from tether import agents as compat

    governance = Governance(approvers=ApprovalPolicy(roles=frozenset({"ops"})))

    def agent() -> Agent[None]:
        return Agent(
            name="A",
            model=ScriptedModel([[tool_call("delete", {"path": "/a"}, "call_0")]]),
            tools=[_delete_tool("A")],
        )

    plain = (await Runner.run(agent(), "Clean up", governance=governance)).to_state()
    through = (await compat.Runner.run(agent(), "Clean up", governance=governance)).to_state()
    for state in (plain, through):
        [item] = state.interruptions
        with pytest.raises(NotAuthorizedError):
            state.approve(item)  # anonymous: the run's policy wants "ops"
        state.approve(item, by=Approver("olga", roles=frozenset({"ops"})))
        assert _decisions(state) == [("call_0", True, "olga", False)]


async def test_a_decision_changed_after_it_was_sealed_is_refused_in_the_same_process() -> None:
    # The fold recalls the seal of the decision just sealed instead of hashing it again; a
    # copy of it with another verdict, made right after, is another object: hashed, refused.
    agent = Agent(
        name="A",
        model=ScriptedModel([[tool_call("delete", {"path": "/a"}, "call_0")]]),
        tools=[_delete_tool("A")],
    )
    state = (await Runner.run(agent, "Clean up")).to_state()
    state.reject("call_0", by="ana")
    *earlier, decided = state.journal
    assert isinstance(decided, ApprovalDecided) and not decided.approved
    flipped = dataclasses.replace(decided, approved=True)  # the rejection's seal, kept
    with pytest.raises(DecisionMismatchError, match="seal"):
        RunState(agent, [*earlier, flipped])
    assert RunState(agent, [*earlier, decided]).status == "running"
    assert RAN == []


def escaped(text: str) -> str:
    """``text`` with each lone surrogate written as a lowercase JSON escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@pytest.mark.parametrize(
    ("agent", "tool", "call_id", "arguments"),
    [
        ("A", "delete", "call_0", '{"path": "/a", "force": true}'),
        ('é "q" \\', "t\n\x00", "c\u2028\ud800", '{"b": [1.5, "\\udfff"], "a": null}'),
        ("😀", "t", "c", "not json"),
    ],
)
def test_a_fingerprint_is_the_sha256_of_the_calls_json(
    agent: str, tool: str, call_id: str, arguments: str
) -> None:
    # What a saved state, the TypeScript interop and the inbox compare: it must not drift.
    parsed: Any = arguments
    try:
        parsed = json.loads(arguments)
        canonical = json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except ValueError:
        canonical = arguments
    text = json.dumps([agent, tool, call_id, escaped(canonical)], ensure_ascii=False)
    expected = "sha256:" + hashlib.sha256(escaped(text).encode()).hexdigest()
    assert fingerprint(agent, tool, call_id, arguments) == expected
