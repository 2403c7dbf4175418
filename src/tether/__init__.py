"""tether: an agent SDK in which a human decision is a durable part of the run.

from tether import Agent, Runner, RunState, function_tool

@function_tool(needs_approval=True)
async def get_temperature(city: str) -> str:
    '''Get the temperature for a city.'''
    return f"The temperature in {city} is 20°C"

agent = Agent(name="Weather Assistant", tools=[get_temperature])
result = await Runner.run(agent, "What's the temperature in Oakland?")
while result.interruptions:
    state = result.to_state()
    for item in state.interruptions:
        state.approve(item)
    result = await Runner.run(agent, state)
print(result.final_output)
"""

from __future__ import annotations

from ._agent import Agent
from ._context import RunContext, Usage
from ._governance import ApprovalPolicy, Approver, Governance
from .approvals import (
    AuditRecord,
    MemoryRuleBook,
    RuleBook,
    RuleScope,
    StandingApproval,
    audit_jsonl,
    grant_standing_approval,
    revoke_standing_approval,
    verify_receipts,
)
from .errors import (
    AgentDefinitionError,
    ApprovalExpiredError,
    DecisionMismatchError,
    EditNotAllowedError,
    EngineError,
    GuardrailTripwireTriggered,
    HookError,
    InputGuardrailTripwireTriggered,
    InvalidEditError,
    MaxTurnsExceeded,
    MCPServerError,
    MissingExtraError,
    ModelBehaviorError,
    ModelNotAllowedError,
    ModelProviderError,
    NotAuthorizedError,
    NotPendingError,
    OutputGuardrailTripwireTriggered,
    ReadOnlyItemError,
    ReceiptError,
    RuleNotFoundError,
    RunBusyError,
    RunConflictError,
    RunError,
    RunNotFoundError,
    RunStalledError,
    SchemaVersionError,
    StaleDecisionError,
    StateError,
    StateFormatError,
    StateSignatureError,
    StoreError,
    StoreFormatError,
    StoreIntegrityError,
    StoreUnavailableError,
    StoreVersionError,
    TetherError,
    ToolCallInDoubtError,
    ToolError,
    ToolInputGuardrailTripwireTriggered,
    ToolOutputGuardrailTripwireTriggered,
    ToolTimeoutError,
    UnknownAgentError,
    UnknownRulePredicateError,
    UnknownToolError,
    UserError,
)
from .guardrails import (
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
from .handoffs import Handoff, HandoffInputData, handoff
from .journal import ToolApprovalItem, ToolOutputReviewItem
from .lifecycle import AgentHooks, RunHooks
from .models import Model, ModelSettings
from .run import (
    AgentUpdatedEvent,
    RawResponseEvent,
    RetryPolicy,
    RunConfig,
    RunItemEvent,
    Runner,
    RunResult,
    RunResultStreaming,
    RunState,
    StreamEvent,
    run_state_of,
)
from .server import App
from .sessions import Session, SessionError, SQLiteSession
from .shell import ShellTool
from .store import RunStore, SQLiteRunStore
from .tools import FunctionTool, function_tool

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "AgentDefinitionError",
    "AgentHooks",
    "AgentUpdatedEvent",
    "App",
    "ApprovalExpiredError",
    "ApprovalPolicy",
    "Approver",
    "AuditRecord",
    "DecisionMismatchError",
    "EditNotAllowedError",
    "EngineError",
    "FunctionTool",
    "Governance",
    "GuardrailFunctionOutput",
    "GuardrailTripwireTriggered",
    "Handoff",
    "HandoffInputData",
    "HookError",
    "InputGuardrail",
    "InputGuardrailTripwireTriggered",
    "InvalidEditError",
    "MCPServerError",
    "MaxTurnsExceeded",
    "MemoryRuleBook",
    "MissingExtraError",
    "Model",
    "ModelBehaviorError",
    "ModelNotAllowedError",
    "ModelProviderError",
    "ModelSettings",
    "NotAuthorizedError",
    "NotPendingError",
    "OutputGuardrail",
    "OutputGuardrailTripwireTriggered",
    "RawResponseEvent",
    "ReadOnlyItemError",
    "ReceiptError",
    "RetryPolicy",
    "RuleBook",
    "RuleNotFoundError",
    "RuleScope",
    "RunBusyError",
    "RunConfig",
    "RunConflictError",
    "RunContext",
    "RunError",
    "RunHooks",
    "RunItemEvent",
    "RunNotFoundError",
    "RunResult",
    "RunResultStreaming",
    "RunStalledError",
    "RunState",
    "RunStore",
    "Runner",
    "SQLiteRunStore",
    "SQLiteSession",
    "SchemaVersionError",
    "Session",
    "SessionError",
    "ShellTool",
    "StaleDecisionError",
    "StandingApproval",
    "StateError",
    "StateFormatError",
    "StateSignatureError",
    "StoreError",
    "StoreFormatError",
    "StoreIntegrityError",
    "StoreUnavailableError",
    "StoreVersionError",
    "StreamEvent",
    "TetherError",
    "ToolApprovalItem",
    "ToolCallInDoubtError",
    "ToolError",
    "ToolGuardrailFunctionOutput",
    "ToolInputGuardrail",
    "ToolInputGuardrailData",
    "ToolInputGuardrailTripwireTriggered",
    "ToolOutputGuardrail",
    "ToolOutputGuardrailData",
    "ToolOutputGuardrailTripwireTriggered",
    "ToolOutputReviewItem",
    "ToolTimeoutError",
    "UnknownAgentError",
    "UnknownRulePredicateError",
    "UnknownToolError",
    "Usage",
    "UserError",
    "audit_jsonl",
    "function_tool",
    "grant_standing_approval",
    "handoff",
    "input_guardrail",
    "output_guardrail",
    "revoke_standing_approval",
    "run_state_of",
    "tool_input_guardrail",
    "tool_output_guardrail",
    "verify_receipts",
]

for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("tether."):
        _obj.__module__ = "tether"
del _name, _obj
