"""The run loop driven by a scripted model: what the model sees, what runs, what comes out."""

from __future__ import annotations

import asyncio
import contextvars
import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel
from typing_extensions import TypedDict

from tether import (
    Agent,
    MaxTurnsExceeded,
    ModelBehaviorError,
    ModelSettings,
    RunContext,
    Runner,
    RunState,
    ToolError,
    function_tool,
)
from tether.testing import ScriptedModel, message, tool_call


def outputs(request_input: list[dict[str, Any]]) -> dict[str, str]:
    return {
        item["call_id"]: item["output"]
        for item in request_input
        if item.get("type") == "function_call_output"
    }


async def test_plain_answer() -> None:
    model = ScriptedModel([message("Hello!")])
    agent = Agent(name="Greeter", instructions="Be kind.", model=model)

    result = await Runner.run(agent, "Hi")

    assert result.final_output == "Hello!"
    assert result.last_agent is agent
    assert len(model.requests) == 1
    assert model.requests[0].instructions == "Be kind."
    assert model.requests[0].input == [{"role": "user", "content": "Hi"}]
    assert result.usage.requests == 1
    assert len(result.raw_responses) == 1


async def test_tool_result_is_fed_back_to_the_model() -> None:
    calls: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """Get the weather for a city."""
        calls.append(city)
        return f"Sunny in {city}"

    first = tool_call("get_weather", {"city": "Oakland"}, call_id="c1")
    model = ScriptedModel([first, message("It is sunny in Oakland.")])
    agent = Agent(name="Weather", model=model, tools=[get_weather])

    result = await Runner.run(agent, "Weather in Oakland?")

    assert result.final_output == "It is sunny in Oakland."
    assert calls == ["Oakland"]
    assert model.requests[1].input == [
        {"role": "user", "content": "Weather in Oakland?"},
        first,
        {"type": "function_call_output", "call_id": "c1", "output": "Sunny in Oakland"},
    ]
    assert [spec.name for spec in model.requests[0].tools] == ["get_weather"]
    assert [item.get("type") for item in result.new_items] == [
        "function_call",
        "function_call_output",
        "message",
    ]
    assert result.to_input_list()[0] == {"role": "user", "content": "Weather in Oakland?"}


async def test_parallel_tool_calls_run_concurrently_and_outputs_keep_call_order() -> None:
    started: list[str] = []
    both_started = asyncio.Event()

    @function_tool
    async def slow_lookup(key: str) -> str:
        """Look a key up."""
        started.append(key)
        if len(started) == 2:
            both_started.set()
        await asyncio.wait_for(both_started.wait(), timeout=5)  # deadlocks if run one by one
        return key.upper()

    model = ScriptedModel(
        [
            [
                tool_call("slow_lookup", {"key": "a"}, call_id="ca"),
                tool_call("slow_lookup", {"key": "b"}, call_id="cb"),
            ],
            message("done"),
        ]
    )
    agent = Agent(name="Parallel", model=model, tools=[slow_lookup])

    result = await Runner.run(agent, "go")

    assert result.final_output == "done"
    second = model.requests[1].input
    assert [item.get("call_id") for item in second[3:]] == ["ca", "cb"]
    assert outputs(second) == {"ca": "A", "cb": "B"}


async def test_handoff_switches_the_agent() -> None:
    spanish_model = ScriptedModel([message("¡Hola!")])
    spanish = Agent(
        name="Spanish Agent",
        instructions="Habla español.",
        model=spanish_model,
        handoff_description="Speaks Spanish.",
    )
    triage_model = ScriptedModel([tool_call("transfer_to_spanish_agent", {}, call_id="h1")])
    triage = Agent(name="Triage", model=triage_model, handoffs=[spanish])

    result = await Runner.run(triage, "Hola")

    assert result.final_output == "¡Hola!"
    assert result.last_agent is spanish
    handoff_spec = triage_model.requests[0].tools[0]
    assert handoff_spec.name == "transfer_to_spanish_agent"
    assert "Speaks Spanish." in handoff_spec.description
    request = spanish_model.requests[0]
    assert request.instructions == "Habla español."
    assert request.input[-1] == {
        "type": "function_call_output",
        "call_id": "h1",
        "output": json.dumps({"assistant": "Spanish Agent"}),
    }


class Weather(BaseModel):
    city: str
    celsius: int


@dataclass
class Point:
    x: int
    y: int


class Person(TypedDict):
    name: str


