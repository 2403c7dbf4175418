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
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from ..guardrails import GuardrailFunctionOutput
from ..guardrails import InputGuardrail as _InputGuardrail
from ._items import ItemHelpers

__all__ = ["InputGuardrail", "input_guardrail"]

T = TypeVar("T")

text_input: ContextVar[str | None] = ContextVar("tether_agents_text_input", default=None)
"""The text a run of ``Runner`` was given, while it runs (``None`` for items or a state)."""


@dataclass(frozen=True, slots=True)
class InputGuardrail(_InputGuardrail[T]):
    """tether's ``InputGuardrail`` (a subclass) whose ``run_in_parallel`` defaults to
    ``True``, as the reference's does. As the reference, it is handed the run's input as
    the program gave it: a text as the text (tether hands every guardrail items)."""

    run_in_parallel: bool = True

    async def run(self, ctx: Any, agent: Any, input: Any) -> GuardrailFunctionOutput:
        text = text_input.get()
        # The run's own input only: the one user message the text was made into.
        if text is not None and input == ItemHelpers.input_to_new_input_list(text):
            input = text
        return await _InputGuardrail.run(self, ctx, agent, input)


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
