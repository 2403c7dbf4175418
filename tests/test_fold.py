"""The fold is the only model of a run: what is waiting, the run's status (failed included),
and an event it refuses changes nothing."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tether import Agent, MaxTurnsExceeded, Runner, RunState, StateError, Usage, function_tool
from tether.errors import StateFormatError
from tether.journal import (
    ApprovalRequested,
    Call,
    Journal,
    ModelResponded,
    RunFailed,
    RunRetried,
    RunStarted,
    ToolCompleted,
    ToolStarted,
)
from tether.run import run_state_of
from tether.testing import ScriptedModel, message, tool_call
from weather_app import RUNS, weather_agent


def _paused_state() -> RunState:
    return RunState.from_string(weather_agent(ScriptedModel([])), _PAUSED)


_PAUSED = ""


@pytest.fixture(autouse=True)
async def paused() -> None:
    global _PAUSED
    model = ScriptedModel([tool_call("get_temperature", {"city": "Oakland"}), message("20°C.")])
    result = await Runner.run(weather_agent(model), "Temperature in Oakland?")
    _PAUSED = result.to_state().to_string()


def _journal(state: RunState) -> list[Any]:
    return list(state.journal)


async def test_a_call_that_waits_for_approval_can_neither_start_nor_complete() -> None:
    state = _paused_state()
    (item,) = state.interruptions
    before = state.to_string()
    for event in (ToolStarted(item.call_id), ToolCompleted(item.call_id, "done anyway")):
        with pytest.raises(StateFormatError, match="pending"):
            RunState(state.agent, [*_journal(state), event])
    # Nor through a state's own journal: nothing was recorded.
    assert state.to_string() == before
    assert state.status == "waiting"


async def test_a_refused_model_response_leaves_the_run_as_it_was() -> None:
    model = ScriptedModel([message("Hello.")])
    agent = Agent("plain", model=model)
    result = await Runner.run(agent, "Hi")
    events = _journal(result.to_state())
    started = [e for e in events if isinstance(e, RunStarted)]
    responded = [e for e in events if isinstance(e, ModelResponded)]
    journal = RunState(agent, started)._journal
    view = journal.view
    bad = ModelResponded(
        "plain",
        [tool_call("get_time", {}, "c1"), {"type": "function_call", "name": "x"}],
    )
    with pytest.raises(StateFormatError, match="call_id"):
        journal.append(bad)
    # The turn, the calls and the conversation are untouched, and the journal goes on.
    assert (view.turns, view.calls, len(journal)) == (0, {}, 1)
    journal.append(responded[0])
    assert view.turns == 1


async def test_a_model_response_needs_every_output_of_the_turn_before() -> None:
    state = _paused_state()
    (item,) = state.interruptions
    with pytest.raises(StateFormatError, match="no output"):
        RunState(state.agent, [*_journal(state), ModelResponded("weather", [message("Hi")])])
    assert item.call_id in state.to_string()


async def test_a_run_that_raises_records_its_failure_and_says_failed() -> None:
    @function_tool
    def ping() -> str:
        return "pong"

    model = ScriptedModel([tool_call("ping", {}), tool_call("ping", {}), message("done")])
    agent = Agent("pinger", model=model, tools=[ping])
    with pytest.raises(MaxTurnsExceeded) as raised:
        await Runner.run(agent, "ping twice", max_turns=1)
    state = run_state_of(raised.value)
    assert state is not None
    assert state.status == "failed"
    assert state.failure is not None
    assert (state.failure.error, state.failure.retryable) == ("MaxTurnsExceeded", False)
    assert isinstance(state.journal[-1], RunFailed)

    # Saved and loaded, it is still failed; resuming it tries again (with a new budget).
    loaded = RunState.from_string(agent, state.to_string())
    assert loaded.status == "failed"
    result = await Runner.run(agent, loaded, max_turns=5)
    assert result.final_output == "done"


async def test_only_a_failed_run_can_be_retried_and_a_failed_run_does_not_advance() -> None:
    state = _paused_state()
    with pytest.raises(StateFormatError, match="has not failed"):
        RunState(state.agent, [*_journal(state), RunRetried(by="ana")])
    failed = [*_journal(state), RunFailed("HookError", "boom")]
    assert RunState(state.agent, failed).status == "failed"
    (item,) = state.interruptions
    with pytest.raises(StateFormatError, match="after the run failed"):
        RunState(state.agent, [*failed, ToolStarted(item.call_id)])
    retried = RunState(state.agent, [*failed, RunRetried(by="ana")])
    assert retried.status == "waiting"
    assert [i.call_id for i in retried.interruptions] == [item.call_id]


async def test_status_follows_the_calls() -> None:
    RUNS.clear()
    state = _paused_state()
    assert state.status == "waiting"
    (item,) = state.interruptions
    state.approve(item)
    assert state.status == "running"
    with_start = RunState(state.agent, [*_journal(state), ToolStarted(item.call_id)])
    assert with_start.status == "in_doubt"
    agent = weather_agent(ScriptedModel([message("20°C.")]))
    result = await Runner.run(agent, RunState(agent, _journal(state)))
    assert result.to_state().status == "completed"
    assert RUNS["get_temperature"] == 1


async def test_an_idempotent_call_in_doubt_is_resolved_by_the_system_before_it_runs_again() -> None:
    runs: list[str] = []

    @function_tool(idempotent=True)
    def lookup(city: str) -> str:
        runs.append(city)
        return "found"

    model = ScriptedModel([tool_call("lookup", {"city": "Oslo"}, "c1"), message("ok")])
    agent = Agent("finder", model=model, tools=[lookup])
    result = await Runner.run(agent, "find")
    events = _journal(result.to_state())
    cut = next(i for i, e in enumerate(events) if isinstance(e, ToolStarted)) + 1
    state = RunState(agent, events[:cut])
    assert state.status == "in_doubt"
    model2 = ScriptedModel([message("ok")])
    agent2 = Agent("finder", model=model2, tools=[lookup])
    resumed = await Runner.run(agent2, RunState(agent2, events[:cut]))
    assert resumed.final_output == "ok"
    kinds = [e.kind for e in resumed.to_state().journal]
    assert kinds[cut : cut + 3] == ["run_resumed", "doubt_resolved", "tool_started"]
    assert runs == ["Oslo", "Oslo"]


def test_approval_requested_is_still_checked_against_the_call() -> None:
    # A request naming other arguments is refused: the gate holds for loaded journals too.
    agent = weather_agent(ScriptedModel([]))
    call = tool_call("get_temperature", {"city": "Oakland"}, "c1")
    events = [
        RunStarted("r1", "weather", [], 5),
        ModelResponded("weather", [call]),
        ApprovalRequested("c1", "weather", "get_temperature", '{"city": "Paris"}', "f" * 64),
    ]
    with pytest.raises(StateError, match="does not match the call"):
        RunState(agent, events)


def test_a_new_call_has_every_field_at_its_default() -> None:
    # ``Call.__init__`` is written out (not generated): a field it forgot would be unset.
    item = tool_call("get_temperature", {"city": "Oakland"}, "c1")
    call = Call(item, "weather", 3)
    given = {"item": item, "agent": "weather", "index": 3}
    given |= {"hosted": False, "call_id": "c1", "name": "get_temperature"}
    for each in dataclasses.fields(Call):
        expected = given.get(each.name, each.default)
        assert getattr(call, each.name) == expected, each.name
    assert call.status.value == "new"


def test_the_view_sums_the_usage_of_every_response() -> None:
    events = [
        RunStarted("r1", "weather", [], 5),
        ModelResponded("weather", [tool_call("get_temperature", {}, "c1")], Usage(1, 10, 2, 12)),
        ToolStarted("c1"),
        ToolCompleted("c1", "20"),
        ModelResponded("weather", [message("20°C.")], Usage(1, 5, 1, 6)),
    ]
    view = Journal(events).view
    assert view.usage == Usage(2, 15, 3, 18)
    assert view.copy().usage == Usage(2, 15, 3, 18)


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ({"type": "function_call", "name": "x"}, "a function call has no call_id"),
        (
            {"type": "function_call", "call_id": "c2", "name": ""},
            "a function call with id 'c2' has no tool name (a non-empty string), got ''",
        ),
        (
            {"type": "function_call", "call_id": "c2", "name": "x", "arguments": {}},
            "a function call with id 'c2' has arguments that are not a JSON string",
        ),
        (tool_call("get_time", {}, "c1"), "the response has two calls with id 'c1'"),
        (
            {"type": "mcp_approval_request", "name": "x"},
            "an mcp_approval_request without an id and a tool name",
        ),
    ],
)
def test_a_refused_model_response_changes_neither_turn_nor_usage(
    bad: dict[str, Any], expected: str
) -> None:
    journal = Journal(
        [
            RunStarted("r1", "plain", [], 5),
            ModelResponded("plain", [message("Hi.")], Usage(1, 10, 2, 12)),
        ]
    )
    view = journal.view
    response = ModelResponded("plain", [tool_call("get_time", {}, "c1"), bad], Usage(1, 5, 1, 6))
    with pytest.raises(StateFormatError) as refused:
        journal.append(response)
    assert str(refused.value).startswith(f"journal[2]: {expected}")
    assert (view.turns, view.usage, view.calls, len(view.items), len(journal)) == (
        1,
        Usage(1, 10, 2, 12),
        {},
        1,
        2,
    )
