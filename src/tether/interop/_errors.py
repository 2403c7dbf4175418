"""The interop error, which lives in ``tether.errors`` with every other."""

from __future__ import annotations

from ..errors import InteropError

__all__ = ["InteropError"]
