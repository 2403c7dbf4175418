"""Streaming runs: the same loop, with each journal event and model delta forwarded.

``Runner.run_streamed`` drives the ordinary loop in a task whose sink turns
journal events into stream events (``_stream_events``) and passes model deltas
through. Nothing here decides anything, so a streamed run and a plain one
cannot drift apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from ..errors import RunError, UserError
from ._cancellation import attach_run_state
from ._result import RunResult
from ._run import Run, StopMode
from ._stream_events import (
    AgentToolStreamEvent,
    AgentUpdatedEvent,
    RawResponseEvent,
    RunItemEvent,
    RunItemName,
    StreamEvent,
    attach_stream,
)

if TYPE_CHECKING:
    # asyncio and the loop (``_loop``: the tool step, guardrails, agent tools, each with
    # its own asyncio) are imported in the functions that run a run: ``import tether``
    # loads neither, a run does (tests/test_import_cost.py).
    import asyncio

__all__ = [
    "AgentToolStreamEvent",
    "AgentUpdatedEvent",
    "RawResponseEvent",
    "RunItemEvent",
    "RunItemName",
    "RunResultStreaming",
    "StreamEvent",
    "attach_stream",
]

_END = object()


class RunResultStreaming(RunResult):
    """A run in progress. Iterate ``stream_events()``; afterwards it reads like a ``RunResult``.

    ``final_output``, ``interruptions``, ``to_state()`` and ``usage`` are
    complete once the stream has ended.
    """

    def __init__(self, run: Run, queue: asyncio.Queue[object]) -> None:
        super().__init__(run)
        self._queue = queue
        self._task: asyncio.Task[None] | None = None
        self._began = False
        self._stop: StopMode | None = None

    @property
    def is_complete(self) -> bool:
        """Whether the run has stopped (finished, interrupted, cancelled or failed)."""
        return self._task is not None and self._task.done()

    def start(self) -> None:
        import asyncio

        self._task = asyncio.get_running_loop().create_task(self._drive())
        # A callback, not a ``finally`` in ``_drive``: a task cancelled before it ever ran
        # never enters its coroutine, and the stream must end all the same.
        self._task.add_done_callback(lambda _: self._queue.put_nowait(_END))

    async def _drive(self) -> None:
        from ._loop import drive

        self._began = True
        try:
            await drive(self._run, lambda: self._stop)
        except RunError as exc:
            exc.run_state = self.to_state()  # as Runner.run does
            raise

    async def stream_events(self) -> AsyncIterator[StreamEvent]:
        """Events in the order they happen; raises the run's error, if it failed, at the end.

        If the task iterating is cancelled (for example by ``asyncio.timeout``),
        the run is cancelled too, at once, and the cancellation goes on with
        ``run_state_of(error)`` giving the state.
        """
        import asyncio

        try:
            while (event := await self._queue.get()) is not _END:
                assert isinstance(event, RawResponseEvent | RunItemEvent | AgentUpdatedEvent)
                yield event
        except asyncio.CancelledError as exc:
            await self._stop_at_once()
            if self._run.start is None:  # else the run never recorded its start
                attach_run_state(exc, self.to_state())
            raise
        assert self._task is not None and self._task.done()
        if self._task.cancelled():
            if self._stop is None:  # cancelled by someone else than ``cancel()``
                raise asyncio.CancelledError
            return
        self._task.result()  # the run's error, if it failed

    def cancel(self, mode: StopMode = "immediate") -> None:
        """Stop the run; the stream then ends and ``to_state()`` resumes it.

        ``"immediate"``: tools that are running are cancelled, and a call cut
        short is left in doubt (started, no output: it may have had effects; it
        runs again on resume only if the tool is idempotent). ``"after_turn"``:
        the current turn (its model call and its tools) finishes and is recorded,
        and the run stops before the next model call. Either way, cancelling
        before ``stream_events()`` is iterated ends the stream at once.
        """
        if mode not in ("immediate", "after_turn"):
            raise UserError(f"cancel mode must be 'immediate' or 'after_turn', got {mode!r}.")
        if self._stop != "immediate":
            self._stop = mode
        # A run that has not begun stops at its first step, after recording its start,
        # so its state is a valid one; a run under way is stopped where it is.
        began = self._began and self._run.start is None
        if mode == "immediate" and began and self._task is not None and not self._task.done():
            self._task.cancel()

    async def _stop_at_once(self) -> None:
        import asyncio

        self.cancel("immediate")
        if self._task is not None:
            await asyncio.wait([self._task])
