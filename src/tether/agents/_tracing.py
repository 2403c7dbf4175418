"""``trace``, ``custom_span`` and ``gen_trace_id`` as the reference SDK spells them.

tether traces through OpenTelemetry (``RunConfig(workflow_name=, tracer_provider=)``), not
the reference's trace processors. ``trace(...)`` here groups nothing and exports nothing:
it is a context manager carrying a ``trace_id`` so programs that wrap runs in one run
unchanged (docs/migrating.md). ``custom_span(...)``, a program's own span around some of
its work, is the same: a context manager carrying its name and data, recording nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

__all__ = ["CustomSpan", "Trace", "custom_span", "gen_trace_id", "trace"]


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


def gen_span_id() -> str:
    """A new span id in the reference SDK's format: ``span_`` and 24 hex digits."""
    return f"span_{uuid.uuid4().hex[:24]}"


@dataclass
class CustomSpan:
    """A program's own span: a context manager (sync) with ``start()`` / ``finish()``."""

    name: str
    data: dict[str, Any] = field(default_factory=dict)
    span_id: str = field(default_factory=gen_span_id)
    disabled: bool = False

    def start(self, mark_as_current: bool = False) -> None:
        """Accepted; the span records nothing."""

    def finish(self, reset_current: bool = False) -> None:
        """Accepted; the span records nothing."""

    def __enter__(self) -> CustomSpan:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


def custom_span(
    name: str,
    data: dict[str, Any] | None = None,
    span_id: str | None = None,
    parent: Any = None,
    disabled: bool = False,
) -> CustomSpan:
    """A span named ``name`` around some of a program's own work (``with custom_span("Search
    the web"): ...``); ``data`` is kept on it. ``parent`` is accepted: tether's spans come from
    its runs, through OpenTelemetry."""
    return CustomSpan(name, dict(data or {}), span_id or gen_span_id(), disabled)
