"""Tracing on OpenTelemetry: spans for runs, turns, model and tool calls, handoffs,
guardrails and approval waits (see docs/tracing.md).

Install ``tether[otel]`` and set up an OpenTelemetry ``TracerProvider`` as for any
application; tether's spans go where the provider sends them. Without the package,
or with tracing off (``RunConfig(tracing_disabled=True)`` or
``set_tracing_disabled(True)``), nothing is traced and nothing is exported.
"""

from __future__ import annotations

__all__ = ["set_tracing_disabled", "tracing_disabled"]

_disabled = False


def set_tracing_disabled(disabled: bool) -> None:
    """Turn tracing off (``True``) or back on (``False``) for every run in this process."""
    global _disabled
    _disabled = bool(disabled)


def tracing_disabled() -> bool:
    """Whether ``set_tracing_disabled(True)`` is in force."""
    return _disabled
