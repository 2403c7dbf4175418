"""Tool timeouts, tools that raise with no error formatter, and resuming a call whose tool is gone.

Every wait is bounded by ``asyncio.timeout(BOUND)`` so a regression fails the
test instead of hanging it; no test asserts how long anything took.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from runners import RunFn, run_plain, run_streamed
from tether import (
    Agent,
    Runner,
    RunState,
    ToolCallInDoubtError,
    ToolError,
    UserError,
    function_tool,
)
from tether.errors import AgentDefinitionError, ToolTimeoutError, UnknownToolError
from tether.journal import ToolTimedOut
from tether.testing import ScriptedModel, message, tool_call
from weather_app import save

BOUND = 30  # seconds; generous: only there so that a hang fails instead of blocking the suite

WAYS = pytest.mark.parametrize("run", [run_plain, run_streamed], ids=["plain", "streamed"])


def outputs(request_input: list[dict[str, Any]]) -> dict[str, str]:
    return {
        item["call_id"]: item["output"]
        for item in request_input
        if item.get("type") == "function_call_output"
    }


class HangingTool:
    """An async tool that never finishes on its own and notes that it was cancelled."""

    def __init__(self, name: str = "fetch", **options: Any) -> None:
        self.runs: Counter[str] = Counter()
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()

        async def fetch(url: str) -> str:
            """Fetch a page."""
            self.runs[url] += 1
            self.started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
            return "never"

        self.tool = function_tool(fetch, name=name, **options)


@WAYS
async def test_a_tool_past_its_timeout_is_cancelled_and_the_model_reads_why(run: RunFn) -> None:
    hanging = HangingTool(timeout=0.05)
    model = ScriptedModel(
        [tool_call("fetch", {"url": "a"}, "c1"), message("The page did not load.")]
    )
    agent = Agent(name="Reader", model=model, tools=[hanging.tool])

    async with asyncio.timeout(BOUND):
        result = await run(agent, "read a")

    assert result.final_output == "The page did not load."
    assert hanging.cancelled.is_set() and hanging.runs == {"a": 1}
    told = outputs(model.requests[1].input)["c1"]
    assert told == (
        "The tool fetch did not finish within 0.05 s and was cancelled. It may have had part "
        "of its effects; check before calling it again."
    )
    state = RunState.from_string(agent, save(result.to_state()))
    timed_out = [event for event in state.journal if isinstance(event, ToolTimedOut)]
    assert [(e.call_id, e.timeout, e.output) for e in timed_out] == [("c1", 0.05, told)]
    assert state.is_complete


@WAYS
async def test_the_run_wide_timeout_applies_and_a_tools_own_timeout_wins(run: RunFn) -> None:
    hanging = HangingTool()  # no timeout of its own: the run's applies

    @function_tool(timeout=timedelta(minutes=1))
    async def slow_but_allowed() -> str:
        """Takes longer than the run's default, within its own limit."""
        await asyncio.sleep(0.2)
        return "finished"

    @function_tool
    def quick_sync() -> str:
        """A sync tool: a run-wide timeout does not apply to it."""
        return "sync done"

    model = ScriptedModel(
        [
            [
                tool_call("fetch", {"url": "b"}, "c1"),
                tool_call("slow_but_allowed", {}, "c2"),
                tool_call("quick_sync", {}, "c3"),
            ],
            message("ok"),
        ]
    )
    agent = Agent(name="Reader", model=model, tools=[hanging.tool, slow_but_allowed, quick_sync])

    async with asyncio.timeout(BOUND):
        result = await run(agent, "go", tool_timeout=0.01)

    assert result.final_output == "ok"
    told = outputs(model.requests[1].input)
    assert told["c1"].startswith("The tool fetch did not finish within 0.01 s")
    assert told["c2"] == "finished"
    assert told["c3"] == "sync done"
    assert hanging.cancelled.is_set()


