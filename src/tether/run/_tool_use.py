"""The loop's side of ``tool_use_behavior`` (``tether._tool_use``): asking the agent's
function, and the final output as a tool or the function gave it.

What ends the run is journaled as data (``RunCompleted``): a tool's output as its text, a
function's final output as JSON data (``output_type``'s if the agent has one). Reading it
back, a tool's output is rebuilt by the tool's return annotation, so a run loaded in
another process gives the same value; a function's is the object it returned in the
process that recorded it, and its JSON data elsewhere.
"""

from __future__ import annotations

import inspect
from typing import Any

from pydantic_core import PydanticSerializationError, to_jsonable_python

from .._tool_use import FunctionToolResult, ToolsToFinalOutputResult, tool_output_value
from ..errors import UserError
from ..items import function_call_output
from ..journal import RunCompleted
from ._run import Run
from ._steps import CallModel, Finish, finishing_call, tool_results

__all__ = ["decide_tool_use", "decided_completion", "final_value"]


async def decide_tool_use(run: Run) -> Finish | CallModel:
    """Ask the agent's ``tool_use_behavior`` function about the turn's tool outputs."""
    agent = run.agent
    tools = agent.function_tools
    results = [
        FunctionToolResult(
            tools[call.name],
            tool_output_value(tools[call.name], call.output or ""),
            function_call_output(call.call_id, call.output or ""),
        )
        for call in tool_results(run.view, agent)
    ]
    behavior: Any = agent.tool_use_behavior
    answer = behavior(run.ctx, results)
    if inspect.isawaitable(answer):
        answer = await answer
    if not isinstance(answer, ToolsToFinalOutputResult):
        raise UserError(
            f"Agent {agent.name!r}: its tool_use_behavior function must return a "
            f"ToolsToFinalOutputResult, not {answer!r}."
        )
    if not answer.is_final_output:
        return CallModel()
    return Finish(decided=True, value=answer.final_output)


def decided_completion(run: Run, value: Any) -> tuple[Any, RunCompleted]:
    """The final output a function gave (as the agent's ``output_type``, if it has one) and
    the event that journals it, remembered with the object."""
    output = run.agent.output
    try:
        if output is not None:
            value = output.load(value)  # the output_type's object, checked
            data = output.dump(value)
        else:
            data = to_jsonable_python(value)
    except (ValueError, TypeError, PydanticSerializationError) as exc:
        raise UserError(
            f"Agent {run.agent.name!r}: the final output its tool_use_behavior function gave "
            f"cannot be journaled ({exc}). Give JSON data, a pydantic model or a dataclass"
            + (" that fits the agent's output_type." if output is not None else ".")
        ) from None
    completed = RunCompleted(data)
    run.final_value = (completed, value)
    return value, completed


def final_value(run: Run, completed: RunCompleted) -> Any:
    """The final output journaled by ``completed`` (about to be appended, or the run's
    last event), as the program sees it."""
    if run.final_value is not None and run.final_value[0] is completed:
        return run.final_value[1]
    agent, view = run.agent, run.view
    if agent.output is not None:
        return agent.output.load(completed.output)
    call = finishing_call(view, agent)
    if call is not None and call.output == completed.output:
        return tool_output_value(agent.function_tools[call.name], completed.output)
    return completed.output
