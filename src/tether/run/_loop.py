"""The run loop: one handler per step, each appending journal events.

Streaming and non-streaming runs, fresh and resumed, all go through
``drive``. A streaming run only differs in having a ``sink`` that receives
each journal event and each model delta as it happens.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .._agent import Agent
from .._context import Usage
from .._frozen import MAX_DEPTH, freeze
from ..approvals._decisions import (
    due,
    expiry_event,
)
from ..errors import (
    MaxTurnsExceeded,
    ModelBehaviorError,
    RunStalledError,
    StateError,
)
from ..journal import ModelResponded, RunCompleted, SessionSynced
from ..journal._fold import CallStatus, RunView, function_call_problem
from ..journal._limits import MAX_STATE_DEPTH
from ..models import (
    Model,
    ModelRequest,
    ModelResponse,
    ModelSettings,
    ResponseDone,
    ToolSpec,
)
from ..models import resolve_model as _resolve_model
from ..sessions import SessionError
from ..sessions._identity import session_identity
from . import _guardrails as guardrails
from . import _hooks as hooks
from ._commit_plan import decided_calls_start_first, outputs_may_wait, quiet_tool_step
from ._config import journaled_settings
from ._failure import failure_event
from ._run import Run, StopMode, checkpoint
from ._steps import CallModel, DecideToolUse, Done, ExecuteTools, Finish, Interrupt, Step, next_step
from ._tool_step import execute_tools
from ._tool_use import decide_tool_use, decided_completion, final_value
from ._tracing import tracer_for

__all__ = ["drive"]


async def drive(run: Run, stop: Callable[[], StopMode | None] | None = None) -> None:
    """Take steps until the run finishes or waits for a human (traced, if tracing is on).

    After every step the session (if any) receives the items it has not stored.
    ``stop`` is asked before each step whether the run was asked to stop: on
    ``"after_turn"`` the run ends before its next model call; on ``"immediate"``
    (asked before the run got going) before anything else runs. A run stopped
    while a step is under way is stopped by cancelling its task instead.
    A stored run holds its lease meanwhile and is checkpointed as it goes.
    """
    run.task = asyncio.current_task()  # asked once a drive, not at every tool call
    fresh = run.start
    data = (fresh.run_config if fresh is not None else run.view.run_config) or {}
    run.tracer = tracer_for(run.options.config, data)
    run_id = fresh.run_id if fresh is not None else run.view.run_id
    agent = fresh.agent if fresh is not None else run.view.agent
    trace_parent = run.tracer.begin(run.view, run_id, agent, resumed=fresh is None)
    if fresh is not None and trace_parent is not None:
        run.start = replace(fresh, trace_parent=trace_parent)
    try:
        durable = run.options.durable
        if durable is None:
            await _drive_or_fail(run, stop)
        else:
            first = decided_calls_start_first(run)  # then the first commit takes the lease
            async with durable.holding(run.journal, take_with_first_append=first):
                await _drive_or_fail(run, stop)
    except BaseException as exc:
        run.tracer.end(exc)
        raise
    run.tracer.end(None)


async def _drive_or_fail(run: Run, stop: Callable[[], StopMode | None] | None) -> None:
    """``_drive``, recording ``RunFailed`` when the run stops on an error of its own (a
    stored run's last checkpoint then stores it: a failed run never looks like a running
    one)."""
    try:
        await _drive(run, stop)
    except Exception as exc:
        failure = failure_event(exc, run.options.governance.now())
        # A run with a call in doubt waits for a person to settle it (the error may have
        # come after the call's side effect): it is in doubt, not failed.
        if failure is not None and run.view.status not in ("completed", "failed", "in_doubt"):
            with contextlib.suppress(StateError):
                run.append(failure)
        raise


async def _drive(run: Run, stop: Callable[[], StopMode | None] | None) -> None:
    if run.start is not None:
        session = run.options.session
        started, run.start = run.start, None
        if session is not None:  # without one, the start has its history already: none
            try:
                started = replace(started, history=await session.get_items())
            except ValueError as exc:
                raise SessionError(f"The session's items cannot be used: {exc}.") from None
            # The id a resume is checked against (see sessions/_identity).
            started = replace(started, session_id=await session_identity(session))
        run.append(started)
        if run.options.durable is not None:  # (a run in memory: no coroutine to await)
            await checkpoint(run)
    guardrails.raise_recorded(run)  # a run a tripwire stopped stays stopped
    if run.root.input_guardrails:
        await guardrails.check_input(run)
    try:
        await _steps(run, stop)
    finally:
        if run.beside is not None:  # the run stopped before its first model call
            beside, run.beside = run.beside, None
            beside.cancel()
            await asyncio.gather(beside, return_exceptions=True)


async def _steps(run: Run, stop: Callable[[], StopMode | None] | None) -> None:
    if run.options.session is not None:
        await _sync_session(run)
    while True:
        _expire(run)
        step = next_step(run.view, run.agent)
        if isinstance(step, DecideToolUse):
            step = await decide_tool_use(run)
        if isinstance(step, _ACTS) and stop is not None:
            mode = stop()
            if mode == "immediate" or (mode == "after_turn" and isinstance(step, CallModel)):
                return
        if isinstance(step, _TAKES_REVIEWS) and _reviewed(run.view):
            await _take_up_reviews(run)
        recorded = run.view.events  # (the fold's count of events: no call, as len() makes)
        if isinstance(step, CallModel):
            await _call_model(run)
        elif isinstance(step, ExecuteTools) and not await execute_tools(run, drive):
            # A call is in doubt: a person resolves it (result.in_doubt).
            await _sync_session(run)
            await checkpoint(run)
            return
        if isinstance(step, _ACTS) and run.view.events == recorded:
            # Such a step would be decided again from the same journal, forever.
            raise RunStalledError(type(step).__name__)
        if isinstance(step, Finish):
            await _finish(run, step)
        if run.options.session is not None:  # (most runs have none: no coroutine a step)
            await _sync_session(run)
        if isinstance(step, _ENDS):
            # The run stops: what is left is stored by its last commit (``Durable.holding``),
            # which gives the lease up with it, not in a transaction of its own after it.
            return
        if run.options.durable is not None and not _commit_waits(run, step):
            await checkpoint(run)  # (a run in memory has nothing to commit: no coroutine)


_ACTS = (CallModel, ExecuteTools)
"""Steps that must record something (tuples: ``isinstance`` with ``A | B`` builds the union
each time, several times a turn)."""
_TAKES_REVIEWS = (CallModel, Finish)
_ENDS = (Finish, Done, Interrupt)


def _commit_waits(run: Run, step: Step) -> bool:
    """Whether what the step recorded may wait for the run's next commit: a session's items
    the store holds (nothing acts on them), or a model response nothing acts on before the
    next step commits it. When the run stops, its last commit takes whatever is left."""
    durable = run.options.durable
    if durable is None:
        return True  # nothing to commit: a run in memory skips the checkpoint's await
    if durable.session_only(run.journal):
        return True
    if isinstance(step, ExecuteTools):
        # Calls that now wait for people: the run stops at its next step (unless an
        # approval expires first), and its last commit takes what the step recorded.
        return outputs_may_wait(run) or run.view.status == "waiting"
    return isinstance(step, CallModel) and _commits_with_next_step(run)


def _commits_with_next_step(run: Run) -> bool:
    """Whether the model's response may wait for the next step's first commit instead of
    taking one of its own (one fsync a turn fewer).

    The write-ahead rule holds either way: a response is durable before anything acts on
    it. So it waits only when nothing in the next step acts before that step commits: a
    tool step whose calls' ``ToolStarted`` (or approval requests) are committed with it
    before any tool runs (``quiet_tool_step``), or a final output with no output guardrail.
    A lifecycle hook is code that may act: with hooks, every response commits at once.
    """
    if hooks.wanted(run, run.agent):
        return False
    step = next_step(run.view, run.agent)
    if isinstance(step, ExecuteTools):
        return quiet_tool_step(run)
    return isinstance(step, Finish) and not run.agent.output_guardrails


def _reviewed(view: RunView) -> bool:
    """Whether a call of the turn has a reviewed output (most turns have none: no coroutine
    for ``_take_up_reviews`` then)."""
    for call in view.calls.values():  # noqa: SIM110  (``any`` over a generator: a frame more)
        if call.review is not None:
            return True
    return False


async def _take_up_reviews(run: Run) -> None:
    """Call the review hooks for the turn's reviewed outputs, which the model reads next (or
    which end the run): the moment the run takes the reviews up."""
    for call in list(run.view.calls.values()):
        if call.review is not None:
            await hooks.output_reviewed(run, call)


def _expire(run: Run) -> None:
    """Reject, as the system, the calls whose approval passed its deadline: they never run,
    and the model reads that the approval expired."""
    view = run.view
    if view.completed is not None:
        return
    for call in view.calls.values():
        requested = call.requested
        if requested is not None and requested.expires_at is not None:
            break
    else:
        return  # no call of the turn has a deadline
    governance = run.options.governance
    expired = due(view, governance.now)  # reads the clock only if a call has a deadline
    if expired:
        now = governance.now()
        for call in expired:
            run.append(expiry_event(view, call, now, governance.receipt_key))


async def _sync_session(run: Run) -> None:
    """Store the items the session lacks, then record that it has them.

    What the session holds is a journal fact (``SessionSynced``), so a resumed
    run, in any process and with a session object opened afresh, stores
    exactly the items that were never stored. A failed ``add_items`` stores
    nothing and records nothing, so the next attempt stores the same batch once.
    """
    session, view = run.options.session, run.view
    if session is None:
        return
    upto = _session_limit(run)
    if view.session_upto >= upto:
        return
    items = view.items[view.session_upto : upto]
    durable = run.options.durable
    if durable is not None and durable.stored and durable.holds_session(session):
        # The session lives in the store's database: the items and the event that
        # records them commit together (a crash can neither lose nor repeat them), with
        # the run's next commit.
        run.append(SessionSynced(upto))
        durable.sync_session(session, items)
        return
    await session.add_items(items)
    run.append(SessionSynced(upto))
    await checkpoint(run)


def _session_limit(run: Run) -> int:
    """How far the session may store the conversation now: not past a call an approver may
    still edit, so that the session stores each call once, as it runs."""
    view = run.view
    upto = len(view.items)
    for call in view.calls.values():
        if call.hosted or call.status not in (CallStatus.NEW, CallStatus.PENDING):
            continue
        owner = run.graph.get(call.agent)
        tool = owner.function_tools.get(call.name) if owner is not None else None
        if tool is not None and tool.editable is not False:
            upto = min(upto, call.index)
    return upto


async def _call_model(run: Run) -> None:
    view, agent = run.view, run.agent
    if view.turns >= view.max_turns:
        raise MaxTurnsExceeded(view.max_turns)
    hooked = hooks.wanted(run, agent)
    if run.started_agent != agent.name:
        run.started_agent = agent.name
        if hooked:
            await hooks.agent_start(run, agent)
    chained = view.conversation_id is None and (
        view.auto_previous_response_id or view.previous_response_id is not None
    )
    request = ModelRequest(
        input=view.items[view.server_upto :] if view.server_managed else view.model_input(),
        instructions=await agent.get_instructions(run.ctx),
        tools=await _offered_tools(run, agent) if agent.enabled_checks else agent.tool_specs,
        settings=_settings(agent, view),
        output_schema=agent.output.schema if agent.output else None,
        previous_response_id=view.last_response_id if chained else None,
        conversation_id=view.conversation_id,
    )
    model = _model(run, agent)
    if hooked:
        await hooks.llm_start(run, agent, request)
    span = run.tracer.model_start(view, agent, model, request)
    try:
        if run.beside is None and not run.options.stream:  # the model's own coroutine, alone
            response = await model.get_response(request)
        else:
            response = await _request(run, model, request)
        output = _checked_output(response)
    except BaseException:
        run.tracer.model_end(span, None)
        raise
    run.tracer.model_end(span, response)
    try:
        responded = ModelResponded(agent.name, output, response.usage, response.response_id)
    except ValueError as exc:
        raise ModelBehaviorError(f"The model's response cannot be recorded: {exc}.") from None
    run.append(responded)
    if hooked:
        await hooks.llm_end(run, agent, response)


async def _offered_tools(run: Run, agent: Agent[Any]) -> list[ToolSpec]:
    """The agent's tools, without the tools and handoffs whose ``is_enabled`` says no now."""
    asks = agent.enabled_checks
    if not asks:
        return agent.tool_specs
    offered = []
    for spec in agent.tool_specs:
        ask = asks.get(spec.name)
        if ask is None or await ask.enabled(run.ctx, agent):
            offered.append(spec)
    return offered


