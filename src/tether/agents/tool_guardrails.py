"""``agents.tool_guardrails``: a tool's input and output guardrails, their data and their
answers (tether's, under the reference SDK's module path)."""

from ..guardrails import (
    ToolGuardrailFunctionOutput,
    ToolInputGuardrail,
    ToolInputGuardrailData,
    ToolOutputGuardrail,
    ToolOutputGuardrailData,
)
from ._tools import tool_input_guardrail, tool_output_guardrail

__all__ = [
    "ToolGuardrailFunctionOutput",
    "ToolInputGuardrail",
    "ToolInputGuardrailData",
    "ToolOutputGuardrail",
    "ToolOutputGuardrailData",
    "tool_input_guardrail",
    "tool_output_guardrail",
]
