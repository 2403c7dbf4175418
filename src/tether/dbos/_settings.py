"""What a ``DBOSApp`` is built with, checked before anything starts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._agent import Agent
from .._duration import Duration, to_seconds
from ..errors import UserError

__all__ = ["check_settings"]


def check_settings(
    agents: Sequence[Agent[Any]],
    worker_concurrency: int | None,
    concurrency: int | None,
    approval_timeout: Duration | None,
    store_patience: float,
) -> None:
    """``UserError`` for a ``DBOSApp`` setting that cannot work."""
    if not agents:
        raise UserError("DBOSApp needs at least one agent.")
    for value, what in (
        (worker_concurrency, "worker_concurrency"),
        (concurrency, "concurrency"),
    ):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise UserError(f"{what} is an integer >= 1 or None, not {value!r}.")
    if (
        worker_concurrency is not None
        and concurrency is not None
        and worker_concurrency > concurrency
    ):
        raise UserError(
            f"worker_concurrency ({worker_concurrency}) cannot exceed concurrency "
            f"({concurrency}): one worker may not run more than all of them together."
        )
    try:
        to_seconds(approval_timeout, "approval_timeout")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if not store_patience >= 0:
        raise UserError(f"store_patience is seconds >= 0, not {store_patience!r}.")