def _model(run: Run, agent: Agent[Any]) -> Model:
    """The model ``agent`` calls: the run's ``RunConfig.model`` if it has one, else its own."""
    config = run.options.config
    if config is not None and config.model is not None and not isinstance(config.model, str):
        return config.model
    name = run.view.run_config.get("model")
    if isinstance(name, str):
        cached = run._models.get("\0run_config")
        if cached is None:
            cached = run._models["\0run_config"] = _resolve_model(name, run.options.provider)
        return cached
    return run.model_for(agent)


def _checked_output(response: Any) -> list[dict[str, Any]]:
    """The response's output, frozen as the journal holds it; a ``ModelBehaviorError`` for
    a response the journal could not hold or a resumed run could not read."""
    output = getattr(response, "output", None)
    if not isinstance(output, list):
        raise _no_items()
    for item in output:  # (a loop: ``all`` over a generator costs a frame a turn)
        if not isinstance(item, dict):
            raise _no_items()
    response_id, usage = getattr(response, "response_id", None), getattr(response, "usage", None)
    if (response_id is not None and not isinstance(response_id, str)) or not isinstance(
        usage, Usage
    ):
        raise ModelBehaviorError(
            "The model's response has a response_id that is not a string or a usage that is "
            "not a tether Usage; the model adapter returned something else."
        )
    # Frozen here, once, with the depth limit of a saved state (an output item sits
    # _ITEM_DEPTH_IN_STATE deep in one): one walk both checks and freezes it, and
    # ModelResponded keeps the frozen list as it is. Parts already frozen are not walked
    # again: they come from a journal, whose own freeze held them to its limit.
    limit = MAX_STATE_DEPTH - _ITEM_DEPTH_IN_STATE
    try:
        output = freeze(output, MAX_DEPTH - limit - 1)
    except ValueError:
        raise ModelBehaviorError(
            f"The model's output cannot be recorded: the data nests deeper than {limit} levels."
        ) from None
    call_ids: set[str] = set()
    for item in output:
        if item.get("type") != "function_call":
            continue
        problem = function_call_problem(item)
        if problem is not None:
            raise ModelBehaviorError(f"Unusable model output: a function call {problem}.")
        if item["call_id"] in call_ids:
            raise ModelBehaviorError(
                f"The model returned two tool calls with one call id: {item['call_id']!r}."
            )
        call_ids.add(item["call_id"])
    return output  # type: ignore[no-any-return]


