"""Guardrails: input and output tripwires, tool guardrails before approval, all journaled."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from tether import (
    Agent,
    GuardrailFunctionOutput,
    InputGuardrailTripwireTriggered,
    OutputGuardrailTripwireTriggered,
    RunContext,
    Runner,
    RunState,
    ToolGuardrailFunctionOutput,
    function_tool,
    input_guardrail,
    output_guardrail,
    tool_input_guardrail,
    tool_output_guardrail,
)
from tether.errors import ToolInputGuardrailTripwireTriggered, ToolOutputGuardrailTripwireTriggered
from tether.guardrails import ToolInputGuardrailData, ToolOutputGuardrailData
from tether.items import message_text
from tether.testing import FunctionModel, ScriptedModel, message, tool_call

checks: Counter[str] = Counter()
tool_runs: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def _reset() -> None:
    checks.clear()
    tool_runs.clear()


@input_guardrail
async def no_homework(ctx: RunContext[Any], agent: Agent[Any], input: list[Any]) -> Any:
    checks["no_homework"] += 1
    flagged = "homework" in message_text(input[-1]).lower()
    return GuardrailFunctionOutput({"flagged": flagged}, tripwire_triggered=flagged)


@output_guardrail(name="no_secrets")
def no_secrets(ctx: RunContext[Any], agent: Agent[Any], output: Any) -> Any:
    checks["no_secrets"] += 1
    leaked = "password" in str(output)
    return GuardrailFunctionOutput({"leaked": leaked}, tripwire_triggered=leaked)


@tool_input_guardrail
def small_amounts(data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
    checks["small_amounts"] += 1
    if '"amount": 1000000' in data.arguments or '"amount":1000000' in data.arguments:
        return ToolGuardrailFunctionOutput.reject_content("Refused: amount over the limit.")
    if "offshore" in data.arguments:
        return ToolGuardrailFunctionOutput.raise_exception({"why": "offshore account"})
    return ToolGuardrailFunctionOutput.allow()


@tool_output_guardrail
async def no_account_numbers(data: ToolOutputGuardrailData) -> ToolGuardrailFunctionOutput:
    checks["no_account_numbers"] += 1
    if "ACCT" in data.output:
        return ToolGuardrailFunctionOutput.reject_content("[output withheld]")
    if "BREACH" in data.output:
        return ToolGuardrailFunctionOutput.raise_exception("breach")
    return ToolGuardrailFunctionOutput.allow()


@function_tool(
    needs_approval=True,
    tool_input_guardrails=[small_amounts],
    tool_output_guardrails=[no_account_numbers],
)
def transfer(account: str, amount: int) -> str:
    """Move money to an account."""
    tool_runs[account] += 1
    if account == "leaky":
        return "Done; ACCT 12-345"
    if account == "broken":
        return "BREACH"
    return f"Sent {amount} to {account}."


def bank(model: ScriptedModel) -> Agent[Any]:
    return Agent(
        name="Bank",
        model=model,
        tools=[transfer],
        input_guardrails=[no_homework],
        output_guardrails=[no_secrets],
    )


async def test_an_input_tripwire_stops_the_run_before_any_model_call() -> None:
    model = ScriptedModel([message("Sure, here is your essay.")])
    with pytest.raises(InputGuardrailTripwireTriggered) as caught:
        await Runner.run(bank(model), "Write my history homework")
    assert model.requests == []
    assert caught.value.output_info == {"flagged": True}
    assert "input guardrail 'no_homework' tripped" in str(caught.value)
    # The state resumes to the same stop, without running the guardrail again.
    state = RunState.from_string(bank(model), caught.value.run_state.to_string())
    with pytest.raises(InputGuardrailTripwireTriggered):
        await Runner.run(bank(model), state)
    assert model.requests == [] and checks["no_homework"] == 1


async def test_an_input_tripwire_stops_a_streamed_run_too() -> None:
    model = ScriptedModel([message("Sure.")])
    result = Runner.run_streamed(bank(model), "my homework please")
    with pytest.raises(InputGuardrailTripwireTriggered):
        async for _ in result.stream_events():
            pass
    assert model.requests == []


async def test_a_tool_guardrail_blocks_a_call_before_anyone_is_asked() -> None:
    model = ScriptedModel(
        [
            [tool_call("transfer", {"account": "alice", "amount": 1000000}, "c1")],
            message("That amount is over the limit."),
        ]
    )
    result = await Runner.run(bank(model), "Send a million to alice")
    assert result.interruptions == []  # nobody was asked
    assert result.final_output == "That amount is over the limit."
    assert model.requests[1].input[-1]["output"] == "Refused: amount over the limit."
    assert tool_runs == Counter()


async def test_a_tool_guardrail_tripwire_stops_the_run_before_approval() -> None:
    model = ScriptedModel([[tool_call("transfer", {"account": "offshore", "amount": 5}, "c1")]])
    with pytest.raises(ToolInputGuardrailTripwireTriggered) as caught:
        await Runner.run(bank(model), "Send 5 offshore")
    error = caught.value
    assert (error.tool_name, error.call_id, error.output_info) == (
        "transfer",
        "c1",
        {"why": "offshore account"},
    )
    assert error.run_state.interruptions == []
    assert tool_runs == Counter()


async def test_an_allowed_call_is_put_to_approval_and_its_guardrail_never_runs_again() -> None:
    turns = [
        [tool_call("transfer", {"account": "bob", "amount": 5}, "c1")],
        message("Sent."),
    ]
    first = await Runner.run(bank(ScriptedModel(turns[:1])), "Send 5 to bob")
    [pending] = first.interruptions
    state = RunState.from_string(bank(ScriptedModel([])), first.to_state().to_string())
    state.approve(pending)
    resumed = await Runner.run(bank(ScriptedModel(turns[1:])), state)
    assert resumed.final_output == "Sent."
    assert tool_runs == Counter({"bob": 1})
    # Each guardrail ran once, across the pause and the resume in a fresh agent graph.
    assert checks == Counter(
        {"no_homework": 1, "small_amounts": 1, "no_account_numbers": 1, "no_secrets": 1}
    )


async def test_a_tool_output_guardrail_replaces_what_the_model_reads() -> None:
    model = ScriptedModel(
        [[tool_call("transfer", {"account": "leaky", "amount": 5}, "c1")], message("Done.")]
    )
    first = await Runner.run(bank(model), "Send 5 to leaky")
    state = first.to_state()
    state.approve(first.interruptions[0])
    result = await Runner.run(bank(model), state)
    assert result.final_output == "Done."
    assert model.requests[1].input[-1]["output"] == "[output withheld]"
    assert tool_runs == Counter({"leaky": 1})


@pytest.mark.parametrize("waits", [False, True])
async def test_an_async_tool_alone_in_its_turn_has_its_output_checked(waits: bool) -> None:
    # Whether it finishes at once or waits for something first, as a sync tool's output.
    @function_tool(tool_output_guardrails=[no_account_numbers])
    async def statement(account: str) -> str:
        """Read an account's statement."""
        if waits:
            await asyncio.sleep(0)
        return f"ACCT {account}"

    model = ScriptedModel([[tool_call("statement", {"account": "x"}, "c1")], message("Done.")])

    result = await Runner.run(Agent(name="Bank", model=model, tools=[statement]), "Read x")

    assert result.final_output == "Done."
    assert model.requests[1].input[-1]["output"] == "[output withheld]"


