"""``trace`` and ``gen_trace_id`` as the reference SDK spells them.

tether traces through OpenTelemetry (``RunConfig(workflow_name=, tracer_provider=)``), not
the reference's trace processors. ``trace(...)`` here groups nothing and exports nothing:
it is a context manager carrying a ``trace_id`` so programs that wrap runs in one run
unchanged (docs/migrating.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

__all__ = ["Trace", "gen_trace_id", "trace"]


def gen_trace_id() -> str:
    """A new trace id in the reference SDK's format: ``trace_`` and 32 hex digits."""
    return f"trace_{uuid.uuid4().hex}"


@dataclass
class Trace:
    """A named trace: a context manager (sync or async) with ``start()`` / ``finish()``."""

    name: str
    trace_id: str = field(default_factory=gen_trace_id)
    group_id: str | None = None
    metadata: dict[str, Any] | None = None
    disabled: bool = False

    def start(self, mark_as_current: bool = False) -> None:
        """Accepted; tether's spans start with each run."""

    def finish(self, reset_current: bool = False) -> None:
        """Accepted; tether's spans end with each run."""

    def __enter__(self) -> Trace:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def __aenter__(self) -> Trace:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


def trace(
    workflow_name: str,
    trace_id: str | None = None,
    group_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    disabled: bool = False,
) -> Trace:
    """A trace named ``workflow_name`` to wrap runs in (``with trace("Story"): ...``)."""
    return Trace(workflow_name, trace_id or gen_trace_id(), group_id, metadata, disabled)
