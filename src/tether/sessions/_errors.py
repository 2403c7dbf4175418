"""The session backends' errors, which live in ``tether.errors`` with every other."""

from __future__ import annotations

from ..errors import MissingDependencyError, SessionError

__all__ = ["MissingDependencyError", "SessionError"]