async def test_a_tool_output_tripwire_stops_the_run_and_stays_stopped() -> None:
    model = ScriptedModel([[tool_call("transfer", {"account": "broken", "amount": 5}, "c1")]])
    first = await Runner.run(bank(model), "Send 5 to broken")
    state = first.to_state()
    state.approve(first.interruptions[0])
    with pytest.raises(ToolOutputGuardrailTripwireTriggered) as caught:
        await Runner.run(bank(model), state)
    with pytest.raises(ToolOutputGuardrailTripwireTriggered):
        await Runner.run(bank(model), caught.value.run_state)
    assert tool_runs == Counter({"broken": 1}) and len(model.requests) == 1


async def test_an_output_tripwire_carries_a_resumable_state() -> None:
    model = ScriptedModel([message("The password is hunter2.")])
    with pytest.raises(OutputGuardrailTripwireTriggered) as caught:
        await Runner.run(bank(model), "What's the password?")
    error = caught.value
    assert error.output_info == {"leaked": True}
    text = error.run_state.to_string()
    state = RunState.from_string(bank(model), text)
    assert not state.is_complete and state.current_turn == 1
    with pytest.raises(OutputGuardrailTripwireTriggered) as again:
        await Runner.run(bank(model), state)
    assert again.value.output_info == {"leaked": True}
    assert checks["no_secrets"] == 1 and len(model.requests) == 1


