"""Human-in-the-loop: interrupt, save, decide, load and resume exactly where the run stopped."""

from __future__ import annotations

from typing import Any

import pytest

from runners import RunFn
from tether import Agent, MaxTurnsExceeded, RunState
from tether.testing import ScriptedModel, message, tool_call
from weather_app import RUNS, save, weather_agent

OAKLAND = tool_call("get_temperature", {"city": "Oakland"}, call_id="call_oak")
SF = tool_call("get_temperature", {"city": "San Francisco"}, call_id="call_sf")


def output_items(request_input: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (item["call_id"], item["output"])
        for item in request_input
        if item.get("type") == "function_call_output"
    ]


def assert_each_item_once(request_input: list[dict[str, Any]]) -> None:
    keys = [
        (item.get("type"), item.get("call_id"), str(item.get("content"))) for item in request_input
    ]
    assert len(keys) == len(set(keys)), f"an item was sent twice: {keys}"


async def reload(agent: Agent[Any], result: Any) -> RunState:
    return RunState.from_string(agent, save(result.to_state()))


async def test_approved_call_runs_once_and_its_turn_completes_without_a_model_call(
    runner: RunFn,
) -> None:
    model = ScriptedModel([OAKLAND, message("It is 20°C in Oakland.")])
    agent = weather_agent(model)

    result = await runner(agent, "What's the temperature in Oakland?")

    assert result.final_output is None
    [item] = result.interruptions
    assert (item.agent_name, item.tool_name, item.call_id) == (
        "Weather Assistant",
        "get_temperature",
        "call_oak",
    )
    assert item.arguments == '{"city": "Oakland"}'
    assert item.parsed_arguments == {"city": "Oakland"}
    assert RUNS["get_temperature"] == 0
    assert len(model.requests) == 1

    state = await reload(agent, result)
    state.approve(state.interruptions[0])
    result = await runner(agent, state)

    assert result.final_output == "It is 20°C in Oakland."
    assert result.interruptions == []
    assert RUNS["get_temperature"] == 1
    assert len(model.requests) == 2
    second = model.requests[1].input
    assert second == [
        {"role": "user", "content": "What's the temperature in Oakland?"},
        OAKLAND,
        {
            "type": "function_call_output",
            "call_id": "call_oak",
            "output": "The temperature in Oakland is 20°C",
        },
    ]


async def test_rejection_message_is_the_tool_output_the_model_reads(runner: RunFn) -> None:
    model = ScriptedModel([OAKLAND, message("I may not look that up.")])
    agent = weather_agent(model)
    state = await reload(agent, await runner(agent, "Oakland?"))

    state.reject(state.interruptions[0], message="Not allowed: ask for San Francisco.")
    result = await runner(agent, state)

    assert result.final_output == "I may not look that up."
    assert RUNS["get_temperature"] == 0
    assert output_items(model.requests[1].input) == [
        ("call_oak", "Not allowed: ask for San Francisco.")
    ]


async def test_default_rejection_message_is_configurable_per_run(runner: RunFn) -> None:
    model = ScriptedModel([OAKLAND, message("ok"), OAKLAND, message("ok")])
    agent = weather_agent(model)
    state = (await runner(agent, "Oakland?")).to_state()
    state.reject(state.interruptions[0])
    await runner(agent, state)
    assert "rejected this call of get_temperature" in output_items(model.requests[1].input)[0][1]

    state = (await runner(agent, "Oakland?")).to_state()
    state.reject(state.interruptions[0])
    await runner(agent, state, rejection_message="Denied ({tool}).")
    assert output_items(model.requests[3].input) == [("call_oak", "Denied (get_temperature).")]


async def test_two_pending_calls_one_approved_one_rejected(runner: RunFn) -> None:
    model = ScriptedModel([[SF, OAKLAND], message("SF is 20°C; Oakland was refused.")])
    agent = weather_agent(model)
    result = await runner(agent, "SF and Oakland?")
    assert [i.call_id for i in result.interruptions] == ["call_sf", "call_oak"]

    state = await reload(agent, result)
    sf, oak = state.interruptions
    state.approve(sf)
    state.reject(oak, message="No Oakland today.")
    result = await runner(agent, state)

    assert result.final_output == "SF is 20°C; Oakland was refused."
    assert RUNS["get_temperature"] == 1
    assert output_items(model.requests[1].input) == [
        ("call_sf", "The temperature in San Francisco is 20°C"),
        ("call_oak", "No Oakland today."),
    ]
    assert_each_item_once(model.requests[1].input)


