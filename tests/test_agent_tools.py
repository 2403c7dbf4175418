"""Agents used as tools: an approval inside the nested run pauses the outer run; save, a fresh
process, decide, resume; each model is called exactly as often as its turns need."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field

from runners import MODES
from tether import (
    Agent,
    AgentToolStreamEvent,
    NotPendingError,
    RawResponseEvent,
    RunItemEvent,
    Runner,
    RunState,
)
from tether.errors import AgentDefinitionError
from tether.testing import ScriptedModel, message, tool_call
from weather_app import RUNS, get_temperature, get_time

TESTS = Path(__file__).resolve().parent


def in_fresh_process(stage: str, state_file: Path, mode: str) -> Any:
    done = subprocess.run(
        [sys.executable, str(TESTS / "agent_tool_process.py"), stage, str(state_file), mode],
        capture_output=True,
        text=True,
        cwd=TESTS,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("mode", ["plain", "streamed"])
def test_inner_approval_pauses_the_outer_run_and_resumes_in_a_fresh_process(
    tmp_path: Path, mode: str
) -> None:
    state_file = tmp_path / "state.json"
    first = in_fresh_process("interrupt", state_file, mode)
    assert first == {
        "interruptions": [
            ["Weather", "get_temperature", "call_in", "Lead"],
            ["ask_weather", "call_out"],
        ],
        "inner_calls": 1,
        "outer_calls": 1,
    }
    second = in_fresh_process("approve", state_file, mode)
    assert second == {
        "final_output": "The weather agent says 20°C.",
        "tool_runs": 1,
        "inner_calls": 1,  # only the turn that had no response yet
        "outer_calls": 1,
        "inner_saw": "The temperature in Oakland is 20°C",
        "outer_saw": "It is 20°C in Oakland.",
    }
    # The finished state holds both runs; resuming it again calls nothing.
    third = in_fresh_process("approve", state_file, mode)
    assert (third["inner_calls"], third["outer_calls"], third["tool_runs"]) == (0, 0, 0)


def test_a_rejected_inner_call_never_runs(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    in_fresh_process("interrupt", state_file, "plain")
    second = in_fresh_process("reject", state_file, "plain")
    assert second["tool_runs"] == 0
    assert second["inner_saw"] == "No lookups today."
    assert second["final_output"] == "The weather agent says 20°C."


@pytest.mark.parametrize("mode", MODES)
async def test_in_process_across_modes(mode: str) -> None:
    run = MODES[mode]()
    RUNS.clear()
    inner = ScriptedModel(
        [tool_call("get_temperature", {"city": "Oslo"}, "c_in"), message("Cold in Oslo.")]
    )
    outer = ScriptedModel(
        [tool_call("ask_weather", {"input": "Oslo?"}, "c_out"), message("It is cold.")]
    )
    weather = Agent(name="Weather", model=inner, tools=[get_temperature])
    lead = Agent(name="Lead", model=outer, tools=[weather.as_tool("ask_weather")])
    result = await run(lead, "Oslo?")
    [item] = result.interruptions
    assert (item.agent_name, item.parent and item.parent.agent_name) == ("Weather", "Lead")
    state = result.to_state()
    state.approve(item)
    with pytest.raises(NotPendingError):
        state.approve(item)  # decided once
    result = await run(lead, state)
    assert result.final_output == "It is cold."
    assert (len(inner.requests), len(outer.requests), RUNS["get_temperature"]) == (2, 2, 1)


async def test_a_streamed_outer_run_announces_the_nested_approval() -> None:
    inner = ScriptedModel([tool_call("get_temperature", {"city": "Rome"}, "c_in")])
    outer = ScriptedModel([tool_call("ask_weather", {"input": "Rome?"}, "c_out")])
    weather = Agent(name="Weather", model=inner, tools=[get_temperature])
    lead = Agent(name="Lead", model=outer, tools=[weather.as_tool("ask_weather")])
    streamed = Runner.run_streamed(lead, "Rome?")
    events = [e async for e in streamed.stream_events()]
    approvals = [
        e.item
        for e in events
        if e.type == "run_item_stream_event" and e.name == "approval_requested"
    ]
    assert [(a.agent_name, a.tool_name, a.call_id) for a in approvals] == [
        ("Weather", "get_temperature", "c_in")
    ]
    assert streamed.interruptions == approvals


async def test_the_agent_tool_itself_can_need_approval() -> None:
    inner = ScriptedModel([message("Sunny.")])
    outer = ScriptedModel(
        [tool_call("ask_weather", {"input": "Rome?"}, "c_out"), message("Sunny, it says.")]
    )
    weather = Agent(name="Weather", model=inner)
    lead = Agent(
        name="Lead", model=outer, tools=[weather.as_tool("ask_weather", needs_approval=True)]
    )
    result = await Runner.run(lead, "Rome?")
    [item] = result.interruptions
    assert (item.agent_name, item.tool_name, item.parent) == ("Lead", "ask_weather", None)
    assert len(inner.requests) == 0
    state = RunState.from_string(lead, result.to_state().to_string())
    state.approve(state.interruptions[0])
    assert (await Runner.run(lead, state)).final_output == "Sunny, it says."
    assert len(inner.requests) == 1


async def test_a_state_with_a_nested_run_is_not_written_for_typescript() -> None:
    from tether.interop import InteropError
    from tether.interop.openai_js import to_openai_js

    inner = ScriptedModel([tool_call("get_temperature", {"city": "Rome"}, "c_in")])
    outer = ScriptedModel([tool_call("ask_weather", {"input": "Rome?"}, "c_out")])
    weather = Agent(name="Weather", model=inner, tools=[get_temperature])
    lead = Agent(name="Lead", model=outer, tools=[weather.as_tool("ask_weather")])
    result = await Runner.run(lead, "Rome?", context={})
    with pytest.raises(InteropError, match="runs agent 'Weather' as a tool; nested runs"):
        to_openai_js(result.to_state())


async def test_bad_arguments_are_an_output_the_model_reads() -> None:
    inner = ScriptedModel([])
    outer = ScriptedModel(
        [tool_call("ask_weather", {"question": "Rome?"}, "c_out"), message("I will ask again.")]
    )
    lead = Agent(
        name="Lead", model=outer, tools=[Agent(name="Weather", model=inner).as_tool("ask_weather")]
    )
    result = await Runner.run(lead, "Rome?")
    assert result.final_output == "I will ask again."
    assert outer.requests[1].input[-1]["output"] == (
        "Invalid arguments for tool 'ask_weather': it takes "
        '{"input": "<what to ask>"}. Please call it again.'
    )
    assert inner.requests == []


class Trip(BaseModel):
    """Where to and when."""

    city: str = Field(description="The city to visit.")
    days: int


async def test_structured_parameters_are_checked_and_built_into_the_nested_input() -> None:
    inner = ScriptedModel([message("Pack a coat."), message("Pack a hat.")])
    outer = ScriptedModel(
        [
            tool_call("plan", {"city": "Oslo", "days": 3}, "c_1"),
            tool_call("plan", {"city": "Rome", "days": "many"}, "c_2"),
            tool_call("plan", {"city": "Rome", "days": 2}, "c_3"),
            message("Done."),
        ]
    )
    planner = Agent(name="Planner", model=inner)
    tool = planner.as_tool("plan", parameters=Trip)
    assert tool.params_json_schema["required"] == ["city", "days"]
    assert tool.params_json_schema["properties"]["city"]["description"] == "The city to visit."
    result = await Runner.run(Agent(name="Lead", model=outer, tools=[tool]), "Trips?")
    assert result.final_output == "Done."
    # Without a builder the nested agent reads the arguments as JSON; bad ones never reach it.
    assert inner.requests[0].input[-1]["content"] == '{"city": "Oslo", "days": 3}'
    assert "Invalid arguments for tool 'plan': it takes arguments of its schema" in str(
        outer.requests[2].input
    )
    assert len(inner.requests) == 2

    # A builder makes the nested input from the checked arguments (it may be async).
    async def build(args: dict[str, Any]) -> str:
        return f"{args['days']} days in {args['city']}"

    inner = ScriptedModel([message("Sunny.")])
    built = Agent(name="Planner", model=inner).as_tool("plan", parameters=Trip, input_builder=build)
    calls = ScriptedModel([tool_call("plan", {"city": "Oslo", "days": 3}, "c"), message("ok")])
    await Runner.run(Agent(name="Lead", model=calls, tools=[built]), "Trip?")
    assert inner.requests[0].input[-1]["content"] == "3 days in Oslo"
    with pytest.raises(AgentDefinitionError, match="Pydantic model or a dataclass"):
        planner.as_tool("plan", parameters=dict)


async def test_a_durable_store_lists_the_nested_approval_as_waiting(tmp_path: Path) -> None:
    from tether import SQLiteRunStore
    from tether.store import load_state, save_state

    RUNS.clear()
    inner = ScriptedModel(
        [tool_call("get_temperature", {"city": "Oslo"}, "c_in"), message("Cold in Oslo.")]
    )
    outer = ScriptedModel(
        [tool_call("ask_weather", {"input": "Oslo?"}, "c_out"), message("It is cold.")]
    )
    weather = Agent(name="Weather", model=inner, tools=[get_temperature])
    lead = Agent(name="Lead", model=outer, tools=[weather.as_tool("ask_weather")])
    async with SQLiteRunStore(str(tmp_path / "runs.db")) as store:
        result = await Runner.run(lead, "Oslo?", store=store)
        [waiting] = await store.pending_approvals()
        assert (waiting.tool, waiting.call_id) == ("get_temperature", "c_in")
        assert (await store.load(result.run_id)).status == "waiting"
        state = await load_state(store, result.run_id, lead)
        state.approve(state.interruptions[0])
        await save_state(store, state)
        assert await store.pending_approvals() == []
        result = await Runner.run(lead, await load_state(store, result.run_id, lead), store=store)
        assert result.final_output == "It is cold."
        assert (await store.load(result.run_id)).status == "completed"
    assert RUNS["get_temperature"] == 1


@pytest.mark.parametrize("mode", ["plain", "streamed"])
async def test_on_stream_sees_each_stretch_of_a_nested_run_that_pauses(mode: str) -> None:
    RUNS.clear()
    inner = ScriptedModel(
        [tool_call("get_temperature", {"city": "Oslo"}, "c_in"), message("Cold in Oslo.")]
    )
    outer = ScriptedModel(
        [tool_call("ask_weather", {"input": "Oslo?"}, "c_out"), message("It is cold.")]
    )
    seen: list[tuple[str, ...]] = []

    async def on_stream(given: AgentToolStreamEvent) -> None:
        assert (given.call_id, given.tool_name, given.arguments) == (
            "c_out",
            "ask_weather",
            '{"input": "Oslo?"}',
        )
        event = given.event
        name = event.name if isinstance(event, RunItemEvent) else ""
        if not isinstance(event, RawResponseEvent):
            seen.append((given.agent.name, event.type, name))

    weather = Agent(name="Weather", model=inner, tools=[get_temperature])
    tool = weather.as_tool("ask_weather", on_stream=on_stream)
    lead = Agent(name="Lead", model=outer, tools=[tool])
    result = await MODES[mode]()(lead, "Oslo?")
    [item] = result.interruptions
    assert (item.tool_name, item.parent and item.parent.call_id) == ("get_temperature", "c_out")
    assert seen == [
        ("Weather", "agent_updated_stream_event", ""),
        ("Weather", "run_item_stream_event", "tool_called"),
        ("Weather", "run_item_stream_event", "approval_requested"),
    ]
    state = RunState.from_string(lead, result.to_state().to_string())
    state.approve(state.interruptions[0])
    seen.clear()
    result = await MODES[mode]()(lead, state)
    assert result.final_output == "It is cold."
    # The resumed stretch streams from the agent that runs: the decided call's output, then
    # the turn that had no response yet.
    assert seen == [
        ("Weather", "agent_updated_stream_event", ""),
        ("Weather", "run_item_stream_event", "tool_output"),
        ("Weather", "run_item_stream_event", "message_output_created"),
    ]
    assert (len(inner.requests), len(outer.requests), RUNS["get_temperature"]) == (2, 2, 1)


async def test_on_stream_is_given_the_model_deltas_and_its_failure_is_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    inner = ScriptedModel([message("Sunny in Rome.")])
    outer = ScriptedModel(
        [tool_call("ask_weather", {"input": "Rome?"}, "c_out"), message("Sunny.")]
    )
    deltas: list[str] = []

    def on_stream(given: AgentToolStreamEvent) -> None:
        if isinstance(given.event, RawResponseEvent):
            deltas.append(given.event.data.delta)
        raise RuntimeError("the display is gone")

    weather = Agent(name="Weather", model=inner)
    lead = Agent(
        name="Lead", model=outer, tools=[weather.as_tool("ask_weather", on_stream=on_stream)]
    )
    result = await Runner.run(lead, "Rome?")
    assert result.final_output == "Sunny."
    assert "".join(deltas) == "Sunny in Rome."
    assert outer.requests[1].input[-1]["output"] == "Sunny in Rome."
    assert "on_stream of the agent tool 'ask_weather' failed" in caplog.text
    with pytest.raises(AgentDefinitionError, match="on_stream must be callable"):
        weather.as_tool("ask_weather", on_stream="print")  # type: ignore[arg-type]


async def test_a_streamed_nested_run_cut_short_leaves_the_call_in_doubt() -> None:
    from tether import RunResultStreaming, ToolCallInDoubtError

    inner = ScriptedModel([message("Sunny in Rome.")])
    outer = ScriptedModel([tool_call("ask_weather", {"input": "Rome?"}, "c_out")])
    running: list[RunResultStreaming] = []

    def stop(given: AgentToolStreamEvent) -> None:  # the calling run stops mid-call
        running[0].cancel("immediate")

    weather = Agent(name="Weather", model=inner)
    lead = Agent(name="Lead", model=outer, tools=[weather.as_tool("ask_weather", on_stream=stop)])
    running.append(Runner.run_streamed(lead, "Rome?"))
    async for _ in running[0].stream_events():
        pass
    state = RunState.from_string(lead, running[0].to_state().to_string())
    # Started, never recorded: it may have had effects, so it is not run again.
    with pytest.raises(ToolCallInDoubtError, match="'c_out' of 'ask_weather'"):
        await Runner.run(lead, state)
    assert len(outer.requests) == 1


async def test_on_stream_sees_a_failing_nested_run_up_to_its_failure() -> None:
    from tether import MaxTurnsExceeded

    inner = ScriptedModel([tool_call("get_time", {}, "c_1"), tool_call("get_time", {}, "c_2")])
    outer = ScriptedModel([tool_call("ask_clock", {"input": "Time?"}, "c_out")])
    seen: list[str] = []

    def on_stream(given: AgentToolStreamEvent) -> None:
        event = given.event
        seen.append(event.name if isinstance(event, RunItemEvent) else event.type)

    clock = Agent(name="Clock", model=inner, tools=[get_time])
    tool = clock.as_tool("ask_clock", max_turns=1, on_stream=on_stream)
    with pytest.raises(MaxTurnsExceeded):  # the nested run's failure is the caller's
        await Runner.run(Agent(name="Lead", model=outer, tools=[tool]), "Time?")
    assert [name for name in seen if name != "raw_response_event"] == [
        "agent_updated_stream_event",
        "tool_called",
        "tool_output",
    ]


async def test_a_runs_usage_counts_the_model_calls_of_its_agents_used_as_tools() -> None:
    # As the reference SDK counts them: the nested run's model calls are the run's too.
    translator = Agent(name="Translator", model=ScriptedModel([message("Hola.")]))
    model = ScriptedModel(
        [tool_call("translate", {"input": "Hello."}, "c1"), message("It is 'Hola.'")]
    )
    agent = Agent(
        name="Orchestrator",
        model=model,
        tools=[translator.as_tool("translate", "Translate.")],
    )
    result = await Runner.run(agent, "Translate hello.")
    assert result.final_output == "It is 'Hola.'"
    assert result.usage.requests == 3  # two of the orchestrator's, one of the translator's
    # and a saved state folds to the same count
    assert RunState.from_string(agent, result.to_state().to_string()).usage.requests == 3


class Reading(BaseModel):
    celsius: int


@pytest.mark.parametrize("mode", MODES)
async def test_an_output_extractor_makes_the_tool_output_once_the_nested_run_ends(
    mode: str,
) -> None:
    run = MODES[mode]()
    seen: list[Any] = []

    async def extract(result: Any) -> str:  # the nested run's RunResult, once it ends
        seen.append(result.final_output)
        return f"{result.final_output.celsius} degrees"

    inner = ScriptedModel(
        [tool_call("get_temperature", {"city": "Oslo"}, "c_in"), message('{"celsius": -3}')]
    )
    outer = ScriptedModel(
        [tool_call("ask_weather", {"input": "Oslo?"}, "c_out"), message("It is cold.")]
    )
    weather = Agent(name="Weather", model=inner, tools=[get_temperature], output_type=Reading)
    tool = weather.as_tool("ask_weather", output_extractor=extract)
    lead = Agent(name="Lead", model=outer, tools=[tool])
    result = await run(lead, "Oslo?")
    assert seen == []  # paused inside the nested run: nothing to extract yet
    state = result.to_state()
    state.approve(result.interruptions[0])
    assert (await run(lead, state)).final_output == "It is cold."
    assert seen == [Reading(celsius=-3)]
    assert outer.requests[1].input[-1]["output"] == "-3 degrees"
    # A sync extractor; an output that is not a string is sent as its JSON.
    inner = ScriptedModel([message('{"celsius": 20}')])
    outer = ScriptedModel([tool_call("ask", {"input": "Rome?"}, "c"), message("ok")])
    nested = Agent(name="Weather", model=inner, output_type=Reading)
    plain = nested.as_tool("ask", output_extractor=lambda r: {"c": r.final_output.celsius})
    await run(Agent(name="Lead", model=outer, tools=[plain]), "Rome?")
    assert outer.requests[1].input[-1]["output"] == '{"c": 20}'
    with pytest.raises(AgentDefinitionError, match="output_extractor must be callable"):
        nested.as_tool("ask", output_extractor="summary")  # type: ignore[arg-type]