def _no_items() -> ModelBehaviorError:
    return ModelBehaviorError(
        "The model's response has no list of output items (JSON objects); the model "
        "adapter returned something else."
    )


_ITEM_DEPTH_IN_STATE = 4
"""How deep an output item sits in a saved state: document, journal, event, output list."""


def _settings(agent: Agent[Any], view: RunView) -> ModelSettings:
    """The agent's model settings for its next call, with the run's overrides; a forced
    ``tool_choice`` is dropped once the agent called a tool (``Agent.reset_tool_choice``),
    as the journal tells."""
    settings = agent.model_settings
    if view.run_config.get("model_settings"):  # the run's own settings: most runs have none
        settings = settings.merged(journaled_settings(view.run_config))
    if settings.tool_choice is not None and agent.reset_tool_choice:
        used = any(
            response.agent == agent.name
            and any(item.get("type") == "function_call" for item in response.output)
            for response in view.responses
        )
        if used:
            settings = replace(settings, tool_choice=None)
    return settings


async def _request(run: Run, model: Model, request: ModelRequest) -> ModelResponse:
    beside, run.beside = run.beside, None
    if beside is None:
        return await _ask(run, model, request)
    # Input guardrails run beside this (the first) call: a tripwire cancels it; its
    # response counts only once every check passed.
    asking = asyncio.ensure_future(_ask(run, model, request))
    both: set[asyncio.Future[Any]] = {asking, beside}
    try:
        await asyncio.wait(both, return_when=asyncio.FIRST_EXCEPTION)
        if beside.done() and beside.exception() is not None:
            asking.cancel()
        await beside
        return await asking
    finally:
        for task in both:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


async def _ask(run: Run, model: Model, request: ModelRequest) -> ModelResponse:
    if not run.options.stream:
        return await model.get_response(request)
    response: ModelResponse | None = None
    async for event in model.stream_response(request):
        if isinstance(event, ResponseDone):
            response = event.response
        elif run.sink is not None:
            run.sink(event)
    if response is None:
        raise ModelBehaviorError("The model's stream ended without a complete response.")
    return response


async def _finish(run: Run, step: Finish) -> None:
    output = run.agent.output
    if step.decided:
        value, completed = decided_completion(run, step.value)
    elif step.text is not None and output is not None:
        try:
            value = output.parse(step.text)
            completed = RunCompleted(output.dump(value))
        except ValueError as exc:
            raise ModelBehaviorError(f"The final output cannot be recorded: {exc}.") from None
    else:
        completed = RunCompleted(step.text if step.text is not None else step.tool_output)
        value = final_value(run, completed)
    if run.agent.output_guardrails:
        await guardrails.check_output(run, value)
    run.append(completed)
    agent = run.agent
    if hooks.wanted(run, agent):
        await hooks.agent_end(run, agent, value)