async def test_partial_decision_re_interrupts_without_a_model_call(runner: RunFn) -> None:
    model = ScriptedModel([[SF, OAKLAND], message("Both are 20°C.")])
    agent = weather_agent(model)
    state = await reload(agent, await runner(agent, "SF and Oakland?"))

    state.approve(state.interruptions[0])
    result = await runner(agent, state)

    assert [i.call_id for i in result.interruptions] == ["call_oak"]
    assert len(model.requests) == 1
    assert RUNS["get_temperature"] == 1

    state = await reload(agent, result)
    state.approve(state.interruptions[0])
    result = await runner(agent, state)

    assert result.final_output == "Both are 20°C."
    assert RUNS["get_temperature"] == 2
    assert len(model.requests) == 2
    assert [call_id for call_id, _ in output_items(model.requests[1].input)] == [
        "call_sf",
        "call_oak",
    ]
    assert_each_item_once(model.requests[1].input)


async def test_calls_needing_no_approval_run_before_the_pause_exactly_once(runner: RunFn) -> None:
    time_call = tool_call("get_time", {}, call_id="call_time")
    model = ScriptedModel([[time_call, OAKLAND], message("done")])
    agent = weather_agent(model)

    result = await runner(agent, "time and Oakland?")
    assert RUNS["get_time"] == 1
    state = await reload(agent, result)
    state.approve(state.interruptions[0])
    result = await runner(agent, state)

    assert result.final_output == "done"
    assert RUNS == {"get_time": 1, "get_temperature": 1}
    assert output_items(model.requests[1].input) == [
        ("call_time", "12:00"),
        ("call_oak", "The temperature in Oakland is 20°C"),
    ]


async def test_per_call_approval_function(runner: RunFn) -> None:
    sf = tool_call("get_weather", {"city": "San Francisco"}, call_id="w_sf")
    oak = tool_call("get_weather", {"city": "Oakland"}, call_id="w_oak")
    model = ScriptedModel([[sf, oak], message("done")])
    agent = weather_agent(model)

    result = await runner(agent, "weather?")

    assert [i.call_id for i in result.interruptions] == ["w_oak"]
    assert RUNS["get_weather"] == 1  # San Francisco needed no approval


async def test_malformed_arguments_fail_closed(runner: RunFn) -> None:
    bad = tool_call("get_weather", "{not json", call_id="w_bad")
    model = ScriptedModel([bad, message("done")])
    agent = weather_agent(model)

    result = await runner(agent, "weather?")

    [item] = result.interruptions
    assert item.parsed_arguments is None
    state = result.to_state()
    state.approve(item)
    result = await runner(agent, state)
    assert RUNS["get_weather"] == 0  # approved, but the arguments are still unusable
    assert "not valid JSON" in output_items(model.requests[1].input)[0][1]


async def test_always_approve_covers_later_calls_of_the_tool(runner: RunFn) -> None:
    second = tool_call("get_temperature", {"city": "Berkeley"}, call_id="call_berkeley")
    model = ScriptedModel([OAKLAND, second, message("done")])
    agent = weather_agent(model)
    state = await reload(agent, await runner(agent, "Oakland then Berkeley"))

    state.approve(state.interruptions[0], always=True)
    result = await runner(agent, state)

    assert result.final_output == "done"
    assert result.interruptions == []
    assert RUNS["get_temperature"] == 2
    assert len(model.requests) == 3


async def test_always_reject_covers_later_calls_with_the_same_message(runner: RunFn) -> None:
    second = tool_call("get_temperature", {"city": "Berkeley"}, call_id="call_berkeley")
    model = ScriptedModel([OAKLAND, second, message("done")])
    agent = weather_agent(model)
    state = await reload(agent, await runner(agent, "Oakland then Berkeley"))

    state.reject(state.interruptions[0], always=True, message="Temperatures are off limits.")
    result = await runner(agent, state)

    assert result.final_output == "done"
    assert RUNS["get_temperature"] == 0
    assert output_items(model.requests[2].input) == [
        ("call_oak", "Temperatures are off limits."),
        ("call_berkeley", "Temperatures are off limits."),
    ]


