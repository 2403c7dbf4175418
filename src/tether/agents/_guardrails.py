"""Input guardrails as the reference SDK builds them: ``run_in_parallel=True`` by default.

The reference runs an input guardrail beside the starting agent's first model turn by
default (``run_in_parallel=True``) and before it with ``run_in_parallel=False``; so does
``tether.agents``, on tether's own ``InputGuardrail.run_in_parallel`` (whose default is
``False``). Beside the call, tether sends the request at once (hooks and model events
too), but lets nothing act on its response until every check passed: a tripwire cancels
the call, and no tool of that turn runs (docs/migrating.md says what differs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..guardrails import InputGuardrail as _InputGuardrail

__all__ = ["InputGuardrail", "input_guardrail"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class InputGuardrail(_InputGuardrail[T]):
    """tether's ``InputGuardrail`` (a subclass) whose ``run_in_parallel`` defaults to
    ``True``, as the reference's does."""

    run_in_parallel: bool = True


def input_guardrail(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    run_in_parallel: bool = True,
) -> Any:
    """``@input_guardrail``, ``@input_guardrail(name=..., run_in_parallel=...)``: an
    ``InputGuardrail`` of ``fn(ctx, agent, input)``, as in the reference."""

    def make(fn: Callable[..., Any]) -> InputGuardrail[Any]:
        return InputGuardrail(fn, name, run_in_parallel)

    return make if func is None else make(func)
