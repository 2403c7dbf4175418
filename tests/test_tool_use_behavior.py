"""``tool_use_behavior``: what follows a turn's tool outputs (the model again, or the end of
the run on a tool's output or on a function's decision), the reference SDK's four kinds."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from tether import (
    Agent,
    FunctionToolResult,
    RunContext,
    Runner,
    RunState,
    ToolsToFinalOutputResult,
    function_tool,
)
from tether.errors import AgentDefinitionError, UserError
from tether.testing import ScriptedModel, message, tool_call


class Weather(BaseModel):
    city: str
    conditions: str


@function_tool
def get_weather(city: str) -> Weather:
    """The weather in a city."""
    return Weather(city=city, conditions="Sunny")


@function_tool
def count_letters(word: str) -> int:
    """How many letters."""
    return len(word)


@function_tool(needs_approval=True)
def book(city: str) -> dict[str, str]:
    """Book a trip."""
    return {"booked": city}


def oslo_weather(behavior: Any, **options: Any) -> Agent[Any]:
    """An agent whose model asks for Oslo's weather once."""
    model = ScriptedModel([tool_call("get_weather", {"city": "Oslo"})])
    return Agent(name="A", model=model, tools=[get_weather], tool_use_behavior=behavior, **options)


def both_calls() -> list[dict[str, Any]]:
    return [
        tool_call("count_letters", {"word": "Tokyo"}, "call_count"),
        tool_call("get_weather", {"city": "Tokyo"}, "call_weather"),
    ]


STOP_AT = [
    # (what the model answers, the final output, model requests)
    ([both_calls()], Weather(city="Tokyo", conditions="Sunny"), 1),  # the named tool's object
    ([tool_call("count_letters", {"word": "Tokyo"}), message("Five.")], "Five.", 2),  # none
]


@pytest.mark.parametrize(("turns", "final", "requests"), STOP_AT, ids=["named", "not-named"])
async def test_stop_at_tool_names_ends_only_on_a_named_tool(
    turns: list[Any], final: Any, requests: int
) -> None:
    model = ScriptedModel(turns)
    agent = Agent(
        name="A",
        model=model,
        tools=[count_letters, get_weather],
        tool_use_behavior={"stop_at_tool_names": ["get_weather"]},
    )
    result = await Runner.run(agent, "Weather in Tokyo?")
    assert result.final_output == final
    assert len(model.requests) == requests


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_a_function_sees_the_turns_results_and_ends_the_run(asynchronous: bool) -> None:
    seen: list[tuple[str, Any, Any]] = []

    def decide(ctx: RunContext[Any], results: list[FunctionToolResult]) -> ToolsToFinalOutputResult:
        seen.extend((r.tool.name, r.output, r.run_item["call_id"]) for r in results)
        weather = results[1].output
        return ToolsToFinalOutputResult(True, f"{weather.city} is {weather.conditions}.")

    async def decide_async(ctx: RunContext[Any], results: list[FunctionToolResult]) -> Any:
        return decide(ctx, results)

    model = ScriptedModel([both_calls()])
    agent = Agent(
        name="A",
        model=model,
        tools=[count_letters, get_weather],
        tool_use_behavior=decide_async if asynchronous else decide,
    )
    result = await Runner.run(agent, "Weather in Tokyo?")
    assert result.final_output == "Tokyo is Sunny."
    assert seen == [
        ("count_letters", 5, "call_count"),
        ("get_weather", Weather(city="Tokyo", conditions="Sunny"), "call_weather"),
    ]
    assert len(model.requests) == 1


async def test_a_function_that_says_not_final_lets_the_model_read_the_outputs() -> None:
    asked: list[int] = []

    def decide(ctx: RunContext[Any], results: list[FunctionToolResult]) -> ToolsToFinalOutputResult:
        asked.append(len(results))
        return ToolsToFinalOutputResult(is_final_output=False)

    model = ScriptedModel([both_calls(), message("Sunny in Tokyo.")])
    agent = Agent(
        name="A", model=model, tools=[count_letters, get_weather], tool_use_behavior=decide
    )
    result = await Runner.run(agent, "Weather in Tokyo?")
    assert result.final_output == "Sunny in Tokyo."
    assert asked == [2]  # asked once, after the tools; not after the final message
    assert model.requests[1].input[-1]["type"] == "function_call_output"


