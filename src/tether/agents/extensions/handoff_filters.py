"""``agents.extensions.handoff_filters``: ready-made handoff input filters.

    handoff(spanish_agent, input_filter=handoff_filters.remove_all_tools)
    handoff(billing_agent, input_filter=handoff_filters.nest_handoff_history)

A filter changes only what the next agent's model is sent (see ``tether.handoffs``): the
run's own record keeps every item. ``remove_all_tools`` takes this package's
``HandoffInputData`` (run items, as the reference SDK gives them) and tether's own (item
dicts) alike, and returns the kind it was given.
"""

from __future__ import annotations

from typing import Any, overload

from ...handoffs import HandoffInputData as _CoreData
from .._handoff_input import HandoffInputData
from .._items import (
    HandoffCallItem,
    HandoffOutputItem,
    ReasoningItem,
    ToolApprovalItem,
    ToolCallItem,
    ToolCallOutputItem,
)
from .._nesting import default_handoff_history_mapper, nest_handoff_history

__all__ = [
    "TOOL_ITEM_TYPES",
    "default_handoff_history_mapper",
    "nest_handoff_history",
    "remove_all_tools",
]

TOOL_ITEM_TYPES = frozenset(
    {
        *("function_call", "function_call_output", "custom_tool_call", "custom_tool_call_output"),
        *("computer_call", "computer_call_output", "local_shell_call", "local_shell_call_output"),
        *("shell_call", "shell_call_output", "apply_patch_call", "apply_patch_call_output"),
        *("file_search_call", "web_search_call", "code_interpreter_call", "image_generation_call"),
        *("tool_search_call", "tool_search_output", "mcp_call", "mcp_list_tools"),
        *("mcp_approval_request", "mcp_approval_response", "reasoning"),
    }
)
"""The item types a tool call or its result is recorded as (handoffs are function calls),
with reasoning, which belongs to the calls it led to."""

_TOOL_RUN_ITEMS = (
    *(HandoffCallItem, HandoffOutputItem, ToolCallItem, ToolCallOutputItem),
    *(ReasoningItem, ToolApprovalItem),
)


@overload
def remove_all_tools(data: HandoffInputData) -> HandoffInputData: ...
@overload
def remove_all_tools(data: _CoreData) -> _CoreData: ...
def remove_all_tools(data: HandoffInputData | _CoreData) -> HandoffInputData | _CoreData:
    """``data`` without its tool calls, their outputs and reasoning: the next agent sees
    only the messages."""
    if isinstance(data, _CoreData):
        return _CoreData(
            input_history=_without_tools(data.input_history),
            pre_handoff_items=_without_tools(data.pre_handoff_items),
            new_items=_without_tools(data.new_items),
        )
    history, given = data.input_history, data.input_items
    return data.clone(
        input_history=history if isinstance(history, str) else _without_tools(history),
        pre_handoff_items=_without_tools(data.pre_handoff_items),
        new_items=_without_tools(data.new_items),
        input_items=None if given is None else _without_tools(given),
    )


def _without_tools(items: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(item for item in items if not _is_tool(item))


def _is_tool(item: Any) -> bool:
    if isinstance(item, _TOOL_RUN_ITEMS):
        return True
    raw = item if isinstance(item, dict) else getattr(item, "raw_item", None)
    # An item the facade has no run item class for (an MCP tool listing) is shown as a
    # message output: its raw item's type tells.
    kind = raw.get("type") if isinstance(raw, dict) else getattr(raw, "type", None)
    return kind in TOOL_ITEM_TYPES
