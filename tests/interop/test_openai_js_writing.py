"""What ``to_openai_js`` writes for finished runs, and what it refuses to write, saying why."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from tether import Agent, Runner, RunState
from tether.interop import InteropError, to_openai_js
from tether.journal import RunStarted, ToolStarted
from tether.testing import ScriptedModel, message, tool_call

from .node import node, resume_in_js
from .weather_policy import QUESTION, Graph, get_temperature


async def paused(scenario: str = "one") -> RunState:
    graph = Graph(scenario)
    return (await Runner.run(graph.root, QUESTION)).to_state()


async def test_a_finished_run_loads_in_ts_with_its_whole_history(tmp_path: Path) -> None:
    graph = Graph("two")
    state = (await Runner.run(graph.root, QUESTION)).to_state()
    state.approve("call_oak")
    state.reject("call_par", message="Not Paris")
    result = await Runner.run(graph.root, state)
    path = tmp_path / "final.json"
    path.write_text(to_openai_js(result.to_state()))

    seen = json.loads(node("inspect.mjs", "two", str(path)))

    assert seen["interruptions"] == []
    assert seen["usage"]["requests"] == 3
    assert seen["history"][-1] == ["message", "assistant", result.final_output]
    assert [item[:2] for item in seen["history"]] == [
        ["message", "user"],
        ["function_call", "call_time"],
        ["function_call_output", "call_time"],
        ["function_call", "call_oak"],
        ["function_call", "call_par"],
        ["function_call_output", "call_oak"],
        ["function_call_output", "call_par"],
        ["message", "assistant"],
    ]


async def test_a_state_neither_paused_nor_finished_is_refused() -> None:
    agent = Graph("one").root
    state = RunState(
        agent, [RunStarted("run_1", agent.name, [{"role": "user", "content": "hi"}], 5)]
    )
    with pytest.raises(InteropError, match="neither"):
        to_openai_js(state)


async def test_a_call_in_doubt_is_refused() -> None:
    state = await paused()
    [item] = state.interruptions
    state.approve(item)
    journal = [*state.journal, ToolStarted(item.call_id)]
    with pytest.raises(InteropError, match=r"\['call_oak'\] started and never completed"):
        to_openai_js(RunState(Graph("one").root, journal))


async def test_a_call_whose_doubt_a_person_settled_is_refused() -> None:
    state = await paused()
    [item] = state.interruptions
    state.approve(item)
    doubtful = RunState(Graph("one").root, [*state.journal, ToolStarted(item.call_id)])
    doubtful.resolve_doubt(item.call_id, "output", output="20C", by="ops")
    with pytest.raises(InteropError, match=r"settled by a person \(output\)"):
        to_openai_js(doubtful)


async def test_a_handoff_taken_in_the_paused_turn_is_refused() -> None:
    model = ScriptedModel(
        [[tool_call("get_temperature", {"city": "Oakland"}, "c1"), tool_call("transfer_to_b", {})]]
    )
    b = Agent[Any](name="B", model=ScriptedModel([message("hi")]))
    a = Agent[Any](name="A", model=model, tools=[get_temperature], handoffs=[b])
    state = (await Runner.run(a, "go")).to_state()
    with pytest.raises(InteropError, match="already took a handoff"):
        to_openai_js(state)


async def test_session_history_and_context_that_is_not_an_object_are_refused() -> None:
    agent = Graph("one").root
    start = RunStarted("run_1", agent.name, [{"role": "user", "content": "hi"}], 5)
    with_history = RunStarted(
        "run_1", agent.name, start.input, 5, history=[{"role": "user", "content": "earlier"}]
    )
    state = await paused()
    journal = list(state.journal)
    with pytest.raises(InteropError, match="session"):
        to_openai_js(RunState(agent, [with_history, *journal[1:]]))
    with pytest.raises(InteropError, match="JSON object"):
        to_openai_js(RunState(agent, journal, context=["not", "an", "object"]))


async def test_an_edited_approval_is_refused_and_the_unedited_one_runs_in_ts(
    tmp_path: Path,
) -> None:
    # @openai/agents-core 0.20 has no edited approvals: tether refuses to export one rather
    # than pass the edit off as the model's call. The same run approved as it is converts,
    # and TypeScript runs the model's arguments.
    graph = Graph("one")
    editable = dataclasses.replace(get_temperature, editable=True)
    weather = dataclasses.replace(graph.weather, tools=[editable, *graph.weather.tools[1:]])
    text = (await Runner.run(weather, QUESTION)).to_state().to_string()

    edited = RunState.from_string(weather, text)
    edited.approve("call_oak", arguments={"city": "Paris"}, by="ana")
    with pytest.raises(InteropError, match="edited by ana"):
        to_openai_js(edited)

    unedited = RunState.from_string(weather, text)
    unedited.approve("call_oak", by="ana")
    js = resume_in_js("one", to_openai_js(unedited), tmp_path)
    assert js["finalOutput"] == "Done: call_oak=The temperature in Oakland is 20C"
    assert js["toolRuns"] == {"get_temperature": 1}


async def test_reminders_and_escalations_carry_nothing_to_ts() -> None:
    from datetime import UTC, datetime, timedelta

    from tether import Escalation
    from tether.approvals._escalation import steps

    state = await paused()
    escalation = Escalation(
        remind_after=timedelta(minutes=1), escalate_after=timedelta(minutes=2), escalate_to="ops"
    )
    later = datetime.now(UTC) + timedelta(hours=1)
    events = steps(state.view, later, escalation)
    assert [e.kind for e in events] == ["approval_reminded", "approval_escalated"]
    waited = RunState(state.agent, [*state.journal, *events])
    assert json.loads(to_openai_js(waited)) == json.loads(to_openai_js(state))
