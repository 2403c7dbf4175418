"""The run loop: one handler per step, each appending journal events.

Streaming and non-streaming runs, fresh and resumed, all go through
``drive``. A streaming run only differs in having a ``sink`` that receives
each journal event and each model delta as it happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from .._agent import Agent
from .._context import RunContext, Usage
from .._governance import Governance
from ..approvals._always import always_decision
from ..approvals._decisions import (
    DEFAULT_GOVERNANCE,
    due,
    expiry_event,
    idempotent_rerun,
    request_event,
    review_request,
)
from ..approvals._standing import RuleBook, approving_rules, rule_decision
from ..errors import (
    GuardrailTripwireTriggered,
    MaxTurnsExceeded,
    ModelBehaviorError,
    RunError,
    RunStalledError,
    StateError,
    ToolCallInDoubtError,
    ToolError,
    ToolTimeoutError,
    UnknownToolError,
    UserError,
)
from ..handoffs import Handoff, HandoffInputData
from ..items import Item
from ..journal._events import (
    ApprovalRequested,
    Event,
    HandoffTaken,
    ModelResponded,
    RunCompleted,
    RunStarted,
    SessionSynced,
    ToolCompleted,
    ToolRejected,
    ToolStarted,
    ToolTimedOut,
)
from ..journal._fold import Call, CallStatus, RunView, function_call_problem
from ..journal._journal import Journal
from ..journal._limits import MAX_STATE_DEPTH, data_problem
from ..lifecycle import RunHooks
from ..models import (
    Model,
    ModelProvider,
    ModelRequest,
    ModelResponse,
    ModelSettings,
    ResponseDone,
    ToolSpec,
)
from ..models import ModelStreamEvent as _ModelStreamEvent
from ..models import resolve_model as _resolve_model
from ..sessions import Session, SessionError
from ..sessions._identity import session_identity
from ..tools import FunctionTool, OnTimeout, ToolArgumentsError
from . import _guardrails as guardrails
from . import _hooks as hooks
from ._agent_tools import NestedOutcome, recorded, start_call
from ._config import RunConfig, journaled_settings
from ._failure import failure_event
from ._steps import CallModel, Done, ExecuteTools, Finish, Interrupt, decide
from ._tracing import NO_TRACER, RunTracer, tracer_for

__all__ = [
    "DEFAULT_REJECTION_MESSAGE",
    "Run",
    "RunOptions",
    "StopMode",
    "drive",
    "missing_tool_error",
]

if TYPE_CHECKING:
    from ._durable import Durable

DEFAULT_REJECTION_MESSAGE = "The user rejected this call of {tool}; it was not run."
"""What the model reads for a rejected call without a message; ``{tool}`` is the tool's name."""

TIMEOUT_MESSAGE = (
    "The tool {tool} did not finish within {timeout:g} s and was cancelled. It may have "
    "had part of its effects; check before calling it again."
)
"""What the model reads for a call that ran past its timeout."""

Sink = Callable[[Event | _ModelStreamEvent], None]

