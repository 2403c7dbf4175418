"""Durations: every one tether takes is a ``Duration``, a number of seconds or a ``timedelta``.

function_tool(timeout=30)                            # seconds
Governance(approval_timeout=timedelta(hours=4))      # or a timedelta, wherever a duration goes
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import TypeAlias

__all__ = ["Duration", "iso_utc", "to_seconds", "to_timedelta"]

Duration: TypeAlias = float | timedelta
"""Seconds (an int or a float) or a ``timedelta``: the one way to say how long."""


def to_seconds(value: Duration | None, what: str) -> float | None:
    """``value`` as a positive, finite number of seconds; ``ValueError`` saying why not."""
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValueError(f"{what} must be seconds (a number) or a timedelta, got {value!r}.")
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"{what} must be a positive, finite duration, got {value!r}.")
    return float(seconds)


def to_timedelta(value: Duration | None, what: str) -> timedelta | None:
    """``value`` as a positive ``timedelta``; ``ValueError`` saying why not."""
    seconds = to_seconds(value, what)
    try:
        return None if seconds is None else timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{what} is longer than a timedelta can hold: {value!r}.") from None


def iso_utc(moment: datetime) -> str:
    """``moment`` as journaled: ISO 8601 in UTC, to the microsecond, always the same width
    (``2026-12-06T21:45:00.000000+00:00``), so that text order is time order (deadlines
    compare as text)."""
    if moment.tzinfo is not UTC:  # the clock's own time is UTC already: no conversion
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")
