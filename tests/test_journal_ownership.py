"""The journal owns its events: nothing a run hands out can change what it recorded."""

from __future__ import annotations

import copy
import pickle
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tether import Agent, RunContext, Runner, RunState, UserError
from tether.errors import ReadOnlyItemError
from tether.models import ModelRequest, ModelResponse, ModelStreamEvent
from tether.testing import ScriptedModel, message, tool_call
from weather_app import RUNS, weather_agent


def paused_agent() -> tuple[Agent[Any], ScriptedModel]:
    model = ScriptedModel([tool_call("get_temperature", {"city": "Oakland"}), message("20°C.")])
    return weather_agent(model), model


async def test_editing_handed_out_items_raises_and_changes_nothing() -> None:
    agent, _ = paused_agent()
    result = await Runner.run(agent, "Temperature in Oakland?")
    before = result.to_state().to_string()

    call = result.new_items[0]
    with pytest.raises(ReadOnlyItemError, match="read-only"):
        call["arguments"] = '{"city": "Atlantis"}'
    with pytest.raises(ReadOnlyItemError):
        result.input[0]["content"] = "something else"
    with pytest.raises(ReadOnlyItemError):
        result.raw_responses[0].output.append(message("injected"))
    with pytest.raises(TypeError):  # ReadOnlyItemError is also a TypeError
        result.to_input_list()[0].clear()

    state = result.to_state()
    assert state.to_string() == before
    assert [item.arguments for item in state.interruptions] == ['{"city": "Oakland"}']


async def test_copies_of_items_are_ordinary_editable_data() -> None:
    agent, _ = paused_agent()
    result = await Runner.run(agent, "Temperature in Oakland?")
    item = result.new_items[0]

    for editable in (
        dict(item),
        copy.copy(item),
        copy.deepcopy(item),
        pickle.loads(pickle.dumps(item)),
    ):
        editable["arguments"] = "{}"
        assert type(editable) is dict
    assert item["arguments"] == '{"city": "Oakland"}'
    assert item == {
        "type": "function_call",
        "call_id": item["call_id"],
        "name": "get_temperature",
        "arguments": '{"city": "Oakland"}',
    }


class EditingModel:
    """A model that tries to rewrite the conversation it is given."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []

    async def get_response(self, request: ModelRequest) -> ModelResponse:
        try:
            request.input[0]["content"] = "rewritten"
        except ReadOnlyItemError as exc:
            self.errors.append(exc)
        return ModelResponse([message("done")])

    def stream_response(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        raise NotImplementedError


async def test_a_model_cannot_rewrite_the_conversation() -> None:
    model = EditingModel()
    result = await Runner.run(Agent(name="A", model=model), "original")

    assert len(model.errors) == 1
    assert result.input == [{"role": "user", "content": "original"}]
    assert result.to_state().journal[0].input == [{"role": "user", "content": "original"}]


async def test_stream_event_items_are_read_only() -> None:
    agent, _ = paused_agent()
    result = Runner.run_streamed(agent, "Temperature in Oakland?")
    items = [event.item async for event in result.stream_events() if hasattr(event, "item")]
    called = next(item for item in items if isinstance(item, dict))
    with pytest.raises(ReadOnlyItemError):
        called["name"] = "get_time"
    assert [i.tool_name for i in result.to_state().interruptions] == ["get_temperature"]


async def test_state_journal_is_a_read_only_snapshot() -> None:
    agent, _ = paused_agent()
    state = (await Runner.run(agent, "Temperature in Oakland?")).to_state()
    journal = state.journal
    assert isinstance(journal, tuple)
    with pytest.raises(ReadOnlyItemError):
        journal[1].output[0]["name"] = "get_time"  # type: ignore[attr-defined]
    state.approve(state.interruptions[0])
    assert len(state.journal) == len(journal) + 1  # deciding appends; the snapshot is unchanged


async def test_resumed_run_uses_what_was_recorded_not_what_was_edited() -> None:
    agent, model = paused_agent()
    result = await Runner.run(agent, "Temperature in Oakland?")
    with pytest.raises(ReadOnlyItemError):
        result.new_items[0]["arguments"] = '{"city": "Atlantis"}'
    state = RunState.from_string(agent, result.to_state().to_string())
    state.approve(state.interruptions[0])

    final = await Runner.run(agent, state)

    assert final.final_output == "20°C."
    assert RUNS["get_temperature"] == 1
    assert model.requests[1].input[-1]["output"] == "The temperature in Oakland is 20°C"


async def test_run_context_reads_the_run_as_it_is_now() -> None:
    seen: list[tuple[int, int, str]] = []

    async def instructions(ctx: RunContext[Any]) -> str:
        seen.append((ctx.turn, ctx.usage.requests, ctx.agent_name))
        return "Be brief."

    model = ScriptedModel([tool_call("get_time", {}), message("noon")])
    agent = weather_agent(model).clone(instructions=instructions)
    await Runner.run(agent, "time?")

    assert seen == [(0, 0, "Weather Assistant"), (1, 1, "Weather Assistant")]


def test_a_hand_made_context_reports_what_it_was_made_with() -> None:
    ctx = RunContext({"user": "ana"}, agent_name="Tester", turn=3)
    assert (ctx.context, ctx.agent_name, ctx.turn, ctx.usage.requests) == (
        {"user": "ana"},
        "Tester",
        3,
        0,
    )


async def test_input_nested_too_deep_is_a_user_error() -> None:
    deep: Any = "x"
    for _ in range(500):
        deep = {"a": deep}
    with pytest.raises(UserError, match="nested deeper"):
        await Runner.run(Agent(name="A", model=ScriptedModel([message("hi")])), [deep])


async def test_the_callers_input_is_copied_and_a_mapping_of_another_type_is_read() -> None:
    # The run keeps its own frozen copy of plain items (nested parts included), takes frozen
    # items as they are, and reads an item of another mapping type as a dict.
    from types import MappingProxyType

    content = [{"type": "input_text", "text": "Oakland?"}]
    mine = {"role": "user", "content": content}
    earlier = (await Runner.run(weather_agent(ScriptedModel([message("hi")])), "x")).new_items[0]
    other = MappingProxyType({"role": "user", "content": "and Paris?"})
    result = await Runner.run(weather_agent(ScriptedModel([message("ok")])), [mine, earlier, other])

    content[0]["text"] = "edited"
    mine["role"] = "system"
    given = result.to_state().journal[0].input  # type: ignore[attr-defined]
    assert given == [
        {"role": "user", "content": [{"type": "input_text", "text": "Oakland?"}]},
        earlier,
        {"role": "user", "content": "and Paris?"},
    ]
    assert given[1] is earlier and type(given[2]) is not MappingProxyType
    with pytest.raises(ReadOnlyItemError):
        given[0]["content"][0]["text"] = "again"