@pytest.mark.parametrize(
    ("output_type", "text", "expected"),
    [
        (Weather, '{"city": "Oakland", "celsius": 20}', Weather(city="Oakland", celsius=20)),
        (Point, '{"x": 1, "y": 2}', Point(1, 2)),
        (Person, '{"name": "Weather Desk"}', {"name": "Weather Desk"}),
        (list[int], '{"response": [1, 2]}', [1, 2]),
    ],
)
async def test_structured_output(output_type: Any, text: str, expected: Any) -> None:
    model = ScriptedModel([message(text)])
    agent = Agent(name="Structured", model=model, output_type=output_type)

    result = await Runner.run(agent, "go")

    assert result.final_output == expected
    schema = model.requests[0].output_schema
    assert schema is not None
    assert schema.schema["additionalProperties"] is False


async def test_structured_output_that_does_not_validate_is_a_typed_error() -> None:
    model = ScriptedModel([message('{"city": "Oakland"}')])
    agent = Agent(name="Structured", model=model, output_type=Weather)

    with pytest.raises(ModelBehaviorError, match="does not match output_type Weather"):
        await Runner.run(agent, "go")


async def test_tool_exception_becomes_an_output_the_model_reads() -> None:
    @function_tool
    def explode() -> str:
        """Always fails."""
        raise RuntimeError("disk on fire")

    model = ScriptedModel([tool_call("explode", {}, call_id="c1"), message("Sorry.")])
    agent = Agent(name="Fragile", model=model, tools=[explode])

    result = await Runner.run(agent, "go")

    assert result.final_output == "Sorry."
    assert "disk on fire" in outputs(model.requests[1].input)["c1"]


async def test_tool_error_formatter_is_configurable_and_none_raises() -> None:
    def formatter(ctx: RunContext[Any], error: Exception) -> str:
        return f"custom: {type(error).__name__}"

    def fail() -> str:
        """Always fails."""
        raise ValueError("nope")

    custom = function_tool(fail, error_formatter=formatter)
    model = ScriptedModel([tool_call("fail", {}, call_id="c1"), message("ok")])
    await Runner.run(Agent(name="A", model=model, tools=[custom]), "go")
    assert outputs(model.requests[1].input)["c1"] == "custom: ValueError"

    raising = function_tool(fail, error_formatter=None)
    model = ScriptedModel([tool_call("fail", {}, call_id="c2"), message("never")])
    with pytest.raises(ToolError, match="raised ValueError: nope") as caught:
        await Runner.run(Agent(name="B", model=model, tools=[raising]), "go")
    assert isinstance(caught.value.__cause__, ValueError)


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"city": 5, "extra": true}', "do not match the schema"),
    ],
)
async def test_bad_arguments_from_the_model_become_an_error_output(
    arguments: str, problem: str
) -> None:
    ran: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """Get the weather."""
        ran.append(city)
        return "sunny"

    model = ScriptedModel([tool_call("get_weather", arguments, call_id="c1"), message("ok")])
    result = await Runner.run(Agent(name="A", model=model, tools=[get_weather]), "go")

    assert result.final_output == "ok"
    assert ran == []
    assert problem in outputs(model.requests[1].input)["c1"]


async def test_unknown_tool_from_the_model_becomes_an_error_output() -> None:
    model = ScriptedModel([tool_call("teleport", {}, call_id="c1"), message("ok")])
    await Runner.run(Agent(name="A", model=model), "go")
    assert "no tool named 'teleport'" in outputs(model.requests[1].input)["c1"]


async def test_max_turns() -> None:
    @function_tool
    def again() -> str:
        """Loops."""
        return "again"

    model = ScriptedModel([tool_call("again", {}) for _ in range(5)])
    agent = Agent(name="Looper", model=model, tools=[again])

    with pytest.raises(MaxTurnsExceeded, match="max_turns=3") as exceeded:
        await Runner.run(agent, "go", max_turns=3)
    assert len(model.requests) == 3

    model.turns.append(message("finally"))
    state = exceeded.value.run_state
    assert state.current_turn == 3
    result = await Runner.run(agent, state, max_turns=6)
    assert result.final_output == "finally"
    assert len(model.requests) == 6


async def test_stop_on_first_tool() -> None:
    @function_tool
    def compute() -> int:
        """Compute."""
        return 42

    model = ScriptedModel([tool_call("compute", {})])
    agent = Agent(name="A", model=model, tools=[compute], tool_use_behavior="stop_on_first_tool")

    result = await Runner.run(agent, "go")

    assert result.final_output == 42  # what the tool returned, as the reference SDK gives it
    assert len(model.requests) == 1


