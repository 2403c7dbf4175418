"""handoff(): tool name, input type with on_handoff, input filter, is_enabled."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from tether import (
    Agent,
    HandoffInputData,
    RunConfig,
    RunContext,
    Runner,
    RunState,
    UserError,
    function_tool,
    handoff,
)
from tether.errors import AgentDefinitionError
from tether.testing import ScriptedModel, message, tool_call


class Reason(BaseModel):
    reason: str


@function_tool(needs_approval=True)
def lookup(order: str) -> str:
    """Look an order up."""
    return f"Order {order}: shipped"


def drop_tool_items(data: HandoffInputData) -> HandoffInputData:
    def keep(item: dict[str, Any]) -> bool:
        return item.get("type", "message") == "message"

    return HandoffInputData(
        data.input_history,
        tuple(filter(keep, data.pre_handoff_items)),
        tuple(filter(keep, data.new_items)),
    )


async def test_a_handoff_with_a_name_an_input_type_and_a_filter_across_a_pause() -> None:
    received: list[Reason] = []

    async def log_reason(ctx: RunContext[Any], reason: Reason) -> None:
        received.append(reason)

    refunds_model = ScriptedModel([message("Refund issued.")])
    refunds = Agent(name="Refunds", model=refunds_model)
    triage_model = ScriptedModel(
        [
            tool_call("lookup", {"order": "A1"}, "c1"),
            tool_call("escalate_refund", {"reason": "damaged"}, "h1"),
        ]
    )
    triage = Agent(
        name="Triage",
        model=triage_model,
        tools=[lookup],
        handoffs=[
            handoff(
                refunds,
                tool_name_override="escalate_refund",
                input_type=Reason,
                on_handoff=log_reason,
                input_filter=drop_tool_items,
            )
        ],
    )
    first = await Runner.run(triage, "My order A1 arrived broken")
    specs = {spec.name: spec for spec in triage_model.requests[0].tools}
    assert specs["escalate_refund"].parameters["required"] == ["reason"]
    # Paused for the lookup's approval; resumed from a saved state.
    state = RunState.from_string(triage, first.to_state().to_string())
    state.approve(state.interruptions[0])
    result = await Runner.run(triage, state)
    assert result.final_output == "Refund issued."
    assert result.last_agent.name == "Refunds"
    assert received == [Reason(reason="damaged")]
    # The refunds agent saw only messages; the journal kept everything.
    sent = refunds_model.requests[0].input
    assert [item.get("type", "message") for item in sent] == ["message"]
    assert sent[0]["content"] == "My order A1 arrived broken"
    assert any(item.get("type") == "function_call" for item in result.new_items)
    # A resumed copy of the finished run's handoff sends what the filter chose, too.
    journal = result.to_state().journal
    [taken] = [event for event in journal if event.kind == "handoff_taken"]
    assert taken.conversation is not None and len(taken.conversation) == 1


async def test_bad_handoff_input_is_answered_and_the_handoff_not_taken() -> None:
    async def log_reason(ctx: RunContext[Any], reason: Reason) -> None:
        raise AssertionError("not called for bad input")

    refunds = Agent(name="Refunds", model=ScriptedModel([]))
    triage = Agent(
        name="Triage",
        model=ScriptedModel(
            [tool_call("transfer_to_refunds", {"why": 1}, "h1"), message("Let me retry.")]
        ),
        handoffs=[handoff(refunds, input_type=Reason, on_handoff=log_reason)],
    )
    result = await Runner.run(triage, "refund")
    assert result.final_output == "Let me retry." and result.last_agent.name == "Triage"
    output = result.new_items[1]["output"]
    assert output.startswith("Invalid arguments for handoff 'transfer_to_refunds'")


async def test_is_enabled_decides_whether_the_model_is_offered_the_handoff() -> None:
    refunds = Agent(name="Refunds", model=ScriptedModel([]))
    model = ScriptedModel([message("a"), message("b")])
    triage = Agent(
        name="Triage",
        model=model,
        handoffs=[handoff(refunds, is_enabled=lambda ctx, agent: ctx.context["plan"] == "pro")],
    )
    await Runner.run(triage, "hi", context={"plan": "free"})
    await Runner.run(triage, "hi", context={"plan": "pro"})
    assert [[spec.name for spec in r.tools] for r in model.requests] == [
        [],
        ["transfer_to_refunds"],
    ]


async def test_is_enabled_decides_whether_the_model_is_offered_a_tool() -> None:
    async def pro(ctx: RunContext[dict[str, str]], agent: Agent[Any]) -> bool:
        return ctx.context["plan"] == "pro" and agent.name == "Triage"

    @function_tool(is_enabled=pro)
    def refund(order: str) -> str:
        """Refund an order."""
        return f"Refunded {order}"

    @function_tool
    def status(order: str) -> str:
        """An order's status."""
        return "shipped"

    model = ScriptedModel([message("a"), message("b"), message("c")])
    expert = Agent(name="Expert", model=ScriptedModel([]))
    triage = Agent(
        name="Triage",
        model=model,
        tools=[refund, status, expert.as_tool("ask", is_enabled=False)],
    )
    await Runner.run(triage, "hi", context={"plan": "free"})
    await Runner.run(triage, "hi", context={"plan": "pro"})
    await Runner.run(triage.clone(name="Other"), "hi", context={"plan": "pro"})
    assert [[spec.name for spec in r.tools] for r in model.requests] == [
        ["status"],
        ["refund", "status"],
        ["status"],
    ]
    with pytest.raises(AgentDefinitionError, match="is_enabled is a bool or a function"):
        function_tool(status.function, is_enabled="yes")  # type: ignore[call-overload]


async def test_the_run_config_filter_applies_to_every_handoff() -> None:
    refunds_model = ScriptedModel([message("Done.")])
    refunds = Agent(name="Refunds", model=refunds_model)
    triage = Agent(
        name="Triage",
        model=ScriptedModel([tool_call("transfer_to_refunds", {}, "h1")]),
        handoffs=[refunds],
    )

    def only_input(data: HandoffInputData) -> HandoffInputData:
        return HandoffInputData(data.input_history, (), ())

    config = RunConfig(handoff_input_filter=only_input)
    await Runner.run(triage, "refund please", run_config=config)
    assert refunds_model.requests[0].input == [{"role": "user", "content": "refund please"}]


def test_handoff_options_are_checked_when_declared() -> None:
    refunds = Agent(name="Refunds")
    with pytest.raises(AgentDefinitionError, match="input_type needs an on_handoff"):
        handoff(refunds, input_type=Reason)
    with pytest.raises(AgentDefinitionError, match="more than one tool named"):
        Agent(name="T", handoffs=[refunds, handoff(refunds)])


async def test_a_filter_is_refused_with_a_server_managed_conversation() -> None:
    refunds = Agent(name="Refunds", model=ScriptedModel([]))
    triage = Agent(
        name="Triage",
        model=ScriptedModel([]),
        handoffs=[handoff(refunds, input_filter=drop_tool_items)],
    )
    with pytest.raises(UserError, match="server-managed conversation"):
        await Runner.run(triage, "hi", previous_response_id="resp_1")
