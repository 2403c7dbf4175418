"""Cancelling a run: it ends promptly even when a tool hangs, and its state resumes.

Every wait is bounded by ``asyncio.timeout(BOUND)`` so a regression fails the
test instead of hanging it; no test asserts how long anything took.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from tether import (
    Agent,
    RunItemEvent,
    Runner,
    RunState,
    StreamEvent,
    ToolCallInDoubtError,
    UserError,
    function_tool,
)
from tether.journal import ToolCompleted, ToolStarted
from tether.models import ModelRequest
from tether.run import run_state_of
from tether.testing import ScriptedModel, message, tool_call
from weather_app import save

BOUND = 30  # seconds; generous: only there so that a hang fails instead of blocking the suite


def outputs(request_input: list[dict[str, Any]]) -> dict[str, str]:
    return {
        item["call_id"]: item["output"]
        for item in request_input
        if item.get("type") == "function_call_output"
    }


class Tools:
    """``hang`` never finishes on its own; ``quick`` does. Both count their runs."""

    def __init__(self, *, idempotent: bool = False) -> None:
        self.runs: Counter[str] = Counter()
        self.hanging = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.release = asyncio.Event()

        async def hang(job: str) -> str:
            """A job that hangs until released."""
            self.runs["hang"] += 1
            self.hanging.set()
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
            return f"{job} done"

        async def quick(job: str) -> str:
            """A job that finishes at once."""
            self.runs["quick"] += 1
            return f"{job} quick"

        self.hang = function_tool(hang, idempotent=idempotent)
        self.quick = function_tool(quick)

    def agent(self, model: ScriptedModel) -> Agent[Any]:
        return Agent(name="Worker", model=model, tools=[self.hang, self.quick])


def script() -> ScriptedModel:
    return ScriptedModel(
        [
            [
                tool_call("quick", {"job": "q"}, "c_quick"),
                tool_call("hang", {"job": "h"}, "c_hang"),
            ],
            message("all done"),
        ]
    )


def in_doubt(state: RunState) -> list[str]:
    started = {e.call_id for e in state.journal if isinstance(e, ToolStarted)}
    done = {e.call_id for e in state.journal if isinstance(e, ToolCompleted)}
    return sorted(started - done)


async def resume_after_cancel(tools: Tools, model: ScriptedModel, state: RunState) -> None:
    """The state from a cancelled run loads; resuming reruns only the call cut short."""
    agent = tools.agent(model)
    text = save(state)
    assert in_doubt(RunState.from_string(agent, text)) == ["c_hang"]

    with pytest.raises(ToolCallInDoubtError, match="'c_hang' of 'hang'"):
        await Runner.run(agent, RunState.from_string(agent, text))
    assert tools.runs == {"quick": 1, "hang": 1}

    # Declared idempotent, the call cut short runs again; the finished one does not.
    retrying = Tools(idempotent=True)
    retrying.release.set()
    agent = retrying.agent(model)
    result = await Runner.run(agent, RunState.from_string(agent, text))
    assert result.final_output == "all done"
    assert retrying.runs == {"hang": 1}
    assert outputs(model.requests[1].input) == {"c_quick": "q quick", "c_hang": "h done"}


# -- plain runs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["asyncio.timeout", "asyncio.wait_for"])
async def test_a_callers_timeout_cancels_a_hung_tool_and_keeps_the_state(how: str) -> None:
    tools = Tools()
    model = script()
    agent = tools.agent(model)

    async def call_with_deadline() -> None:
        run = Runner.run(agent, "go")
        if how == "asyncio.timeout":
            async with asyncio.timeout(0.05):
                await run
        else:
            await asyncio.wait_for(run, 0.05)

    with pytest.raises(TimeoutError) as caught:
        async with asyncio.timeout(BOUND):
            await call_with_deadline()

    assert tools.cancelled.is_set()
    state = run_state_of(caught.value)
    assert state is not None and not state.is_complete
    assert len(model.requests) == 1
    await resume_after_cancel(tools, model, state)


async def test_cancelling_the_task_propagates_as_cancellation() -> None:
    tools = Tools()
    model = script()
    task = asyncio.ensure_future(Runner.run(tools.agent(model), "go"))
    async with asyncio.timeout(BOUND):
        await tools.hanging.wait()
        task.cancel()
        done, _ = await asyncio.wait([task])

    assert task in done and task.cancelled()  # never swallowed, never turned into a result
    with pytest.raises(asyncio.CancelledError) as caught:
        task.result()
    assert tools.cancelled.is_set()
    state = run_state_of(caught.value)
    assert state is not None
    await resume_after_cancel(tools, model, state)


@pytest.mark.parametrize("swallows", [False, True])
async def test_cancelling_a_run_of_one_async_call_cancels_it(swallows: bool) -> None:
    # A turn of one async call awaits its task directly (no asyncio.wait): the cancellation
    # still reaches the tool, and the run is cancelled even if the tool swallows it.
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def slow(job: str) -> str:
        """A job that waits until cancelled."""
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            if not swallows:
                raise
        return f"{job} stopped"

    model = ScriptedModel([[tool_call("slow", {"job": "s"}, "c_slow")], message("done")])
    agent = Agent(name="Worker", model=model, tools=[function_tool(slow)])
    task = asyncio.ensure_future(Runner.run(agent, "go"))
    async with asyncio.timeout(BOUND):
        await started.wait()
        task.cancel()
        await asyncio.wait([task])

    assert task.cancelled() and cancelled.is_set()
    with pytest.raises(asyncio.CancelledError) as caught:
        task.result()
    state = run_state_of(caught.value)
    assert state is not None and len(model.requests) == 1
    # Cut short, the call is in doubt; a tool that returned anyway has its output recorded.
    assert in_doubt(state) == ([] if swallows else ["c_slow"])


async def test_run_state_of_an_error_without_a_run_is_none() -> None:
    assert run_state_of(ValueError("unrelated")) is None
    try:
        try:
            raise KeyError("inner")
        except KeyError as inner:
            raise RuntimeError("outer") from inner
    except RuntimeError as error:
        assert run_state_of(error) is None


# -- streamed runs -------------------------------------------------------------------------------


async def test_cancel_stops_a_hung_tool_at_once() -> None:
    tools = Tools()
    model = script()
    result = Runner.run_streamed(tools.agent(model), "go")

    async with asyncio.timeout(BOUND):
        await tools.hanging.wait()
        result.cancel()
        events = [event async for event in result.stream_events()]

    assert tools.cancelled.is_set() and result.is_complete
    tool_outputs = [
        e.item for e in events if isinstance(e, RunItemEvent) and e.name == "tool_output"
    ]
    assert [item["call_id"] for item in tool_outputs] == ["c_quick"]
    assert result.final_output is None and result.interruptions == []
    await resume_after_cancel(tools, model, result.to_state())


@pytest.mark.parametrize("mode", ["immediate", "after_turn"])
async def test_cancel_before_iterating_ends_the_stream_and_nothing_runs(mode: Any) -> None:
    tools = Tools()
    model = script()
    agent = tools.agent(model)
    result = Runner.run_streamed(agent, "go")
    result.cancel(mode)

    async with asyncio.timeout(BOUND):
        events = [event async for event in result.stream_events()]

    assert [event.type for event in events] == ["agent_updated_stream_event"]
    assert model.requests == [] and tools.runs == {}
    tools.release.set()
    state = RunState.from_string(agent, save(result.to_state()))
    resumed = await Runner.run(agent, state)
    assert resumed.final_output == "all done"
    assert tools.runs == {"quick": 1, "hang": 1}


async def test_cancel_before_iterating_a_resumed_run_runs_no_approved_tool() -> None:
    runs: list[str] = []

    @function_tool(needs_approval=True)
    async def deploy(target: str) -> str:
        """Deploy."""
        runs.append(target)
        return "deployed"

    model = ScriptedModel([tool_call("deploy", {"target": "prod"}, "c1"), message("live")])
    agent = Agent(name="Ops", model=model, tools=[deploy])
    paused = await Runner.run(agent, "ship it")
    state = paused.to_state()
    state.approve(state.interruptions[0])

    result = Runner.run_streamed(agent, state)
    result.cancel()
    async with asyncio.timeout(BOUND):
        [event async for event in result.stream_events()]

    assert runs == []
    again = await Runner.run(agent, RunState.from_string(agent, save(result.to_state())))
    assert again.final_output == "live" and runs == ["prod"]


async def test_cancel_after_turn_during_the_model_call_finishes_the_turn_then_stops() -> None:
    tools = Tools()
    tools.release.set()  # the tool finishes: the turn runs to its end
    answering = asyncio.Event()
    go_on = asyncio.Event()

    async def slow_answer(request: ModelRequest) -> list[dict[str, Any]]:
        answering.set()
        await go_on.wait()
        return [tool_call("hang", {"job": "h"}, "c_hang")]

    model = ScriptedModel([slow_answer, message("all done")])
    agent = tools.agent(model)
    result = Runner.run_streamed(agent, "go")

    async with asyncio.timeout(BOUND):
        await answering.wait()
        result.cancel("after_turn")
        go_on.set()
        events = [event async for event in result.stream_events()]

    names = [e.name for e in events if isinstance(e, RunItemEvent)]
    assert names == ["tool_called", "tool_output"]
    assert len(model.requests) == 1 and tools.runs == {"hang": 1}
    state = RunState.from_string(agent, save(result.to_state()))
    assert in_doubt(state) == []
    resumed = await Runner.run(agent, state)
    assert resumed.final_output == "all done" and tools.runs == {"hang": 1}


async def test_a_timeout_around_the_stream_cancels_the_run() -> None:
    tools = Tools()
    model = script()
    result = Runner.run_streamed(tools.agent(model), "go")
    seen: list[StreamEvent] = []

    with pytest.raises(TimeoutError) as caught:
        async with asyncio.timeout(BOUND):
            async with asyncio.timeout(0.05):
                async for event in result.stream_events():
                    seen.append(event)

    assert seen and tools.cancelled.is_set() and result.is_complete
    state = run_state_of(caught.value)
    assert state is not None
    await resume_after_cancel(tools, model, state)


async def test_cancel_mode_is_checked() -> None:
    result = Runner.run_streamed(Agent(name="A", model=ScriptedModel([message("hi")])), "go")
    with pytest.raises(UserError, match="'immediate' or 'after_turn', got 'later'"):
        result.cancel("later")  # type: ignore[arg-type]
    async with asyncio.timeout(BOUND):
        [event async for event in result.stream_events()]
    assert result.final_output == "hi"


async def test_a_callers_timeout_during_a_hung_model_call_keeps_the_state() -> None:
    answering = asyncio.Event()

    async def hung(request: ModelRequest) -> list[dict[str, Any]]:
        answering.set()
        await asyncio.Event().wait()
        return []

    model = ScriptedModel([hung, message("second try worked")])
    agent = Agent(name="A", model=model)

    async def expire_when_answering(deadline: asyncio.Timeout) -> None:
        await answering.wait()
        deadline.reschedule(asyncio.get_running_loop().time())

    with pytest.raises(TimeoutError) as caught:
        async with asyncio.timeout(BOUND):
            async with asyncio.timeout(None) as deadline:
                watcher = asyncio.ensure_future(expire_when_answering(deadline))
                await Runner.run(agent, "hi")
    await watcher

    state = run_state_of(caught.value)
    assert state is not None and state.current_turn == 0
    resumed = await Runner.run(agent, RunState.from_string(agent, save(state)))
    assert resumed.final_output == "second try worked"
    assert len(model.requests) == 2
