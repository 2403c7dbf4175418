"""Guardrails: checks that run beside an agent and can stop a run or a tool call.

    @input_guardrail
    async def no_homework(ctx, agent, input):
        flagged = "homework" in message_text(input[-1]).lower()
        return GuardrailFunctionOutput(output_info={"flagged": flagged}, tripwire_triggered=flagged)

    agent = Agent(name="Tutor", input_guardrails=[no_homework])

- **Input guardrails** (``Agent.input_guardrails``, of the agent a run starts with)
  check the run's input before any model call; a tripwire raises
  ``InputGuardrailTripwireTriggered``.
- **Output guardrails** (``Agent.output_guardrails``, of the agent that answers)
  check the final output before it is recorded; a tripwire raises
  ``OutputGuardrailTripwireTriggered``.
- **Tool input guardrails** (``function_tool(tool_input_guardrails=[...])``) check a
  call's arguments before anything else happens to it, in particular before anyone
  is asked to approve it: a call a guardrail blocks is never put to a person.
- **Tool output guardrails** (``function_tool(tool_output_guardrails=[...])``) check
  what a call returned before the model reads it.

A tool guardrail answers ``ToolGuardrailFunctionOutput.allow()``,
``.reject_content(message)`` (the call does not run, or its output is replaced:
the model reads ``message``) or ``.raise_exception()`` (the run stops with the
stage's ``...TripwireTriggered`` error).

Every check is journaled (``GuardrailChecked``) with its outcome, so a resumed run
never runs a finished guardrail again; a run stopped by a tripwire resumes to the
same error. ``output_info`` is stored in the journal: keep it JSON data (anything
else is stored as its ``str``).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

from ._context import RunContext
from .errors import AgentDefinitionError
from .items import Item

if TYPE_CHECKING:
    from ._agent import Agent

__all__ = [
    "GuardrailFunctionOutput",
    "InputGuardrail",
    "OutputGuardrail",
    "ToolGuardrailFunctionOutput",
    "ToolInputGuardrail",
    "ToolInputGuardrailData",
    "ToolOutputGuardrail",
    "ToolOutputGuardrailData",
    "input_guardrail",
    "output_guardrail",
    "tool_input_guardrail",
    "tool_output_guardrail",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class GuardrailFunctionOutput:
    """What an input or output guardrail found."""

    output_info: Any = None
    """Anything worth keeping about the check (JSON data; it is journaled)."""
    tripwire_triggered: bool = False
    """Stop the run."""


@dataclass(frozen=True, slots=True)
class ToolGuardrailFunctionOutput:
    """What a tool guardrail decided; build one with ``allow``, ``reject_content`` or
    ``raise_exception``."""

    behavior: Literal["allow", "reject_content", "raise_exception"] = "allow"
    message: str | None = None
    """For ``reject_content``: what the model reads instead of running the call or its output."""
    output_info: Any = None

    @classmethod
    def allow(cls, output_info: Any = None) -> ToolGuardrailFunctionOutput:
        """Let the call (or its output) through."""
        return cls("allow", None, output_info)

    @classmethod
    def reject_content(cls, message: str, output_info: Any = None) -> ToolGuardrailFunctionOutput:
        """Do not run the call (input) or do not show its output (output); the model reads
        ``message``, and the run goes on."""
        return cls("reject_content", message, output_info)

    @classmethod
    def raise_exception(cls, output_info: Any = None) -> ToolGuardrailFunctionOutput:
        """Stop the run with the stage's ``...TripwireTriggered`` error."""
        return cls("raise_exception", None, output_info)


@dataclass(frozen=True, slots=True)
class ToolInputGuardrailData:
    """What a tool input guardrail sees: the call, before it runs or is put to anyone."""

    context: RunContext[Any]
    agent: Agent[Any]
    tool_name: str
    call_id: str
    arguments: str
    """The arguments as the model wrote them (a JSON string)."""


@dataclass(frozen=True, slots=True)
class ToolOutputGuardrailData:
    """What a tool output guardrail sees: the call and what it returned."""

    context: RunContext[Any]
    agent: Agent[Any]
    tool_name: str
    call_id: str
    arguments: str
    output: str | list[dict[str, Any]]
    """What the model would read: text, or content parts (``input_image`` and the like)."""


def _name(name: str | None, fn: Callable[..., Any], default: str) -> str:
    return name or str(getattr(fn, "__name__", default))


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


@dataclass(frozen=True, slots=True)
class InputGuardrail(Generic[T]):
    """A check of the run's input: ``fn(ctx, agent, input_items)``, sync or async, returning
    a ``GuardrailFunctionOutput``."""

    guardrail_function: Callable[..., GuardrailFunctionOutput | Awaitable[GuardrailFunctionOutput]]
    name: str | None = None
    run_in_parallel: bool = False
    """``False``: the check runs before the first model call, which a tripwire never makes.
    ``True``: beside it, to save the check's time: the request goes out at once, but
    nothing acts on its response (no tool, no output) until every check passed, and a
    tripwire cancels the call and drops its response."""

    def get_name(self) -> str:
        """The name the journal records it under."""
        return _name(self.name, self.guardrail_function, "input_guardrail")

    async def run(
        self, ctx: RunContext[Any], agent: Agent[Any], input: list[Item]
    ) -> GuardrailFunctionOutput:
        """Run the check."""
        return _checked(await _call(self.guardrail_function, ctx, agent, input), self.get_name())


