"""Committed journals of every shape that matters, loaded, folded and resumed.

They guard compatibility: a change that cannot read or resume them breaks
saved runs in the field. ``tests/golden/make_golden.py`` wrote them, once per format
version (version 2 added the seal of each decision).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tether import Agent, Runner, RunState, ToolCallInDoubtError, function_tool
from tether.testing import ScriptedModel, message, tool_call
from weather_app import RUNS, weather_agent

GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.fixture(params=["v1", "v2"])
def version(request: pytest.FixtureRequest) -> str:
    """Every format version's goldens must load and resume alike."""
    return str(request.param)


def load(name: str, agent: Agent[object]) -> RunState:
    return RunState.from_string(agent, (GOLDEN / name).read_text(encoding="utf-8"))


def outputs(model: ScriptedModel) -> list[tuple[str, str]]:
    return [
        (item["call_id"], item["output"])
        for item in model.requests[-1].input
        if item.get("type") == "function_call_output"
    ]


async def test_interrupted_two_calls(version: str) -> None:
    model = ScriptedModel([message("done")])
    agent = weather_agent(model)
    state = load(f"interrupted_two_calls.{version}.json", agent)
    assert [i.call_id for i in state.interruptions] == ["call_sf", "call_oak"]
    assert state.current_turn == 1
    for item in state.interruptions:
        state.approve(item)

    result = await Runner.run(agent, state)

    assert result.final_output == "done"
    assert RUNS["get_temperature"] == 2
    assert [call for call, _ in outputs(model)] == ["call_sf", "call_oak"]


async def test_decided_with_an_always_rejection(version: str) -> None:
    berkeley = tool_call("get_temperature", {"city": "Berkeley"}, "call_b")
    model = ScriptedModel([berkeley, message("done")])
    agent = weather_agent(model)
    state = load(f"decided.{version}.json", agent)
    assert state.interruptions == []

    result = await Runner.run(agent, state)

    assert result.final_output == "done"
    assert RUNS["get_temperature"] == 1  # San Francisco; Oakland and Berkeley were refused
    assert outputs(model)[-1] == ("call_b", "Not Oakland.")


async def test_handoff_interrupted(version: str) -> None:
    model = ScriptedModel([message("Oakland is 20°C.")])
    weather = weather_agent(model)
    triage = Agent(name="Triage", model=ScriptedModel([]), handoffs=[weather])
    state = load(f"handoff_interrupted.{version}.json", triage)
    assert state.current_agent is weather
    state.approve(state.interruptions[0])

    result = await Runner.run(triage, state)

    assert result.final_output == "Oakland is 20°C."
    assert result.last_agent is weather


async def test_a_tool_in_doubt_is_never_silently_run_again(version: str) -> None:
    runs: list[int] = []

    def charge_card(amount: int) -> str:
        """Charge the card."""
        runs.append(amount)
        return "charged"

    model = ScriptedModel([message("paid")])
    risky = Agent(name="Payments", model=model, tools=[function_tool(charge_card)])
    with pytest.raises(ToolCallInDoubtError, match="call_pay"):
        await Runner.run(risky, load(f"tool_in_doubt.{version}.json", risky))
    assert runs == []

    safe = risky.clone(tools=[function_tool(charge_card, idempotent=True)])
    result = await Runner.run(safe, load(f"tool_in_doubt.{version}.json", safe))
    assert (result.final_output, runs) == ("paid", [5])


# -- decision shapes added within version 2 (edited arguments, output review) ------------


async def test_an_edited_approval_resumes_with_the_edit() -> None:
    ran: list[str] = []

    @function_tool(needs_approval=True, editable=True)
    def book(city: str, seats: int = 1) -> str:
        """Book seats."""
        ran.append(f"{city}/{seats}")
        return f"booked {seats} to {city}"

    model = ScriptedModel([message("done")])
    travel = Agent(name="Travel", model=model, tools=[book])
    state = load("edited.v2.json", travel)
    assert state.interruptions == []
    [decided] = [record for record in state.audit() if record.kind == "decided"]
    assert (decided.by, decided.arguments, decided.edited_arguments) == (
        "ana",
        '{"city": "Pariss"}',
        '{"city":"Paris","seats":2}',
    )

    result = await Runner.run(travel, state)

    assert result.final_output == "done"
    assert ran == ["Paris/2"]
    [call] = [i for i in model.requests[-1].input if i.get("type") == "function_call"]
    assert call["arguments"] == '{"city":"Paris","seats":2}'
    assert outputs(model) == [("call_book", "booked 2 to Paris")]


async def test_an_output_waiting_for_review_is_reviewed_and_never_run_again() -> None:
    ran: list[str] = []

    @function_tool(review_output=True)
    def lookup(email: str) -> str:
        """Look a customer up."""
        ran.append(email)
        return "ran again"

    model = ScriptedModel([message("done")])
    support = Agent(name="Support", model=model, tools=[lookup])
    state = load("output_review.v2.json", support)
    [item] = state.interruptions
    assert (item.kind, getattr(item, "output", None)) == (
        "output_review",
        "a@example.com: card 4111-1111-1111-1111",
    )
    state.replace_output(item, "a@example.com: card ****1111")

    result = await Runner.run(support, state)

    assert result.final_output == "done"
    assert ran == []
    assert outputs(model) == [("call_who", "a@example.com: card ****1111")]
