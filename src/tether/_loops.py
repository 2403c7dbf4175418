"""Event loops and what is bound to them.

A client's pooled connections (an ``AsyncOpenAI`` client's, a Redis client's) belong to the
loop that opened them: used from another loop, a request fails with "Event loop is
closed" (or goes out on the other loop's connection). ``asyncio.run`` makes a loop for each
call and closes it at the end, so a program that calls it twice meets this. Two answers:

- ``run_on_thread_loop``: each thread's synchronous calls (``Runner.run_sync``) share its
  current loop, made once and left open, as the reference SDK's do; a loop that was
  closed meanwhile is replaced.
- ``PerLoop``: what tether makes itself (a client from the environment or a URL), one for
  each loop that uses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

__all__ = ["PerLoop", "run_on_thread_loop"]

T = TypeVar("T")


def run_on_thread_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to its end on this thread's current event loop (made and set if
    it has none, or a closed one). The caller checks that no loop is running here.

    If the wait is interrupted (``KeyboardInterrupt``), the coroutine's task is cancelled
    and awaited before the error goes on: nothing of it is left on the loop."""
    loop = _thread_loop()
    task = loop.create_task(coroutine)
    try:
        return loop.run_until_complete(task)
    except BaseException:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                loop.run_until_complete(task)
        raise
    finally:
        # Async generators the run left unfinished close now, not at the next call.
        with contextlib.suppress(RuntimeError):
            loop.run_until_complete(loop.shutdown_asyncgens())


_MADE = threading.local()
"""The loop ``run_on_thread_loop`` made for this thread (``loop``), if any."""


def _thread_loop() -> asyncio.AbstractEventLoop:
    with warnings.catch_warnings():
        # Python 3.12 and 3.13 warn where the thread has no current loop; 3.14 raises.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_event_loop()
        except RuntimeError:
            loop = None
    if loop is None or loop.is_closed():
        made: asyncio.AbstractEventLoop | None = getattr(_MADE, "loop", None)
        if made is not None and made is not loop and not made.is_closed():
            # The loop made here before, which the thread no longer has as its own (an
            # ``asyncio.run`` in between sets none after it): closed, not left open with
            # what is bound to it (``PerLoop`` lets a closed loop's clients go).
            made.close()
        loop = _MADE.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
    return loop


class PerLoop(Generic[T]):
    """One ``make()`` for each event loop that asks (``get``), and one for code that asks
    where no loop runs. A closed loop's is closed (``close``, errors ignored) on the next
    loop that asks for one of its own, and let go: kept, it would hold its closed loop;
    collected unclosed, a client may close itself in a task of whatever loop runs then,
    and fail there ("Task exception was never retrieved")."""

    def __init__(self, make: Callable[[], T], close: Callable[[T], Awaitable[object]]) -> None:
        self._make = make
        self._close = close
        self._by_loop: dict[asyncio.AbstractEventLoop, T] = {}
        self._outside: T | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def get(self) -> T:
        """The running loop's (made now if it has none)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            if self._outside is None:
                self._outside = self._make()
            return self._outside
        made = self._by_loop.get(loop)
        if made is None:
            # (``list``: a copy taken at once, as another thread's loop may add its own.)
            for closed in [known for known in list(self._by_loop) if known.is_closed()]:
                gone = self._by_loop.pop(closed, None)
                if gone is not None:
                    task = loop.create_task(self._quietly(gone))
                    self._closing.add(task)
                    task.add_done_callback(self._closing.discard)
            made = self._by_loop[loop] = self._make()
        return made

    async def aclose(self) -> None:
        """Close every one made (errors ignored); the next ``get`` makes a new one."""
        for made in self.forget():
            await self._quietly(made)

    def forget(self) -> list[T]:
        """Let every one made go, unclosed (a forked child's: they are its parent's)."""
        made = [*self._by_loop.values(), *([] if self._outside is None else [self._outside])]
        self._by_loop, self._outside = {}, None
        return made

    async def _quietly(self, made: T) -> None:
        with contextlib.suppress(Exception):
            await self._close(made)
