"""States written by the Python openai-agents SDK (0.24.0) resume in tether.

The fixtures come from running that SDK on a scripted model:
scripts/interop/make_openai_agents_fixtures.py (it uses the same agent and tool
names as weather_policy.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tether import Runner
from tether.interop import InteropError, from_openai_agents
from tether.journal import ToolCompleted

from .weather_policy import RUNS, Graph

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "openai_agents_python"
QUESTION = ["message", "user", "What is the temperature in Oakland?"]
OAKLAND = "The temperature in Oakland is 20C"


@pytest.fixture(autouse=True)
def _reset_runs() -> None:
    RUNS.clear()


async def test_pending_approval_resumes_in_tether_to_the_final_output() -> None:
    graph = Graph("one")
    state = from_openai_agents(graph.root, (FIXTURES / "interrupted.json").read_text())
    [item] = state.interruptions
    assert (item.agent_name, item.tool_name, item.call_id) == (
        "Weather agent",
        "get_temperature",
        "call_oak",
    )
    assert item.parsed_arguments == {"city": "Oakland"}
    assert state.current_turn == 1 and state.usage.total_tokens == 15

    state.approve(item)
    result = await Runner.run(graph.root, state)

    assert result.final_output == f"Done: call_oak={OAKLAND}"
    assert RUNS == {"get_temperature": 1}
    [request] = graph.model_inputs
    assert request == [
        QUESTION,
        ["function_call", "call_oak", '{"city": "Oakland"}'],
        ["function_call_output", "call_oak", OAKLAND],
    ]


async def test_a_decision_taken_there_is_honoured() -> None:
    graph = Graph("one")
    state = from_openai_agents(graph.root, (FIXTURES / "approved_before_saving.json").read_text())
    assert state.interruptions == []

    result = await Runner.run(graph.root, state)

    assert result.final_output == f"Done: call_oak={OAKLAND}"
    assert RUNS == {"get_temperature": 1}


async def test_two_pending_calls_after_a_tool_that_ran_there() -> None:
    graph = Graph("two")
    text = (FIXTURES / "two_pending_after_a_tool.json").read_text()
    state = from_openai_agents(graph.root, text)
    assert [i.call_id for i in state.interruptions] == ["call_oak", "call_par"]

    state.approve("call_oak")
    state.reject("call_par", message="Not Paris")
    result = await Runner.run(graph.root, state)

    assert result.final_output == f"Done: call_time=12:00; call_oak={OAKLAND}; call_par=Not Paris"
    assert RUNS == {"get_temperature": 1}  # get_time ran in openai-agents and not again
    [request] = graph.model_inputs
    keys = [tuple(map(str, item)) for item in request]
    assert len(keys) == len(set(keys))
    assert request[:3] == [
        ["message", "user", "Time, then Oakland and Paris?"],
        ["function_call", "call_time", "{}"],
        ["function_call_output", "call_time", "12:00"],
    ]


def test_unsupported_content_is_refused_saying_why() -> None:
    text = (FIXTURES / "interrupted.json").read_text()
    edited = text.replace('"conversation_id": null', '"conversation_id": "conv_1"')
    with pytest.raises(InteropError, match="conversation_id: a server-managed conversation"):
        from_openai_agents(Graph("one").root, edited)
    with pytest.raises(InteropError, match="schemas"):
        from_openai_agents(Graph("one").root, text.replace('"1.21"', '"1.17"'))


def test_a_tool_output_of_content_parts_is_read_as_parts() -> None:
    # openai-agents writes a tool's content output as the Responses parts tether journals.
    parts = [
        {"type": "input_text", "text": "12:00"},
        {"type": "input_image", "image_url": "https://example.com/clock.png", "detail": "low"},
    ]
    data = json.loads((FIXTURES / "two_pending_after_a_tool.json").read_text())
    for items in (data["generated_items"], data["session_items"]):
        items[1]["raw_item"]["output"] = items[1]["output"] = parts
    state = from_openai_agents(Graph("two").root, json.dumps(data))
    [completed] = [e for e in state.journal if isinstance(e, ToolCompleted)]
    assert completed.output == parts
    for items in (data["generated_items"], data["session_items"]):
        items[1]["raw_item"]["output"] = [{"type": "input_image", "detail": "low"}]
    with pytest.raises(InteropError, match="only text or input_text"):
        from_openai_agents(Graph("two").root, json.dumps(data))
