"""Ways to drive a run, so each scenario can be checked streamed, plain, and mixed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tether import Agent, Runner, RunResult, RunState, StreamEvent

RunFn = Callable[..., Awaitable[RunResult]]


async def run_plain(agent: Agent[Any], input: Any, **options: Any) -> RunResult:
    return await Runner.run(agent, input, **options)


async def run_streamed(agent: Agent[Any], input: Any, **options: Any) -> RunResult:
    result = Runner.run_streamed(agent, input, **options)
    events: list[StreamEvent] = [event async for event in result.stream_events()]
    assert events and events[0].type == "agent_updated_stream_event"
    return result


class Alternating:
    """Starts one way and resumes the other way, switching at every call."""

    def __init__(self, first: RunFn, second: RunFn) -> None:
        self.ways = [first, second]
        self.calls = 0

    async def __call__(self, agent: Agent[Any], input: Any, **options: Any) -> RunResult:
        way = self.ways[self.calls % 2]
        self.calls += 1
        return await way(agent, input, **options)


MODES: dict[str, Callable[[], RunFn]] = {
    "plain": lambda: run_plain,
    "streamed": lambda: run_streamed,
    "streamed-then-plain": lambda: Alternating(run_streamed, run_plain),
    "plain-then-streamed": lambda: Alternating(run_plain, run_streamed),
}

__all__ = ["MODES", "RunFn", "RunState"]
