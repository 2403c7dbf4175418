"""One event loop for a thread's synchronous calls (``Runner.run_sync``).

``asyncio.run`` makes a loop for each call and closes it at the end. Whatever a call left
bound to its loop is then unusable by the next: the keep-alive connection an ``AsyncOpenAI``
client pooled fails the next request with "Event loop is closed". So, as the reference SDK
does, each thread's synchronous calls share its current loop, made once and left open;
a loop that was closed meanwhile is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run_on_thread_loop"]

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


def _thread_loop() -> asyncio.AbstractEventLoop:
    with warnings.catch_warnings():
        # Python 3.12 and 3.13 warn where the thread has no current loop; 3.14 raises.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_event_loop()
        except RuntimeError:
            loop = None
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
    return loop