@WAYS
@pytest.mark.parametrize("where", ["tool", "run"])
async def test_a_timeout_can_stop_the_run_with_a_resumable_state(run: RunFn, where: str) -> None:
    if where == "tool":
        hanging = HangingTool(timeout=0.05, on_timeout="raise")
        options: dict[str, Any] = {}
    else:
        hanging = HangingTool()
        options = {"tool_timeout": 0.05, "on_tool_timeout": "raise"}

    @function_tool
    async def note(text: str) -> str:
        """Write a note."""
        return f"noted {text}"

    model = ScriptedModel(
        [
            [tool_call("fetch", {"url": "c"}, "c1"), tool_call("note", {"text": "x"}, "c2")],
            message("Gave up on the page."),
        ]
    )
    agent = Agent(name="Reader", model=model, tools=[hanging.tool, note])

    with pytest.raises(ToolTimeoutError) as caught:
        async with asyncio.timeout(BOUND):
            await run(agent, "go", **options)

    error = caught.value
    assert str(error).startswith("Tool 'fetch' (call 'c1') did not finish within 0.05 s")
    assert "may have had part of its effects" in str(error)
    assert (error.tool_name, error.call_id, error.timeout) == ("fetch", "c1", 0.05)
    assert isinstance(error, ToolError) and hanging.cancelled.is_set()
    assert len(model.requests) == 1

    state = RunState.from_string(agent, save(error.run_state))
    async with asyncio.timeout(BOUND):
        resumed = await Runner.run(agent, state)
    assert resumed.final_output == "Gave up on the page."
    told = outputs(model.requests[1].input)
    assert told["c1"].startswith("The tool fetch did not finish within 0.05 s")
    assert told["c2"] == "noted x"  # the sibling finished and was recorded, once
    assert hanging.runs == {"c": 1}


async def test_a_tools_own_timeout_error_is_an_error_not_a_timeout() -> None:
    @function_tool(timeout=60)
    async def flaky() -> str:
        """Times out inside, on its own."""
        raise TimeoutError("upstream took too long")

    model = ScriptedModel([tool_call("flaky", {}, "c1"), message("ok")])
    async with asyncio.timeout(BOUND):
        result = await Runner.run(Agent(name="A", model=model, tools=[flaky]), "go")

    assert result.final_output == "ok"
    told = outputs(model.requests[1].input)["c1"]
    assert told == (
        "An error occurred while running the tool. Please try again. Error: upstream took too long"
    )
    assert not any(isinstance(e, ToolTimedOut) for e in result.to_state().journal)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"timeout": 0}, "positive, finite duration"),
        ({"timeout": -1.5}, "positive, finite duration"),
        ({"timeout": float("nan")}, "positive, finite duration"),
        ({"timeout": timedelta(0)}, "positive, finite duration"),
        ({"timeout": "5"}, "seconds (a number) or a timedelta"),
        ({"timeout": True}, "seconds (a number) or a timedelta"),
        ({"on_timeout": "ignore"}, "on_timeout must be 'error_output' or 'raise'"),
    ],
)
def test_bad_timeouts_are_refused_where_the_tool_is_defined(
    options: dict[str, Any], problem: str
) -> None:
    async def fetch(url: str) -> str:
        """Fetch a page."""
        return url

    with pytest.raises(AgentDefinitionError, match=re.escape(problem)) as caught:
        function_tool(fetch, **options)
    assert str(caught.value).startswith("Tool 'fetch': ")


def test_a_sync_tool_cannot_have_a_timeout() -> None:
    def fetch(url: str) -> str:
        """Fetch a page."""
        return url

    with pytest.raises(AgentDefinitionError, match="sync function, which cannot be interrupted"):
        function_tool(fetch, timeout=5)
    assert function_tool(fetch).timeout is None


def test_timeouts_read_as_seconds() -> None:
    async def fetch(url: str) -> str:
        """Fetch a page."""
        return url

    assert function_tool(fetch, timeout=timedelta(milliseconds=1500)).timeout == 1.5
    assert function_tool(fetch, timeout=2).timeout == 2.0


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"tool_timeout": 0}, "tool_timeout must be a positive, finite duration"),
        ({"tool_timeout": "soon"}, "tool_timeout must be seconds"),
        ({"on_tool_timeout": "retry"}, "on_tool_timeout must be 'error_output' or 'raise'"),
    ],
)
async def test_bad_run_wide_timeouts_are_a_user_error(
    options: dict[str, Any], problem: str
) -> None:
    model = ScriptedModel([message("never")])
    agent = Agent(name="A", model=model)
    with pytest.raises(UserError, match=problem):
        await Runner.run(agent, "go", **options)
    with pytest.raises(UserError, match=problem):
        Runner.run_streamed(agent, "go", **options)
    assert model.requests == []


