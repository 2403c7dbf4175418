"""Handoffs as programs written for the reference SDK use them through ``tether.agents``:
input filters given run items (``ToolCallItem``, ``HandoffOutputItem``, ...) and what they
return taken back, and ``nest_handoff_history``."""

from __future__ import annotations

from typing import Any

import pytest

from tether import RunConfig as TetherRunConfig
from tether import handoff as tether_handoff
from tether.agents import (
    Agent,
    HandoffCallItem,
    HandoffInputData,
    HandoffOutputItem,
    MessageOutputItem,
    RunConfig,
    Runner,
    RunState,
    ToolCallItem,
    ToolCallOutputItem,
    UserError,
    function_tool,
    handoff,
    nest_handoff_history,
)
from tether.agents.extensions import handoff_filters
from tether.agents.extensions.handoff_filters import remove_all_tools
from tether.agents.handoffs import (
    default_handoff_history_mapper,
    get_conversation_history_wrappers,
    reset_conversation_history_wrappers,
    set_conversation_history_wrappers,
)
from tether.handoffs import HandoffInputData as TetherHandoffInputData
from tether.testing import ScriptedModel, message, tool_call


@function_tool
def lookup(code: str) -> str:
    """Look a code up."""
    return f"{code} is fine"


def _desk(helper: Agent[Any], *, entry: Any = None, said: str | None = None) -> Agent[Any]:
    """An agent that looks a code up, then hands off to ``helper`` (saying ``said`` in the
    handoff's turn, if given)."""
    hand = tool_call("transfer_to_helper", {}, "c_hand")
    turn: Any = [message(said), hand] if said is not None else hand
    model = ScriptedModel([tool_call("lookup", {"code": "A1"}, "c_look"), turn])
    return Agent(
        name="Desk",
        tools=[lookup],
        handoffs=[entry if entry is not None else helper],
        model=model,  # type: ignore[arg-type]
    )


def _helper(*replies: str) -> tuple[Agent[Any], ScriptedModel]:
    model = ScriptedModel([message(reply) for reply in replies or ("Done.",)])
    return Agent(name="Helper", model=model), model  # type: ignore[arg-type]


async def test_an_input_filter_is_given_run_items_and_what_it_returns_is_sent() -> None:
    seen: list[HandoffInputData] = []

    def keep_messages(data: HandoffInputData) -> HandoffInputData:
        seen.append(data)
        kept = [item for item in data.new_items if not isinstance(item, ToolCallItem)]
        return data.clone(pre_handoff_items=(), new_items=tuple(kept))

    helper, helper_model = _helper()
    desk = _desk(helper, entry=handoff(helper, input_filter=keep_messages))
    result = await Runner.run(desk, "Check A1")
    assert result.final_output == "Done."
    [data] = seen
    assert data.input_history == ({"content": "Check A1", "role": "user"},)
    assert [type(item) for item in data.pre_handoff_items] == [ToolCallItem, ToolCallOutputItem]
    assert [type(item) for item in data.new_items] == [HandoffCallItem, HandoffOutputItem]
    call, taken = data.new_items
    assert call.raw_item.name == "transfer_to_helper" and call.agent is desk
    assert isinstance(taken, HandoffOutputItem) and taken.target_agent is helper
    assert data.pre_handoff_items[0].raw_item.arguments == '{"code": "A1"}'
    # Every kept item goes back as the run recorded it; the journal keeps the whole run.
    assert helper_model.requests[0].input == [
        {"content": "Check A1", "role": "user"},
        {"type": "function_call", "call_id": "c_hand", "name": "transfer_to_helper"}
        | {"arguments": "{}"},
        {"type": "function_call_output", "call_id": "c_hand", "output": '{"assistant": "Helper"}'},
    ]
    assert len(result.new_items) == 5


