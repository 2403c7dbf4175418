"""Sign-in throttling: after too many failed sign-ins from one client, a pause.

Each client address keeps the times of its last ``attempts`` failures (a sign-in form with
an unknown token, an API request whose bearer token is unknown). When all of them fall
within ``window`` seconds, that client's sign-ins and token requests are refused (429,
``Retry-After``) until the oldest of them is ``window`` old; a success counts nothing. It
lives in this process's memory: each server process keeps its own count.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

from ..errors import TooManyRequestsError

__all__ = ["SignInThrottle"]

_CLIENTS = 10_000
"""Clients remembered at most; past that, those whose failures are all older than the window
are forgotten (an address spraying failures cannot grow the table for ever)."""


class SignInThrottle:
    """Failed sign-ins per client: ``check`` refuses a client over the limit."""

    def __init__(self, attempts: int, window: float, clock: Callable[[], float]) -> None:
        self.attempts = attempts
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def check(self, client: str) -> None:
        """``TooManyRequestsError`` (with ``retry_after``) if ``client`` must wait."""
        failures = self._failures.get(client)
        if failures is None or len(failures) < self.attempts:
            return
        wait = failures[0] + self.window - self.clock()
        if wait > 0:
            error = TooManyRequestsError(
                f"Too many failed sign-ins from this address: try again in {math.ceil(wait)} "
                "seconds (Retry-After), with a valid token."
            )
            error.retry_after = max(1, math.ceil(wait))
            raise error

    def failed(self, client: str) -> None:
        """Count a failed sign-in of ``client``."""
        now = self.clock()
        if client not in self._failures and len(self._failures) >= _CLIENTS:
            self._forget(now)
        self._failures.setdefault(client, deque(maxlen=self.attempts)).append(now)

    def _forget(self, now: float) -> None:
        for client in [c for c, times in self._failures.items() if now - times[-1] >= self.window]:
            del self._failures[client]
        if len(self._failures) >= _CLIENTS:  # all within the window: drop the oldest
            oldest = min(self._failures, key=lambda c: self._failures[c][-1])
            del self._failures[oldest]
