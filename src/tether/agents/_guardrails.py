"""Input guardrails as the reference SDK builds them: ``run_in_parallel=`` accepted.

The reference runs an input guardrail beside the starting agent's first model turn by
default (``run_in_parallel=True``) and before it with ``run_in_parallel=False``. tether's
run loop always runs input guardrails before the first model call, which is the
reference's ``run_in_parallel=False`` order in either case: a tripped input has called
no hook, sent no model request and run no tool (docs/migrating.md says what a program
of the reference can see of the difference).
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
    """tether's ``InputGuardrail`` (a subclass) with the reference's ``run_in_parallel``
    (kept, so a program reads back what it set; the check runs before the first model
    call either way)."""

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