# -- error_formatter=None ---------------------------------------------------------------------


@WAYS
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_tool_without_error_formatter_stops_the_run_with_tool_error(
    run: RunFn, kind: str
) -> None:
    runs: list[str] = []

    def charge_sync(amount: int) -> str:
        """Charge a card."""
        runs.append("charge")
        raise ConnectionError("card network down")

    async def charge_async(amount: int) -> str:
        """Charge a card."""
        return charge_sync(amount)

    function = charge_sync if kind == "sync" else charge_async
    charge = function_tool(function, name="charge", error_formatter=None)
    model = ScriptedModel([tool_call("charge", {"amount": 5}, "c1"), message("charged")])
    agent = Agent(name="Till", model=model, tools=[charge])

    with pytest.raises(ToolError) as caught:
        await run(agent, "charge 5")

    error = caught.value
    assert str(error).startswith(
        "Tool 'charge' (call 'c1') raised ConnectionError: card network down, and it has "
        "error_formatter=None, so the run stopped"
    )
    assert isinstance(error.__cause__, ConnectionError)
    assert runs == ["charge"] and len(model.requests) == 1

    # The call is in doubt: not run again unless the tool says that is harmless.
    state = RunState.from_string(agent, save(error.run_state))
    with pytest.raises(ToolCallInDoubtError, match="'c1' of 'charge'"):
        await Runner.run(agent, state)
    assert runs == ["charge"]


async def test_an_idempotent_tool_without_error_formatter_is_retried_on_resume() -> None:
    attempts: list[int] = []

    @function_tool(idempotent=True, error_formatter=None)
    async def lookup(key: str) -> str:
        """Look a key up."""
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("cache offline")
        return f"value of {key}"

    model = ScriptedModel([tool_call("lookup", {"key": "k"}, "c1"), message("found it")])
    agent = Agent(name="A", model=model, tools=[lookup])
    with pytest.raises(ToolError, match="raised OSError: cache offline") as caught:
        await Runner.run(agent, "look up k")

    state = RunState.from_string(agent, save(caught.value.run_state))
    result = await Runner.run(agent, state)
    assert result.final_output == "found it"
    assert len(attempts) == 2
    assert outputs(model.requests[1].input)["c1"] == "value of k"


# -- a decided call whose tool is gone ---------------------------------------------------------


@WAYS
async def test_resuming_an_approved_call_without_its_tool_is_an_unknown_tool_error(
    run: RunFn,
) -> None:
    runs: list[str] = []

    @function_tool(needs_approval=True)
    async def send_email(to: str) -> str:
        """Send an email."""
        runs.append(to)
        return "sent"

    model = ScriptedModel([tool_call("send_email", {"to": "ops"}, "c1"), message("done")])
    agent = Agent(name="Mailer", model=model, tools=[send_email])
    paused = await Runner.run(agent, "mail ops")
    state = RunState.from_string(agent, save(paused.to_state()))
    state.approve(state.interruptions[0])

    with pytest.raises(UnknownToolError) as caught:
        async with asyncio.timeout(BOUND):
            await run(agent.clone(tools=[]), state)

    assert str(caught.value) == (
        "Call 'c1' of tool 'send_email' is approved, but agent 'Mailer' has no tool "
        "'send_email' now (its tools: none). Resume with the agent that has the tool; "
        "nothing was run."
    )
    assert runs == [] and len(model.requests) == 1
    # The state is untouched: resumed with the tool, the approved call runs once.
    result = await Runner.run(agent, RunState.from_string(agent, save(state)))
    assert result.final_output == "done" and runs == ["ops"]
