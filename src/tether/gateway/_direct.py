"""A call that needs no decision, journaled by the gateway itself in two commits.

A gateway run of such a call is always the same six events: the run's start, the relay
model's call, the write-ahead ``ToolStarted``, the call's output, the relay model's answer
(the output again) and ``RunCompleted``. The run loop would commit them one by one (and
take, renew and release the run's lease around them); here they are two appends (``run``):

1. ``RunStarted``, the relay's call and ``ToolStarted``, creating the run leased to this
   gateway: the call is durable as started before the upstream sees it;
2. ``ToolCompleted``, the relay's answer and ``RunCompleted``, under that lease: the outcome
   is durable before the client reads it.

The events are the ones the run loop writes for that call (the relay model's answers, the
same fields), and the store folds them before it writes anything, so the inbox, the audit
trail and a retry read such a run like any other. What is not this happy path goes back to
the loop's way: a run that already exists (a retry, another process), a connection cut
during the call (the call stays in doubt, as after a crash), an append refused. A process
that traces its runs (OpenTelemetry) leaves every call to the loop, whose spans it wants.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from typing import TYPE_CHECKING, Any

from mcp import types

from ..errors import MCPServerError, StoreError, TetherError
from ..items import to_input_items
from ..journal import (
    Event,
    ModelResponded,
    RunCompleted,
    RunStarted,
    ToolCompleted,
    ToolStarted,
)
from ..run import DEFAULT_MAX_TURNS
from ..run._doubt import iso_time
from ..run._tracing import NO_TRACER, tracer_for
from ._outcome import completed
from ._relay import CALL_ID, RELAY_USAGE, relay_answer, relay_call, request_text
from ._upstream import Upstream, gateway_error

if TYPE_CHECKING:
    from ._gateway import Gateway

__all__ = ["DirectCall", "untraced"]


def untraced() -> bool:
    """Whether a run here would make no spans (tracing off, or no OpenTelemetry provider set
    up): a gateway that traces leaves its calls to the run loop, which makes them."""
    return tracer_for(None, {}) is NO_TRACER


class DirectCall:
    """One call without a decision, from the run's creation to its outcome (``run``)."""

    def __init__(
        self,
        gateway: Gateway,
        upstream: Upstream,
        tool: str,
        arguments: dict[str, Any],
        run_id: str,
        requested_by: str | None,
    ) -> None:
        self.gateway = gateway
        self.upstream = upstream
        self.tool = tool
        self.arguments = arguments
        self.run_id = run_id
        self.requested_by = requested_by
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def run(self) -> types.CallToolResult | None:
        """The call's result, journaled in two appends; ``None`` if the run is not (or no
        longer) this path's to finish: then the journal says what happened (the caller
        reads it)."""
        store, ttl = self.gateway.store, self.gateway.lease_ttl
        opening = self._opening()
        try:
            seq = await store.append(self.run_id, 0, opening, owner=self.owner, lease_ttl=ttl)
        except TetherError:
            return None  # it exists already (or the store refused): the journal says
        keeper = _LeaseKeeper(self, ttl)
        recorded: str | None = None
        try:
            output = await self._call()
            if output is not None:  # else cut off: in doubt once the lease is given up
                await store.append(self.run_id, seq, self._closing(output), owner=self.owner)
                recorded = output
        except TetherError:
            pass  # not recorded: the call stays in doubt, as the journal says
        finally:
            await keeper.stop()
            if recorded is None:
                await self._release()
        if recorded is None:
            return None
        self.gateway.after(self._release())  # off the answer's path: the run has ended
        return completed(recorded, self.run_id)

    def _opening(self) -> list[Event]:
        agent = self.upstream.agent_name
        started = RunStarted(
            run_id=self.run_id,
            agent=agent,
            input=to_input_items(request_text(self.tool, self.arguments)),
            max_turns=DEFAULT_MAX_TURNS,
            requested_by=self.requested_by,
        )
        turn = ModelResponded(
            agent=agent, output=[relay_call(self.tool, self.arguments)], usage=RELAY_USAGE
        )
        now = self.gateway.governance.now()
        return [started, turn, ToolStarted(CALL_ID, at=iso_time(now))]

    def _closing(self, output: str) -> list[Event]:
        agent = self.upstream.agent_name
        answer = ModelResponded(agent=agent, output=[relay_answer(output)], usage=RELAY_USAGE)
        return [ToolCompleted(CALL_ID, output), answer, RunCompleted(output=output)]

    async def _call(self) -> str | None:
        """The upstream's result as the tool records it; ``None`` if the call was cut off."""
        try:
            return await self.upstream.call(self.tool, self.arguments)
        except MCPServerError:
            return None
        except Exception as exc:  # the tool's error formatter's answer, as in the run loop
            return gateway_error(exc)

    async def renew(self, ttl: float) -> None:
        """Keep the lease while the upstream works (a lost one refuses the last append)."""
        while True:
            with contextlib.suppress(StoreError):
                await self.gateway.store.renew(self.run_id, self.owner, ttl)
            await asyncio.sleep(ttl / 3)

    async def _release(self) -> None:
        with contextlib.suppress(StoreError):
            await self.gateway.store.release(self.run_id, self.owner)


class _LeaseKeeper:
    """Renews a call's lease every third of ``ttl``, from a third of ``ttl`` on: a timer
    until then, so a call shorter than that costs no task."""

    def __init__(self, call: DirectCall, ttl: float) -> None:
        self._call, self._ttl = call, ttl
        self._task: asyncio.Task[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(ttl / 3, self._start)

    def _start(self) -> None:
        self._task = asyncio.create_task(self._call.renew(self._ttl))

    async def stop(self) -> None:
        self._timer.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