async def test_the_runs_filter_gets_run_items_and_remove_all_tools_takes_both_forms() -> None:
    helper, helper_model = _helper()
    desk = _desk(helper, said="Passing you on.")
    config = RunConfig(handoff_input_filter=handoff_filters.remove_all_tools)
    result = await Runner.run(desk, "Check A1", run_config=config)
    assert result.final_output == "Done."
    sent = helper_model.requests[0].input
    assert [item.get("role") for item in sent] == ["user", "assistant"]
    assert sent[1]["content"][0]["text"] == "Passing you on."
    # tether's own filters keep their item dicts, and remove_all_tools serves them too.
    user = {"role": "user", "content": "Hi"}
    call = {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}
    plain = TetherHandoffInputData((user, call), (call,), ())
    assert remove_all_tools(plain) == TetherHandoffInputData((user,), (), ())
    said = MessageOutputItem(desk, {"type": "message", "role": "assistant", "content": []})
    listing = MessageOutputItem(desk, {"type": "mcp_list_tools", "server_label": "s"})
    items = HandoffInputData((user,), (listing, said), (ToolCallItem(desk, call),))
    assert remove_all_tools(items) == HandoffInputData((user,), (said,), ())


async def test_a_filtered_handoff_resumes_from_its_journal_without_the_filter() -> None:
    calls: list[int] = []

    def only_the_question(data: HandoffInputData) -> HandoffInputData:
        calls.append(1)
        return data.clone(pre_handoff_items=(), new_items=(), input_items=None)

    @function_tool(needs_approval=True)
    def refund(order: str) -> str:
        """Refund an order."""
        return "refunded"

    helper_model = ScriptedModel([tool_call("refund", {"order": "A1"}, "c_ref"), message("Ok.")])
    helper = Agent(name="Helper", tools=[refund], model=helper_model)  # type: ignore[arg-type]
    desk = _desk(helper, entry=handoff(helper, input_filter=only_the_question))
    first = await Runner.run(desk, "Refund A1")
    saved = first.to_state().to_string()
    # Another process: the same agents, the filter now one that must not run.
    rebuilt_model = ScriptedModel([message("Ok.")])
    again = Agent(name="Helper", tools=[refund], model=rebuilt_model)  # type: ignore[arg-type]

    def must_not_run(data: HandoffInputData) -> HandoffInputData:
        raise AssertionError("the filter ran again on resume")

    desk_again = _desk(again, entry=handoff(again, input_filter=must_not_run))
    state = await RunState.from_string(desk_again, saved)
    state.approve(state.get_interruptions()[0])
    result = await Runner.run(desk_again, state)
    assert result.final_output == "Ok." and calls == [1]
    sent = rebuilt_model.requests[0].input
    assert sent[0] == {"content": "Refund A1", "role": "user"}
    assert [item.get("type") for item in sent[1:]] == ["function_call", "function_call_output"]


async def test_an_async_or_wrong_filter_is_refused_clearly() -> None:
    async def later(data: HandoffInputData) -> HandoffInputData:
        return data

    helper, _ = _helper()
    with pytest.raises(UserError, match="async"):
        await Runner.run(_desk(helper, entry=handoff(helper, input_filter=later)), "Hi")
    helper, _ = _helper()
    wrong = handoff(helper, input_filter=lambda data: [])  # type: ignore[arg-type,return-value]
    with pytest.raises(UserError, match="must return a HandoffInputData"):
        await Runner.run(_desk(helper, entry=wrong), "Hi")


TRANSCRIPT = (
    "You are taking over this conversation. What happened before you:\n"
    "<earlier_conversation>\n"
    "1) user: Check A1\n"
    '2) {"type": "function_call", "call_id": "c_look", "name": "lookup", '
    '"arguments": "{\\"code\\": \\"A1\\"}"}\n'
    '3) {"type": "function_call_output", "call_id": "c_look", "output": "A1 is fine"}\n'
    "</earlier_conversation>"
)
HANDOFF_LINES = (
    '1) {"type": "function_call", "call_id": "c_hand", "name": "transfer_to_helper", '
    '"arguments": "{}"}\n'
    '2) {"type": "function_call_output", "call_id": "c_hand", '
    '"output": "{\\"assistant\\": \\"Helper\\"}"}\n'
)


