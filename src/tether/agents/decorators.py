"""``agents.decorators``: ``@tool`` (``function_tool``) and the tool guardrail decorators."""

from ..guardrails import tool_input_guardrail, tool_output_guardrail
from ._tools import function_tool

__all__ = ["function_tool", "tool", "tool_input_guardrail", "tool_output_guardrail"]

tool = function_tool
"""``@tool``: the reference SDK's short name for ``@function_tool``."""
