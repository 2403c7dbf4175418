"""How a command ends: exit statuses, and a failure as one line on stderr."""

from __future__ import annotations

import sys

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_ALLOWED",
    "EXIT_NOT_FOUND",
    "EXIT_NOT_PENDING",
    "fail",
]

EXIT_FAILURE = 1
EXIT_NOT_PENDING = 3
"""``tether inbox``: the call is not pending (decided by someone else, expired, stale)."""
EXIT_NOT_ALLOWED = 4
"""``tether inbox``: not authenticated, or not allowed to decide."""
EXIT_NOT_FOUND = 5
"""``tether inbox``: no such run (or rule)."""
EXIT_INTERRUPTED = 130
"""What shells report for a command stopped with Ctrl-C (128 + SIGINT)."""


def fail(message: str, status: int = EXIT_FAILURE) -> int:
    """Print ``tether: message`` as one line on stderr; returns ``status`` to exit with."""
    print(f"tether: {' '.join(message.split())}", file=sys.stderr)
    return status
