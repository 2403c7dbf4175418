"""The run as a small state machine: ``next_step`` reads the view and names the next step.

    pending approvals or output reviews    -> Interrupt   (return to the caller)
    calls to classify, run or reject       -> ExecuteTools
    the last model output is final         -> Finish
    a tool's output is (tool_use_behavior) -> Finish
    a function decides (tool_use_behavior) -> DecideToolUse (then Finish or CallModel)
    otherwise                              -> CallModel

``next_step`` is pure: the same view always gives the same step. A fresh run and
a resumed one are the same loop, which is why a resumed run never calls the
model for a turn that already has a response.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._agent import Agent
from .._tool_use import stop_names
from ..items import is_assistant_message, message_text
from ..journal import Call, RunView, ToolApprovalItem

__all__ = [
    "CallModel",
    "DecideToolUse",
    "Done",
    "ExecuteTools",
    "Finish",
    "Interrupt",
    "Step",
    "finishing_call",
    "next_step",
    "tool_results",
]


@dataclass(frozen=True, slots=True)
class CallModel:
    """Ask the current agent's model for the next response."""


@dataclass(frozen=True, slots=True)
class ExecuteTools:
    """Classify, run or reject the current turn's calls, and take a handoff."""


@dataclass(frozen=True, slots=True)
class Interrupt:
    """Stop and hand the pending approvals to the caller."""

    pending: list[ToolApprovalItem]


@dataclass(frozen=True, slots=True)
class Finish:
    """Record the final output. ``text`` is parsed by the agent's output type, if any."""

    text: str | None = None
    tool_output: str | list[dict[str, Any]] | None = None
    decided: bool = False
    """``value`` is the final output a ``tool_use_behavior`` function gave."""
    value: Any = None


@dataclass(frozen=True, slots=True)
class DecideToolUse:
    """Ask the agent's ``tool_use_behavior`` function whether the turn's tool outputs end
    the run (then ``Finish``) or go to the model (then ``CallModel``)."""


@dataclass(frozen=True, slots=True)
class Done:
    """The run completed earlier; nothing more to do."""

    output: Any


Step = CallModel | ExecuteTools | Interrupt | Finish | Done | DecideToolUse


def next_step(view: RunView, agent: Agent[Any]) -> Step:
    """The next step of a run whose journal folds to ``view``; ``agent`` is the current agent."""
    if view.completed is not None:
        return Done(view.completed.output)
    calls = view.calls.values()
    if calls:
        for call in calls:
            if not call.done:  # (``done``: the call's status is DONE)
                if view.status == "waiting":
                    return Interrupt(view.pending)
                # Something to run, reject or look at; in doubt: the tool step re-runs an
                # idempotent call or stops for a person.
                return _EXECUTE_TOOLS
        # Every call has its output (the run is neither waiting nor in doubt).
        if agent.tool_use_behavior == "run_llm_again":  # the default: no call's output ends
            return _CALL_MODEL
        first = finishing_call(view, agent)
        if first is not None:
            return Finish(tool_output=first.output)
        if callable(agent.tool_use_behavior) and tool_results(view, agent):
            return DecideToolUse()
        return _CALL_MODEL
    if view.responses:
        messages = [item for item in view.responses[-1].output if is_assistant_message(item)]
        if messages:
            return Finish(text=message_text(messages[-1]))
    return _CALL_MODEL


_CALL_MODEL = CallModel()
_EXECUTE_TOOLS = ExecuteTools()
"""The steps without fields, made once (equal to any other instance: frozen dataclasses)."""


def finishing_call(view: RunView, agent: Agent[Any]) -> Call | None:
    """The call of the turn whose output is the final output by the agent's
    ``tool_use_behavior`` (``stop_on_first_tool``, ``stop_at_tool_names``), if any."""
    names = stop_names(agent.tool_use_behavior)
    if names is not None and not names:
        return None
    return next((c for c in tool_results(view, agent) if names is None or c.name in names), None)


def tool_results(view: RunView, agent: Agent[Any]) -> list[Call]:
    """The turn's function tool calls of ``agent``, in the order the model made them."""
    return [
        c for c in view.calls.values() if c.agent == agent.name and c.name in agent.function_tools
    ]
