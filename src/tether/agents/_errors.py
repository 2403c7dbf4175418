"""Guardrail tripwire errors as the reference SDK's code reads them: ``exc.guardrail``
answers ``get_name()`` and ``exc.output`` is the guardrail's output object.

Each is a subclass of tether's error of the same name (so ``except`` clauses written for
either package catch it); the facade's ``Runner`` re-raises tether's as these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import errors as _tether
from ..guardrails import GuardrailFunctionOutput, ToolGuardrailFunctionOutput

__all__ = [
    "InputGuardrailTripwireTriggered",
    "OutputGuardrailTripwireTriggered",
    "ToolInputGuardrailTripwireTriggered",
    "ToolOutputGuardrailTripwireTriggered",
    "reference_error",
]


class GuardrailName(str):
    """A guardrail's name that also answers ``get_name()``, as a guardrail object does."""

    __slots__ = ()

    @property
    def name(self) -> str:
        return str(self)

    def get_name(self) -> str:
        return str(self)


class _ToolTripwire:
    guardrail: Any
    output_info: Any

    @property
    def output(self) -> ToolGuardrailFunctionOutput:
        """The guardrail's output: ``raise_exception`` with its ``output_info``."""
        return ToolGuardrailFunctionOutput.raise_exception(output_info=self.output_info)


class ToolInputGuardrailTripwireTriggered(
    _ToolTripwire, _tether.ToolInputGuardrailTripwireTriggered
):
    """A tool input guardrail stopped the run (``exc.guardrail.get_name()``, ``exc.output``)."""


class ToolOutputGuardrailTripwireTriggered(
    _ToolTripwire, _tether.ToolOutputGuardrailTripwireTriggered
):
    """A tool output guardrail stopped the run (``exc.guardrail.get_name()``, ``exc.output``)."""


@dataclass(frozen=True, slots=True)
class GuardrailResult:
    """What an input or output guardrail found, as the reference's tripwire holds it."""

    guardrail: GuardrailName
    output: GuardrailFunctionOutput


class _AgentTripwire:
    guardrail: Any
    output_info: Any

    @property
    def guardrail_result(self) -> GuardrailResult:
        """``guardrail_result.guardrail.get_name()``, ``guardrail_result.output.output_info``."""
        output = GuardrailFunctionOutput(output_info=self.output_info, tripwire_triggered=True)
        return GuardrailResult(GuardrailName(self.guardrail), output)


class InputGuardrailTripwireTriggered(_AgentTripwire, _tether.InputGuardrailTripwireTriggered):
    """An input guardrail stopped the run (``exc.guardrail_result``)."""


class OutputGuardrailTripwireTriggered(_AgentTripwire, _tether.OutputGuardrailTripwireTriggered):
    """An output guardrail stopped the run (``exc.guardrail_result``)."""


_REFERENCE: dict[type[BaseException], type[_tether.GuardrailTripwireTriggered]] = {
    _tether.InputGuardrailTripwireTriggered: InputGuardrailTripwireTriggered,
    _tether.OutputGuardrailTripwireTriggered: OutputGuardrailTripwireTriggered,
    _tether.ToolInputGuardrailTripwireTriggered: ToolInputGuardrailTripwireTriggered,
    _tether.ToolOutputGuardrailTripwireTriggered: ToolOutputGuardrailTripwireTriggered,
}


def reference_error(exc: BaseException) -> BaseException:
    """``exc`` as the reference SDK's code reads it (itself if nothing differs)."""
    kind = _REFERENCE.get(type(exc))
    if kind is None or not isinstance(exc, _tether.GuardrailTripwireTriggered):
        return exc
    error = kind(exc.guardrail, exc.output_info, exc.tool_name, exc.call_id)
    error.__dict__.update(exc.__dict__)
    error.guardrail = GuardrailName(exc.guardrail)
    return error
