"""Streaming runs: event order, cancellation, and the real openai client streaming both APIs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from openai_server import FakeOpenAIServer
from tether import (
    Agent,
    RawResponseEvent,
    RunItemEvent,
    Runner,
    RunState,
    StreamEvent,
    function_tool,
)
from tether.errors import ModelProviderError
from tether.models import OpenAIChatCompletionsModel, OpenAIResponsesModel
from tether.testing import ScriptedModel, message, tool_call
from weather_app import RUNS, save, weather_agent

OAKLAND = tool_call("get_temperature", {"city": "Oakland"}, call_id="call_oak")


def names(events: list[StreamEvent]) -> list[str]:
    out = []
    for event in events:
        if isinstance(event, RunItemEvent):
            out.append(event.name)
        elif isinstance(event, RawResponseEvent):
            if not out or out[-1] != "delta":
                out.append("delta")
        else:
            out.append("agent_updated")
    return out


async def collect(result: Any) -> list[StreamEvent]:
    return [event async for event in result.stream_events()]


async def test_events_come_in_order_and_approval_follows_its_tool_call() -> None:
    time_call = tool_call("get_time", {}, call_id="call_time")
    model = ScriptedModel([[time_call, OAKLAND], message("It is noon and 20°C.")])
    agent = weather_agent(model)

    result = Runner.run_streamed(agent, "time and Oakland?")
    events = await collect(result)

    assert names(events) == [
        "agent_updated",
        "delta",
        "tool_called",
        "tool_called",
        "approval_requested",
        "tool_output",
    ]
    approval = events[5]
    assert isinstance(approval, RunItemEvent)
    assert approval.item == result.interruptions[0]
    assert result.final_output is None

    state = RunState.from_string(agent, save(result.to_state()))
    state.approve(state.interruptions[0])
    resumed = Runner.run_streamed(agent, state)
    events = await collect(resumed)

    assert names(events) == ["agent_updated", "tool_output", "delta", "message_output_created"]
    text = "".join(e.data.delta for e in events if isinstance(e, RawResponseEvent))
    assert text == "It is noon and 20°C."
    assert resumed.final_output == "It is noon and 20°C."
    assert resumed.usage.requests == 2


async def test_handoff_events() -> None:
    target = Agent(name="Helper", model=ScriptedModel([message("hi")]))
    triage = Agent(
        name="Triage",
        model=ScriptedModel([tool_call("transfer_to_helper", {}, "h1")]),
        handoffs=[target],
    )

    events = await collect(Runner.run_streamed(triage, "hello"))

    assert [n for n in names(events) if n != "delta"] == [
        "agent_updated",
        "handoff_requested",
        "tool_output",
        "handoff_occurred",
        "agent_updated",
        "message_output_created",
    ]
    assert events[-1].agent_name == "Helper"  # type: ignore[union-attr]


async def test_cancel_after_turn_lets_a_running_tool_finish_and_the_state_resumes() -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    ran: list[str] = []

    @function_tool
    async def slow(job: str) -> str:
        """A slow job."""
        started.set()
        await release.wait()
        ran.append(job)
        return f"{job} done"

    model = ScriptedModel([tool_call("slow", {"job": "a"}, "c1"), message("all done")])
    agent = Agent(name="Worker", model=model, tools=[slow])
    result = Runner.run_streamed(agent, "go")

    await started.wait()
    result.cancel("after_turn")
    release.set()
    await collect(result)

    assert ran == ["a"]
    assert result.is_complete and result.final_output is None
    state = RunState.from_string(agent, save(result.to_state()))
    resumed = await Runner.run(agent, state)
    assert resumed.final_output == "all done"
    assert ran == ["a"]
    assert model.requests[1].input[-1]["output"] == "a done"


def test_run_streamed_needs_an_event_loop() -> None:
    from tether import UserError

    with pytest.raises(UserError, match="running event loop"):
        Runner.run_streamed(Agent(name="A", model=ScriptedModel([])), "hi")


def _model(api: str, server: FakeOpenAIServer) -> Any:
    if api == "responses":
        return OpenAIResponsesModel("gpt-test", client=server.client)
    return OpenAIChatCompletionsModel("gpt-test", client=server.client)


@pytest.mark.parametrize("api", ["responses", "chat"])
async def test_streamed_approval_round_trip_over_the_wire(
    api: str, openai_server: FakeOpenAIServer
) -> None:
    endpoint = openai_server.responses if api == "responses" else openai_server.chat
    endpoint.add(tool_calls=[("get_temperature", {"city": "Oakland"}, "call_oak")])
    endpoint.add("It is 20°C in Oakland.")
    agent = weather_agent(_model(api, openai_server))

    first = Runner.run_streamed(agent, "What's the temperature in Oakland?")
    events = await collect(first)
    assert "approval_requested" in names(events)
    assert any(isinstance(e, RawResponseEvent) for e in events)

    state = RunState.from_string(agent, save(first.to_state()))
    state.approve(state.interruptions[0])
    second = Runner.run_streamed(agent, state)
    await collect(second)

    assert second.final_output == "It is 20°C in Oakland."
    assert RUNS["get_temperature"] == 1
    assert len(endpoint.requests) == 2
    assert all(request["stream"] is True for request in endpoint.requests)
    outputs = [
        item
        for item in endpoint.requests[1].get("input", endpoint.requests[1].get("messages"))
        if item.get("type") == "function_call_output" or item.get("role") == "tool"
    ]
    assert len(outputs) == 1


@pytest.mark.parametrize("api", ["responses", "chat"])
async def test_a_stream_cut_off_is_a_typed_error_and_the_state_stays_resumable(
    api: str, openai_server: FakeOpenAIServer
) -> None:
    endpoint = openai_server.responses if api == "responses" else openai_server.chat
    endpoint.add(tool_calls=[("get_temperature", {"city": "Oakland"}, "call_oak")])
    endpoint.add("It is 20°C in Oakland.", cut_after=2)
    endpoint.add("It is 20°C in Oakland.")
    agent = weather_agent(_model(api, openai_server))

    first = Runner.run_streamed(agent, "Oakland?")
    await collect(first)
    state = first.to_state()
    state.approve(state.interruptions[0])

    broken = Runner.run_streamed(agent, state)
    with pytest.raises(ModelProviderError):
        await collect(broken)
    assert RUNS["get_temperature"] == 1

    retry = Runner.run_streamed(agent, RunState.from_string(agent, save(broken.to_state())))
    await collect(retry)
    assert retry.final_output == "It is 20°C in Oakland."
    assert RUNS["get_temperature"] == 1  # the approved call ran once, before the failure
    assert retry.current_turn == 2