async def test_context_usage_and_dynamic_instructions() -> None:
    seen: list[tuple[str, int]] = []

    @dataclass
    class App:
        user: str

    @function_tool
    def whoami(ctx: RunContext[App]) -> str:
        """Who is asking."""
        seen.append((ctx.context.user, ctx.usage.requests))
        return ctx.context.user

    async def instructions(ctx: RunContext[App], agent: Agent[App]) -> str:
        return f"{agent.name} serves {ctx.context.user}"

    model = ScriptedModel([tool_call("whoami", {}), message("You are user-42.")])
    agent = Agent(name="Helper", instructions=instructions, model=model, tools=[whoami])

    result = await Runner.run(agent, "who am I?", context=App("user-42"))

    assert result.final_output == "You are user-42."
    assert seen == [("user-42", 1)]
    assert model.requests[0].instructions == "Helper serves user-42"
    assert "ctx" not in json.dumps(whoami.params_json_schema)


async def test_model_settings_reach_the_model() -> None:
    model = ScriptedModel([message("ok")])
    settings = ModelSettings(temperature=0.2, tool_choice="auto", parallel_tool_calls=False)
    await Runner.run(Agent(name="A", model=model, model_settings=settings), "go")
    assert model.requests[0].settings == settings


def test_run_sync() -> None:
    model = ScriptedModel([message("sync")])
    assert Runner.run_sync(Agent(name="A", model=model), "go").final_output == "sync"


async def test_list_input_and_follow_up_turn() -> None:
    model = ScriptedModel([message("first"), message("second")])
    agent = Agent(name="A", model=model)
    first = await Runner.run(agent, "one")
    follow_up = [*first.to_input_list(), {"role": "user", "content": "two"}]

    second = await Runner.run(agent, follow_up)

    assert second.final_output == "second"
    assert model.requests[1].input == follow_up


@pytest.mark.parametrize("reset", [True, False])
async def test_a_forced_tool_choice_is_dropped_once_the_agent_called_a_tool(reset: bool) -> None:
    from tether import Agent, Runner, function_tool
    from tether.models import ModelSettings
    from tether.testing import ScriptedModel, message, tool_call

    @function_tool
    def ping() -> str:
        """Ping."""
        return "pong"

    model = ScriptedModel([tool_call("ping", {}), message("done")])
    agent = Agent(
        "pinger",
        model=model,
        tools=[ping],
        model_settings=ModelSettings(tool_choice="ping"),
        reset_tool_choice=reset,
    )
    assert (await Runner.run(agent, "ping")).final_output == "done"
    choices = [request.settings.tool_choice for request in model.requests]
    # Forced again after the call, a model would call the tool for ever.
    assert choices == (["ping", None] if reset else ["ping", "ping"])


async def test_outputs_of_calls_run_together_reach_the_model_in_call_order() -> None:
    # The first call finishes last: each output is journaled as it comes, and the model
    # still reads them in the order it made the calls, in this run and in a reloaded one.
    second_done = asyncio.Event()

    @function_tool
    async def slow(n: int) -> str:
        """Slow."""
        await second_done.wait()
        return f"slow {n}"

    @function_tool
    async def fast(n: int) -> str:
        """Fast."""
        second_done.set()
        return f"fast {n}"

    @function_tool(needs_approval=True)
    async def gated(n: int) -> str:
        """Needs a person."""
        return f"gated {n}"

    model = ScriptedModel(
        [
            [tool_call("slow", {"n": 1}, "c1"), tool_call("fast", {"n": 2}, "c2")],
            tool_call("gated", {"n": 3}, "c3"),
            message("ok"),
        ]
    )
    agent = Agent(name="A", model=model, tools=[slow, fast, gated])
    paused = await Runner.run(agent, "go")

    def outputs(request: int) -> list[str]:
        sent = model.requests[request].input
        return [i["call_id"] for i in sent if i.get("type") == "function_call_output"]

    assert outputs(1) == ["c1", "c2"]
    completed = [e.call_id for e in paused.to_state().journal if e.kind == "tool_completed"]
    assert completed == ["c2", "c1"]
    # Another process: the saved state, folded again, gives the model the same order.
    reloaded = RunState.from_string(agent, paused.to_state().to_string())
    reloaded.approve(reloaded.interruptions[0])
    await Runner.run(agent, reloaded)
    assert outputs(2) == ["c1", "c2", "c3"]


