"""``agents.decorators``: ``@tool`` (``function_tool``) and the tool guardrail decorators."""

from ._tools import function_tool, tool_input_guardrail, tool_output_guardrail

__all__ = ["function_tool", "tool", "tool_input_guardrail", "tool_output_guardrail"]

tool = function_tool
"""``@tool``: the reference SDK's short name for ``@function_tool``."""
