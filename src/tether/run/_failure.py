"""Failure is an event: which errors fail a run, and whether trying again can help.

A run that stops on an error records ``RunFailed`` before the error reaches the
caller, so its journal (and a store's status column, folded from it) says
``failed`` instead of looking like a run still under way. Errors that are not the
run's own failure record nothing: a cancellation, another process holding or
moving the run, a store that cannot be written, a call left in doubt.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from .._exceptions import StoreError, ToolCallInDoubtError
from ._journal import RunFailed

__all__ = ["failure_event", "retryable"]

_TRANSIENT_NAMES = frozenset(
    {
        # The openai client's errors for a service that was away or overloaded (matched by
        # name: the client is imported only when a model uses it).
        "APIConnectionError",
        "APITimeoutError",
        "RateLimitError",
        "InternalServerError",
    }
)

_MESSAGE_LIMIT = 2000
"""The longest error message recorded (the journal is no place for a megabyte of traceback)."""


def retryable(error: BaseException) -> bool:
    """Whether the same run may succeed if tried again: the error says so itself
    (``retryable = True``), or it is a connection, time-out or overload error."""
    flag = getattr(error, "retryable", None)
    if isinstance(flag, bool):
        return flag
    if isinstance(error, ConnectionError | TimeoutError):
        return True
    return any(cls.__name__ in _TRANSIENT_NAMES for cls in type(error).__mro__)


def failure_event(error: BaseException, now: datetime) -> RunFailed | None:
    """The ``RunFailed`` that ``error`` makes of a run, or ``None`` if it is no failure of
    the run (cancelled, interrupted, another owner, an unwritable store, a call in doubt)."""
    if not isinstance(error, Exception) or isinstance(error, asyncio.CancelledError):
        return None
    if isinstance(error, StoreError | ToolCallInDoubtError):
        return None
    message = str(error)
    if len(message) > _MESSAGE_LIMIT:
        message = message[: _MESSAGE_LIMIT - 3] + "..."
    return RunFailed(type(error).__name__, message, retryable(error), at=now.isoformat())
