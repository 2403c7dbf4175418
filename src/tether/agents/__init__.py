"""Run programs written for ``openai-agents`` on tether by changing their imports.

    from agents import Agent, Runner, RunState, function_tool          # before
    from tether.agents import Agent, Runner, RunState, function_tool   # after

The names here are the reference SDK's (``get_interruptions()``,
``approve(always_approve=)``, ``reject(rejection_message=)``, ``interruption.agent``,
``result.context_wrapper``, awaitable ``RunState.from_string``, run items with a
``type``, ``ItemHelpers``, ``set_default_openai_client`` ...). Underneath is tether:
the same journal, the same saved states, the same guarantees. docs/migrating.md has
the full mapping and what is not covered.
"""

from __future__ import annotations

from typing import Any

from .._agent import Agent
from .._context import RunContext, Usage
from .._exceptions import (
    InputGuardrailTripwireTriggered,
    MaxTurnsExceeded,
    ModelBehaviorError,
    OutputGuardrailTripwireTriggered,
    TetherError,
    ToolInputGuardrailTripwireTriggered,
    ToolOutputGuardrailTripwireTriggered,
    UserError,
)
from ..guardrails import (
    GuardrailFunctionOutput,
    InputGuardrail,
    OutputGuardrail,
    ToolGuardrailFunctionOutput,
    ToolInputGuardrail,
    ToolInputGuardrailData,
    ToolOutputGuardrail,
    ToolOutputGuardrailData,
    input_guardrail,
    output_guardrail,
    tool_input_guardrail,
    tool_output_guardrail,
)
from ..handoffs import Handoff, HandoffInputData, handoff
from ..lifecycle import AgentHooks, RunHooks
from ..models import Model, ModelSettings
from ..run import RunConfig
from ..tools import FunctionTool
from ..tools import function_tool as _function_tool
from ._items import (
    HandoffCallItem,
    HandoffOutputItem,
    ItemHelpers,
    MessageOutputItem,
    ReasoningItem,
    RunItem,
    ToolApprovalItem,
    ToolCallItem,
    ToolCallOutputItem,
    ToolOutputReviewItem,
)
from ._results import (
    AgentUpdatedStreamEvent,
    RawResponsesStreamEvent,
    RunItemStreamEvent,
    RunResult,
    RunResultStreaming,
    StreamEvent,
)
from ._runner import Runner
from ._sessions import OpenAIConversationsSession, SQLiteSession
from ._setup import (
    set_default_openai_api,
    set_default_openai_client,
    set_default_openai_key,
    set_tracing_disabled,
)
from ._state import RunState

__all__ = [
    "Agent",
    "AgentHooks",
    "AgentUpdatedStreamEvent",
    "AgentsException",
    "FunctionTool",
    "GuardrailFunctionOutput",
    "Handoff",
    "HandoffCallItem",
    "HandoffInputData",
    "HandoffOutputItem",
    "InputGuardrail",
    "InputGuardrailTripwireTriggered",
    "ItemHelpers",
    "MaxTurnsExceeded",
    "MessageOutputItem",
    "Model",
    "ModelBehaviorError",
    "ModelSettings",
    "OpenAIConversationsSession",
    "OutputGuardrail",
    "OutputGuardrailTripwireTriggered",
    "RawResponsesStreamEvent",
    "ReasoningItem",
    "RunConfig",
    "RunContextWrapper",
    "RunHooks",
    "RunItem",
    "RunItemStreamEvent",
    "RunResult",
    "RunResultStreaming",
    "RunState",
    "Runner",
    "SQLiteSession",
    "StreamEvent",
    "ToolApprovalItem",
    "ToolCallItem",
    "ToolCallOutputItem",
    "ToolGuardrailFunctionOutput",
    "ToolInputGuardrail",
    "ToolInputGuardrailData",
    "ToolInputGuardrailTripwireTriggered",
    "ToolOutputGuardrail",
    "ToolOutputGuardrailData",
    "ToolOutputGuardrailTripwireTriggered",
    "ToolOutputReviewItem",
    "Usage",
    "UserError",
    "function_tool",
    "handoff",
    "input_guardrail",
    "output_guardrail",
    "set_default_openai_api",
    "set_default_openai_client",
    "set_default_openai_key",
    "set_tracing_disabled",
    "tool_input_guardrail",
    "tool_output_guardrail",
]

RunContextWrapper = RunContext
"""The reference SDK's name for the run context a tool's first parameter receives."""

AgentsException = TetherError
"""The reference SDK's root exception: tether's ``TetherError``."""


def function_tool(
    func: Any = None,
    *,
    name_override: str | None = None,
    description_override: str | None = None,
    **options: Any,
) -> Any:
    """``@function_tool`` taking the reference SDK's ``name_override`` and
    ``description_override`` as well as tether's options (``needs_approval``, ...)."""
    if name_override is not None:
        options["name"] = name_override
    if description_override is not None:
        options["description"] = description_override
    return _function_tool(func, **options)