async def test_a_function_is_asked_after_an_approval_in_another_process() -> None:
    """The outputs it sees are rebuilt from the journal: the same after a save and a load."""

    def decide(ctx: RunContext[Any], results: list[FunctionToolResult]) -> ToolsToFinalOutputResult:
        return ToolsToFinalOutputResult(True, results[0].output)

    model = ScriptedModel([tool_call("book", {"city": "Tokyo"})])
    agent = Agent(name="A", model=model, tools=[book], tool_use_behavior=decide)
    paused = await Runner.run(agent, "Book Tokyo")
    assert [i.tool_name for i in paused.interruptions] == ["book"]
    text = paused.to_state().to_string()

    state = RunState.from_string(agent, text)  # as another process would
    state.approve(state.interruptions[0])
    result = await Runner.run(agent, state)
    assert result.final_output == {"booked": "Tokyo"}
    assert len(model.requests) == 1


async def test_a_functions_object_is_the_final_output_here_and_json_data_once_loaded() -> None:
    def decide(ctx: RunContext[Any], results: list[FunctionToolResult]) -> ToolsToFinalOutputResult:
        return ToolsToFinalOutputResult(True, results[0].output)

    agent = oslo_weather(decide)
    result = await Runner.run(agent, "Weather in Oslo?")
    assert result.final_output == Weather(city="Oslo", conditions="Sunny")

    loaded = RunState.from_string(agent, result.to_state().to_string())
    again = await Runner.run(agent, loaded)
    assert again.final_output == {"city": "Oslo", "conditions": "Sunny"}


async def test_stop_on_first_tool_gives_the_same_value_after_a_load() -> None:
    agent = oslo_weather("stop_on_first_tool")
    result = await Runner.run(agent, "Weather in Oslo?")
    loaded = RunState.from_string(agent, result.to_state().to_string())
    again = await Runner.run(agent, loaded)
    assert result.final_output == again.final_output == Weather(city="Oslo", conditions="Sunny")


async def test_a_function_with_an_output_type_journals_that_types_data() -> None:
    def decide(ctx: RunContext[Any], results: list[FunctionToolResult]) -> ToolsToFinalOutputResult:
        return ToolsToFinalOutputResult(True, {"city": "Oslo", "conditions": "Rain"})

    agent = oslo_weather(decide, output_type=Weather)
    result = await Runner.run(agent, "Weather in Oslo?")
    assert result.final_output == Weather(city="Oslo", conditions="Rain")
    loaded = RunState.from_string(agent, result.to_state().to_string())
    assert (await Runner.run(agent, loaded)).final_output == Weather(city="Oslo", conditions="Rain")


async def test_a_final_output_that_does_not_fit_the_output_type_is_a_clear_error() -> None:
    agent = oslo_weather(
        lambda ctx, results: ToolsToFinalOutputResult(True, {"city": 3}), output_type=Weather
    )
    with pytest.raises(UserError, match="fits the agent's output_type"):
        await Runner.run(agent, "Weather in Oslo?")


async def test_a_function_must_answer_with_a_tools_to_final_output_result() -> None:
    with pytest.raises(UserError, match="must return a ToolsToFinalOutputResult, not True"):
        await Runner.run(oslo_weather(lambda ctx, results: True), "Weather in Oslo?")


async def test_a_final_output_that_cannot_be_journaled_is_a_clear_error() -> None:
    with pytest.raises(UserError, match="cannot be journaled"):
        await Runner.run(
            oslo_weather(lambda ctx, results: ToolsToFinalOutputResult(True, object())),
            "Weather in Oslo?",
        )


@pytest.mark.parametrize(
    "behavior",
    ["stop_on_every_tool", {"stop_at": ["x"]}, {"stop_at_tool_names": "get_weather"}, 3],
)
def test_an_unknown_tool_use_behavior_is_refused_when_the_agent_is_made(behavior: Any) -> None:
    with pytest.raises(AgentDefinitionError, match="tool_use_behavior must be"):
        Agent(name="A", tools=[get_weather], tool_use_behavior=behavior)
