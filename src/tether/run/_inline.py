"""Await a coroutine as a task would run it, in a copy of the context, without a task.

A turn's lone async tool call used to run in a task of its own, only to be awaited at
once: two trips through the event loop (one to start the task, one to wake the run when it
is done), the largest part of such a turn's cost. ``isolated`` runs the coroutine in the
awaiting task instead, each step inside a copy of the current context, so that what the
tool sets in a ``ContextVar`` stays its own, as it would in a task. Cancelling the awaiting
task reaches the coroutine as it would reach a task's.
"""

from __future__ import annotations

import contextvars
import types
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

__all__ = ["isolated"]

T = TypeVar("T")

_UNSTARTED: Any = object()
"""``isolated``'s ``waiting`` when the coroutine has not taken its first step."""


@types.coroutine
def isolated(
    coro: Coroutine[Any, Any, T],
    context: contextvars.Context | None = None,
    waiting: Any = _UNSTARTED,
) -> Generator[Any, Any, T]:
    """``await coro``, each of its steps run in ``context`` (by default a copy of the current
    context); ``waiting``: what ``coro`` yielded at its first step, if the caller took that
    step already (``context.run(coro.send, None)``, see ``_tool_step``).

    A generator-based coroutine (awaitable as it is), not an ``async def`` around one: a
    frame fewer on every step of the tool, whose own frames are deep enough."""
    # ``yield from coro``, with every send and throw run in the context: what the coroutine
    # yields (the future it waits on) goes up to the awaiting task unchanged, and what the
    # task sends or throws back (a cancellation) goes down to the coroutine.
    if context is None:
        context = contextvars.copy_context()
    send, throw = coro.send, coro.throw
    try:
        if waiting is _UNSTARTED:
            waiting = context.run(send, None)
        while True:
            try:
                sent = yield waiting
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # handed on to the coroutine
                waiting = context.run(throw, exc)
            else:
                waiting = context.run(send, sent)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
