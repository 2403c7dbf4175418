"""``RunConfig`` with the reference SDK's ``tool_error_formatter``, and the message a
rejected call gets by default (the reference's, not tether's)."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from .._agent import Agent
from .._context import RunContext
from ..errors import UserError
from ..journal import ToolApprovalItem as _ApprovalItem
from ..run import RunConfig as _RunConfig
from ._nesting import RunFilter

__all__ = [
    "DEFAULT_APPROVAL_REJECTION_MESSAGE",
    "RunConfig",
    "ToolErrorFormatter",
    "ToolErrorFormatterArgs",
    "effective_config",
    "with_handoff_filter",
]

TContext = TypeVar("TContext")

DEFAULT_APPROVAL_REJECTION_MESSAGE = "Tool execution was not approved."
"""What the model reads for a rejected call without a message (the reference SDK's text;
tether's own ``Runner`` keeps its own default)."""


@dataclass(frozen=True, slots=True)
class ToolErrorFormatterArgs(Generic[TContext]):
    """What ``RunConfig(tool_error_formatter=)`` is asked about. tether calls the formatter
    for rejected calls only (``kind == "approval_rejected"``); ``run_context`` is ``None``
    there, because the message is decided when the rejection is recorded, outside a run."""

    kind: Literal["approval_rejected", "tool_not_found", "tool_exception"]
    tool_type: Literal["function", "computer", "shell", "apply_patch", "custom"]
    tool_name: str
    call_id: str
    default_message: str
    run_context: RunContext[TContext] | None
    error: Exception | None = None


ToolErrorFormatter = Callable[[ToolErrorFormatterArgs[Any]], "str | Awaitable[str | None] | None"]


@dataclass(frozen=True, slots=True)
class RunConfig(_RunConfig):
    """tether's ``RunConfig`` plus the reference SDK's ``tool_error_formatter``: a function
    of ``ToolErrorFormatterArgs`` returning the message the model reads for a rejected call
    (``None``: the default message). It must be synchronous here. And its
    ``model_provider``: what resolves the run's models given by name (a ``ModelProvider``,
    asked for ``None`` for an agent given no model). And its handoff options:
    ``handoff_input_filter`` receives this package's ``HandoffInputData`` (run items);
    ``nest_handoff_history`` gives each handoff without an input filter the conversation
    so far as a transcript (see ``nest_handoff_history``), made by
    ``handoff_history_mapper`` when one is given."""

    tool_error_formatter: ToolErrorFormatter | None = None
    model_provider: Any = None
    nest_handoff_history: bool = False
    handoff_history_mapper: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None


def _formatted(formatter: ToolErrorFormatter) -> Callable[[_ApprovalItem], str]:
    def message(call: _ApprovalItem) -> str:
        args: ToolErrorFormatterArgs[Any] = ToolErrorFormatterArgs(
            kind="approval_rejected",
            tool_type="function",
            tool_name=call.tool_name,
            call_id=call.call_id,
            default_message=DEFAULT_APPROVAL_REJECTION_MESSAGE,
            run_context=None,
        )
        text = formatter(args)
        if inspect.isawaitable(text):
            close = getattr(text, "close", None)
            if close is not None:
                close()
            raise UserError(
                "tether.agents calls tool_error_formatter when a rejection is recorded, "
                "outside the run's event loop: make it a plain function (def, not async def)."
            )
        return DEFAULT_APPROVAL_REJECTION_MESSAGE if text is None else str(text)

    return message


def effective_config(config: _RunConfig | None) -> _RunConfig:
    """``config`` with the reference SDK's rejection default filled in."""
    if config is None:
        return _RunConfig(rejection_message=DEFAULT_APPROVAL_REJECTION_MESSAGE)
    if config.rejection_message is not None:
        return config
    formatter = getattr(config, "tool_error_formatter", None)
    rejection = (
        _formatted(formatter) if formatter is not None else DEFAULT_APPROVAL_REJECTION_MESSAGE
    )
    return dataclasses.replace(config, rejection_message=rejection)


def with_handoff_filter(
    config: _RunConfig | None, agent: Agent[Any], server_managed: bool
) -> _RunConfig | None:
    """``config`` with the reference's handoff options as tether's run-wide input filter:
    its ``handoff_input_filter`` given run items, and ``nest_handoff_history`` (the run's,
    or a handoff's own). Nesting is left off where the server keeps the conversation (it
    sends the next agent everything), as the reference leaves it off there."""
    function: Any = None if config is None else config.handoff_input_filter
    if isinstance(function, RunFilter):
        return config
    nest = bool(getattr(config, "nest_handoff_history", False))
    asked = nest or any(
        getattr(entry, "nest_handoff_history", None)
        for member in agent.graph().values()
        for entry in member.handoff_entries.values()
    )
    if function is None and (server_managed or not asked):
        return config
    run_filter = RunFilter(function, nest, getattr(config, "handoff_history_mapper", None))
    if config is None:
        return _RunConfig(handoff_input_filter=run_filter)
    return dataclasses.replace(config, handoff_input_filter=run_filter)
