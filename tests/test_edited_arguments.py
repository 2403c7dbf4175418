"""Approving a call with edited arguments: the tool runs the edit, the model sees it, the
journal and the audit trail keep both, and nothing about it can be changed afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runners import MODES, RunFn
from tether import Agent, Approver, Runner, RunState, UserError, function_tool
from tether.errors import (
    DecisionMismatchError,
    EditNotAllowedError,
    InvalidEditError,
    StateSignatureError,
)
from tether.sessions import SQLiteSession
from tether.store import SQLiteRunStore, decide
from tether.testing import ScriptedModel, message, tool_call

ANA = Approver("ana", roles=frozenset({"ops"}))
BEN = Approver("ben", roles=frozenset({"ops"}))


def weather_agent(
    turns: list[Any], *, editable: Any = True, required_approvals: int | None = None
) -> tuple[Agent[Any], ScriptedModel, list[str]]:
    ran: list[str] = []

    @function_tool(
        needs_approval=True,
        editable=editable,
        approvers={"ops"} if required_approvals else None,
        required_approvals=required_approvals,
    )
    def get_weather(city: str, days: int = 1) -> str:
        """Get the weather for a city."""
        ran.append(f"{city}/{days}")
        return f"sunny in {city} for {days} day(s)"

    model = ScriptedModel(turns)
    return Agent(name="Weather", model=model, tools=[get_weather]), model, ran


def call_items(request_input: list[Any]) -> list[dict[str, Any]]:
    return [
        dict(item)
        for item in request_input
        if item.get("type") in ("function_call", "function_call_output")
    ]


@pytest.mark.parametrize("mode", list(MODES))
async def test_the_tool_runs_the_edit_and_the_model_sees_the_call_as_it_ran(mode: str) -> None:
    run: RunFn = MODES[mode]()
    agent, model, ran = weather_agent(
        [[tool_call("get_weather", {"city": "Pariss"}, "c1")], message("Sunny.")]
    )
    result = await run(agent, "Weather in Paris?")
    state = result.to_state()
    state.approve(state.interruptions[0], arguments={"city": "Paris", "days": 2}, by=ANA)
    result = await run(agent, state)

    assert result.final_output == "Sunny."
    assert ran == ["Paris/2"]
    assert call_items(model.requests[-1].input) == [
        {
            "type": "function_call",
            "name": "get_weather",
            "arguments": '{"city":"Paris","days":2}',
            "call_id": "c1",
        },
        {"type": "function_call_output", "call_id": "c1", "output": "sunny in Paris for 2 day(s)"},
    ]
    # The journal keeps what the model asked for.
    responded = [e for e in result.to_state().journal if e.kind == "model_responded"]
    assert responded[0].output[0]["arguments"] == '{"city": "Pariss"}'


async def test_an_edit_that_does_not_fit_the_schema_is_refused_and_the_call_stays_pending() -> None:
    agent, _, ran = weather_agent(
        [[tool_call("get_weather", {"city": "Pariss"}, "c1")], message("ok")]
    )
    state = (await Runner.run(agent, "Weather?")).to_state()
    before = len(state.journal)

    with pytest.raises(InvalidEditError, match="days") as caught:
        state.approve("c1", arguments={"city": "Paris", "days": "many"}, by=ANA)
    assert caught.value.field == "days"
    with pytest.raises(InvalidEditError) as caught:
        state.approve("c1", arguments={"town": "Paris"}, by=ANA)
    assert caught.value.field in ("city", "town")
    with pytest.raises(InvalidEditError, match="must be a dict"):
        state.approve("c1", arguments=["Paris"], by=ANA)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="always=True"):
        state.approve("c1", True, arguments={"city": "Paris"}, by=ANA)

    assert len(state.journal) == before
    assert [item.call_id for item in state.interruptions] == ["c1"]
    assert state.interruptions[0].arguments == '{"city": "Pariss"}'
    state = RunState.from_string(agent, state.to_string())  # still a loadable, pending state
    state.approve("c1", arguments={"city": "Paris"}, by=ANA)
    await Runner.run(agent, state)
    assert ran == ["Paris/1"]


async def test_a_tool_that_did_not_opt_in_refuses_an_edit() -> None:
    agent, _, ran = weather_agent(
        [[tool_call("get_weather", {"city": "Pariss"}, "c1")], message("ok")], editable=False
    )
    state = (await Runner.run(agent, "Weather?")).to_state()
    with pytest.raises(EditNotAllowedError, match="does not allow edited arguments"):
        state.approve("c1", arguments={"city": "Paris"}, by=ANA)
    assert [item.call_id for item in state.interruptions] == ["c1"]
    state.approve("c1", by=ANA)
    await Runner.run(agent, state)
    assert ran == ["Pariss/1"]


async def test_an_editable_predicate_decides_who_may_edit() -> None:
    seen: list[tuple[str | None, str, Any]] = []

    def only_ops(approver: Approver | None, item: Any, ctx: Any) -> bool:
        seen.append((approver.id if approver else None, item.arguments, ctx))
        return approver is not None and "ops" in approver.roles

    agent, _, ran = weather_agent(
        [[tool_call("get_weather", {"city": "Pariss"}, "c1")], message("ok")],
        editable=only_ops,
    )
    state = (await Runner.run(agent, "Weather?", context={"team": "blue"})).to_state()
    with pytest.raises(EditNotAllowedError, match="'guest'"):
        state.approve("c1", arguments={"city": "Paris"}, by=Approver("guest"))
    state.approve("c1", arguments={"city": "Paris"}, by=ANA)
    assert seen == [
        ("guest", '{"city": "Pariss"}', {"team": "blue"}),
        ("ana", '{"city": "Pariss"}', {"team": "blue"}),
    ]
    await Runner.run(agent, state)
    assert ran == ["Paris/1"]


def test_a_fresh_process_resume_keeps_the_edit(tmp_path: Path) -> None:
    script = Path(__file__).parent / "edit_app.py"
    state_file = tmp_path / "state.json"

    def step(name: str) -> str:
        done = subprocess.run(
            [sys.executable, str(script), str(state_file), name],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert step("start") == "paused"
    assert step("edit") == "edited"
    outcome = json.loads(step("resume"))
    assert outcome["ran"] == ["Paris"]
    assert outcome["final"] == "ok"
    assert outcome["sent"][-2:] == [
        {"type": "function_call", "name": "get_weather", "arguments": '{"city":"Paris"}',
         "call_id": "c1"},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny in Paris"},
    ]  # fmt: skip


async def test_a_signed_state_refuses_a_changed_edit_and_an_unsigned_one_its_seal() -> None:
    agent, _, ran = weather_agent(
        [[tool_call("get_weather", {"city": "Pariss"}, "c1")], message("ok")]
    )
    state = (await Runner.run(agent, "Weather?")).to_state()
    state.approve("c1", arguments={"city": "Paris"}, by=ANA)

    def tampered(text: str) -> str:
        document = json.loads(text)
        for event in document["journal"]:
            if event["kind"] == "approval_decided":
                event["edited_arguments"] = '{"city":"Atlantis"}'
        return json.dumps(document)

    key = "k" * 32
    signed = state.to_string(signing_key=key)
    with pytest.raises(StateSignatureError):
        RunState.from_string(agent, tampered(signed), signing_key=key)
    with pytest.raises(DecisionMismatchError):
        RunState.from_string(agent, tampered(state.to_string(signing_key=False)))
    loaded = RunState.from_string(agent, signed, signing_key=key)
    await Runner.run(agent, loaded)
    assert ran == ["Paris/1"]


async def test_the_audit_trail_shows_the_original_the_edit_and_the_editor() -> None:
    agent, _, _ = weather_agent(
        [[tool_call("get_weather", {"city": "Pariss"}, "c1")], message("ok")]
    )
    state = (await Runner.run(agent, "Weather?")).to_state()
    state.approve("c1", arguments={"city": "Paris"}, by=ANA, reason="typo in the city")
    result = await Runner.run(agent, state)
    trail = {record.kind: record for record in result.to_state().audit()}

    assert trail["requested"].arguments == '{"city": "Pariss"}'
    decided = trail["decided"]
    assert (decided.by, decided.verdict, decided.reason) == ("ana", "approved", "typo in the city")
    assert decided.arguments == '{"city": "Pariss"}'
    assert decided.edited_arguments == '{"city":"Paris"}'
    assert trail["started"].arguments == '{"city":"Paris"}'
    assert trail["executed"].arguments == '{"city":"Paris"}'
    assert trail["executed"].output == "sunny in Paris for 1 day(s)"


async def test_four_eyes_an_edit_starts_the_count_of_approvals_afresh() -> None:
    agent, model, ran = weather_agent(
        [[tool_call("get_weather", {"city": "Pariss"}, "c1")], message("ok")],
        required_approvals=2,
    )
    state = (await Runner.run(agent, "Weather?")).to_state()
    state.approve("c1", by=BEN)  # ben approved the model's arguments
    state.approve("c1", arguments={"city": "Paris"}, by=ANA)  # ana edits: ben's no longer counts

    [item] = state.interruptions
    assert item.arguments == '{"city":"Paris"}'
    assert item.original_arguments == '{"city": "Pariss"}'
    assert item.edited_by == "ana"
    state = RunState.from_string(agent, state.to_string())
    state.approve(state.interruptions[0], by=BEN)  # ben approves what will run
    await Runner.run(agent, state)
    assert ran == ["Paris/1"]
    assert call_items(model.requests[-1].input)[0]["arguments"] == '{"city":"Paris"}'


async def test_a_decision_shown_the_arguments_before_an_edit_is_refused() -> None:
    agent, _, ran = weather_agent(
        [[tool_call("get_weather", {"city": "Pariss"}, "c1")], message("ok")],
        required_approvals=2,
    )
    state = (await Runner.run(agent, "Weather?")).to_state()
    shown_to_ben = state.interruptions[0]
    state.approve("c1", arguments={"city": "Paris"}, by=ANA)
    with pytest.raises(DecisionMismatchError):
        state.approve(shown_to_ben, by=BEN)
    assert ran == []


async def test_the_session_stores_the_call_as_it_ran_once(tmp_path: Path) -> None:
    agent, _, _ = weather_agent(
        [[tool_call("get_weather", {"city": "Pariss"}, "c1")], message("Sunny.")]
    )
    path = str(tmp_path / "s.db")
    async with SQLiteSession("user-1", path) as session:
        result = await Runner.run(agent, "Weather in Paris?", session=session)
        state = RunState.from_string(agent, result.to_state().to_string())
        state.approve("c1", arguments={"city": "Paris"}, by=ANA)
        await Runner.run(agent, state, session=session)
        items = await session.get_items()
    calls = [dict(i) for i in items if i.get("type") == "function_call"]
    assert [c["arguments"] for c in calls] == ['{"city":"Paris"}']
    assert [i.get("type") for i in items].count("function_call_output") == 1


async def test_a_server_managed_conversation_gets_the_output_and_a_note() -> None:
    agent, model, ran = weather_agent(
        [[tool_call("get_weather", {"city": "Pariss"}, "c1")], message("Sunny.")]
    )
    result = await Runner.run(agent, "Weather?", auto_previous_response_id=True)
    state = result.to_state()
    state.approve("c1", arguments={"city": "Paris"}, by=ANA)
    await Runner.run(agent, state)
    sent = [dict(item) for item in model.requests[-1].input]
    assert model.requests[-1].previous_response_id is not None
    output = "sunny in Paris for 1 day(s)"
    assert sent[0] == {"type": "function_call_output", "call_id": "c1", "output": output}
    assert sent[1]["role"] == "developer"
    assert '{"city":"Paris"}' in sent[1]["content"] and "edited" in sent[1]["content"]
    assert len(sent) == 2
    assert ran == ["Paris/1"]


async def test_the_store_decides_with_an_edit_and_the_inbox_shows_the_edited_call(
    tmp_path: Path,
) -> None:
    agent, model, ran = weather_agent(
        [[tool_call("get_weather", {"city": "Pariss"}, "c1")], message("ok")],
        required_approvals=2,
    )
    async with SQLiteRunStore(tmp_path / "runs.db") as store:
        result = await Runner.run(agent, "Weather?", store=store)
        with pytest.raises(InvalidEditError):
            await decide(
                store, result.run_id, agent, "c1", decision="approve", by=ANA, arguments={"days": 1}
            )
        [row] = await store.pending_approvals(run_id=result.run_id)
        assert row.arguments == '{"city": "Pariss"}'
        await decide(
            store,
            result.run_id,
            agent,
            "c1",
            decision="approve",
            by=ANA,
            arguments={"city": "Paris"},
        )
        [row] = await store.pending_approvals(run_id=result.run_id)
        assert row.arguments == '{"city":"Paris"}'
        await decide(store, result.run_id, agent, "c1", decision="approve", by=BEN)
        assert await store.pending_approvals(run_id=result.run_id) == []
        await Runner.resume(agent, result.run_id, store=store)
    assert ran == ["Paris/1"]
    assert call_items(model.requests[-1].input)[0]["arguments"] == '{"city":"Paris"}'


async def test_the_typescript_export_refuses_an_edited_call() -> None:
    from tether.interop import InteropError, to_openai_js

    agent, _, _ = weather_agent(
        [[tool_call("get_weather", {"city": "Pariss"}, "c1")], message("ok")]
    )
    state = (await Runner.run(agent, "Weather?")).to_state()
    to_openai_js(state)  # paused and undecided: converts
    state.approve("c1", arguments={"city": "Paris"}, by=ANA)
    with pytest.raises(InteropError, match="edited by ana"):
        to_openai_js(state)
