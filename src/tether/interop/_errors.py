"""The error raised when a run state cannot be carried between tether and another SDK."""

from __future__ import annotations

from ..errors import StateError

__all__ = ["InteropError"]


class InteropError(StateError):
    """A run state holds something the other side cannot represent; nothing was converted.

    The message names the field or item and why it cannot be carried. A
    conversion never drops content silently: it converts all of a state or
    raises this error.
    """
