"""What tether.agents gained for more of the reference SDK's examples: the handoff filter
``remove_all_tools``, ``agents.models.is_gpt_5_default``, and ``to_input_list()`` keyed as
the reference keys its items."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tether.agents import (
    Agent,
    GuardrailFunctionOutput,
    HandoffInputData,
    ModelSettings,
    Runner,
    handoff,
)
from tether.agents.decorators import input_guardrail, tool
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


async def test_a_conversations_session_answers_the_reference_private_id_getter() -> None:
    from openai import AsyncOpenAI

    from sessions.conversations_server import API_KEY, conversations_server
    from tether.agents import OpenAIConversationsSession

    with conversations_server() as api:
        async with AsyncOpenAI(base_url=api.base_url, api_key=API_KEY, max_retries=0) as client:
            session = OpenAIConversationsSession(openai_client=client)
            assert session.conversation_id is None
            created = await session._get_session_id()  # creates the conversation
            assert created == session.conversation_id and api.routes() == ["conversations.create"]
            assert await session._get_session_id() == created  # and then keeps it
            assert api.routes() == ["conversations.create"]


async def test_new_items_name_the_agent_of_each_turn_and_the_handoffs_taken() -> None:
    from tether.agents import HandoffCallItem, HandoffOutputItem, ToolCallItem, ToolCallOutputItem
    from tether.agents.extensions.handoff_prompt import (
        RECOMMENDED_PROMPT_PREFIX,
        prompt_with_handoff_instructions,
    )

    @tool
    def look_up(question: str) -> str:
        """Look a question up."""
        return "Nine to five."

    faq_model = ScriptedModel([tool_call("look_up", {"question": "Hours?"}), message("9-5.")])
    faq = Agent(
        name="FAQ",
        instructions=prompt_with_handoff_instructions("Answer questions."),
        tools=[look_up],
        model=faq_model,  # type: ignore[arg-type]
    )
    triage = Agent(
        name="Triage",
        handoffs=[faq],
        model=ScriptedModel([tool_call("transfer_to_faq", {}, "c_hand")]),  # type: ignore[arg-type]
    )
    result = await Runner.run(triage, "Hours?")
    items = result.new_items
    assert [type(item) for item in items[:4]] == [
        HandoffCallItem,
        HandoffOutputItem,
        ToolCallItem,
        ToolCallOutputItem,
    ]
    assert [item.agent.name for item in items] == ["Triage", "Triage", "FAQ", "FAQ", "FAQ"]
    taken = items[1]
    assert isinstance(taken, HandoffOutputItem)
    assert (taken.source_agent.name, taken.target_agent.name) == ("Triage", "FAQ")
    assert faq_model.requests[0].instructions == f"{RECOMMENDED_PROMPT_PREFIX}\n\nAnswer questions."


def test_web_search_tool_takes_the_reference_options_and_defaults() -> None:
    from tether.agents import WebSearchTool
    from tether.hosted import WebSearchTool as TetherWebSearchTool

    assert WebSearchTool().spec.hosted == {
        "type": "web_search",
        "filters": None,
        "user_location": None,
        "search_context_size": "medium",
    }
    tool = WebSearchTool(
        filters={"allowed_domains": ["example.com"]},
        search_context_size="low",
        external_web_access=False,
    )
    assert isinstance(tool, TetherWebSearchTool)
    assert tool.spec.hosted == {
        "type": "web_search",
        "filters": {"allowed_domains": ["example.com"]},
        "user_location": None,
        "search_context_size": "low",
        "external_web_access": False,
    }
    assert TetherWebSearchTool().spec.hosted == {"type": "web_search"}  # tether's own


def test_code_interpreter_tool_is_built_from_the_tool_object() -> None:
    from tether.agents import CodeInterpreterTool, ToolCallItem
    from tether.agents._items import run_item
    from tether.errors import AgentDefinitionError

    config = {"type": "code_interpreter", "container": {"type": "auto", "file_ids": ["f1"]}}
    tool = CodeInterpreterTool(tool_config=config)
    assert tool.spec.hosted == config and tool.name == "code_interpreter"
    with pytest.raises(AgentDefinitionError, match="code_interpreter"):
        CodeInterpreterTool(tool_config={"type": "web_search"})
    # The API's call of a hosted tool is a tool call item, as a function call is.
    ran = {"type": "code_interpreter_call", "id": "ci_1", "code": "print(1)", "outputs": []}
    item = run_item(ran, Agent(name="Calc"))
    assert isinstance(item, ToolCallItem) and item.raw_item["code"] == "print(1)"


async def test_an_input_guardrail_is_handed_the_input_as_the_program_gave_it() -> None:
    seen: list[Any] = []

    @input_guardrail(run_in_parallel=False)
    async def look(ctx: Any, agent: Any, input: Any) -> GuardrailFunctionOutput:
        seen.append(input)
        return GuardrailFunctionOutput(output_info=None, tripwire_triggered=False)

    assert look.run_in_parallel is False and input_guardrail(lambda *_: None).run_in_parallel
    agent = Agent(name="Desk", input_guardrails=[look], model=ScriptedModel([message("Hi.")] * 2))  # type: ignore[arg-type]
    await Runner.run(agent, "Hello")
    items = [{"role": "user", "content": "Hello"}]
    await Runner.run(agent, items)
    assert seen == ["Hello", items]  # a text as the text, items as items


def test_clone_to_another_model_brings_that_models_default_settings() -> None:
    agent = Agent(name="Desk", model="gpt-5.6-luna")
    assert agent.model_settings.verbosity == "low"
    assert agent.clone(model="gpt-4.1").model_settings.reference_options == {}
    settings = ModelSettings(verbosity="high")
    tuned = Agent(name="Desk", model="gpt-5.6-luna", model_settings=settings)
    assert tuned.clone(model="gpt-4.1").model_settings is settings  # the program's own
