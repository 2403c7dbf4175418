"""RunConfig: model override, model settings, rejection message; its data is journaled."""

from __future__ import annotations

from typing import Any

import pytest

from tether import (
    Agent,
    ModelSettings,
    RunConfig,
    Runner,
    RunState,
    ToolApprovalItem,
    UserError,
    function_tool,
)
from tether.models import Model
from tether.testing import ScriptedModel, message, tool_call


@function_tool(needs_approval=True)
def delete_file(path: str) -> str:
    """Delete a file."""
    return f"deleted {path}"


class Provider:
    """Models by name: every name gets the same scripted model."""

    def __init__(self, model: ScriptedModel) -> None:
        self.model = model
        self.names: list[str] = []

    def get_model(self, name: str) -> Model:
        self.names.append(name)
        return self.model


async def test_a_model_by_name_and_settings_carry_across_a_resume_without_the_config() -> None:
    own = ScriptedModel([])
    agent = Agent(
        name="Files",
        model=own,
        tools=[delete_file],
        model_settings=ModelSettings(temperature=0.7, max_tokens=100),
    )
    override = ScriptedModel([tool_call("delete_file", {"path": "a.txt"}, "c1"), message("Gone.")])
    provider = Provider(override)
    config = RunConfig(model="big-model", model_settings=ModelSettings(temperature=0.0))
    first = await Runner.run(agent, "delete a.txt", run_config=config, model_provider=provider)
    # Saved and resumed, as in another process, with no RunConfig given again.
    state = RunState.from_string(agent, first.to_state().to_string())
    state.approve(state.interruptions[0])
    result = await Runner.run(agent, state, model_provider=provider)
    assert result.final_output == "Gone."
    assert own.requests == [] and provider.names == ["big-model", "big-model"]
    settings = [request.settings for request in override.requests]
    assert [(s.temperature, s.max_tokens) for s in settings] == [(0.0, 100), (0.0, 100)]


async def test_a_model_object_overrides_every_agent() -> None:
    override = ScriptedModel([message("From the override.")])
    agent = Agent(name="A", model=ScriptedModel([]))
    result = await Runner.run(agent, "hi", run_config=RunConfig(model=override))
    assert result.final_output == "From the override."


async def test_a_rejection_message_function_of_the_call() -> None:
    model = ScriptedModel([tool_call("delete_file", {"path": "a.txt"}, "c1"), message("OK.")])
    agent = Agent(name="Files", model=model, tools=[delete_file])

    def explain(call: ToolApprovalItem) -> str:
        return f"{call.tool_name}({call.parsed_arguments}) was declined by the operator."

    config = RunConfig(rejection_message=explain)
    first = await Runner.run(agent, "delete a.txt", run_config=config)
    state = first.to_state()
    state.reject(first.interruptions[0])
    await Runner.run(agent, state, run_config=config)
    assert model.requests[1].input[-1]["output"] == (
        "delete_file({'path': 'a.txt'}) was declined by the operator."
    )


async def test_a_rejection_template_is_journaled() -> None:
    model = ScriptedModel([tool_call("delete_file", {"path": "a.txt"}, "c1"), message("OK.")])
    agent = Agent(name="Files", model=model, tools=[delete_file])
    config = RunConfig(rejection_message="No {tool} today.")
    first = await Runner.run(agent, "delete a.txt", run_config=config)
    state = RunState.from_string(agent, first.to_state().to_string())
    state.reject(state.interruptions[0])
    await Runner.run(agent, state)  # no config on resume
    assert model.requests[1].input[-1]["output"] == "No delete_file today."


async def test_run_config_must_be_a_run_config() -> None:
    agent: Agent[Any] = Agent(name="A", model=ScriptedModel([]))
    with pytest.raises(UserError, match="run_config must be a RunConfig"):
        await Runner.run(agent, "hi", run_config={"model": "x"})  # type: ignore[arg-type]
