"""Lifecycle hooks: your code, called as a run goes through its steps.

    class Log(RunHooks):
        async def on_tool_start(self, context, agent, tool):
            print(f"{agent.name} runs {tool.name}")

    await Runner.run(agent, "...", hooks=Log())

``RunHooks`` (``Runner.run(hooks=...)``) hear about every agent of the run;
``AgentHooks`` (``Agent(hooks=...)``) about one agent. Every method is async and
does nothing unless overridden; the names are the ones ``openai-agents`` uses,
plus ``on_approval_requested`` / ``on_approval_decided`` for approvals and
``on_output_review_requested`` / ``on_output_reviewed`` for output reviews
(``function_tool(review_output=True)``). A call a standing approval approved
never asks, so it gets ``on_approval_decided`` only.

Hooks observe; they are not journaled. A resumed run calls them for what
happens in it: ``on_approval_decided`` fires when the resumed run takes up the
decision, ``on_output_reviewed`` when it takes up a review (just before the
model reads the reviewed output), ``on_agent_start`` before an agent's first model call in each
``Runner.run``. A hook that raises stops the run with ``HookError``
(a ``RunError``: ``run_state`` resumes it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._context import RunContext
from ._governance import ReviewVerdict

if TYPE_CHECKING:
    from ._agent import Agent
    from .journal import ToolApprovalItem, ToolOutputReviewItem
    from .models import ModelResponse
    from .tools import FunctionTool

__all__ = ["AgentHooks", "RunHooks"]

TContext = TypeVar("TContext")


class RunHooks(Generic[TContext]):
    """Hooks for a whole run; override the methods you need."""

    async def on_agent_start(self, context: RunContext[TContext], agent: Agent[Any]) -> None:
        """An agent is about to make its first model call in this run (or after a handoff)."""

    async def on_agent_end(
        self, context: RunContext[TContext], agent: Agent[Any], output: Any
    ) -> None:
        """An agent produced the run's final output."""

    async def on_llm_start(
        self,
        context: RunContext[TContext],
        agent: Agent[Any],
        system_prompt: str | None,
        input_items: list[Any],
    ) -> None:
        """A model request is about to be sent."""

    async def on_llm_end(
        self, context: RunContext[TContext], agent: Agent[Any], response: ModelResponse
    ) -> None:
        """The model answered (the response is journaled)."""

    async def on_tool_start(
        self, context: RunContext[TContext], agent: Agent[Any], tool: FunctionTool
    ) -> None:
        """A tool call is about to run (its start is journaled)."""

    async def on_tool_end(
        self, context: RunContext[TContext], agent: Agent[Any], tool: FunctionTool, result: str
    ) -> None:
        """A tool call finished; ``result`` is its output (what the model reads, unless the
        tool's output waits for review: then the reviewer decides what the model reads)."""

    async def on_handoff(
        self, context: RunContext[TContext], from_agent: Agent[Any], to_agent: Agent[Any]
    ) -> None:
        """The conversation passed from one agent to another."""

    async def on_approval_requested(
        self, context: RunContext[TContext], agent: Agent[Any], approval: ToolApprovalItem
    ) -> None:
        """A call now waits for a human decision (the run will pause)."""

    async def on_approval_decided(
        self,
        context: RunContext[TContext],
        agent: Agent[Any],
        approval: ToolApprovalItem,
        approved: bool,
    ) -> None:
        """The run takes up a decision on a call: it runs (approved) or is rejected."""

    async def on_output_review_requested(
        self, context: RunContext[TContext], agent: Agent[Any], review: ToolOutputReviewItem
    ) -> None:
        """A call ran and its output (``review.output``) now waits for a person's review; the
        model has not read it (the run will pause)."""

    async def on_output_reviewed(
        self,
        context: RunContext[TContext],
        agent: Agent[Any],
        review: ToolOutputReviewItem,
        verdict: ReviewVerdict,
        output: str,
    ) -> None:
        """The run takes up a review: ``verdict`` is ``"released"``, ``"replaced"`` or
        ``"withheld"``; ``output`` is what the model reads (``review.output`` is what the
        tool returned)."""


class AgentHooks(Generic[TContext]):
    """Hooks for one agent (``Agent(hooks=...)``); override the methods you need."""

    async def on_start(self, context: RunContext[TContext], agent: Agent[Any]) -> None:
        """This agent is about to make its first model call in this run (or after a handoff)."""

    async def on_end(self, context: RunContext[TContext], agent: Agent[Any], output: Any) -> None:
        """This agent produced the run's final output."""

    async def on_llm_start(
        self,
        context: RunContext[TContext],
        agent: Agent[Any],
        system_prompt: str | None,
        input_items: list[Any],
    ) -> None:
        """This agent's model request is about to be sent."""

    async def on_llm_end(
        self, context: RunContext[TContext], agent: Agent[Any], response: ModelResponse
    ) -> None:
        """This agent's model answered."""

    async def on_tool_start(
        self, context: RunContext[TContext], agent: Agent[Any], tool: FunctionTool
    ) -> None:
        """One of this agent's tool calls is about to run."""

    async def on_tool_end(
        self, context: RunContext[TContext], agent: Agent[Any], tool: FunctionTool, result: str
    ) -> None:
        """One of this agent's tool calls finished."""

    async def on_handoff(
        self, context: RunContext[TContext], agent: Agent[Any], source: Agent[Any]
    ) -> None:
        """The conversation was handed to this agent from ``source``."""

    async def on_approval_requested(
        self, context: RunContext[TContext], agent: Agent[Any], approval: ToolApprovalItem
    ) -> None:
        """One of this agent's calls now waits for a human decision."""

    async def on_approval_decided(
        self,
        context: RunContext[TContext],
        agent: Agent[Any],
        approval: ToolApprovalItem,
        approved: bool,
    ) -> None:
        """The run takes up a decision on one of this agent's calls."""

    async def on_output_review_requested(
        self, context: RunContext[TContext], agent: Agent[Any], review: ToolOutputReviewItem
    ) -> None:
        """The output of one of this agent's calls now waits for a person's review."""

    async def on_output_reviewed(
        self,
        context: RunContext[TContext],
        agent: Agent[Any],
        review: ToolOutputReviewItem,
        verdict: ReviewVerdict,
        output: str,
    ) -> None:
        """The run takes up a review of one of this agent's calls (see ``RunHooks``)."""
