"""``agents.usage``: a run's usage with one entry per model request, as the reference SDK
reports it (``usage.request_usage_entries``).

tether journals each model response's usage with the response; the entries are read from
those, so a run loaded in another process reports the same. Token details (cached,
reasoning) are not recorded by tether, so an entry has the three counts only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

from .._context import Usage as _Usage

__all__ = ["RequestUsage", "Usage"]


@dataclass(frozen=True, slots=True)
class RequestUsage:
    """The tokens of one model request."""

    input_tokens: int
    output_tokens: int
    total_tokens: int


class Usage(_Usage):
    """tether's ``Usage`` of a whole run, with ``request_usage_entries``."""

    __slots__ = ("_entries",)
    _entries: tuple[RequestUsage, ...]

    def __init__(self, *args: int, **kwargs: int) -> None:
        super().__init__(*args, **kwargs)
        object.__setattr__(self, "_entries", ())

    @classmethod
    def of_requests(cls, total: _Usage, requests: Sequence[_Usage]) -> Usage:
        """``total`` with one entry per request's usage."""
        usage = cls(**{f.name: getattr(total, f.name) for f in fields(total)})
        entries = tuple(
            RequestUsage(r.input_tokens, r.output_tokens, r.total_tokens) for r in requests
        )
        object.__setattr__(usage, "_entries", entries)
        return usage

    @property
    def request_usage_entries(self) -> list[RequestUsage]:
        """One entry per model request of the run, in order."""
        return list(self._entries)
