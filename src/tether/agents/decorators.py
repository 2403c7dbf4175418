"""``agents.decorators``: ``@tool`` (``function_tool``), the input and output guardrail
decorators and the tool guardrail decorators."""

from ..guardrails import output_guardrail
from ._guardrails import input_guardrail
from ._tools import function_tool, tool_input_guardrail, tool_output_guardrail

__all__ = [
    "function_tool",
    "input_guardrail",
    "output_guardrail",
    "tool",
    "tool_input_guardrail",
    "tool_output_guardrail",
]

tool = function_tool
"""``@tool``: the reference SDK's short name for ``@function_tool``."""
