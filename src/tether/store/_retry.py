"""Riding out a brief database outage: bounded retries inside a store call.

A store call that meets a transient failure (connection refused or reset, the
server shutting down or starting up, a serialization failure) is tried again,
with a growing pause, until ``retry_for`` seconds have passed; then it raises
``StoreUnavailableError`` (``retryable = True``), which says what to do.

Only what is safe is retried:

- a read, always;
- a write whose transaction certainly did not commit (the failure came before
  its ``COMMIT`` was sent);
- a write whose ``COMMIT`` outcome is unknown (the connection broke while it
  committed) only when it is idempotent (taking our own lease again, releasing
  it, rebuilding projections) or when the caller can *settle* the question by
  reading: an append is compare-and-append, so the run's stored events say
  whether it landed (``settle`` returns the result if it did, ``None`` if not).

Anything else with an unknown outcome is raised at once (``unknown_outcome``).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from ..errors import StoreUnavailableError

__all__ = [
    "DEFAULT_OUTAGE_PATIENCE",
    "DEFAULT_RETRY_FOR",
    "Retrying",
    "outlast_outage",
    "retried",
    "retry_store_call",
]

DEFAULT_RETRY_FOR = 15.0
"""Seconds a store call keeps trying through transient failures before it raises
``StoreUnavailableError``. A database restart usually takes a few seconds."""

DEFAULT_OUTAGE_PATIENCE = 300.0
"""Seconds a worker keeps trying one stretch of a run while its store is unavailable."""

_FIRST_PAUSE = 0.05
_LONGEST_PAUSE = 1.0

_T = TypeVar("_T")
_P = ParamSpec("_P")


class Retrying(Protocol):
    """A store whose calls retry through transient failures for ``retry_for`` seconds."""

    @property
    def retry_for(self) -> float: ...


_S = TypeVar("_S", bound=Retrying)


async def retry_store_call(
    call: Callable[[], Awaitable[_T]],
    *,
    within: float,
    idempotent: bool = False,
    settle: Callable[[], Awaitable[_T | None]] | None = None,
) -> _T:
    """``await call()``, again after each transient failure until ``within`` seconds pass.

    A failure whose commit outcome is unknown is retried only if the call is
    ``idempotent``, or after ``settle`` (a read, itself retried) says it did not land;
    if it did, ``settle``'s answer is the result."""
    deadline = time.monotonic() + within
    pause = _FIRST_PAUSE
    while True:
        try:
            return await call()
        except StoreUnavailableError as exc:
            if exc.unknown_outcome and not idempotent:
                if settle is None:
                    raise
                remaining = max(0.0, deadline - time.monotonic())
                landed = await retry_store_call(settle, within=remaining)
                if landed is not None:
                    return landed
            if time.monotonic() + pause > deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, _LONGEST_PAUSE)


async def outlast_outage(
    call: Callable[[], Awaitable[_T]],
    *,
    patience: float,
    on_wait: Callable[[StoreUnavailableError, float], None] | None = None,
) -> _T:
    """``await call()``, again (with a growing pause, up to 5 s) while it raises
    ``StoreUnavailableError``, for up to ``patience`` seconds; then the error is raised.

    For work that is safe to start over, such as a stretch of a stored run: it only
    ever continues the run's journal. ``on_wait(error, pause)`` is told of each wait."""
    deadline = time.monotonic() + patience
    pause = 0.2
    while True:
        try:
            return await call()
        except StoreUnavailableError as exc:
            if time.monotonic() + pause > deadline:
                raise
            if on_wait is not None:
                on_wait(exc, pause)
        await asyncio.sleep(pause)
        pause = min(pause * 2, 5.0)


def retried(
    *, idempotent: bool = False
) -> Callable[
    [Callable[Concatenate[_S, _P], Awaitable[_T]]],
    Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]],
]:
    """A store method retried through transient failures (see ``retry_store_call``):
    a read, or a write that is ``idempotent`` when its commit outcome is unknown."""

    def decorate(
        method: Callable[Concatenate[_S, _P], Awaitable[_T]],
    ) -> Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]]:
        @functools.wraps(method)
        async def call(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
            return await retry_store_call(
                lambda: method(self, *args, **kwargs),
                within=self.retry_for,
                idempotent=idempotent,
            )

        return call

    return decorate