async def test_nested_history_sends_a_transcript_and_keeps_this_turns_messages() -> None:
    helper, helper_model = _helper()
    desk = _desk(helper, said="Passing you on.")
    result = await Runner.run(desk, "Check A1", run_config=RunConfig(nest_handoff_history=True))
    assert result.final_output == "Done."
    first, said, last = helper_model.requests[0].input
    assert first == {"role": "assistant", "content": TRANSCRIPT}
    assert said["role"] == "assistant" and said["content"][0]["text"] == "Passing you on."
    assert last["content"].endswith("<earlier_conversation>\n" + HANDOFF_LINES + TRANSCRIPT[-23:])
    # tether keeps the whole run.
    kinds = [item.type for item in result.new_items]
    assert kinds[:3] == ["tool_call_item", "tool_call_output_item", "message_output_item"]


async def test_a_handoffs_own_setting_overrides_the_runs_and_an_input_filter_wins() -> None:
    helper, helper_model = _helper()
    on = handoff(helper, nest_handoff_history=True)
    await Runner.run(_desk(helper, entry=on), "Check A1")
    assert helper_model.requests[0].input == [{"role": "assistant", "content": _without_turn()}]

    helper, helper_model = _helper()
    off = handoff(helper, nest_handoff_history=False)
    config = RunConfig(nest_handoff_history=True)
    await Runner.run(_desk(helper, entry=off), "Check A1", run_config=config)
    assert len(helper_model.requests[0].input) == 5  # everything, item by item

    helper, helper_model = _helper()
    config = RunConfig(nest_handoff_history=True, handoff_input_filter=remove_all_tools)
    await Runner.run(_desk(helper), "Check A1", run_config=config)
    assert helper_model.requests[0].input == [{"content": "Check A1", "role": "user"}]


def _without_turn() -> str:
    """The transcript of the whole run before the handoff, in one message."""
    body = TRANSCRIPT.removesuffix("\n</earlier_conversation>")
    lines = HANDOFF_LINES.replace("1) ", "4) ").replace("2) ", "5) ")
    return f"{body}\n{lines}</earlier_conversation>"


def test_a_transcript_of_an_earlier_handoff_is_read_back_into_its_lines() -> None:
    earlier = default_handoff_history_mapper(
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Two\nlines"}]
    )
    data = HandoffInputData((*earlier, {"role": "user", "content": "And?"}), (), ())
    [nested] = nest_handoff_history(data).input_history
    assert nested["content"].splitlines()[2:-1] == [
        "1) user: Hi",
        '2) {"role": "assistant", "content": "Two\\nlines"}',
        "3) user: And?",
    ]
    mapped = nest_handoff_history(data, history_mapper=lambda items: items[-1:])
    assert mapped.input_history == ({"role": "user", "content": "And?"},)
    assert mapped.input_items == () and mapped.pre_handoff_items == ()


def test_the_transcript_markers_can_be_set_read_back_and_reset() -> None:
    items = [{"role": "user", "content": "Hi"}]
    assert get_conversation_history_wrappers() == (
        "<earlier_conversation>",
        "</earlier_conversation>",
    )
    try:
        set_conversation_history_wrappers(start="<past>")
        [message] = default_handoff_history_mapper(items)
        lines = message["content"].splitlines()
        assert (lines[1], lines[-1]) == ("<past>", "</earlier_conversation>")
        set_conversation_history_wrappers(end="</past>")
        assert get_conversation_history_wrappers() == ("<past>", "</past>")
        # A transcript made with these markers is read back into its lines.
        data = HandoffInputData((*default_handoff_history_mapper(items),), (), ())
        [nested] = nest_handoff_history(data).input_history
        assert nested["content"].splitlines()[1:] == ["<past>", "1) user: Hi", "</past>"]
        with pytest.raises(UserError, match="one line"):
            set_conversation_history_wrappers(start="two\nlines")
    finally:
        reset_conversation_history_wrappers()
    assert get_conversation_history_wrappers() == (
        "<earlier_conversation>",
        "</earlier_conversation>",
    )