StopMode = Literal["immediate", "after_turn"]
"""How a cancelled run stops: at once, or once the current turn's model call and tools end."""


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Settings of one ``Runner.run`` call that are not facts of the run (not journaled)."""

    provider: ModelProvider
    stream: bool = False
    session: Session | None = None
    tool_timeout: float | None = None
    """Seconds an async tool call may run, for tools without their own ``timeout``."""
    on_tool_timeout: OnTimeout = "error_output"
    """What a timeout does, for tools without their own ``on_timeout``."""
    hooks: RunHooks[Any] | None = None
    """Lifecycle hooks for every agent of the run."""
    config: RunConfig | None = None
    """The ``RunConfig`` given to this call (its data is journaled; its code is here only)."""
    durable: Durable | None = None
    """The store the run is kept in, if any (``Runner.run(..., store=...)``)."""
    governance: Governance = DEFAULT_GOVERNANCE
    """Approval policies, deadlines, receipt key and clock (``Runner.run(governance=...)``)."""
    rules: RuleBook | None = None
    """Where standing approvals are looked up: ``RunConfig.standing_approvals``, else the
    store. Kept for the nested runs of agents used as tools, which have no store of their own
    (their rules' uses are counted apart from the decisions then)."""


@dataclass(slots=True)
class Run:
    """A run in progress: its journal, and what it runs with."""

    root: Agent[Any]
    journal: Journal
    ctx: RunContext[Any]
    options: RunOptions
    graph: dict[str, Agent[Any]]
    sink: Sink | None = None
    start: RunStarted | None = None
    """A fresh run's first event, appended by ``drive`` once the session history is read."""
    _models: dict[str, Model] = field(default_factory=dict)
    tracer: RunTracer = NO_TRACER
    """Spans for this run (``_tracing``); set by ``drive``."""
    started_agent: str | None = None
    """The agent whose ``on_agent_start`` hooks were last called in this drive."""

    @property
    def view(self) -> RunView:
        """The run as its journal says it is."""
        return self.journal.view

    @property
    def agent(self) -> Agent[Any]:
        """The agent that runs next."""
        return self.graph[self.view.agent] if self.start is None else self.root

    def append(self, event: Event) -> None:
        self.journal.append(event)
        if self.sink is not None:
            self.sink(event)

    def model_for(self, agent: Agent[Any]) -> Model:
        model = self._models.get(agent.name)
        if model is None:
            model = self._models[agent.name] = _resolve_model(agent.model, self.options.provider)
        return model


async def drive(run: Run, stop: Callable[[], StopMode | None] | None = None) -> None:
    """Take steps until the run finishes or waits for a human (traced, if tracing is on).

    After every step the session (if any) receives the items it has not stored.
    ``stop`` is asked before each step whether the run was asked to stop: on
    ``"after_turn"`` the run ends before its next model call; on ``"immediate"``
    (asked before the run got going) before anything else runs. A run stopped
    while a step is under way is stopped by cancelling its task instead.
    A stored run holds its lease meanwhile and is checkpointed as it goes.
    """
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
            async with durable.holding(run.journal):
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


async def _checkpoint(run: Run) -> None:
    """Make what the run recorded durable before it goes on (stored runs only)."""
    if run.options.durable is not None:
        await run.options.durable.checkpoint(run.journal)


async def _drive(run: Run, stop: Callable[[], StopMode | None] | None) -> None:
    if run.start is not None:
        session = run.options.session
        history = await session.get_items() if session is not None else []
        try:
            started, run.start = replace(run.start, history=history), None
        except ValueError as exc:
            raise SessionError(f"The session's items cannot be used: {exc}.") from None
        if session is not None:  # the id a resume is checked against (see sessions/_identity)
            started = replace(started, session_id=await session_identity(session))
        run.append(started)
        await _checkpoint(run)
    guardrails.raise_recorded(run)  # a run a tripwire stopped stays stopped
    await guardrails.check_input(run)
    await _sync_session(run)
    while True:
        _expire(run)
        step = decide(run.view, run.agent)
        if isinstance(step, CallModel | ExecuteTools) and stop is not None:
            mode = stop()
            if mode == "immediate" or (mode == "after_turn" and isinstance(step, CallModel)):
                return
        if isinstance(step, CallModel | Finish):
            await _take_up_reviews(run)
        recorded = len(run.journal)
        if isinstance(step, CallModel):
            await _call_model(run)
        elif isinstance(step, ExecuteTools) and not await _execute_tools(run):
            # A call is in doubt: a person resolves it (result.in_doubt).
            await _sync_session(run)
            await _checkpoint(run)
            return
        if isinstance(step, CallModel | ExecuteTools) and len(run.journal) == recorded:
            # Such a step would be decided again from the same journal, forever.
            raise RunStalledError(type(step).__name__)
        if isinstance(step, Finish):
            await _finish(run, step)
        await _sync_session(run)
        await _checkpoint(run)
        if isinstance(step, Finish | Done | Interrupt):
            return


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
    if not view.calls or view.completed is not None:
        return
    governance = run.options.governance
    now = governance.now()
    for call in due(view, now):
        run.append(expiry_event(view, call, now, governance.receipt_key))


async def _sync_session(run: Run) -> None:
    """Store the items the session lacks, then record that it has them.

    What the session holds is a journal fact (``SessionSynced``), so a resumed
    run, in any process and with a session object opened afresh, stores
    exactly the items that were never stored. A failed ``add_items`` stores
    nothing and records nothing, so the next attempt stores the same batch once.
    """
    session, view = run.options.session, run.view
    upto = _session_limit(run)
    if session is None or view.session_upto >= upto:
        return
    items = view.items[view.session_upto : upto]
    durable = run.options.durable
    if durable is not None and durable.stored and durable.holds_session(session):
        # The session lives in the store's database: the items and the event that
        # records them commit together, so a crash can neither lose nor repeat them.
        run.append(SessionSynced(upto))
        await durable.checkpoint_with_session(run.journal, session, items)
        return
    await session.add_items(items)
    run.append(SessionSynced(upto))
    await _checkpoint(run)


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
    if run.started_agent != agent.name:
        run.started_agent = agent.name
        await hooks.agent_start(run, agent)
    chained = view.conversation_id is None and (
        view.auto_previous_response_id or view.previous_response_id is not None
    )
    request = ModelRequest(
        input=view.items[view.server_upto :] if view.server_managed else view.model_input(),
        instructions=await agent.get_instructions(run.ctx),
        tools=await _offered_tools(run, agent),
        settings=_settings(agent, view),
        output_schema=agent.output.schema if agent.output else None,
        previous_response_id=view.last_response_id if chained else None,
        conversation_id=view.conversation_id,
    )
    model = _model(run, agent)
    await hooks.llm_start(run, agent, request)
    span = run.tracer.model_start(view, agent, model, request)
    try:
        response = await _request(run, model, request)
        _check_response(response)
    except BaseException:
        run.tracer.model_end(span, None)
        raise
    run.tracer.model_end(span, response)
    try:
        responded = ModelResponded(
            agent.name, response.output, response.usage, response.response_id
        )
    except ValueError as exc:
        raise ModelBehaviorError(f"The model's response cannot be recorded: {exc}.") from None
    run.append(responded)
    await hooks.llm_end(run, agent, response)


async def _offered_tools(run: Run, agent: Agent[Any]) -> list[ToolSpec]:
    """The agent's tools, without the handoffs whose ``is_enabled`` says no right now."""
    entries = agent.handoff_entries
    if all(entry.is_enabled is True for entry in entries.values()):
        return agent.tool_specs
    offered = []
    for spec in agent.tool_specs:
        entry = entries.get(spec.name)
        if entry is None or await entry.enabled(run.ctx, agent):
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


def _check_response(response: Any) -> None:
    """Refuse a response the journal could not hold or a resumed run could not read."""
    output = getattr(response, "output", None)
    if not isinstance(output, list) or not all(isinstance(item, dict) for item in output):
        raise ModelBehaviorError(
            "The model's response has no list of output items (JSON objects); the model "
            "adapter returned something else."
        )
    response_id, usage = getattr(response, "response_id", None), getattr(response, "usage", None)
    if not isinstance(response_id, str | None) or not isinstance(usage, Usage):
        raise ModelBehaviorError(
            "The model's response has a response_id that is not a string or a usage that is "
            "not a tether Usage; the model adapter returned something else."
        )
    problem = data_problem(output, MAX_STATE_DEPTH - _ITEM_DEPTH_IN_STATE)
    if problem is not None:
        raise ModelBehaviorError(f"The model's output cannot be recorded: {problem}.")
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


_ITEM_DEPTH_IN_STATE = 4
"""How deep an output item sits in a saved state: document, journal, event, output list."""


def _settings(agent: Agent[Any], view: RunView) -> ModelSettings:
    """The agent's model settings for its next call, with the run's overrides; a forced
    ``tool_choice`` is dropped once the agent called a tool (``Agent.reset_tool_choice``),
    as the journal tells."""
    settings = agent.model_settings.merged(journaled_settings(view.run_config))
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


async def _execute_tools(run: Run) -> bool:
    """Classify, run or reject the turn's calls; ``False`` if the run must stop because a
    call is in doubt (stored runs; an in-memory run raises ``ToolCallInDoubtError``)."""
    view = run.view
    governance = run.options.governance
    doubts: list[Call] = []
    reruns: list[Call] = []  # idempotent calls in doubt
    plan: list[tuple[Call, FunctionTool | None]] = []  # None: the call was rejected
    handoffs: list[Call] = []
    for call in list(view.calls.values()):
        if call.status in (CallStatus.DONE, CallStatus.REVIEW):
            continue  # REVIEW: it ran; its output waits for a person
        if call.hosted:  # the API asked approval for a hosted MCP call: nothing runs here
            _answer_hosted(run, call)
            continue
        owner = run.graph[call.agent]
        if call.name in owner.handoff_tools:
            if call.status is CallStatus.NEW:
                handoffs.append(call)
            continue
        tool = owner.function_tools.get(call.name)
        if tool is None:
            if call.status is not CallStatus.NEW:
                raise missing_tool_error(call, owner)
            run.append(ToolCompleted(call.call_id, _unknown_tool(call.name, owner)))
            continue
        if call.status is CallStatus.NEW and tool.tool_input_guardrails:
            # Before approval: nobody is asked about a call a guardrail blocks.
            blocked = await guardrails.check_tool_input(run, tool, call)
            if blocked is not None:
                run.append(ToolRejected(call.call_id, blocked))
                continue
        if call.status is CallStatus.NEW and await _needs_approval(run, tool, call):
            run.append(request_event(run.graph, call, governance))
            if not await _apply_rules(run, call):
                await hooks.approval_requested(run, call)
        _apply_always(run, call)
        status = call.status
        if status in (CallStatus.APPROVED, CallStatus.REJECTED) and call.decision is not None:
            # The run takes the decision up now: the wait for it ends here.
            run.tracer.approval_wait(run.view, call)
            await hooks.approval_decided(run, call)
        if status is CallStatus.IN_DOUBT and not tool.idempotent:
            if run.options.durable is None:
                raise ToolCallInDoubtError(call.name, call.call_id)
            doubts.append(call)
            continue
        if status is CallStatus.IN_DOUBT:
            reruns.append(call)
        if status is CallStatus.REJECTED:
            plan.append((call, None))
        elif status not in (CallStatus.PENDING, CallStatus.SUSPENDED):
            plan.append((call, tool))
    if doubts:
        # Nothing more of this turn runs until a person settles the doubt: the model's
        # next request needs every output of the turn anyway.
        return False
    for call in reruns:  # idempotent: it runs again, and the journal says so first
        run.append(idempotent_rerun(run.view, call, governance.now()))
    await _carry_out(run, plan)
    await _take_handoffs(run, handoffs)
    return True


def _answer_hosted(run: Run, call: Call) -> None:
    """Ask for a decision on a hosted MCP call, and record it once taken: the fold sends it
    back to the API as an ``mcp_approval_response`` item on the next model call."""
    if call.status is CallStatus.NEW:
        run.append(
            ApprovalRequested(call.call_id, call.agent, call.name, call.arguments, call.fingerprint)
        )
    _apply_always(run, call)
    if call.status is CallStatus.APPROVED:
        run.append(ToolCompleted(call.call_id, "approved"))
    elif call.status is CallStatus.REJECTED:
        run.append(ToolRejected(call.call_id, _rejection(run, call)))


def _apply_always(run: Run, call: Call) -> None:
    decision = always_decision(run.view, run.graph, run.options.governance, call, run.ctx.context)
    if decision is not None:
        run.append(decision)


async def _apply_rules(run: Run, call: Call) -> bool:
    """Approve ``call``, which just asked for approval, by a live standing approval that
    matches it, if there is one; ``True`` if one did.

    On a stored run whose store keeps the rules, the use is counted in the same
    transaction that stores the decision: a crash keeps both or neither. With a rule
    book apart from the store, the use is counted first: a crash before the decision
    is stored loses that use, and the call asks again (it never runs unapproved).
    """
    book = run.options.rules
    if book is None or always_decision(
        run.view, run.graph, run.options.governance, call, run.ctx.context
    ):
        return False  # an always decision of this run applies without spending a use
    governance = run.options.governance
    now = governance.now()
    durable = run.options.durable
    for rule in await approving_rules(book, run.view, call, run.ctx.context, governance, now):
        decision = rule_decision(run.view, call, rule, governance, now)
        if durable is not None and durable.counts_rule_uses(book):
            used = await durable.checkpoint_with_rule_use(run.journal, decision, rule.id, now)
        else:
            used = await book.use_rule(rule.id, now=now)
        if used:  # else another run took its last use meanwhile (or it ended): try the next
            run.append(decision)
            return True
    return False


async def _needs_approval(run: Run, tool: FunctionTool, call: Call) -> bool:
    rule = tool.needs_approval
    if isinstance(rule, bool):
        return rule
    try:
        args = tool.parse_arguments(call.arguments)
    except ToolArgumentsError:
        return True  # fail closed: nobody approved arguments that cannot be read
    decision = rule(run.ctx, args, call.call_id)
    if inspect.isawaitable(decision):
        decision = await decision
    return bool(decision)


async def _carry_out(run: Run, plan: list[tuple[Call, FunctionTool | None]]) -> None:
    """Run the approved calls (concurrently) and record every known output in call order.

    A cancelled run records the calls that finished and leaves the ones it
    cancelled in doubt (started, no output), then goes on being cancelled.
    """
    if not plan:
        return
    to_run = [(call, tool) for call, tool in plan if tool is not None]
    for call, started in to_run:  # before any start is recorded: a failing hook leaves no doubt
        await hooks.tool_start(run, started, call)
    spans: dict[str, Any] = {}
    for call, _ in to_run:
        run.append(ToolStarted(call.call_id))
        spans[call.call_id] = run.tracer.tool_start(run.view, call)
    try:
        await _checkpoint(run)  # write-ahead: a crash from here on leaves the calls in doubt
        results, cancelled = await _run_calls(run, to_run)
    except BaseException as exc:
        for span in spans.values():
            run.tracer.tool_end(span, None, exc)
        raise
    outputs = dict(zip((call.call_id for call, _ in to_run), results, strict=True))
    failure: RunError | None = None
    finished: list[tuple[Call, FunctionTool, str]] = []
    for call, tool in plan:
        if tool is None:
            run.append(ToolRejected(call.call_id, _rejection(run, call)))
            continue
        result = outputs[call.call_id]
        span = spans.pop(call.call_id)
        if isinstance(result, NestedOutcome):  # an agent used as a tool: its nested run
            if result.events:
                run.append(recorded(call, result))
            if result.output is not None:
                run.append(ToolCompleted(call.call_id, result.output))
                finished.append((call, tool, result.output))
            run.tracer.tool_end(span, result.output)
            continue
        if isinstance(result, str):
            if tool.tool_output_guardrails:
                try:
                    result = await guardrails.check_tool_output(run, tool, call, result)
                except GuardrailTripwireTriggered as exc:
                    failure = failure or exc  # recorded; the other calls' outputs still are
                    run.tracer.tool_end(span, None, exc)
                    continue
            run.append(ToolCompleted(call.call_id, result, review=tool.review_output))
            if tool.review_output:
                run.append(review_request(call, run.options.governance))
            run.tracer.tool_end(span, result)
            finished.append((call, tool, result))
            continue
        run.tracer.tool_end(span, None, result if isinstance(result, BaseException) else None)
        if isinstance(result, _TimedOut):
            message = TIMEOUT_MESSAGE.format(tool=call.name, timeout=result.seconds)
            run.append(ToolTimedOut(call.call_id, result.seconds, message))
            if (tool.on_timeout or run.options.on_tool_timeout) == "raise":
                failure = failure or ToolTimeoutError(call.name, call.call_id, result.seconds)
        elif isinstance(result, RunError):  # tether's own (an MCP server gone): as it is
            failure = failure or result  # the call stays in doubt all the same
        elif isinstance(result, BaseException):
            # The call stays in doubt: it may have had part of its effects.
            error = ToolError(call.name, call.call_id, f"{type(result).__name__}: {result}")
            error.__cause__ = result
            failure = failure or error
    await _checkpoint(run)
    if cancelled is not None:
        raise cancelled
    for call, tool, output in finished:  # every output is recorded before any hook runs
        await hooks.tool_end(run, tool, call, output)
        if run.view.calls[call.call_id].review_requested:
            await hooks.output_review_requested(run, run.view.calls[call.call_id])
    if failure is not None:
        raise failure


@dataclass(frozen=True, slots=True)
class _TimedOut:
    seconds: float


@dataclass(frozen=True, slots=True)
class _Cancelled:
    """Cancelled with the run: no output is known, so the call stays in doubt."""


async def _run_calls(
    run: Run, to_run: list[tuple[Call, FunctionTool]]
) -> tuple[list[str | BaseException | _TimedOut | _Cancelled], asyncio.CancelledError | None]:
    """Each call's outcome, and the cancellation that stopped the run, if one did.

    Async tools run together, each within its timeout. If the run is cancelled
    meanwhile, the tools still running are cancelled too (a hung tool must not
    hold the run), and the outcomes known by then are returned with it.
    """
    results: list[str | BaseException | _TimedOut | _Cancelled] = []
    waiting: dict[int, asyncio.Task[str | _TimedOut]] = {}
    for index, (call, tool) in enumerate(to_run):
        try:
            output = start_call(run, call, tool)
        except Exception as exc:  # the tool raised and asked for no formatting
            results.append(exc)
            continue
        results.append(output if isinstance(output, str) else "")
        if not isinstance(output, str):
            timeout = tool.timeout if tool.timeout is not None else run.options.tool_timeout
            waiting[index] = asyncio.ensure_future(_within(output, timeout))
    if not waiting:
        return results, None  # sync tools only: done without a pass of the event loop
    cancelled: asyncio.CancelledError | None = None
    try:
        await asyncio.wait(waiting.values())
    except asyncio.CancelledError as exc:
        cancelled = exc
        for task in waiting.values():
            task.cancel()
        await asyncio.wait(waiting.values())
    for index, task in waiting.items():
        if task.cancelled():
            # A tool that cancelled itself while the run went on is a failure like any other.
            results[index] = _Cancelled() if cancelled else asyncio.CancelledError()
        elif (error := task.exception()) is not None:
            results[index] = error
        else:
            results[index] = task.result()
    return results, cancelled


async def _within(pending: Awaitable[str], seconds: float | None) -> str | _TimedOut:
    if seconds is None:
        return await pending
    try:
        async with asyncio.timeout(seconds) as scope:
            return await pending
    except TimeoutError:
        if scope.expired():
            return _TimedOut(seconds)
        raise  # the tool's own TimeoutError (it has no error formatter)


def missing_tool_error(call: Call, owner: Agent[Any]) -> UnknownToolError:
    """The error for a call, already decided or started, whose tool its agent no longer has."""
    known = ", ".join(sorted([*owner.function_tools, *owner.handoff_tools])) or "none"
    return UnknownToolError(
        f"Call {call.call_id!r} of tool {call.name!r} is {call.status.value}, but agent "
        f"{owner.name!r} has no tool {call.name!r} now (its tools: {known}). Resume with "
        "the agent that has the tool; nothing was run."
    )


async def _take_handoffs(run: Run, handoffs: list[Call]) -> None:
    for index, call in enumerate(handoffs):
        if index > 0:
            run.append(ToolCompleted(call.call_id, "Only one handoff is taken per turn; ignored."))
            continue
        source = run.graph[call.agent]
        entry = source.handoff_entries[call.name]
        target = entry.agent
        try:
            value = entry.parse_input(call.arguments)
        except ValueError as exc:
            message = f"Invalid arguments for handoff {call.name!r}: {exc}. Please call it again."
            run.append(ToolCompleted(call.call_id, message))
            continue
        await entry.call_on_handoff(run.ctx, value)
        run.append(ToolCompleted(call.call_id, json.dumps({"assistant": target.name})))
        run.append(HandoffTaken(call.call_id, call.agent, target.name, _filtered(run, entry)))
        run.tracer.handoff(run.view, source.name, target.name)
        await hooks.handoff(run, source, target)


def _filtered(run: Run, entry: Handoff) -> list[Item] | None:
    """What the next agent's model is sent, if an input filter decides it."""
    config = run.options.config
    input_filter = entry.input_filter or (config.handoff_input_filter if config else None)
    if input_filter is None:
        return None
    view = run.view
    items = view.model_input()
    history = len(items) - (len(view.items) - view.generated_start)
    turn = len(items) - _turn_length(view)
    data = HandoffInputData(tuple(items[:history]), tuple(items[history:turn]), tuple(items[turn:]))
    result = input_filter(data)
    if not isinstance(result, HandoffInputData):
        raise UserError(
            f"The input filter of handoff {entry.tool_name!r} returned "
            f"{type(result).__name__}; it must return a HandoffInputData."
        )
    return [dict(item) for item in result.all_items()]


def _turn_length(view: RunView) -> int:
    """How many items the current turn added: its response and the outputs since."""
    last = view.responses[-1]
    outputs = sum(1 for call in view.calls.values() if call.done)
    return len(last.output) + outputs


async def _finish(run: Run, step: Finish) -> None:
    output = run.agent.output
    if step.text is not None and output is not None:
        try:
            value = output.parse(step.text)
            completed = RunCompleted(output.dump(value))
        except ValueError as exc:
            raise ModelBehaviorError(f"The final output cannot be recorded: {exc}.") from None
    else:
        value = step.text if step.text is not None else step.tool_output
        completed = RunCompleted(value)
    await guardrails.check_output(run, value)
    run.append(completed)
    await hooks.agent_end(run, run.agent, value)


def _rejection(run: Run, call: Call) -> str:
    decision = call.decision
    if decision is not None and decision.message:
        return decision.message
    config = run.options.config
    if config is not None and callable(config.rejection_message):
        return str(config.rejection_message(call.approval_item()))
    # The run's own message (journaled when it started or last resumed), so it carries
    # across resumes in any process.
    template = run.view.rejection_message or DEFAULT_REJECTION_MESSAGE
    return template.replace("{tool}", call.name)


def _unknown_tool(name: str, agent: Agent[Any]) -> str:
    known = ", ".join(sorted([*agent.function_tools, *agent.handoff_tools])) or "none"
    return f"There is no tool named {name!r}. The available tools are: {known}."
