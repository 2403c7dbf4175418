"""Lifecycle hooks: RunHooks and AgentHooks called at each step, across a pause."""

from __future__ import annotations

from typing import Any

import pytest

from tether import (
    Agent,
    AgentHooks,
    Approver,
    RunConfig,
    RunContext,
    RunHooks,
    Runner,
    ToolApprovalItem,
    ToolOutputReviewItem,
    function_tool,
    grant_standing_approval,
)
from tether.approvals import MemoryRuleBook, RuleScope
from tether.errors import HookError
from tether.models import ModelResponse
from tether.testing import ScriptedModel, message, tool_call
from tether.tools import FunctionTool

RAN: list[str] = []


@function_tool(needs_approval=True)
def get_temperature(city: str) -> str:
    """Get the temperature for a city."""
    RAN.append(city)
    return f"{city}: 20°C"


class Recorder(RunHooks[Any]):
    def __init__(self) -> None:
        self.seen: list[str] = []

    async def on_agent_start(self, context: RunContext[Any], agent: Agent[Any]) -> None:
        self.seen.append(f"agent_start {agent.name}")

    async def on_agent_end(self, context: RunContext[Any], agent: Agent[Any], output: Any) -> None:
        self.seen.append(f"agent_end {agent.name} {output}")

    async def on_llm_start(
        self, context: RunContext[Any], agent: Agent[Any], system_prompt: Any, input_items: Any
    ) -> None:
        self.seen.append(f"llm_start {len(input_items)} items")

    async def on_llm_end(
        self, context: RunContext[Any], agent: Agent[Any], response: ModelResponse
    ) -> None:
        self.seen.append(f"llm_end {len(response.output)} out")

    async def on_tool_start(
        self, context: RunContext[Any], agent: Agent[Any], tool: FunctionTool
    ) -> None:
        self.seen.append(f"tool_start {tool.name}")

    async def on_tool_end(
        self, context: RunContext[Any], agent: Agent[Any], tool: FunctionTool, result: str
    ) -> None:
        self.seen.append(f"tool_end {result}")

    async def on_handoff(
        self, context: RunContext[Any], from_agent: Agent[Any], to_agent: Agent[Any]
    ) -> None:
        self.seen.append(f"handoff {from_agent.name}->{to_agent.name}")

    async def on_approval_requested(
        self, context: RunContext[Any], agent: Agent[Any], approval: ToolApprovalItem
    ) -> None:
        self.seen.append(f"approval_requested {approval.call_id}")

    async def on_approval_decided(
        self,
        context: RunContext[Any],
        agent: Agent[Any],
        approval: ToolApprovalItem,
        approved: bool,
    ) -> None:
        self.seen.append(f"approval_decided {approval.call_id} {approved}")

    async def on_output_review_requested(
        self, context: RunContext[Any], agent: Agent[Any], review: ToolOutputReviewItem
    ) -> None:
        self.seen.append(f"output_review_requested {review.call_id} {review.output}")

    async def on_output_reviewed(
        self,
        context: RunContext[Any],
        agent: Agent[Any],
        review: ToolOutputReviewItem,
        verdict: str,
        output: str,
    ) -> None:
        self.seen.append(f"output_reviewed {review.call_id} {verdict} {output!r}")


class AgentRecorder(AgentHooks[Any]):
    def __init__(self) -> None:
        self.seen: list[str] = []

    async def on_start(self, context: RunContext[Any], agent: Agent[Any]) -> None:
        self.seen.append(f"start {agent.name}")

    async def on_handoff(
        self, context: RunContext[Any], agent: Agent[Any], source: Agent[Any]
    ) -> None:
        self.seen.append(f"handed {source.name}->{agent.name}")

    async def on_end(self, context: RunContext[Any], agent: Agent[Any], output: Any) -> None:
        self.seen.append(f"end {output}")

    async def on_output_review_requested(
        self, context: RunContext[Any], agent: Agent[Any], review: ToolOutputReviewItem
    ) -> None:
        self.seen.append(f"review_requested {review.tool_name} {review.output}")

    async def on_output_reviewed(
        self,
        context: RunContext[Any],
        agent: Agent[Any],
        review: ToolOutputReviewItem,
        verdict: str,
        output: str,
    ) -> None:
        self.seen.append(f"reviewed {review.tool_name} {verdict} {review.output} -> {output}")


async def test_run_hooks_follow_a_run_across_a_pause_and_a_resume() -> None:
    RAN.clear()
    hooks = Recorder()
    model = ScriptedModel(
        [tool_call("get_temperature", {"city": "Oakland"}, "c1"), message("20°C.")]
    )
    agent = Agent(name="Weather", model=model, tools=[get_temperature])
    first = await Runner.run(agent, "Oakland?", hooks=hooks)
    assert hooks.seen == [
        "agent_start Weather",
        "llm_start 1 items",
        "llm_end 1 out",
        "approval_requested c1",
    ]
    state = first.to_state()
    state.approve(first.interruptions[0])
    hooks.seen.clear()
    result = await Runner.run(agent, state, hooks=hooks)
    assert result.final_output == "20°C."
    assert hooks.seen == [
        "approval_decided c1 True",
        "tool_start get_temperature",
        "tool_end Oakland: 20°C",
        "agent_start Weather",
        "llm_start 3 items",
        "llm_end 1 out",
        "agent_end Weather 20°C.",
    ]
    assert RAN == ["Oakland"]


