"""Calling the run's ``RunHooks`` and the agent's ``AgentHooks`` at each lifecycle moment.

One function per moment, each calling the run-level hook, then the agent-level
one. A hook that raises becomes ``HookError`` (a ``RunError``, so the run's state
is attached and resumes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._tool_output import ToolOutput
from ..errors import HookError
from ..journal import ToolOutputReviewItem

if TYPE_CHECKING:
    from .._agent import Agent
    from ..journal import Call
    from ..models import ModelRequest, ModelResponse
    from ..tools import FunctionTool
    from ._run import Run

__all__ = [
    "agent_end",
    "agent_start",
    "approval_decided",
    "approval_requested",
    "handoff",
    "llm_end",
    "llm_start",
    "output_review_requested",
    "output_reviewed",
    "tool_end",
    "tool_start",
]


async def _call(run: Run, agent: Agent[Any], run_name: str, agent_name: str, *args: Any) -> None:
    targets = [(run.options.hooks, run_name), (getattr(agent, "hooks", None), agent_name)]
    for hooks, name in targets:
        if hooks is None:
            continue
        try:
            await getattr(hooks, name)(run.ctx, *args)
        except Exception as exc:
            raise HookError(type(hooks).__name__, name, exc) from exc


def wanted(run: Run, agent: Agent[Any] | None) -> bool:
    """Whether the run or ``agent`` has lifecycle hooks. Without them the callers skip the
    hook functions (each call would make two coroutines to find nothing to call)."""
    return run.options.hooks is not None or getattr(agent, "hooks", None) is not None


async def agent_start(run: Run, agent: Agent[Any]) -> None:
    await _call(run, agent, "on_agent_start", "on_start", agent)


async def agent_end(run: Run, agent: Agent[Any], output: Any) -> None:
    await _call(run, agent, "on_agent_end", "on_end", agent, output)


async def llm_start(run: Run, agent: Agent[Any], request: ModelRequest) -> None:
    if not wanted(run, agent):
        return  # no copy of the input (a long history) for nobody
    items = list(request.input)
    await _call(run, agent, "on_llm_start", "on_llm_start", agent, request.instructions, items)


async def llm_end(run: Run, agent: Agent[Any], response: ModelResponse) -> None:
    await _call(run, agent, "on_llm_end", "on_llm_end", agent, response)


async def tool_start(run: Run, tool: FunctionTool, call: Call) -> None:
    agent = run.graph[call.agent]
    await _call(run, agent, "on_tool_start", "on_tool_start", agent, tool)


async def tool_end(run: Run, tool: FunctionTool, call: Call, output: ToolOutput) -> None:
    agent = run.graph[call.agent]
    await _call(run, agent, "on_tool_end", "on_tool_end", agent, tool, output)


async def handoff(run: Run, from_agent: Agent[Any], to_agent: Agent[Any]) -> None:
    hooks = run.options.hooks
    try:
        if hooks is not None:
            await hooks.on_handoff(run.ctx, from_agent, to_agent)
        target = getattr(to_agent, "hooks", None)
        if target is not None:
            await target.on_handoff(run.ctx, to_agent, from_agent)
    except Exception as exc:
        raise HookError("hooks", "on_handoff", exc) from exc


async def approval_requested(run: Run, call: Call) -> None:
    agent = run.graph[call.agent]
    item = call.approval_item()
    await _call(run, agent, "on_approval_requested", "on_approval_requested", agent, item)


async def approval_decided(run: Run, call: Call) -> None:
    agent = run.graph[call.agent]
    approved = call.decision is not None and call.decision.approved
    item = call.approval_item()
    await _call(run, agent, "on_approval_decided", "on_approval_decided", agent, item, approved)


def _review_item(call: Call) -> ToolOutputReviewItem:
    """The review item of ``call``, also once reviewed (``approval_item`` then gives a plain
    item): ``output`` is what the tool returned."""
    item = call.approval_item()
    return ToolOutputReviewItem(
        item.agent_name,
        item.tool_name,
        item.call_id,
        item.arguments,
        item.fingerprint,
        item.server_name,
        original_arguments=item.original_arguments,
        edited_by=item.edited_by,
        output=call.held or "",
    )


async def output_review_requested(run: Run, call: Call) -> None:
    agent = run.graph[call.agent]
    item = _review_item(call)
    await _call(run, agent, "on_output_review_requested", "on_output_review_requested", agent, item)


async def output_reviewed(run: Run, call: Call) -> None:
    review = call.review
    if review is None:
        return
    agent = run.graph[call.agent]
    item = _review_item(call)
    reads = call.output if call.output is not None else ""
    await _call(
        run, agent, "on_output_reviewed", "on_output_reviewed", agent, item, review.verdict, reads
    )