@dataclass(frozen=True, slots=True)
class OutputGuardrail(Generic[T]):
    """A check of the final output: ``fn(ctx, agent, output)``, sync or async, returning a
    ``GuardrailFunctionOutput``."""

    guardrail_function: Callable[..., GuardrailFunctionOutput | Awaitable[GuardrailFunctionOutput]]
    name: str | None = None

    def get_name(self) -> str:
        """The name the journal records it under."""
        return _name(self.name, self.guardrail_function, "output_guardrail")

    async def run(
        self, ctx: RunContext[Any], agent: Agent[Any], output: Any
    ) -> GuardrailFunctionOutput:
        """Run the check."""
        return _checked(await _call(self.guardrail_function, ctx, agent, output), self.get_name())


@dataclass(frozen=True, slots=True)
class ToolInputGuardrail:
    """A check of a call's arguments: ``fn(data: ToolInputGuardrailData)``, sync or async,
    returning a ``ToolGuardrailFunctionOutput``."""

    guardrail_function: Callable[..., Any]
    name: str | None = None

    def get_name(self) -> str:
        """The name the journal records it under."""
        return self.name or str(
            getattr(self.guardrail_function, "__name__", "tool_input_guardrail")
        )

    async def run(self, data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
        """Run the check."""
        return _tool_checked(await _call(self.guardrail_function, data), self.get_name())


@dataclass(frozen=True, slots=True)
class ToolOutputGuardrail:
    """A check of a call's output: ``fn(data: ToolOutputGuardrailData)``, sync or async,
    returning a ``ToolGuardrailFunctionOutput``."""

    guardrail_function: Callable[..., Any]
    name: str | None = None

    def get_name(self) -> str:
        """The name the journal records it under."""
        return self.name or str(
            getattr(self.guardrail_function, "__name__", "tool_output_guardrail")
        )

    async def run(self, data: ToolOutputGuardrailData) -> ToolGuardrailFunctionOutput:
        """Run the check."""
        return _tool_checked(await _call(self.guardrail_function, data), self.get_name())


def _checked(result: Any, name: str) -> GuardrailFunctionOutput:
    if not isinstance(result, GuardrailFunctionOutput):
        raise AgentDefinitionError(
            f"Guardrail {name!r} returned {type(result).__name__}; return a "
            "GuardrailFunctionOutput(output_info=..., tripwire_triggered=...)."
        )
    return result


def _tool_checked(result: Any, name: str) -> ToolGuardrailFunctionOutput:
    if not isinstance(result, ToolGuardrailFunctionOutput):
        raise AgentDefinitionError(
            f"Tool guardrail {name!r} returned {type(result).__name__}; return "
            "ToolGuardrailFunctionOutput.allow(), .reject_content(message) or .raise_exception()."
        )
    return result


def _decorator(kind: Any, fn: Any, name: str | None) -> Any:
    if fn is not None:
        return kind(fn, name)
    return lambda f: kind(f, name)


@overload
def input_guardrail(
    fn: Callable[..., Any], *, name: str | None = None, run_in_parallel: bool = False
) -> InputGuardrail[Any]: ...
@overload
def input_guardrail(
    fn: None = None, *, name: str | None = None, run_in_parallel: bool = False
) -> Callable[[Callable[..., Any]], InputGuardrail[Any]]: ...
def input_guardrail(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    run_in_parallel: bool = False,
) -> Any:
    """Make an ``InputGuardrail`` of ``fn(ctx, agent, input_items)``: ``@input_guardrail``
    (``run_in_parallel``: see ``InputGuardrail.run_in_parallel``)."""

    def make(f: Callable[..., Any]) -> InputGuardrail[Any]:
        return InputGuardrail(f, name, run_in_parallel)

    return make if fn is None else make(fn)


@overload
def output_guardrail(
    fn: Callable[..., Any], *, name: str | None = None
) -> OutputGuardrail[Any]: ...
@overload
def output_guardrail(
    fn: None = None, *, name: str | None = None
) -> Callable[[Callable[..., Any]], OutputGuardrail[Any]]: ...
def output_guardrail(fn: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    """Make an ``OutputGuardrail`` of ``fn(ctx, agent, output)``: ``@output_guardrail``."""
    return _decorator(OutputGuardrail, fn, name)


@overload
def tool_input_guardrail(
    fn: Callable[..., Any], *, name: str | None = None
) -> ToolInputGuardrail: ...
@overload
def tool_input_guardrail(
    fn: None = None, *, name: str | None = None
) -> Callable[[Callable[..., Any]], ToolInputGuardrail]: ...
def tool_input_guardrail(fn: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    """Make a ``ToolInputGuardrail`` of ``fn(data)``: ``@tool_input_guardrail``."""
    return _decorator(ToolInputGuardrail, fn, name)


@overload
def tool_output_guardrail(
    fn: Callable[..., Any], *, name: str | None = None
) -> ToolOutputGuardrail: ...
@overload
def tool_output_guardrail(
    fn: None = None, *, name: str | None = None
) -> Callable[[Callable[..., Any]], ToolOutputGuardrail]: ...
def tool_output_guardrail(fn: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    """Make a ``ToolOutputGuardrail`` of ``fn(data)``: ``@tool_output_guardrail``."""
    return _decorator(ToolOutputGuardrail, fn, name)
