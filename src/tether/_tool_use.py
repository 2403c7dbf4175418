"""What an agent does once its tools ran: ask the model again, or end the run on a tool's output.

    Agent(..., tool_use_behavior="run_llm_again")       # default: the model reads the outputs
    Agent(..., tool_use_behavior="stop_on_first_tool")  # the first tool's output is final
    Agent(..., tool_use_behavior={"stop_at_tool_names": ["book_flight"]})
    Agent(..., tool_use_behavior=decide)  # (ctx, results) -> ToolsToFinalOutputResult

A function is asked once the turn's tools have all run (after any approvals); its
``results`` are the turn's function tool results, in the order the model made the calls.
A tool's ``output`` is what the tool returned, rebuilt from the journaled text by the
tool's return annotation (a pydantic model, a dataclass, an ``int``...), so a run resumed
in another process sees the same values.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, TypedDict, get_type_hints

from pydantic import TypeAdapter

from ._context import RunContext
from .errors import AgentDefinitionError
from .tools import FunctionTool

__all__ = [
    "FunctionToolResult",
    "StopAtTools",
    "ToolUseBehavior",
    "ToolsToFinalOutputFunction",
    "ToolsToFinalOutputResult",
    "check_tool_use_behavior",
    "stop_names",
    "tool_output_value",
]


class StopAtTools(TypedDict):
    """End the run on the output of the first of these tools the model called."""

    stop_at_tool_names: list[str]


@dataclass(frozen=True, slots=True)
class FunctionToolResult:
    """One function tool's result in the turn a ``tool_use_behavior`` function looks at."""

    tool: FunctionTool
    """The tool that ran."""
    output: Any
    """What it returned (rebuilt by its return annotation from the journaled text)."""
    run_item: Any = None
    """The ``function_call_output`` item the model would read."""


@dataclass(slots=True)
class ToolsToFinalOutputResult:
    """A ``tool_use_behavior`` function's answer."""

    is_final_output: bool
    """``True``: ``final_output`` ends the run; ``False``: the model reads the outputs."""
    final_output: Any = None
    """The final output (JSON data, a pydantic model or a dataclass; the agent's
    ``output_type`` if it has one)."""


ToolsToFinalOutputFunction: TypeAlias = Callable[
    [RunContext[Any], list[FunctionToolResult]],
    ToolsToFinalOutputResult | Awaitable[ToolsToFinalOutputResult],
]

ToolUseBehavior: TypeAlias = (
    Literal["run_llm_again", "stop_on_first_tool"] | StopAtTools | ToolsToFinalOutputFunction
)


def check_tool_use_behavior(agent: str, behavior: Any) -> None:
    """Refuse a ``tool_use_behavior`` that is none of the four kinds."""
    if behavior in ("run_llm_again", "stop_on_first_tool") or callable(behavior):
        return
    if isinstance(behavior, dict) and set(behavior) == {"stop_at_tool_names"}:
        names = behavior["stop_at_tool_names"]
        if isinstance(names, list | tuple) and all(isinstance(n, str) for n in names):
            return
    raise AgentDefinitionError(
        f"Agent {agent!r}: tool_use_behavior must be 'run_llm_again', 'stop_on_first_tool', "
        "{'stop_at_tool_names': [tool names]} or a function (ctx, results) -> "
        f"ToolsToFinalOutputResult; got {behavior!r}."
    )


def stop_names(behavior: Any) -> frozenset[str] | None:
    """The tools whose output ends the run (``None``: any tool's, for
    ``stop_on_first_tool``); an empty set when no tool's output does."""
    if behavior == "stop_on_first_tool":
        return None
    if isinstance(behavior, dict):
        return frozenset(behavior["stop_at_tool_names"])
    return frozenset()


def tool_output_value(tool: FunctionTool, text: str | list[dict[str, Any]]) -> Any:
    """What ``tool`` returned, rebuilt from its journaled ``text`` by its return annotation;
    the text itself when the annotation is missing, ``str`` or ``Any``, or does not fit. A
    tool class with an ``output_value(text)`` method answers for itself."""
    if not isinstance(text, str):  # content parts (an image, say): the value is the parts
        return text
    own = getattr(tool, "output_value", None)
    if own is not None:
        return own(text)
    adapter = _return_adapter(tool.function)
    if adapter is None:
        return text
    try:
        return adapter.validate_json(text)
    except Exception:  # the text is not what the annotation describes: keep the text
        return text


@functools.lru_cache(maxsize=512)
def _return_adapter(function: Callable[..., Any]) -> TypeAdapter[Any] | None:
    try:
        returns = get_type_hints(function).get("return", inspect.Signature.empty)
    except Exception:  # an annotation that does not resolve: the text is all there is
        return None
    if returns in (inspect.Signature.empty, str, Any):
        return None
    try:
        return TypeAdapter(returns)
    except Exception:  # not a type pydantic can validate
        return None