async def test_an_output_recorded_after_a_pause_comes_after_those_recorded_before_it() -> None:
    @function_tool(needs_approval=True)
    async def risky(n: int) -> str:
        """Needs a person."""
        return f"risky {n}"

    @function_tool
    async def safe(n: int) -> str:
        """Runs at once."""
        return f"safe {n}"

    model = ScriptedModel(
        [[tool_call("risky", {"n": 1}, "c1"), tool_call("safe", {"n": 2}, "c2")], message("ok")]
    )
    agent = Agent(name="A", model=model, tools=[risky, safe])
    paused = await Runner.run(agent, "go")
    state = paused.to_state()
    state.approve(state.interruptions[0])
    await Runner.run(agent, state)
    sent = model.requests[1].input
    # As the reference SDK: the output of the call that ran before the pause comes first.
    assert [i["call_id"] for i in sent if i.get("type") == "function_call_output"] == ["c2", "c1"]


SEEN: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="unset")


@pytest.mark.parametrize("alone", [True, False])
@pytest.mark.parametrize("waits", [True, False])
async def test_what_an_async_tool_sets_in_a_context_variable_stays_its_own(
    alone: bool, waits: bool
) -> None:
    # As in a task of its own, whether the call runs alone in its turn or beside another,
    # and whether it waits for something or finishes without ever giving way.
    read: list[str] = []

    async def mark(tag: str) -> str:
        """Mark the context and wait a moment."""
        read.append(SEEN.get())
        SEEN.set(tag)
        if waits:
            await asyncio.sleep(0)
        read.append(SEEN.get())
        return tag

    calls = [tool_call("mark", {"tag": "a"}, "c1")]
    if not alone:
        calls.append(tool_call("mark", {"tag": "b"}, "c2"))
    model = ScriptedModel([calls, [tool_call("mark", {"tag": "z"}, "c3")], message("done")])
    agent = Agent(name="Marker", model=model, tools=[function_tool(mark)])

    result = await Runner.run(agent, "go")

    assert result.final_output == "done"
    # Each call starts from the run's context, not from what an earlier call set in its own.
    if alone:
        assert read == ["unset", "a", "unset", "z"]
    elif waits:  # the two calls of the first turn side by side
        assert read == ["unset", "unset", "a", "b", "unset", "z"]
    else:
        assert read == ["unset", "a", "unset", "b", "unset", "z"]
    assert SEEN.get() == "unset"


async def test_a_call_start_is_stamped_with_the_system_clocks_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Three calls, the first two in one second, the third in the next: each start as the
    # journal writes times (UTC, to the microsecond), the second's text not kept past it.
    second = 1_780_000_000
    clock = iter([second * 10**9 + 123_456_789, second * 10**9 + 999_999_999, (second + 1) * 10**9])
    monkeypatch.setattr("tether.run._doubt.time_ns", lambda: next(clock))
    model = ScriptedModel(
        [tool_call("lookup", {"city": c}, f"c{i}") for i, c in enumerate("abc")] + [message("ok")]
    )

    async def lookup(city: str) -> str:
        """Look a city up."""
        return city

    agent = Agent(name="Looker", model=model, tools=[function_tool(lookup)])

    result = await Runner.run(agent, "go")

    starts = [e.at for e in result.to_state().journal if e.kind == "tool_started"]
    assert starts == [
        "2026-05-28T20:26:40.123456+00:00",
        "2026-05-28T20:26:40.999999+00:00",
        "2026-05-28T20:26:41.000000+00:00",
    ]


async def test_each_run_gets_its_own_id_a_random_uuid() -> None:
    agent = Agent(name="Greeter", model=ScriptedModel([message("Hi")] * 50))
    ids = [(await Runner.run(agent, "Hello")).run_id for _ in range(50)]
    assert len(set(ids)) == 50
    for run_id in ids:
        assert run_id.startswith("run_")
        parsed = uuid.UUID(hex=run_id[4:])
        assert parsed.hex == run_id[4:]
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


async def test_a_step_that_records_nothing_stops_the_run_instead_of_looping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tether.errors import RunStalledError
    from tether.run import _loop

    async def records_nothing(run: Any, drive: Any) -> bool:
        return True  # a tool step that ran nothing and recorded nothing

    monkeypatch.setattr(_loop, "execute_tools", records_nothing)

    @function_tool
    def lookup(city: str) -> str:
        """Look a city up."""
        return city

    model = ScriptedModel([tool_call("lookup", {"city": "Oslo"}), message("Done.")])
    agent: Agent[None] = Agent(name="A", model=model, tools=[lookup])
    with pytest.raises(RunStalledError) as raised:
        await Runner.run(agent, "Weather?")
    assert raised.value.step == "ExecuteTools"
