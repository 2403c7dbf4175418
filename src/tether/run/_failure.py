"""Failure is an event: which errors fail a run, and whether trying again can help.

A run that stops on an error records ``RunFailed`` before the error reaches the
caller, so its journal (and a store's status column, folded from it) says
``failed`` instead of looking like a run still under way. Errors that are not the
run's own failure record nothing: a cancellation, another process holding or
moving the run, a store that cannot be written, a call left in doubt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .._duration import Duration
from ..errors import StoreError, ToolCallInDoubtError, UserError
from ..journal import RunFailed, RunView

__all__ = ["RetryPolicy", "failure_event", "retryable"]

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
    import asyncio  # here, not at ``import tether`` (tests/test_import_cost.py)

    if not isinstance(error, Exception) or isinstance(error, asyncio.CancelledError):
        return None
    if isinstance(error, StoreError | ToolCallInDoubtError):
        return None
    message = str(error)
    if len(message) > _MESSAGE_LIMIT:
        message = message[: _MESSAGE_LIMIT - 3] + "..."
    return RunFailed(type(error).__name__, message, retryable(error), at=now.isoformat())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When a worker tries a failed run again by itself.

    Only a failure that says a retry can help (``RunFailed.retryable``: a model or
    database that was away) is retried, ``max_attempts`` times in all, waiting
    ``backoff`` seconds before the first retry and twice as long before each next one
    (at most ``max_backoff``). Other failures, and runs past their attempts, wait for a
    person (``tether.store.retry_run``, the inbox's retry action).
    """

    max_attempts: int = 3
    backoff: Duration = 30.0
    max_backoff: Duration = 3600.0

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise UserError(f"max_attempts is a whole number >= 1, not {self.max_attempts!r}.")
        if (
            self.max_attempts < 1
            or not _seconds(self.backoff) >= 0
            or not _seconds(self.max_backoff) >= 0
        ):
            raise UserError(
                "RetryPolicy needs max_attempts >= 1 and backoff, max_backoff >= 0 seconds."
            )

    def retry_at(self, view: RunView) -> datetime | None:
        """When the failed run ``view`` may be tried again by a worker; ``None``: only a
        person can (not retryable, attempts used up, or not failed at all)."""
        failed = view.failed
        if failed is None or not failed.retryable or view.failures >= self.max_attempts:
            return None
        at = _moment(failed.at)
        wait = min(_seconds(self.max_backoff), _seconds(self.backoff) * 2 ** (view.failures - 1))
        return at + timedelta(seconds=wait)


def _seconds(value: Duration) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _moment(text: str | None) -> datetime:
    if text is not None:
        try:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is not None:
                return moment
        except ValueError:
            pass
    return datetime.min.replace(tzinfo=UTC)  # no usable time: due at once
