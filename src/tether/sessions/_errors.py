"""Errors raised by session backends.

    TetherError
    └── SessionError                 a session store failed, or holds data tether cannot read
        └── MissingDependencyError   the backend's driver is not installed (also an ImportError)

A ``SessionError`` never means data was lost: a failed ``add_items`` stored
nothing, and items already stored stay stored.
"""

from __future__ import annotations

from ..errors import TetherError

__all__ = ["MissingDependencyError", "SessionError"]


class SessionError(TetherError):
    """A session store is unreachable, refused the credentials, or holds corrupt data.

    The message names the store and what to check. Nothing already stored was
    lost, and a failed ``add_items`` stored none of its items, so the call can
    simply be retried once the cause is fixed.
    """


class MissingDependencyError(SessionError, ImportError):
    """A session backend needs a package that is not installed.

    It is also an ``ImportError``, so code that guards optional imports the
    usual way keeps working.
    """

    def __init__(self, backend: str, package: str, extra: str) -> None:
        self.backend = backend
        self.package = package
        self.extra = extra
        super().__init__(
            f"{backend} needs the {package!r} package, which is not installed. "
            f"Install it with: pip install 'tether[{extra}]'"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.backend, self.package, self.extra))
