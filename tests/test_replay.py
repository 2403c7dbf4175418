"""``tether replay`` and ``ReplayModel``: a run recorded in a real SQLite store (a scripted
model, an approval with edited arguments) rerun offline with its recorded model responses,
with the same agent and with one whose tool changed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import replay_agents
from replay_agents import (
    CLERK_SCRIPT,
    LEAD_SCRIPT,
    REVIEWED_SCRIPT,
    SCRIPT,
    lead_with,
    reviewed_shop,
    shop,
    shop_repriced,
)
from tether import Agent, Runner, RunState
from tether.approvals import RuleScope, grant_standing_approval
from tether.cli import main
from tether.errors import ReplayDivergedError, UserError
from tether.replay import replay_run
from tether.store import SQLiteRunStore, load_state, save_state
from tether.testing import ReplayModel, ScriptedModel, message, tool_call

TESTS = Path(__file__).parent
RUN = "order-1"


def ana_edits(state: RunState) -> None:
    state.approve(state.interruptions[0], by="ana", arguments={"item": "tea", "quantity": 3})


async def record(path: Path, *steps: Callable[[RunState], None]) -> Any:
    """The production run: each step a person's decisions on the paused run, saved; by
    default Ana approves the order with a quantity of 3, not 2. The final output."""
    agent = shop.clone(model=ScriptedModel(SCRIPT))
    store = SQLiteRunStore(path)
    try:
        first = await Runner.run(agent, "Buy tea", store=store, run_id=RUN)
        assert [item.tool_name for item in first.interruptions] == ["place_order"]
        for step in steps or (ana_edits,):
            state = await load_state(store, RUN, agent)
            step(state)
            await save_state(store, state)
        done = await Runner.run(agent, await load_state(store, RUN, agent), store=store)
        return done.final_output
    finally:
        await store.close()


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A SQLite store holding the recorded run; the tests folder as the current directory."""
    monkeypatch.chdir(TESTS)
    path = tmp_path / "runs.db"
    assert asyncio.run(record(path)) == "Ordered the tea."
    replay_agents.ORDERS.clear()
    return path