async def test_several_interruptions_in_one_run(runner: RunFn) -> None:
    berkeley = tool_call("get_temperature", {"city": "Berkeley"}, call_id="call_berkeley")
    model = ScriptedModel([OAKLAND, berkeley, message("Both 20°C.")])
    agent = weather_agent(model)

    result = await runner(agent, "Oakland then Berkeley")
    for expected in ("call_oak", "call_berkeley"):
        assert [i.call_id for i in result.interruptions] == [expected]
        state = await reload(agent, result)
        state.approve(state.interruptions[0])
        result = await runner(agent, state)

    assert result.final_output == "Both 20°C."
    assert RUNS["get_temperature"] == 2
    assert len(model.requests) == 3
    assert result.current_turn == 3
    assert_each_item_once(model.requests[2].input)


async def test_max_turns_budget_carries_across_resumes(runner: RunFn) -> None:
    calls = [tool_call("get_temperature", {"city": f"C{i}"}, call_id=f"c{i}") for i in range(4)]
    model = ScriptedModel([*calls, message("done")])
    agent = weather_agent(model)

    result = await runner(agent, "go", max_turns=2)
    state = await reload(agent, result)
    assert (state.current_turn, state.max_turns) == (1, 2)
    state.approve(state.interruptions[0])
    result = await runner(agent, state)
    state = await reload(agent, result)
    assert state.current_turn == 2
    state.approve(state.interruptions[0])

    with pytest.raises(MaxTurnsExceeded, match="max_turns=2") as exceeded:
        await runner(agent, state)
    assert len(model.requests) == 2
    assert exceeded.value.run_state.current_turn == 2

    result = await runner(agent, state, max_turns=5)  # an explicit new budget
    assert [i.call_id for i in result.interruptions] == ["c2"]
    assert (result.to_state().max_turns, result.current_turn) == (5, 3)


async def test_handoff_then_approval_names_the_right_agent(runner: RunFn) -> None:
    weather_model = ScriptedModel([OAKLAND, message("Oakland: 20°C.")])
    weather = weather_agent(weather_model)
    triage_model = ScriptedModel([tool_call("transfer_to_weather_assistant", {}, "h1")])
    triage = Agent(name="Triage", model=triage_model, handoffs=[weather])

    result = await runner(triage, "Oakland?")

    assert result.last_agent is weather
    [item] = result.interruptions
    assert item.agent_name == "Weather Assistant"
    state = RunState.from_string(triage, save(result.to_state()))
    assert state.current_agent is weather
    state.approve(state.interruptions[0])
    result = await runner(triage, state)

    assert result.final_output == "Oakland: 20°C."
    assert RUNS["get_temperature"] == 1
    assert len(triage_model.requests) == 1
    assert len(weather_model.requests) == 2


async def test_resuming_a_completed_state_returns_its_output_without_a_model_call(
    runner: RunFn,
) -> None:
    model = ScriptedModel([message("done")])
    agent = weather_agent(model)
    state = await reload(agent, await runner(agent, "hi"))

    result = await runner(agent, state)

    assert result.final_output == "done"
    assert len(model.requests) == 1
    assert state.is_complete and state.interruptions == []


async def test_resuming_twice_from_one_saved_text_replays_the_same_step(runner: RunFn) -> None:
    """A saved text is a snapshot: each copy resumed runs its approved calls (documented)."""
    model = ScriptedModel([OAKLAND, message("first"), message("second")])
    agent = weather_agent(model)
    result = await runner(agent, "Oakland?")
    state = result.to_state()
    state.approve(state.interruptions[0])
    text = save(state)

    one = await runner(agent, RunState.from_string(agent, text))
    two = await runner(agent, RunState.from_string(agent, text))

    assert (one.final_output, two.final_output) == ("first", "second")
    assert RUNS["get_temperature"] == 2
    assert model.requests[1].input == model.requests[2].input


async def test_resuming_does_not_change_the_state_it_was_given(runner: RunFn) -> None:
    model = ScriptedModel([OAKLAND, message("done")])
    agent = weather_agent(model)
    state = (await runner(agent, "Oakland?")).to_state()
    state.approve(state.interruptions[0])
    before = state.to_json()

    await runner(agent, state)

    assert state.to_json() == before
