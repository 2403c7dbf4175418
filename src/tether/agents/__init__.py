"""Run programs written for ``openai-agents`` on tether by changing their imports.

    from agents import Agent, Runner, RunState, function_tool          # before
    from tether.agents import Agent, Runner, RunState, function_tool   # after

The names here are the reference SDK's (``get_interruptions()``,
``approve(always_approve=)``, ``reject(rejection_message=)``, ``interruption.agent``,
``result.context_wrapper``, awaitable ``RunState.from_string``, run items with a
``type``, ``ItemHelpers``, ``set_default_openai_client`` ...). Underneath is tether:
the same journal, the same saved states, the same guarantees. docs/migrating.md has
the full mapping and what is not covered. The reference's module paths are here too:
``tether.agents.decorators``, ``.extensions.handoff_filters``,
``.extensions.handoff_prompt``, ``.handoffs``, ``.items``, ``.mcp`` (and ``.mcp.util``),
``.memory`` (and ``.memory.session``, ``.memory.session_settings``), ``.model_settings``,
``.models``, ``.retry``, ``.run_context``, ``.run_state``, ``.tool_context``.
"""

from __future__ import annotations

from .._context import Usage
from .._tool_output import (
    ToolOutputFileContent,
    ToolOutputFileContentDict,
    ToolOutputImage,
    ToolOutputImageDict,
    ToolOutputText,
    ToolOutputTextDict,
)
from .._tool_use import (
    FunctionToolResult,
    StopAtTools,
    ToolsToFinalOutputFunction,
    ToolsToFinalOutputResult,
)
from ..errors import (
    MaxTurnsExceeded,
    ModelBehaviorError,
    TetherError,
    UserError,
)
from ..guardrails import (
    GuardrailFunctionOutput,
    OutputGuardrail,
    ToolGuardrailFunctionOutput,
    ToolInputGuardrail,
    ToolInputGuardrailData,
    ToolOutputGuardrail,
    ToolOutputGuardrailData,
    output_guardrail,
)
from ..lifecycle import AgentHooks, RunHooks
from ..models import Model, ModelResponse
from ..tools import FunctionTool
from ._agent import Agent, AgentBase
from ._config import RunConfig, ToolErrorFormatterArgs
from ._errors import (
    InputGuardrailTripwireTriggered,
    OutputGuardrailTripwireTriggered,
    ToolInputGuardrailTripwireTriggered,
    ToolOutputGuardrailTripwireTriggered,
)
from ._guardrails import InputGuardrail, input_guardrail
from ._handoff_input import HandoffInputData, HandoffInputFilter
from ._handoffs import Handoff, handoff
from ._hosted import CodeInterpreterTool, WebSearchTool
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
from ._models import (
    ModelProvider,
    OpenAIChatCompletionsModel,
    OpenAIProvider,
    OpenAIResponsesModel,
)
from ._nesting import (
    default_handoff_history_mapper,
    get_conversation_history_wrappers,
    nest_handoff_history,
    reset_conversation_history_wrappers,
    set_conversation_history_wrappers,
)
from ._output import AgentOutputSchema, AgentOutputSchemaBase
from ._prompts import GenerateDynamicPromptData, Prompt
from ._results import (
    AgentToolStreamEvent,
    AgentUpdatedStreamEvent,
    RawResponsesStreamEvent,
    RunItemStreamEvent,
    RunResult,
    RunResultStreaming,
    StreamEvent,
)
from ._retry import (
    ModelRetryBackoffSettings,
    ModelRetrySettings,
    RetryDecision,
    RetryPolicy,
    RetryPolicyContext,
    retry_policies,
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
from ._tools import (
    HostedMCPTool,
    MCPToolApprovalFunction,
    MCPToolApprovalFunctionResult,
    MCPToolApprovalRequest,
    Tool,
    function_tool,
    tool_input_guardrail,
    tool_output_guardrail,
)
from ._tracing import CustomSpan, Trace, custom_span, gen_trace_id, trace
from .items import TResponseInputItem
from .memory import Session, SessionSettings
from .model_settings import MCPToolChoice, ModelSettings
from .run_context import AgentHookContext, RunContextWrapper
from .tool_context import ToolContext

__all__ = [
    "Agent",
    "AgentBase",
    "AgentHookContext",
    "AgentHooks",
    "AgentOutputSchema",
    "AgentOutputSchemaBase",
    "AgentToolStreamEvent",
    "AgentUpdatedStreamEvent",
    "AgentsException",
    "CodeInterpreterTool",
    "CustomSpan",
    "FunctionTool",
    "FunctionToolResult",
    "GenerateDynamicPromptData",
    "GuardrailFunctionOutput",
    "Handoff",
    "HandoffCallItem",
    "HandoffInputData",
    "HandoffInputFilter",
    "HandoffOutputItem",
    "HostedMCPTool",
    "InputGuardrail",
    "InputGuardrailTripwireTriggered",
    "ItemHelpers",
    "MCPToolApprovalFunction",
    "MCPToolApprovalFunctionResult",
    "MCPToolApprovalRequest",
    "MCPToolChoice",
    "MaxTurnsExceeded",
    "MessageOutputItem",
    "Model",
    "ModelBehaviorError",
    "ModelProvider",
    "ModelResponse",
    "ModelRetryBackoffSettings",
    "ModelRetrySettings",
    "ModelSettings",
    "OpenAIChatCompletionsModel",
    "OpenAIConversationsSession",
    "OpenAIProvider",
    "OpenAIResponsesModel",
    "OutputGuardrail",
    "OutputGuardrailTripwireTriggered",
    "Prompt",
    "RawResponsesStreamEvent",
    "ReasoningItem",
    "RetryDecision",
    "RetryPolicy",
    "RetryPolicyContext",
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
    "Session",
    "SessionSettings",
    "StopAtTools",
    "StreamEvent",
    "TResponseInputItem",
    "Tool",
    "ToolApprovalItem",
    "ToolCallItem",
    "ToolCallOutputItem",
    "ToolContext",
    "ToolErrorFormatterArgs",
    "ToolGuardrailFunctionOutput",
    "ToolInputGuardrail",
    "ToolInputGuardrailData",
    "ToolInputGuardrailTripwireTriggered",
    "ToolOutputFileContent",
    "ToolOutputFileContentDict",
    "ToolOutputGuardrail",
    "ToolOutputGuardrailData",
    "ToolOutputGuardrailTripwireTriggered",
    "ToolOutputImage",
    "ToolOutputImageDict",
    "ToolOutputReviewItem",
    "ToolOutputText",
    "ToolOutputTextDict",
    "ToolsToFinalOutputFunction",
    "ToolsToFinalOutputResult",
    "Trace",
    "Usage",
    "UserError",
    "WebSearchTool",
    "custom_span",
    "default_handoff_history_mapper",
    "function_tool",
    "gen_trace_id",
    "get_conversation_history_wrappers",
    "handoff",
    "input_guardrail",
    "nest_handoff_history",
    "output_guardrail",
    "reset_conversation_history_wrappers",
    "retry_policies",
    "set_conversation_history_wrappers",
    "set_default_openai_api",
    "set_default_openai_client",
    "set_default_openai_key",
    "set_tracing_disabled",
    "tool_input_guardrail",
    "tool_output_guardrail",
    "trace",
]

AgentsException = TetherError
"""The reference SDK's root exception: tether's ``TetherError``."""
