"""What tether.agents gained for more of the reference SDK's examples: the handoff filter
``remove_all_tools``, ``agents.models.is_gpt_5_default``, and ``to_input_list()`` keyed as
the reference keys its items."""

from __future__ import annotations

import json

import pytest

from tether.agents import Agent, HandoffInputData, Runner, handoff
from tether.agents.decorators import tool
from tether.agents.extensions import handoff_filters
from tether.agents.models import get_default_model, is_gpt_5_default
from tether.testing import ScriptedModel, message, tool_call


def test_remove_all_tools_keeps_only_the_messages() -> None:
    user = {"role": "user", "content": "Hi"}
    call = {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}
    output = {"type": "function_call_output", "call_id": "c1", "output": "1"}
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": []}
    said = {"type": "message", "role": "assistant", "content": []}
    hosted = {"type": "web_search_call", "id": "ws_1", "status": "completed"}
    data = HandoffInputData((user, hosted, reasoning), (call, output, said), (call, output))
    filtered = handoff_filters.remove_all_tools(data)
    assert filtered == HandoffInputData((user,), (said,), ())
    assert data.input_history == (user, hosted, reasoning)  # the given data is unchanged


async def test_remove_all_tools_as_an_input_filter_changes_what_the_next_model_is_sent() -> None:
    @tool
    def lookup(code: str) -> str:
        """Look a code up."""
        return f"{code} is fine"

    helper_model = ScriptedModel([message("Hecho.")])
    helper = Agent(name="Helper", model=helper_model)  # type: ignore[arg-type]
    first = ScriptedModel(
        [tool_call("lookup", {"code": "A1"}, "c_look"), tool_call("transfer_to_helper", {}, "c_h")]
    )
    agent = Agent(
        name="Desk",
        tools=[lookup],
        handoffs=[handoff(helper, input_filter=handoff_filters.remove_all_tools)],
        model=first,  # type: ignore[arg-type]
    )
    result = await Runner.run(agent, "Check A1")
    assert result.final_output == "Hecho."
    assert helper_model.requests[0].input == [{"content": "Check A1", "role": "user"}]
    # tether keeps the whole run: the filter chose only what the helper's model saw.
    assert [item.get("type") for item in result.to_input_list()] == [
        None,
        *["function_call", "function_call_output"] * 2,
        "message",
    ]


def test_is_gpt_5_default_follows_openai_default_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_DEFAULT_MODEL", raising=False)
    assert get_default_model().startswith("gpt-5") and is_gpt_5_default()
    monkeypatch.setenv("OPENAI_DEFAULT_MODEL", "gpt-4.1")
    assert not is_gpt_5_default()
    monkeypatch.setenv("OPENAI_DEFAULT_MODEL", "gpt-5.1-chat-latest")  # takes no reasoning
    assert not is_gpt_5_default()


async def test_to_input_list_keys_items_in_the_reference_order() -> None:
    @tool
    def roll(sides: int) -> int:
        """Roll a die."""
        return 1

    model = ScriptedModel([tool_call("roll", {"sides": 6}, "c_roll"), message("A one.")])
    agent = Agent(name="Dice", tools=[roll], model=model)  # type: ignore[arg-type]
    result = await Runner.run(agent, "Roll")
    items = result.to_input_list()
    # A text input becomes the reference's user message; a tool's output reads call id,
    # output, type; json.dumps shows the order.
    assert json.dumps(items[0]) == '{"content": "Roll", "role": "user"}'
    assert (
        json.dumps(items[2])
        == '{"call_id": "c_roll", "output": "1", "type": "function_call_output"}'
    )
    # Given items are kept as given.
    again = await Runner.run(
        Agent(name="Dice", model=ScriptedModel([message("Done.")])),  # type: ignore[arg-type]
        [{"role": "user", "content": "Hi"}],
    )
    assert json.dumps(again.to_input_list()[0]) == '{"role": "user", "content": "Hi"}'