async def test_guardrail_output_info_that_is_not_json_is_kept_as_text() -> None:
    @input_guardrail
    def odd(ctx: RunContext[Any], agent: Agent[Any], input: list[Any]) -> Any:
        return GuardrailFunctionOutput(output_info={1, 2}, tripwire_triggered=True)

    agent = Agent(name="A", model=ScriptedModel([]), input_guardrails=[odd])
    with pytest.raises(InputGuardrailTripwireTriggered) as caught:
        await Runner.run(agent, "hi")
    assert caught.value.output_info == "{1, 2}"
    RunState.from_string(agent, caught.value.run_state.to_string())


def _beside_agent(
    trip: bool, asked: asyncio.Event, answered: asyncio.Event
) -> tuple[Agent[Any], list[str]]:
    """An agent whose input guardrail runs beside its first model call: the check waits until
    the model was asked (so it cannot have run before the call), and the model waits for the
    check's verdict when it trips (so only a cancellation ends the call)."""
    ran: list[str] = []

    @input_guardrail(run_in_parallel=True)
    async def beside(ctx: RunContext[Any], agent: Agent[Any], input: list[Any]) -> Any:
        await asyncio.wait_for(asked.wait(), timeout=10)  # the call went out first
        return GuardrailFunctionOutput({"trip": trip}, tripwire_triggered=trip)

    @function_tool
    def lookup(city: str) -> str:
        """Look the weather up."""
        ran.append(city)
        return "Sunny"

    async def answer(request: Any) -> Any:
        first = not any(item.get("type") == "function_call_output" for item in request.input)
        asked.set()
        if first and trip:
            await answered.wait()  # never set: the tripwire cancels this call
        return tool_call("lookup", {"city": "Oslo"}, "c1") if first else message("Sunny.")

    model = FunctionModel(answer)
    return Agent(name="Weather", model=model, tools=[lookup], input_guardrails=[beside]), ran


async def test_an_input_guardrail_beside_the_first_call_lets_the_run_go_on_once_it_passed() -> None:
    agent, ran = _beside_agent(False, asyncio.Event(), asyncio.Event())
    result = await Runner.run(agent, "Weather in Oslo?")
    assert result.final_output == "Sunny." and ran == ["Oslo"]
    kinds = [event.kind for event in result.to_state().journal]
    assert kinds.index("guardrail_checked") < kinds.index("model_responded")


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_tripwire_beside_the_first_call_cancels_it_and_no_tool_runs(streamed: bool) -> None:
    answered = asyncio.Event()
    agent, ran = _beside_agent(True, asyncio.Event(), answered)
    with pytest.raises(InputGuardrailTripwireTriggered) as caught:
        if streamed:
            stream = Runner.run_streamed(agent, "Weather in Oslo?")
            async for _ in stream.stream_events():
                pass
        else:
            await Runner.run(agent, "Weather in Oslo?")
    assert ran == [] and not answered.is_set()
    kinds = [event.kind for event in caught.value.run_state.journal]
    assert "guardrail_checked" in kinds and "model_responded" not in kinds