async def test_agent_hooks_and_handoffs() -> None:
    triage_hooks, expert_hooks, run_hooks = AgentRecorder(), AgentRecorder(), Recorder()
    expert = Agent(name="Expert", model=ScriptedModel([message("Done.")]), hooks=expert_hooks)
    triage = Agent(
        name="Triage",
        model=ScriptedModel([tool_call("transfer_to_expert", {}, "h1")]),
        handoffs=[expert],
        hooks=triage_hooks,
    )
    result = await Runner.run(triage, "help", hooks=run_hooks)
    assert result.final_output == "Done."
    assert triage_hooks.seen == ["start Triage"]
    assert expert_hooks.seen == ["handed Triage->Expert", "start Expert", "end Done."]
    assert "handoff Triage->Expert" in run_hooks.seen


async def test_a_failing_hook_stops_the_run_with_a_resumable_state() -> None:
    RAN.clear()

    class Broken(RunHooks[Any]):
        async def on_tool_start(self, context: Any, agent: Any, tool: Any) -> None:
            raise ValueError("audit log unavailable")

    model = ScriptedModel(
        [tool_call("get_temperature", {"city": "Oakland"}, "c1"), message("20°C.")]
    )
    agent = Agent(name="Weather", model=model, tools=[get_temperature])
    first = await Runner.run(agent, "Oakland?")
    state = first.to_state()
    state.approve(first.interruptions[0])
    with pytest.raises(HookError) as caught:
        await Runner.run(agent, state, hooks=Broken())
    assert "Broken.on_tool_start raised ValueError: audit log unavailable" in str(caught.value)
    assert RAN == []  # the tool never started
    result = await Runner.run(agent, caught.value.run_state)
    assert result.final_output == "20°C." and RAN == ["Oakland"]


@function_tool(review_output=True)
def lookup_customer(email: str) -> str:
    """Look a customer up."""
    RAN.append(email)
    return f"{email}: card 4111"


@function_tool(needs_approval=True, review_output=True)
def read_file(path: str) -> str:
    """Read a file."""
    RAN.append(path)
    return f"contents of {path}"


async def test_an_output_review_calls_its_hooks_when_asked_and_when_taken_up() -> None:
    RAN.clear()
    hooks, agent_hooks = Recorder(), AgentRecorder()
    model = ScriptedModel(
        [tool_call("lookup_customer", {"email": "a@example.com"}, "c1"), message("Restricted.")]
    )
    agent = Agent(name="Desk", model=model, tools=[lookup_customer], hooks=agent_hooks)
    first = await Runner.run(agent, "Who is a@example.com?", hooks=hooks)
    assert hooks.seen[-3:] == [
        "tool_start lookup_customer",
        "tool_end a@example.com: card 4111",
        "output_review_requested c1 a@example.com: card 4111",
    ]
    assert "approval_requested c1" not in hooks.seen  # a review is not an approval
    assert agent_hooks.seen[-1] == "review_requested lookup_customer a@example.com: card 4111"

    state = first.to_state()
    state.withhold(first.interruptions[0], message="The record is restricted.")
    hooks.seen.clear()
    agent_hooks.seen.clear()
    result = await Runner.run(agent, state, hooks=hooks)
    assert result.final_output == "Restricted."
    assert hooks.seen == [
        "output_reviewed c1 withheld 'The record is restricted.'",
        "agent_start Desk",
        "llm_start 3 items",
        "llm_end 1 out",
        "agent_end Desk Restricted.",
    ]
    assert agent_hooks.seen[0] == (
        "reviewed lookup_customer withheld a@example.com: card 4111 -> The record is restricted."
    )
    assert model.requests[-1].input[-1]["output"] == "The record is restricted."
    assert RAN == ["a@example.com"]  # the tool ran once


async def test_a_call_that_needs_approval_and_review_calls_both_kinds_of_hooks() -> None:
    RAN.clear()
    hooks = Recorder()
    model = ScriptedModel([tool_call("read_file", {"path": "a.txt"}, "c1"), message("Read.")])
    agent = Agent(name="Files", model=model, tools=[read_file])
    first = await Runner.run(agent, "Read a.txt", hooks=hooks)
    assert hooks.seen[-1] == "approval_requested c1"
    state = first.to_state()
    state.approve(first.interruptions[0])
    hooks.seen.clear()
    second = await Runner.run(agent, state, hooks=hooks)
    assert hooks.seen == [
        "approval_decided c1 True",
        "tool_start read_file",
        "tool_end contents of a.txt",
        "output_review_requested c1 contents of a.txt",
    ]
    state = second.to_state()
    state.replace_output(second.interruptions[0], "contents of a.txt (redacted)")
    hooks.seen.clear()
    result = await Runner.run(agent, state, hooks=hooks)
    assert result.final_output == "Read."
    assert hooks.seen[0] == "output_reviewed c1 replaced 'contents of a.txt (redacted)'"
    assert sum(line.startswith("output_reviewed") for line in hooks.seen) == 1
    assert RAN == ["a.txt"]


async def test_a_call_a_standing_approval_approved_is_decided_without_being_asked() -> None:
    RAN.clear()
    hooks = Recorder()
    model = ScriptedModel([tool_call("get_temperature", {"city": "Oslo"}, "c1"), message("Cold.")])
    agent = Agent(name="Weather", model=model, tools=[get_temperature])
    book = MemoryRuleBook()
    await grant_standing_approval(
        book,
        agent,
        "get_temperature",
        by=Approver("ana"),
        scope=RuleScope.agent(),
        match={"city": "Oslo"},
        max_uses=1,
    )
    result = await Runner.run(
        agent, "Oslo?", hooks=hooks, run_config=RunConfig(standing_approvals=book)
    )
    assert result.final_output == "Cold." and RAN == ["Oslo"]
    assert "approval_decided c1 True" in hooks.seen
    assert not any(line.startswith("approval_requested") for line in hooks.seen)
