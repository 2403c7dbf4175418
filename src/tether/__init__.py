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

import importlib
from typing import TYPE_CHECKING, Any

from ._agent import Agent
from ._context import RunContext, Usage
from ._governance import ApprovalPolicy, Approver, Escalation, Governance
from ._tool_output import ToolOutputFileContent, ToolOutputImage, ToolOutputText
from ._tool_use import FunctionToolResult, StopAtTools, ToolsToFinalOutputResult
from .approvals import StandingApproval, grant_standing_approval, revoke_standing_approval
from .errors import (
    GuardrailTripwireTriggered,
    InputGuardrailTripwireTriggered,
    MaxTurnsExceeded,
    ModelBehaviorError,
    NotAuthorizedError,
    NotPendingError,
    OutputGuardrailTripwireTriggered,
    RunConflictError,
    RunError,
    RunNotFoundError,
    StaleDecisionError,
    StateError,
    StoreError,
    TetherError,
    ToolCallInDoubtError,
    ToolError,
    UserError,
)
from .guardrails import (
    GuardrailFunctionOutput,
    ToolGuardrailFunctionOutput,
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
    AgentToolStreamEvent,
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
)
from .sessions import Session
from .tools import FunctionTool, function_tool

if TYPE_CHECKING:
    from .sessions import SQLiteSession
    from .shell import ShellTool
    from .store import RunStore, SQLiteRunStore

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "AgentHooks",
    "AgentToolStreamEvent",
    "AgentUpdatedEvent",
    "ApprovalPolicy",
    "Approver",
    "Escalation",
    "FunctionTool",
    "FunctionToolResult",
    "Governance",
    "GuardrailFunctionOutput",
    "GuardrailTripwireTriggered",
    "Handoff",
    "HandoffInputData",
    "InputGuardrailTripwireTriggered",
    "MaxTurnsExceeded",
    "Model",
    "ModelBehaviorError",
    "ModelSettings",
    "NotAuthorizedError",
    "NotPendingError",
    "OutputGuardrailTripwireTriggered",
    "RawResponseEvent",
    "RetryPolicy",
    "RunConfig",
    "RunConflictError",
    "RunContext",
    "RunError",
    "RunHooks",
    "RunItemEvent",
    "RunNotFoundError",
    "RunResult",
    "RunResultStreaming",
    "RunState",
    "RunStore",
    "Runner",
    "SQLiteRunStore",
    "SQLiteSession",
    "Session",
    "ShellTool",
    "StaleDecisionError",
    "StandingApproval",
    "StateError",
    "StopAtTools",
    "StoreError",
    "StreamEvent",
    "TetherError",
    "ToolApprovalItem",
    "ToolCallInDoubtError",
    "ToolError",
    "ToolGuardrailFunctionOutput",
    "ToolOutputFileContent",
    "ToolOutputImage",
    "ToolOutputReviewItem",
    "ToolOutputText",
    "ToolsToFinalOutputResult",
    "Usage",
    "UserError",
    "function_tool",
    "grant_standing_approval",
    "handoff",
    "input_guardrail",
    "output_guardrail",
    "revoke_standing_approval",
    "tool_input_guardrail",
    "tool_output_guardrail",
]

# What a run never needs is imported on first use: a program that keeps its runs in
# memory does not pay for the store's SQL, nor for ``sqlite3``, at ``import tether``.
_LATER = {
    "RunStore": ".store",
    "SQLiteRunStore": ".store",
    "SQLiteSession": ".sessions",
    "ShellTool": ".shell",
}


def _public(obj: Any) -> Any:
    """Show an exported object under the package's name (``tether.Agent``)."""
    if getattr(obj, "__module__", "").startswith("tether."):
        obj.__module__ = "tether"
    return obj


for _name in __all__:
    if _name not in _LATER:
        _public(globals()[_name])
del _name


def __getattr__(name: str) -> Any:
    home = _LATER.get(name)
    if home is None:
        raise AttributeError(f"module 'tether' has no attribute {name!r}")
    value = globals()[name] = _public(getattr(importlib.import_module(home, __name__), name))
    return value