async def test_tethers_own_handoff_and_runner_keep_item_dicts() -> None:
    seen: list[Any] = []

    def plain(data: TetherHandoffInputData) -> TetherHandoffInputData:
        seen.extend(data.new_items)
        return data

    from tether import Runner as TetherRunner

    helper, _ = _helper()
    desk = _desk(helper, entry=tether_handoff(helper, input_filter=plain))
    await TetherRunner.run(desk, "Hi", run_config=TetherRunConfig())
    assert seen and all(isinstance(item, dict) for item in seen)


async def test_a_streamed_run_gives_its_filter_run_items_of_the_right_agents() -> None:
    seen: list[tuple[str, str]] = []

    def record(data: HandoffInputData) -> HandoffInputData:
        seen.extend((item.type, item.agent.name) for item in data.new_items)
        return data

    helper, helper_model = _helper()
    desk = _desk(helper, entry=handoff(helper, input_filter=record))
    result = Runner.run_streamed(desk, "Check A1")
    from tether.agents._handoff_input import starting_agent

    assert starting_agent.get() is None  # the run's task has it; the caller does not
    kinds = [event.type async for event in result.stream_events()]
    assert "run_item_stream_event" in kinds and result.final_output == "Done."
    assert seen == [("handoff_call_item", "Desk"), ("handoff_output_item", "Desk")]
    assert len(helper_model.requests[0].input) == 5


async def test_items_of_earlier_handoffs_name_the_agent_whose_turn_made_them() -> None:
    seen: list[HandoffInputData] = []

    def record(data: HandoffInputData) -> HandoffInputData:
        seen.append(data)
        return data

    closer_model = ScriptedModel([message("Closed.")])
    closer = Agent(name="Closer", model=closer_model)  # type: ignore[arg-type]
    helper = Agent(
        name="Helper",
        handoffs=[handoff(closer, input_filter=record)],
        model=ScriptedModel([tool_call("transfer_to_closer", {}, "c_close")]),  # type: ignore[arg-type]
    )
    result = await Runner.run(_desk(helper), "Check A1")
    assert result.final_output == "Closed."
    [data] = seen
    owners = [(item.type, item.agent.name) for item in data.pre_handoff_items]
    assert owners == [
        ("tool_call_item", "Desk"),
        ("tool_call_output_item", "Desk"),
        ("handoff_call_item", "Desk"),
        ("handoff_output_item", "Desk"),
    ]
    taken = data.new_items[-1]
    assert isinstance(taken, HandoffOutputItem) and taken.source_agent is helper
    assert [item.agent.name for item in data.new_items] == ["Helper", "Helper"]
    assert len(closer_model.requests[0].input) == 7


def test_nesting_is_left_off_where_the_server_keeps_the_conversation() -> None:
    from tether.agents._config import with_handoff_filter
    from tether.agents._nesting import RunFilter

    helper, _ = _helper()
    desk = _desk(helper)
    config = RunConfig(nest_handoff_history=True)
    assert with_handoff_filter(config, desk, server_managed=True) is config
    nesting = with_handoff_filter(config, desk, server_managed=False)
    assert nesting is not None and isinstance(nesting.handoff_input_filter, RunFilter)
    # A handoff's own setting asks for it too; a run asking for nothing gets no filter.
    asked = _desk(helper, entry=handoff(helper, nest_handoff_history=True))
    assert with_handoff_filter(None, asked, server_managed=False) is not None
    assert with_handoff_filter(None, desk, server_managed=False) is None
