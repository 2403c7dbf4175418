"""``Runner``: start a run, or resume one from a ``RunState``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from .._agent import Agent
from .._context import RunContext
from .._duration import to_seconds
from .._frozen import FrozenDict
from .._governance import Governance
from ..approvals import RuleBook
from ..approvals._decisions import DEFAULT_GOVERNANCE
from ..errors import RunError, RunNotFoundError, UserError
from ..items import Item, to_input_items
from ..journal import CallStatus, Journal, RunResumed, RunStarted
from ..lifecycle import RunHooks
from ..models import ModelProvider, OpenAIProvider
from ..sessions import Session
from ..sessions._identity import check_new_session, check_session
from ..tools import OnTimeout, check_on_timeout
from ._cancellation import attach_run_state
from ._config import RunConfig, config_data
from ._durable import Durable
from ._result import RunResult
from ._run import Driver, Run, RunOptions
from ._state import RunState
from ._stored import load_state
from ._streaming import RunResultStreaming, attach_stream

if TYPE_CHECKING:
    # asyncio and the loop (``_loop``: the tool step, guardrails, agent tools, each with
    # its own asyncio) are imported in the functions that run a run: ``import tether``
    # loads neither, a run does (tests/test_import_cost.py).
    import asyncio

    from ..store import RunStore

__all__ = ["DEFAULT_MAX_TURNS", "Runner"]

DEFAULT_MAX_TURNS = 10


class Runner:
    """Runs agents. Every method is a class method; there is nothing to construct."""

    @classmethod
    async def run(
        cls,
        agent: Agent[Any],
        input: str | Sequence[Item] | RunState,
        *,
        context: Any = None,
        max_turns: int | None = None,
        model_provider: ModelProvider | None = None,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        auto_previous_response_id: bool = False,
        rejection_message: str | None = None,
        session: Session | None = None,
        tool_timeout: float | timedelta | None = None,
        on_tool_timeout: OnTimeout = "error_output",
        hooks: RunHooks[Any] | None = None,
        run_config: RunConfig | None = None,
        store: RunStore | None = None,
        governance: Governance | None = None,
        run_id: str | None = None,
        if_exists: Literal["resume", "error"] = "resume",
    ) -> RunResult:
        """Run ``agent`` on ``input`` until it has a final output or needs a human decision.

        Pass a ``RunState`` as ``input`` to resume. The state's turn counter and
        ``max_turns`` budget carry over; a ``max_turns`` given on resume replaces
        the budget. ``rejection_message`` is what the model reads for a rejected
        call whose decision has no message (``{tool}`` is replaced by its name);
        it belongs to the run and carries over too, and one given on resume
        replaces it from then on.

        With a ``session``, the run starts from the session's items and stores
        every new item in it exactly once, across any number of interruptions
        and resumes; pass the session again (opened afresh is fine) on resume.

        ``tool_timeout`` (seconds or a ``timedelta``) cancels an async tool call
        that runs longer, for tools without their own ``timeout``;
        ``on_tool_timeout`` says what a timeout does (``"error_output"``: the
        model reads that the call did not finish; ``"raise"``: ``ToolTimeoutError``).

        ``hooks`` (``tether.lifecycle.RunHooks``) are called at each step of the
        run. ``run_config`` (``RunConfig``) sets a model, model settings, a
        rejection message (or a function of the call), a handoff input filter and
        tracing for every agent of the run; its data is journaled and carries over
        on resume, and one given on resume replaces it.

        Cancelling the task that awaits this (``asyncio.timeout``, ``wait_for``)
        cancels the tools that are running and re-raises the cancellation;
        ``run_state_of(error)`` gives the state to resume, in which the calls
        cut short are in doubt.

        With a ``store`` (``tether.store``), the run is kept there as it happens
        (``result.run_id`` names it): each tool call is recorded as started before
        its body runs and as completed right after, and the run holds the store's
        lease while it advances. Resume a stored run with the state
        ``tether.store.load_state`` returns and the same ``store``; a second
        concurrent resume gets ``RunBusyError`` at once.

        ``governance`` (``tether.Governance``) gives the run-wide approval policy,
        approval deadline, receipt key and clock; a resumed state's own
        governance is used if none is given. A call whose approval passed its
        deadline is rejected by the system and never runs.

        ``run_id`` names a new run with the application's own id (an order number, a
        request id) instead of a random one. With a ``store`` that already has a run of
        that id, nothing new is started: ``if_exists="resume"`` (the default) resumes
        that run (``input`` is not read again), ``"error"`` raises ``RunConflictError``.
        Two processes starting one id at once get one run; the other a ``RunConflictError``.
        """
        # Long for its signature and docstring only: the work is prepare's and _outcome's.
        if run_id is not None and not isinstance(input, RunState):
            _check_run_id(run_id, if_exists)
            if store is not None:
                input = await _stored_or(
                    input, store, run_id, if_exists, agent, context, governance
                )
        run = prepare(
            agent,
            input,
            context=context,
            max_turns=max_turns,
            model_provider=model_provider,
            previous_response_id=previous_response_id,
            conversation_id=conversation_id,
            auto_previous_response_id=auto_previous_response_id,
            rejection_message=rejection_message,
            session=session,
            tool_timeout=tool_timeout,
            on_tool_timeout=on_tool_timeout,
            store=store,
            governance=governance,
            stream=False,
            hooks=hooks,
            run_config=run_config,
            run_id=run_id,
        )
        return await _outcome(run)

    @classmethod
    def run_streamed(
        cls,
        agent: Agent[Any],
        input: str | Sequence[Item] | RunState,
        *,
        context: Any = None,
        max_turns: int | None = None,
        model_provider: ModelProvider | None = None,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        auto_previous_response_id: bool = False,
        rejection_message: str | None = None,
        session: Session | None = None,
        tool_timeout: float | timedelta | None = None,
        on_tool_timeout: OnTimeout = "error_output",
        hooks: RunHooks[Any] | None = None,
        run_config: RunConfig | None = None,
        store: RunStore | None = None,
        governance: Governance | None = None,
    ) -> RunResultStreaming:
        """Start a run whose events you iterate: ``async for e in result.stream_events()``.

        Takes the same options as ``run`` and returns at once; call it inside a
        running event loop. Resuming works from a state of either kind of run.
        """
        import asyncio

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise UserError(
                "Runner.run_streamed needs a running event loop; call it from async code."
            ) from None
        run = prepare(
            agent,
            input,
            context=context,
            max_turns=max_turns,
            model_provider=model_provider,
            previous_response_id=previous_response_id,
            conversation_id=conversation_id,
            auto_previous_response_id=auto_previous_response_id,
            rejection_message=rejection_message,
            session=session,
            tool_timeout=tool_timeout,
            on_tool_timeout=on_tool_timeout,
            store=store,
            governance=governance,
            stream=True,
            hooks=hooks,
            run_config=run_config,
        )
        queue: asyncio.Queue[object] = asyncio.Queue()
        attach_stream(run, queue)
        result = RunResultStreaming(run, queue)
        result.start()
        return result

    @classmethod
    async def resume(
        cls,
        agent: Agent[Any],
        run_id: str,
        *,
        store: RunStore,
        context: Any = None,
        **options: Any,
    ) -> RunResult:
        """Resume the stored run ``run_id`` of ``agent``'s graph: ``Runner.run`` on the state
        ``tether.store.load_state`` loads, with the same store (the other options as ``run``).

        A run that another process is advancing raises ``RunBusyError`` at once."""
        governance = options.get("governance")  # its clock expires overdue approvals on load
        state = await load_state(store, run_id, agent, context=context, governance=governance)
        return await cls.run(agent, state, store=store, **options)

    @classmethod
    def run_sync(
        cls,
        agent: Agent[Any],
        input: str | Sequence[Item] | RunState,
        **options: Any,
    ) -> RunResult:
        """``Runner.run`` for code without an event loop. Inside async code, await ``run``.

        Every call on a thread runs on that thread's one event loop, left open between
        calls (as the reference SDK's ``run_sync`` does): what a run leaves bound to its
        loop, such as an ``AsyncOpenAI`` client's pooled connection, serves the next."""
        import asyncio

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            from .._loops import run_on_thread_loop

            return run_on_thread_loop(cls.run(agent, input, **options))
        raise UserError(
            "Runner.run_sync was called inside a running event loop; use await Runner.run(...)."
        )


def prepare(
    agent: Agent[Any],
    input: str | Sequence[Item] | RunState,
    *,
    context: Any,
    max_turns: int | None,
    model_provider: ModelProvider | None,
    previous_response_id: str | None,
    conversation_id: str | None,
    auto_previous_response_id: bool,
    rejection_message: str | None,
    session: Session | None,
    stream: bool,
    tool_timeout: float | timedelta | None = None,
    on_tool_timeout: OnTimeout = "error_output",
    hooks: RunHooks[Any] | None = None,
    run_config: RunConfig | None = None,
    store: RunStore | None = None,
    governance: Governance | None = None,
    run_id: str | None = None,
) -> Run:
    """A ``Run`` ready to drive: a new journal, or a copy of a state's journal."""
    if max_turns is not None and max_turns < 1:
        raise UserError(f"max_turns must be at least 1, got {max_turns}.")
    try:
        seconds = to_seconds(tool_timeout, "tool_timeout")
        check_on_timeout(on_tool_timeout, "on_tool_timeout")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    server_managed = bool(previous_response_id or conversation_id or auto_previous_response_id)
    if session is not None and server_managed:
        raise UserError(
            "A run keeps its conversation either in a session or on the server "
            "(previous_response_id / conversation_id), not both. For a server-side "
            "conversation as a session, use OpenAIConversationsSession alone."
        )
    options = RunOptions(
        provider=model_provider or OpenAIProvider(),
        stream=stream,
        session=session,
        tool_timeout=seconds,
        on_tool_timeout=on_tool_timeout,
        hooks=hooks,
        config=run_config,
        durable=None if store is None else Durable(store),
        rules=_rule_book(run_config, store),
        governance=governance
        or (input.governance if isinstance(input, RunState) else DEFAULT_GOVERNANCE),
    )
    if run_config is not None and not isinstance(run_config, RunConfig):
        raise UserError(f"run_config must be a RunConfig, got {type(run_config).__name__}.")
    # A template is data, journaled like rejection_message=; a function is not.
    template = run_config.rejection_message if run_config is not None else None
    if rejection_message is None and isinstance(template, str):
        rejection_message = template
    _check_filters(agent, run_config, server_managed)
    if isinstance(input, RunState):
        if server_managed:
            raise UserError(
                "A resumed run keeps the conversation settings it started with; do not pass "
                "previous_response_id, conversation_id or auto_previous_response_id on resume."
            )
        run = _resume(agent, input, context, max_turns, rejection_message or None, options)
        _check_tools(run)
        return run
    return _new_run(
        agent,
        input,
        context,
        options,
        run_id=run_id,
        max_turns=max_turns,
        previous_response_id=previous_response_id,
        conversation_id=conversation_id,
        auto_previous_response_id=auto_previous_response_id,
        rejection_message=rejection_message,
    )


def _new_run(
    agent: Agent[Any],
    input: str | Sequence[Item],
    context: Any,
    options: RunOptions,
    *,
    run_id: str | None,
    max_turns: int | None,
    previous_response_id: str | None,
    conversation_id: str | None,
    auto_previous_response_id: bool,
    rejection_message: str | None,
) -> Run:
    """A new run of ``agent`` on ``input``, its start not yet recorded."""
    session = options.session
    if session is not None:
        check_new_session(session)
    try:
        started = RunStarted(
            run_id=run_id or _new_run_id(),
            agent=agent.name,
            input=_input_items(input),
            max_turns=max_turns or DEFAULT_MAX_TURNS,
            previous_response_id=previous_response_id,
            conversation_id=conversation_id,
            auto_previous_response_id=auto_previous_response_id,
            session_id=None if session is None else session.session_id,
            rejection_message=rejection_message or None,
            run_config=config_data(options.config),
        )
    except ValueError as exc:
        raise UserError(f"The run's input cannot be used: {exc}.") from None
    journal = Journal()
    return Run(
        root=agent,
        journal=journal,
        ctx=RunContext(context, _facts=journal.view),
        options=options,
        graph=agent.graph(),
        start=started,
    )


def _new_run_id() -> str:
    """``run_`` and a random version 4 UUID's 32 hex digits, as ``uuid4().hex`` writes them,
    made without a ``UUID`` object (its checks of its arguments cost a microsecond a run)."""
    value = int.from_bytes(os.urandom(16), "big") & _UUID4_KEEP | _UUID4_SET
    return f"run_{value:032x}"


_UUID4_KEEP = ~((0xF000 << 64) | (0xC000 << 48))
"""The random bits: all but the version's four and the variant's two."""
_UUID4_SET = (4 << 76) | (0x8000 << 48)
"""Version 4, variant RFC 4122 (``uuid.UUID(..., version=4)`` sets the same bits)."""


def _input_items(input: str | Sequence[Item]) -> list[Item]:
    """``to_input_items(input)`` without its copy of each item: ``RunStarted`` freezes the
    items, which copies a plain dict (and every list and dict in it) anyway, and keeps a
    frozen one as it is. Only an item of another mapping type is made a dict first."""
    if isinstance(input, str):
        return to_input_items(input)
    return [item if type(item) in _DICTS else dict(item) for item in input]


_DICTS: frozenset[type] = frozenset((dict, FrozenDict))


async def _outcome(run: Run) -> RunResult:
    """Drive ``run`` to its result; an error or a cancellation carries the state to resume."""
    import asyncio

    if not _loop:
        from ._loop import drive

        _loop.append(drive)
    try:
        await _loop[0](run)
    except RunError as exc:
        exc.run_state = RunResult(run).to_state()
        raise
    except asyncio.CancelledError as exc:
        if run.start is None:  # else the run never recorded its start: nothing to resume
            attach_run_state(exc, RunResult(run).to_state())
        raise
    return RunResult(run)


_loop: list[Driver] = []
"""The loop's ``drive``, imported by the first run (``import tether`` leaves the loop for
first use): a relative import statement costs microseconds a run even once loaded (it
looks its package's spec up), where this costs a list's truth."""


def _rule_book(config: RunConfig | None, store: RunStore | None) -> RuleBook | None:
    """Where the run finds standing approvals: the ``RunConfig``'s book, else its store."""
    book = getattr(config, "standing_approvals", None)
    if book is not None:
        if not isinstance(book, RuleBook):
            raise UserError(
                "RunConfig.standing_approvals is a rule book (a MemoryRuleBook or a run store), "
                f"not {type(book).__name__}."
            )
        return book
    # A protocol check costs microseconds even for None: most runs have no store.
    return store if store is not None and isinstance(store, RuleBook) else None


def _resume(
    agent: Agent[Any],
    state: RunState,
    context: Any,
    max_turns: int | None,
    rejection_message: str | None,
    options: RunOptions,
) -> Run:
    journal = state._journal.copy()  # the run appends to its own copy
    check_session(journal.view.session_id, options.session)
    run = Run(
        root=state._agent,
        journal=journal,
        ctx=RunContext(state.context if context is None else context, _facts=journal.view),
        options=options,
        graph={**state._graph, **agent.graph()},
    )
    if journal.view.completed is None:
        run.append(RunResumed(max_turns, rejection_message, config_data(options.config)))
    return run


def _check_run_id(run_id: object, if_exists: object) -> None:
    if not isinstance(run_id, str) or not run_id or len(run_id) > 200:
        raise UserError(f"run_id is a non-empty string of at most 200 characters, not {run_id!r}.")
    if if_exists not in ("resume", "error"):
        raise UserError(f"if_exists is 'resume' or 'error', not {if_exists!r}.")


async def _stored_or(
    input: str | Sequence[Item],
    store: RunStore,
    run_id: str,
    if_exists: Literal["resume", "error"],
    agent: Agent[Any],
    context: Any,
    governance: Governance | None,
) -> str | Sequence[Item] | RunState:
    """The stored run ``run_id`` as a state to resume, or ``input`` if the store has none;
    ``RunConflictError`` if it has one and ``if_exists`` is "error".

    With "error" the store is not asked: the run's first commit (its ``RunStarted``, before
    anything of it runs) creates it only if the store has no run of that id, and raises
    ``RunConflictError`` otherwise, as two processes starting one id at once find."""
    if if_exists == "error":
        return input
    try:
        existing = await load_state(store, run_id, agent, context=context, governance=governance)
    except RunNotFoundError:
        return input
    return existing


def _check_tools(run: Run) -> None:
    """Refuse, before anything runs, a call that was decided or started on a tool its agent
    no longer has (for example an agent given without it on resume): the loop could not
    carry it out. A call not yet looked at is fine: the model reads that the tool is gone."""
    for call in run.view.calls.values():
        if call.status in (CallStatus.NEW, CallStatus.DONE) or call.hosted:
            continue
        owner = run.graph[call.agent]
        if call.name not in owner.function_tools and call.name not in owner.handoff_tools:
            # Imported here only: an import statement costs a resume microseconds even for
            # a module already loaded (it looks its package's spec up).
            from ._tool_step import missing_tool_error

            raise missing_tool_error(call, owner)


def _check_filters(agent: Agent[Any], config: RunConfig | None, server_managed: bool) -> None:
    """Refuse a handoff input filter where the server keeps the conversation: what the next
    agent sees there is the server's, not the run's to filter."""
    if not server_managed:
        return
    filtered = config is not None and config.handoff_input_filter is not None
    for each in agent.graph().values():
        filtered = filtered or any(
            entry.input_filter is not None for entry in each.handoff_entries.values()
        )
    if filtered:
        raise UserError(
            "A handoff input filter cannot be used with a server-managed conversation "
            "(previous_response_id / conversation_id): the server sends the next agent the "
            "whole conversation. Drop the filter, or keep the conversation in the run."
        )
