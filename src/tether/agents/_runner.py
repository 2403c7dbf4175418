"""``Runner`` with the reference SDK's signature: ``starting_agent``, ``hooks`` and
``run_config`` keywords, results that read as ``openai-agents`` results."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from .._agent import Agent
from .._exceptions import UserError
from ..items import Item
from ..lifecycle import RunHooks
from ..run import RunConfig
from ..run import Runner as _Runner
from ..run import RunState as _RunState
from ..sessions import Session
from ._results import RunResult, RunResultStreaming

__all__ = ["Runner"]


class Runner:
    """Runs agents, as ``agents.Runner`` does; every method is a class method.

    Runs go through tether's own ``Runner``: a resumed ``RunState`` (of either
    package) continues its journal, and the options tether adds (``rejection_message``,
    ``tool_timeout``, ``on_tool_timeout``, ``model_provider``) are accepted too.
    """

    @classmethod
    async def run(
        cls,
        starting_agent: Agent[Any],
        input: str | Sequence[Item] | _RunState,
        *,
        context: Any = None,
        max_turns: int | None = None,
        hooks: RunHooks[Any] | None = None,
        run_config: RunConfig | None = None,
        previous_response_id: str | None = None,
        auto_previous_response_id: bool = False,
        conversation_id: str | None = None,
        session: Session | None = None,
        **tether_options: Any,
    ) -> RunResult:
        """Run ``starting_agent`` on ``input`` (or resume a ``RunState``)."""
        result = await _Runner.run(
            starting_agent,
            input,
            context=context,
            hooks=hooks,
            run_config=run_config,
            max_turns=max_turns,
            previous_response_id=previous_response_id,
            auto_previous_response_id=auto_previous_response_id,
            conversation_id=conversation_id,
            session=session,
            **tether_options,
        )
        return RunResult(result)

    @classmethod
    def run_sync(
        cls, starting_agent: Agent[Any], input: str | Sequence[Item] | _RunState, **options: Any
    ) -> RunResult:
        """``run`` for code without an event loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(cls.run(starting_agent, input, **options))
        raise UserError(
            "Runner.run_sync was called inside a running event loop; use await Runner.run(...)."
        )

    @classmethod
    def run_streamed(
        cls,
        starting_agent: Agent[Any],
        input: str | Sequence[Item] | _RunState,
        *,
        context: Any = None,
        max_turns: int | None = None,
        hooks: RunHooks[Any] | None = None,
        run_config: RunConfig | None = None,
        previous_response_id: str | None = None,
        auto_previous_response_id: bool = False,
        conversation_id: str | None = None,
        session: Session | None = None,
        **tether_options: Any,
    ) -> RunResultStreaming:
        """Start a streamed run; iterate ``result.stream_events()``."""
        result = _Runner.run_streamed(
            starting_agent,
            input,
            context=context,
            hooks=hooks,
            run_config=run_config,
            max_turns=max_turns,
            previous_response_id=previous_response_id,
            auto_previous_response_id=auto_previous_response_id,
            conversation_id=conversation_id,
            session=session,
            **tether_options,
        )
        return RunResultStreaming(result)
