"""A call that needs no decision, journaled by the gateway itself: two commits, one, or none.

A gateway run of such a call is always the same six events: the run's start, the relay
model's call, the write-ahead ``ToolStarted``, the call's output, the relay model's answer
(the output again) and ``RunCompleted``. The run loop would commit them one by one (and
take, renew and release the run's lease around them); here they are two appends (``run``):

1. ``RunStarted``, the relay's call and ``ToolStarted``, creating the run leased to this
   gateway: the call is durable as started before the upstream sees it;
2. ``ToolCompleted``, the relay's answer and ``RunCompleted``, under that lease: the outcome
   is durable before the client reads it.

A tool declared ``idempotent`` takes one append (``run_once``): all six events once the
upstream answered. A crash during the call leaves no run, so a retry calls the upstream
again, which the declaration allows. A tool with ``journal = false`` takes none
(``relay``): the call goes straight to the upstream, and nothing records it.

The events are the ones the run loop writes for that call (the relay model's answers, the
same fields), and the store folds them before it writes anything, so the inbox, the audit
trail and a retry read such a run like any other. What is not this happy path goes back to
the loop's way: a run that already exists (a retry, another process), a connection cut
during the call (the call stays in doubt, as after a crash), an append refused. A process
that traces its runs (OpenTelemetry) leaves every journaled call to the loop, whose spans
it wants.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from typing import TYPE_CHECKING, Any

from mcp import types

from ..errors import MCPServerError, RunNotFoundError, StoreError, TetherError
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
from ._upstream import Upstream, error_result, gateway_error

if TYPE_CHECKING:
    from ._gateway import Gateway

__all__ = ["DirectCall", "relay", "untraced"]


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

    async def run_once(self, look_first: bool) -> types.CallToolResult | None:
        """The call's result, journaled in one append once the upstream answered (a tool
        declared idempotent); ``None`` if the run exists already (``look_first``: looked
        for before the call, for a request that may be a retry) or the append was refused:
        then the journal says what happened."""
        if look_first and await self._exists():
            return None
        opening = self._opening()
        try:
            output = await self.upstream.call(self.tool, self.arguments)
        except MCPServerError:  # cut off: nothing journaled, a retry may call again
            return cut_off(
                self.upstream,
                self.tool,
                "the tool is declared idempotent, so retrying this request calls it again",
            )
        except Exception as exc:
            output = gateway_error(exc)
        events = [*opening, *self._closing(output)]
        try:
            await self.gateway.store.append(self.run_id, 0, events, owner=self.owner)
        except TetherError:
            return None  # another process journaled this request first: its outcome holds
        return completed(output, self.run_id)

    async def _exists(self) -> bool:
        """Whether the run may exist (a store that cannot say leaves it to the journal's
        path, which reports the store's error)."""
        try:
            await self.gateway.store.tip(self.run_id)
        except RunNotFoundError:
            return False
        except TetherError:
            return True
        return True

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


async def relay(upstream: Upstream, tool: str, arguments: dict[str, Any]) -> types.CallToolResult:
    """A call of a tool with ``journal = false``: straight to the upstream, nothing
    journaled (no run; a retry calls the upstream again)."""
    try:
        output = await upstream.call(tool, arguments)
    except MCPServerError:
        return cut_off(upstream, tool, "journal = false: whether it ran is the upstream's to say")
    except Exception as exc:
        output = gateway_error(exc)
    return completed(output, None)


def cut_off(upstream: Upstream, tool: str, why: str) -> types.CallToolResult:
    """The tool error of a call cut off with nothing journaled (``"cut_off"``)."""
    return error_result(
        f"The call of {tool!r} on upstream MCP server {upstream.name!r} was cut off (its "
        f"connection broke): it may or may not have run. Nothing was journaled ({why}).",
        "cut_off",
    )
