"""``agents.extensions.handoff_filters``: ready-made handoff input filters.

    handoff(spanish_agent, input_filter=handoff_filters.remove_all_tools)

A filter changes only what the next agent's model is sent (see ``tether.handoffs``): the
run's own record keeps every item.
"""

from __future__ import annotations

from ...handoffs import HandoffInputData
from ...items import Item

__all__ = ["TOOL_ITEM_TYPES", "remove_all_tools"]

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


def remove_all_tools(data: HandoffInputData) -> HandoffInputData:
    """``data`` without its tool calls, their outputs and reasoning: the next agent sees
    only the messages."""
    return HandoffInputData(
        input_history=_without_tools(data.input_history),
        pre_handoff_items=_without_tools(data.pre_handoff_items),
        new_items=_without_tools(data.new_items),
    )


def _without_tools(items: tuple[Item, ...]) -> tuple[Item, ...]:
    return tuple(item for item in items if item.get("type") not in TOOL_ITEM_TYPES)
