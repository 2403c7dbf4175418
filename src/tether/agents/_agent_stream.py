"""``Agent.as_tool(on_stream=)``: the agent tool's nested run, streamed, each of its events
handed to the program's callback as the reference SDK hands them.

Such a tool runs the agent as its own streamed tether run (``Runner.run_streamed``) inside
the call, not as a nested run journaled in the calling run: the callback sees the events
as they come (the model's own stream events, run items, agent updates), and the tool's
output is the run's final output. A nested run that pauses for a decision cannot pause the
calling run this way: the call raises ``UserError`` and the calling run ends with
``ToolError`` (docs/migrating.md).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Callable
from typing import Any

from .._agent import AgentTool
from .._context import RunContext
from ..tools import FunctionTool, schema_tool

__all__ = ["streamed_agent_tool"]


def streamed_agent_tool(tool: FunctionTool, on_stream: Callable[[Any], Any]) -> FunctionTool:
    """``tool`` (made by ``Agent.as_tool``) running its agent streamed, giving every event
    of that run to ``on_stream`` (sync or async) with the agent and the calling tool call."""
    nested = getattr(tool.function, "__wrapped__", None)
    if not isinstance(nested, AgentTool):
        raise TypeError(f"{tool.name!r} is not a tool made by Agent.as_tool")
    agent_tool: AgentTool = nested

    async def run(ctx: RunContext[Any], args: dict[str, Any]) -> str:
        from openai.types.responses import ResponseFunctionToolCall

        from ..errors import UserError
        from ._runner import Runner

        arguments = json.dumps(args, separators=(",", ":"), ensure_ascii=False)
        try:
            given = await agent_tool.nested_input(arguments)
        except ValueError as exc:
            return f"Invalid arguments for tool {tool.name!r}: {exc}. Please call it again."
        call = ResponseFunctionToolCall(
            arguments=arguments,
            call_id=ctx.call_id or "",
            name=tool.name,
            type="function_call",
        )
        agent = agent_tool.agent
        result = Runner.run_streamed(
            agent, given, context=ctx.context, max_turns=agent_tool.max_turns
        )
        async for event in result.stream_events():
            shown = on_stream({"event": event, "agent": agent, "tool_call": call})
            if inspect.isawaitable(shown):
                await shown
        if result.interruptions:
            raise UserError(
                f"The agent {agent.name!r}, run as the tool {tool.name!r} with on_stream, "
                "waits for a decision; a streamed agent tool cannot pause the calling run "
                "(give as_tool no on_stream for that)."
            )
        output = result.final_output
        return output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)

    streamed = schema_tool(
        tool.name,
        tool.description,
        tool.params_json_schema,
        run,
        needs_approval=tool.needs_approval,
        strict=tool.strict,
        # A failure of the nested run (or its pause) ends the calling run, as tether's own
        # nested runs do; it is not text for the model.
        error_formatter=None,
    )
    run.agent_tool = agent_tool  # type: ignore[attr-defined]  # its origin: an agent as a tool
    return dataclasses.replace(streamed, is_enabled=tool.is_enabled)
