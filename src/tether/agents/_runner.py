"""``Runner`` with the reference SDK's signature: ``starting_agent``, ``hooks`` and
``run_config`` keywords, results that read as ``openai-agents`` results.

Before handing a run to tether's ``Runner`` it fills in what the reference does by
default: the rejection message (``RunConfig(tool_error_formatter=)`` or the reference's
text), hooks given the reference's contexts, Chat Completions when
``set_default_openai_api("chat_completions")`` was called, and the tools of each agent's
``mcp_servers`` (listed at the start of every run). Hosted MCP approvals that have an
``on_approval_request`` function are decided by it and recorded on the run's state as
any decision is; nothing is kept between calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Iterator, Sequence
from typing import Any

from .._agent import Agent as _Agent
from .._loops import run_on_thread_loop
from ..errors import GuardrailTripwireTriggered, UserError
from ..items import Item
from ..lifecycle import RunHooks
from ..run import RunConfig
from ..run import Runner as _Runner
from ..run import RunState as _RunState
from ..sessions import Session
from . import _setup
from ._config import effective_config, with_handoff_filter
from ._errors import reference_error
from ._guardrails import text_input as _text_input
from ._handoff_input import starting_agent as _starting
from ._hooks import RunHooksAdapter, run_input
from ._items import ItemHelpers
from ._models import ReferenceProvider, UserProvider
from ._results import RunResult, RunResultStreaming
from ._tools import HostedMCPTool, MCPToolApprovalRequest

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
        starting_agent: _Agent[Any],
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
        try:
            with _running(starting_agent, input):
                return await _run(
                    starting_agent,
                    input,
                    context=context,
                    max_turns=max_turns,
                    hooks=hooks,
                    run_config=run_config,
                    previous_response_id=previous_response_id,
                    auto_previous_response_id=auto_previous_response_id,
                    conversation_id=conversation_id,
                    session=session,
                    **tether_options,
                )
        except GuardrailTripwireTriggered as exc:
            raise reference_error(exc) from None

    @classmethod
    def run_sync(
        cls, starting_agent: _Agent[Any], input: str | Sequence[Item] | _RunState, **options: Any
    ) -> RunResult:
        """``run`` for code without an event loop: on the thread's one event loop, left open
        between calls (as the reference's ``run_sync``)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return run_on_thread_loop(cls.run(starting_agent, input, **options))
        raise UserError(
            "Runner.run_sync was called inside a running event loop; use await Runner.run(...)."
        )

    @classmethod
    def run_streamed(
        cls,
        starting_agent: _Agent[Any],
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
        """Start a streamed run; iterate ``result.stream_events()``. When an agent of the
        run has ``mcp_servers``, the run starts on the first iteration, after their tools
        are listed."""

        def start() -> Any:
            managed = bool(previous_response_id or auto_previous_response_id or conversation_id)
            options = _options(
                starting_agent, input, hooks, run_config, dict(tether_options), managed
            )
            with _running(starting_agent, input):
                return _Runner.run_streamed(
                    starting_agent,
                    _as_items(input),
                    context=context,
                    max_turns=max_turns,
                    previous_response_id=previous_response_id,
                    auto_previous_response_id=auto_previous_response_id,
                    conversation_id=conversation_id,
                    session=session,
                    **options,
                )

        def resume(state: Any) -> Any:
            options = _options(starting_agent, state, hooks, run_config, dict(tether_options))
            with _running(starting_agent):
                return _Runner.run_streamed(
                    starting_agent, state, max_turns=max_turns, session=session, **options
                )

        common: dict[str, Any] = {"decide": _decide_hosted, "resume": resume}
        if _has_mcp_servers(starting_agent):
            return RunResultStreaming(
                None, prepare=lambda: _list_mcp_tools(starting_agent), start=start, **common
            )
        return RunResultStreaming(start(), **common)


async def _run(
    starting_agent: _Agent[Any],
    input: str | Sequence[Item] | _RunState,
    *,
    context: Any,
    max_turns: int | None,
    hooks: RunHooks[Any] | None,
    run_config: RunConfig | None,
    previous_response_id: str | None,
    auto_previous_response_id: bool,
    conversation_id: str | None,
    session: Session | None,
    **tether_options: Any,
) -> RunResult:
    await _list_mcp_tools(starting_agent)
    managed = bool(previous_response_id or auto_previous_response_id or conversation_id)
    options = _options(starting_agent, input, hooks, run_config, tether_options, managed)
    result = RunResult(
        await _Runner.run(
            starting_agent,
            _as_items(input),
            context=context,
            max_turns=max_turns,
            previous_response_id=previous_response_id,
            auto_previous_response_id=auto_previous_response_id,
            conversation_id=conversation_id,
            session=session,
            **options,
        )
    )
    # Hosted MCP approvals a function decides: decide, then go on, as the reference
    # does inside one run; every decision is recorded on the run's state.
    while result.interruptions and await _decide_hosted(state := result.to_state(), result):
        result = RunResult(
            await _Runner.run(
                starting_agent,
                state,
                max_turns=max_turns,
                session=session,
                **_options(starting_agent, state, hooks, run_config, dict(tether_options)),
            )
        )
    return result


@contextlib.contextmanager
def _running(agent: _Agent[Any], input: Any = None) -> Iterator[None]:
    """While a run of ``agent`` starts (or, awaited, runs): the agent its handoff filters
    attribute the run's first items to, and the text it was given (if a text), which its
    input guardrails are handed. A streamed run's task keeps the values it started with;
    the caller's are restored."""
    token = _starting.set(agent)
    text = _text_input.set(input if isinstance(input, str) else None)
    try:
        yield
    finally:
        _text_input.reset(text)
        _starting.reset(token)


def _as_items(input: str | Sequence[Item] | _RunState) -> Sequence[Item] | _RunState:
    """A text input as the user message the reference SDK makes of it (its keys in the
    reference's order, which ``to_input_list()`` shows); anything else as given."""
    return ItemHelpers.input_to_new_input_list(input) if isinstance(input, str) else input


def _options(
    agent: _Agent[Any],
    input: Any,
    hooks: RunHooks[Any] | None,
    run_config: RunConfig | None,
    tether_options: dict[str, Any],
    server_managed: bool = False,
) -> dict[str, Any]:
    """tether's options for a run started the reference SDK's way."""
    if "rejection_message" not in tether_options:
        run_config = effective_config(run_config)
    tether_options["run_config"] = with_handoff_filter(run_config, agent, server_managed)
    if not isinstance(hooks, RunHooksAdapter):
        # Always adapted, even without the user's hooks: the adapter also calls the
        # handing-off agent's own ``on_handoff``, as the reference does.
        hooks = RunHooksAdapter(hooks if hooks is not None else RunHooks())
    tether_options["hooks"] = hooks
    given = getattr(run_config, "model_provider", None)
    if "model_provider" not in tether_options and given is not None:
        tether_options["model_provider"] = UserProvider(given)
    elif "model_provider" not in tether_options:
        chat = _setup.default_api() == "chat_completions"
        tether_options["model_provider"] = ReferenceProvider(api="chat" if chat else "responses")
    turn_input = (
        []
        if isinstance(input, _RunState)
        else ItemHelpers.input_to_new_input_list(input if isinstance(input, str) else list(input))
    )
    run_input.set(tuple(turn_input))
    return tether_options


def _has_mcp_servers(agent: _Agent[Any]) -> bool:
    # The facade's agents carry ``mcp_servers`` (read by attribute: the facade's Agent
    # module imports this one, through its streamed agent tools).
    return any(getattr(a, "mcp_servers", None) for a in agent.graph().values())


async def _list_mcp_tools(agent: _Agent[Any]) -> None:
    for member in agent.graph().values():
        if getattr(member, "mcp_servers", None):
            await member.list_mcp_tools()  # type: ignore[attr-defined]


async def _decide_hosted(state: Any, result: RunResult) -> bool:
    """Decide each pending hosted MCP approval whose tool has ``on_approval_request``;
    whether any was decided."""
    decided = False
    for item in state.get_interruptions():
        tool = _hosted_tool(item)
        if tool is None or tool.on_approval_request is None:
            continue
        from openai.types.responses.response_output_item import McpApprovalRequest

        request = McpApprovalRequest(
            id=item.call_id,
            arguments=item.arguments,
            name=item.tool_name,
            server_label=tool.server_label,
            type="mcp_approval_request",
        )
        answer = tool.on_approval_request(MCPToolApprovalRequest(result.context_wrapper, request))
        if inspect.isawaitable(answer):
            answer = await answer
        if answer.get("approve"):
            state.approve(item)
        else:
            state.reject(item, rejection_message=answer.get("reason"))
        decided = True
    return decided


def _hosted_tool(item: Any) -> HostedMCPTool | None:
    agent = item.agent
    if agent is None or item.server_name is None:
        return None
    for tool in agent.tools:
        if isinstance(tool, HostedMCPTool) and tool.server_label == item.server_name:
            return tool
    return None
