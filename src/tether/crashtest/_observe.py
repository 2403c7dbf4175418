"""What a crash test sees in the child: each function tool wrapped to write a line to the
scenario's log after its body returns (on disk before anything else), and the process
killed there when the scenario says so.

The log is JSON lines, shared by the killed process and the one that recovers:
``{"e": "exec", "call": ..., "tool": ..., "key": ..., "read_key": ...}`` for a body run,
``decided`` for a decision the approver was told is saved, ``doubt`` for a call tether
could not settle, ``append`` for a store append, ``end`` with the stored run's summary.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import signal
from pathlib import Path
from typing import Any, TypeGuard

from .._agent import Agent
from .._agent_graph import agent_tool
from .._context import RunContext
from ..tools import FunctionTool

__all__ = ["Log", "observed", "read_log"]


class Log:
    """The scenario's log file, and the call inside which the process dies (if any)."""

    def __init__(self, path: str | Path, phase: str, kill_in: str | None = None) -> None:
        self.path = Path(path)
        self.phase = phase
        self.kill_in = kill_in

    def write(self, **line: Any) -> None:
        """One line, flushed and synced: it survives a SIGKILL right after."""
        with self.path.open("a", encoding="utf-8") as log:
            log.write(json.dumps({"phase": self.phase, **line}) + "\n")
            log.flush()
            os.fsync(log.fileno())

    def executed(self, tool: str, ctx: _KeyWatch) -> None:
        call = ctx.call_id or ""
        key = RunContext.idempotency_key.__get__(ctx)
        self.write(e="exec", tool=tool, call=call, key=key, read_key=bool(ctx.reads))
        if self.kill_in is not None and self.kill_in == call:
            os.kill(os.getpid(), signal.SIGKILL)


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """Every line of a scenario's log (a missing log has none)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


class _KeyWatch(RunContext[Any]):
    """The tool's context, noting whether the tool read its idempotency key."""

    __slots__ = ("reads",)
    reads: list[bool]

    @property
    def idempotency_key(self) -> str | None:
        self.reads.append(True)
        return super().idempotency_key


def _watch(ctx: RunContext[Any]) -> _KeyWatch:
    watched = _KeyWatch(ctx.context)
    for name in ("_facts", "_call"):  # the same run and call: only the key is watched
        setattr(watched, name, getattr(ctx, name))
    watched.reads = []
    return watched


def observed(agent: Agent[Any], log: Log) -> Agent[Any]:
    """``agent`` with each function tool's body observed in ``log`` (the agents it hands
    off to and uses as tools are observed by ``copy_graph``, see ``_child.scripted``)."""
    tools = [_observe(tool, log) if _plain(tool) else tool for tool in agent.tools]
    return agent.clone(tools=tools)


def _plain(tool: Any) -> TypeGuard[FunctionTool]:
    # An agent used as a tool runs a nested run: its agent's own tools are observed.
    return isinstance(tool, FunctionTool) and agent_tool(tool) is None


def _observe(tool: FunctionTool, log: Log) -> FunctionTool:
    body = tool.function
    takes_context = tool.takes_context

    async def finish(pending: Any, watched: _KeyWatch) -> Any:
        try:
            return await pending
        finally:
            log.executed(tool.name, watched)

    def run(ctx: RunContext[Any], **kwargs: Any) -> Any:
        # Any body whose result is awaitable (not only an ``async def``) is logged once
        # that result is done: its side effect happens while it is awaited.
        watched = _watch(ctx)
        try:
            result = body(watched, **kwargs) if takes_context else body(**kwargs)
        except BaseException:
            log.executed(tool.name, watched)
            raise
        if inspect.isawaitable(result):
            return finish(result, watched)
        log.executed(tool.name, watched)
        return result

    return dataclasses.replace(tool, function=run, takes_context=True)