def replay(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    code = main(["replay", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_a_rerun_with_the_same_agent_is_identical(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "scratch.db"
    code, report = replay(
        capsys, str(recorded), RUN, "--agent", "replay_agents:shop", "--store-out", str(out)
    )
    assert code == 0 and report["identical"] and report["divergence"] is None
    assert report["final_output"] == {"recorded": "Ordered the tea.", "rerun": "Ordered the tea."}
    calls = report["tool_calls"]["rerun"]
    assert [(c["name"], json.loads(c["arguments"]), c["output"]) for c in calls] == [
        ("price", {"item": "tea"}, "tea: 12"),
        ("place_order", {"item": "tea", "quantity": 3}, "ordered 3 tea"),
    ]
    assert calls == report["tool_calls"]["recorded"]
    [decision] = report["decisions"]["rerun"]
    assert (decision["call_id"], decision["approved"], decision["by"]) == ("c_order", True, "ana")
    assert report["decisions"]["rerun"] == report["decisions"]["recorded"]
    # The tool really ran, with the approver's quantity, and the rerun is kept in --store-out.
    assert replay_agents.ORDERS == [("tea", 3)]
    assert asyncio.run(_status(out)) == "completed"


async def _status(path: Path) -> str:
    store = SQLiteRunStore(path)
    try:
        return (await store.load(RUN)).status
    finally:
        await store.close()


def test_a_changed_tool_diverges_at_its_output(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = replay(capsys, str(recorded), RUN, "--agent", "replay_agents:shop_repriced")
    assert code == 1 and not report["identical"]
    where = report["divergence"]
    assert where["recorded"]["kind"] == where["rerun"]["kind"] == "tool_completed"
    assert where["recorded"]["index"] == where["rerun"]["index"]
    assert where["recorded"]["fields"]["output"] == "tea: 12"
    assert where["rerun"]["fields"] == {"call_id": "c_price", "output": "tea: 15", "review": False}
    # The recorded answer no longer fits: the next model request stops the rerun.
    assert report["error"].startswith("ReplayDivergedError")
    assert report["final_output"]["rerun"] is None
    assert replay_agents.ORDERS == []  # never reached the order


def test_the_text_report_names_the_divergence(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["replay", str(recorded), RUN, "--agent", "replay_agents:shop_repriced"])
    text = capsys.readouterr().out
    assert code == 1 and "DIVERGED" in text
    assert (
        "first divergence: recorded event" in text and "(tool_completed: call_id='c_price'" in text
    )
    assert 'c_price: recorded price({"item": "tea"}) -> \'tea: 12\'; rerun' in text


def test_recorded_tools_reproduce_the_run_whatever_the_tools_do_now(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = replay(
        capsys,
        str(recorded),
        RUN,
        "--agent",
        "replay_agents:shop_repriced",
        "--tools",
        "recorded",
    )
    assert code == 0 and report["identical"]
    assert replay_agents.ORDERS == []  # no tool ran


def test_bad_input_fails_with_a_line(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(recorded), "nope", "--agent", "replay_agents:shop"]) == 1
    assert "nope" in capsys.readouterr().err
    assert main(["replay", str(recorded) + ".x", RUN, "--agent", "replay_agents:shop"]) == 1
    assert "no run store" in capsys.readouterr().err
    assert main(["replay", str(recorded), RUN, "--agent", "replay_agents:SCRIPT"]) == 1
    assert "not an Agent" in capsys.readouterr().err


def test_replay_in_process(recorded: Path) -> None:
    async def go() -> None:
        store = SQLiteRunStore(recorded)
        try:
            stored = await store.load(RUN)
        finally:
            await store.close()
        same = await replay_run(stored, shop)
        assert same.identical and same.rerun_output == "Ordered the tea."
        other = await replay_run(stored.events, shop_repriced)
        assert other.divergence is not None and other.divergence.rerun is not None
        assert other.divergence.rerun.fields["output"] == "tea: 15"
        with pytest.raises(UserError, match="started by agent 'Shop'"):
            await replay_run(stored, shop.clone(name="Other"))

    asyncio.run(go())


def test_the_replay_model_plays_back_one_agent_and_refuses_more(recorded: Path) -> None:
    async def go() -> None:
        store = SQLiteRunStore(recorded)
        try:
            stored = await store.load(RUN)
        finally:
            await store.close()
        model = ReplayModel.from_run(stored, agent_name="Shop")
        result = await Runner.run(shop.clone(model=model), "Buy tea")
        assert [item.tool_name for item in result.interruptions] == ["place_order"]
        with pytest.raises(UserError, match="no model response of agent 'Clerk'"):
            ReplayModel.from_run(stored.events, agent_name="Clerk")
        # A request past the recorded responses is a divergence, typed.
        short = ReplayModel(model.responses[:1], outputs=model.outputs)
        with pytest.raises(ReplayDivergedError, match="asked for response 2"):
            await Runner.run(shop.clone(model=short), "Buy tea")

    asyncio.run(go())


def test_a_rejection_and_a_withdrawn_approval_are_replayed_as_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(TESTS)
    rejected, revoked = tmp_path / "rejected.db", tmp_path / "revoked.db"

    def reject(state: RunState) -> None:
        state.reject(state.interruptions[0], by="bob", message="Not this week.")

    def withdraw(state: RunState) -> None:
        state.revoke("c_order", by="ana")

    def approve(state: RunState) -> None:
        state.approve(state.interruptions[0], by="bob")

    asyncio.run(record(rejected, reject))
    asyncio.run(record(revoked, ana_edits, withdraw, approve))
    replay_agents.ORDERS.clear()
    code, report = replay(capsys, str(rejected), RUN, "--agent", "replay_agents:shop")
    assert code == 0 and report["identical"]
    assert report["tool_calls"]["rerun"][1]["output"] == "Not this week."
    assert replay_agents.ORDERS == []
    # Ana's edit was withdrawn before the call started; Bob's approval is the one that ran.
    code, report = replay(capsys, str(revoked), RUN, "--agent", "replay_agents:shop")
    assert code == 0 and report["identical"]
    assert [d["by"] for d in report["decisions"]["recorded"]] == ["bob"]
    assert replay_agents.ORDERS == [("tea", 2)]


def test_an_output_review_is_replayed_as_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(TESTS)
    path = tmp_path / "reviewed.db"

    async def go() -> None:
        agent = reviewed_shop.clone(model=ScriptedModel(REVIEWED_SCRIPT))
        store = SQLiteRunStore(path)
        try:
            first = await Runner.run(agent, "Price of tea?", store=store, run_id=RUN)
            [item] = first.interruptions
            assert item.kind == "output_review"
            state = await load_state(store, RUN, agent)
            state.replace_output(item, "tea: 12", by="ana")
            await save_state(store, state)
            await Runner.run(agent, await load_state(store, RUN, agent), store=store)
        finally:
            await store.close()

    asyncio.run(go())
    code, report = replay(capsys, str(path), RUN, "--agent", "replay_agents:reviewed_shop")
    assert code == 0 and report["identical"], report
    assert report["final_output"]["rerun"] == "Tea is 12."


async def record_run(path: Path, agent: Agent[None], decide: Callable[[RunState], None]) -> Any:
    """A run of ``agent`` in a SQLite store, each pause decided by ``decide``; its events."""
    store = SQLiteRunStore(path)
    try:
        result = await Runner.run(agent, "Buy tea", store=store, run_id=RUN)
        while result.interruptions:
            state = await load_state(store, RUN, agent)
            decide(state)
            await save_state(store, state)
            result = await Runner.run(agent, await load_state(store, RUN, agent), store=store)
        return (await store.load(RUN)).events
    finally:
        await store.close()


TWO_ORDERS = [
    [
        tool_call("place_order", {"item": "tea", "quantity": 1}, "o1"),
        tool_call("place_order", {"item": "tea", "quantity": 2}, "o2"),
    ],
    message("Ordered twice."),
]


@pytest.mark.parametrize("rule", ["always", "standing approval"])
def test_calls_a_standing_rule_decided_are_decided_as_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], rule: str
) -> None:
    monkeypatch.chdir(TESTS)
    path = tmp_path / "rules.db"
    agent = shop.clone(model=ScriptedModel(TWO_ORDERS))

    def always(state: RunState) -> None:  # o2 then follows ana's always, automatically
        state.approve(state.interruptions[0], always=True, by="ana")

    async def go() -> Any:
        if rule == "standing approval":  # granted in the store: nobody is asked in the run
            store = SQLiteRunStore(path)
            try:
                await grant_standing_approval(
                    store,
                    agent,
                    "place_order",
                    by="ana",
                    scope=RuleScope.agent(),
                    match={"item": "tea"},
                    max_uses=2,
                    reason="tea week",
                )
            finally:
                await store.close()
        return await record_run(path, agent, always)

    events = asyncio.run(go())
    by_rule = [e.rule is not None for e in events if e.kind == "approval_decided"]
    assert by_rule == ([True, True] if rule == "standing approval" else [False, False])
    replay_agents.ORDERS.clear()
    code, report = replay(capsys, str(path), RUN, "--agent", "replay_agents:shop")
    assert code == 0 and report["identical"], report
    assert report["final_output"]["rerun"] == "Ordered twice."
    assert report["decisions"]["rerun"] == report["decisions"]["recorded"]
    assert sorted(replay_agents.ORDERS) == [("tea", 1), ("tea", 2)]


def test_the_nested_run_of_an_agent_tool_answers_with_its_recorded_responses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(TESTS)
    path = tmp_path / "nested.db"
    recorded_lead = lead_with(ScriptedModel(CLERK_SCRIPT)).clone(model=ScriptedModel(LEAD_SCRIPT))

    def approve(state: RunState) -> None:
        [item] = state.interruptions
        assert (item.tool_name, item.parent is not None) == ("place_order", True)
        state.approve(item, by="ana")

    events = asyncio.run(record_run(path, recorded_lead, approve))
    assert any(e.kind == "nested_run_recorded" for e in events)
    replay_agents.ORDERS.clear()
    replay_agents.REAL_MODEL_CALLS.clear()
    code, report = replay(capsys, str(path), RUN, "--agent", "replay_agents:lead")
    assert code == 0 and report["identical"], report
    assert report["final_output"]["rerun"] == "The clerk ordered."
    [ask] = report["tool_calls"]["rerun"]
    assert (ask["name"], ask["output"]) == ("ask_clerk", "1 tea.")
    assert replay_agents.REAL_MODEL_CALLS == []  # the clerk's own model was never asked
    assert replay_agents.ORDERS == [("tea", 1)]  # the nested order, approved as recorded
