"""The tool step of a turn: classify the turn's calls, ask for approval, carry out the
approved ones (concurrently, each within its timeout), reject the others, take a handoff.

Every outcome is a journal event, each call's committed as soon as that call finishes; a call
started and not finished is in doubt, settled as its tool declares (``_doubt``) or by a
person (``RunState.resolve_doubt``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass
from typing import Any

from .._agent import Agent
from .._tool_output import ToolOutput, output_text
from ..approvals._always import always_decision
from ..approvals._decisions import request_event, review_request
from ..approvals._rule import forget as forget_rules
from ..approvals._standing import approving_rules, rule_decision
from ..errors import (
    GuardrailTripwireTriggered,
    RunError,
    ToolCallInDoubtError,
    ToolError,
    ToolTimeoutError,
    UnknownToolError,
)
from ..journal import (
    ApprovalRequested,
    Call,
    ToolCompleted,
    ToolRejected,
    ToolStarted,
    ToolTimedOut,
)
from ..journal._binding import idempotency_key
from ..journal._call import APPROVED, DONE, IN_DOUBT, NEW, PENDING, REJECTED, REVIEW, SUSPENDED
from ..tools import FunctionTool, ToolArgumentsError
from . import _guardrails as guardrails
from . import _hooks as hooks
from ._agent_tools import NestedOutcome, recorded, start_call
from ._commit_plan import outputs_may_wait
from ._config import DEFAULT_REJECTION_MESSAGE
from ._doubt import iso_now, retry, settle
from ._handoff_step import take_handoffs
from ._inline import isolated
from ._run import Driver, Run, checkpoint
from ._tracing import NO_TRACER

__all__ = ["execute_tools", "missing_tool_error"]

TIMEOUT_MESSAGE = (
    "The tool {tool} did not finish within {timeout:g} s and was cancelled. It may have "
    "had part of its effects; check before calling it again."
)
"""What the model reads for a call that ran past its timeout."""


async def execute_tools(run: Run, drive: Driver) -> bool:
    """Classify, run or reject the turn's calls; ``False`` if the run must stop because a
    call is in doubt (stored runs; an in-memory run raises ``ToolCallInDoubtError``)."""
    view = run.view
    governance = run.options.governance
    doubts: list[Call] = []
    plan: list[tuple[Call, FunctionTool | None]] = []  # None: the call was rejected
    handoffs: list[Call] = []
    for call in list(view.calls.values()):
        if call.status in (DONE, REVIEW):
            continue  # REVIEW: it ran; its output waits for a person
        if call.hosted:  # the API asked approval for a hosted MCP call: nothing runs here
            _answer_hosted(run, call)
            continue
        owner = run.graph[call.agent]
        if call.name in owner.handoff_tools:
            if call.status is NEW:
                handoffs.append(call)
            continue
        tool = owner.function_tools.get(call.name)
        if tool is None:
            if call.status is not NEW:
                raise missing_tool_error(call, owner)
            run.append(ToolCompleted(call.call_id, _unknown_tool(call.name, owner)))
            continue
        if tool.tool_input_guardrails and call.status is NEW:
            # Before approval: nobody is asked about a call a guardrail blocks.
            blocked = await guardrails.check_tool_input(run, tool, call)
            if blocked is not None:
                run.append(ToolRejected(call.call_id, blocked))
                continue
        if (
            tool.needs_approval is not False
            and call.status is NEW
            and (tool.needs_approval is True or await _needs_approval(run, tool, call))
        ):
            run.append(request_event(run.graph, call, governance))
            if not await _apply_rules(run, call):
                await hooks.approval_requested(run, call)
        if run.view.always:  # an "always" decision in this run (most have none: no call)
            _apply_always(run, call)
        status = call.status
        if status in (APPROVED, REJECTED) and call.decision is not None:
            # The run takes the decision up now: the wait for it ends here.
            run.tracer.approval_wait(run.view, call)
            await hooks.approval_decided(run, call)
        if status is IN_DOUBT:
            # The tool may settle it (run again with its key, or reconcile), else a person.
            settled = await settle(run, call, tool)
            if settled is None and run.options.durable is None:
                raise ToolCallInDoubtError(call.name, call.call_id)
            if settled != "run_again":
                if settled is None:
                    doubts.append(call)
                continue
            status = call.status
        if status is REJECTED:
            plan.append((call, None))
        elif status not in (PENDING, SUSPENDED):
            plan.append((call, tool))
    if doubts:
        # Nothing more of this turn runs until a person settles the doubt: the model's
        # next request needs every output of the turn anyway.
        return False
    await _carry_out(run, plan, drive)
    if handoffs:
        await take_handoffs(run, handoffs)
    return True


def _answer_hosted(run: Run, call: Call) -> None:
    """Ask for a decision on a hosted MCP call, and record it once taken: the fold sends it
    back to the API as an ``mcp_approval_response`` item on the next model call."""
    if call.status is NEW:
        run.append(
            ApprovalRequested(call.call_id, call.agent, call.name, call.arguments, call.fingerprint)
        )
    _apply_always(run, call)
    if call.status is APPROVED:
        run.append(ToolCompleted(call.call_id, "approved"))
    elif call.status is REJECTED:
        run.append(ToolRejected(call.call_id, _rejection(run, call)))


def _apply_always(run: Run, call: Call) -> None:
    if not run.view.always:  # no "always" decision in this run
        return
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
    for _ in range(2):  # rules read earlier in the drive, then, if none could be used, afresh
        rules = await approving_rules(
            book, run.view, call, run.ctx.context, governance, now, read=run.rules_read
        )
        for rule in rules:
            decision = rule_decision(run.view, call, rule, governance, now)
            if durable is not None and durable.counts_rule_uses(book):
                used = await durable.checkpoint_with_rule_use(run.journal, decision, rule.id, now)
            else:
                used = await book.use_rule(rule.id, now=now)
            if used:  # else another run took its last use meanwhile (or it ended): next
                run.append(decision)
                return True
        if not rules or not forget_rules(run.rules_read, call):
            break
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


async def _carry_out(run: Run, plan: list[tuple[Call, FunctionTool | None]], drive: Driver) -> None:
    """Run the approved calls (concurrently), recording each call's outcome, durably, as
    soon as it is known: a crash then leaves in doubt only the calls still running.

    A cancelled run leaves the calls it cancelled in doubt (started, no output), then goes
    on being cancelled.
    """
    if not plan:
        return
    # One loop for what to run, its ids and whether hooks are wanted (comprehensions and
    # ``any`` over a generator each cost a frame, every tool step).
    to_run: list[tuple[Call, FunctionTool]] = []
    call_ids: list[str] = []
    hooked = False
    for call, tool in plan:
        if tool is not None:
            to_run.append((call, tool))
            call_ids.append(call.call_id)
            hooked = hooked or hooks.wanted(run, run.graph[call.agent])
    for call, started in to_run if hooked else ():  # before any start: no doubt if one fails
        await hooks.tool_start(run, started, call)
    at = iso_now(run.options.governance)
    outcome = _Outcome(call_ids)
    for call, _ in to_run:
        run.append(ToolStarted(call.call_id, at=at))
        outcome.spans[call.call_id] = run.tracer.tool_start(run.view, call)
    # A run in memory has nothing to commit: its checkpoints (coroutines that would find
    # nothing to do) are not awaited here, a few a turn.
    durable = run.options.durable is not None
    try:
        if durable:
            await checkpoint(run)  # write-ahead: a crash from here on leaves the calls in doubt
        cancelled = await _run_calls(run, plan, drive, outcome)
    except BaseException as exc:
        for span in outcome.spans.values():
            run.tracer.tool_end(span, None, exc)
        raise
    if durable and (cancelled is not None or not outputs_may_wait(run)):
        await checkpoint(run)
    if cancelled is not None:
        raise cancelled
    finished = outcome.finished
    if len(finished) > 1:
        order = outcome.order
        finished = sorted(finished, key=lambda f: order[f[0].call_id])
    for call, tool, output in finished:
        if hooked:
            await hooks.tool_end(run, tool, call, output)  # every output is recorded by now
        if run.view.calls[call.call_id].review_requested:
            await hooks.output_review_requested(run, run.view.calls[call.call_id])
    if outcome.failures:
        raise min(outcome.failures, key=lambda f: outcome.order[f[0]])[1]


class _Outcome:
    """What the turn's calls did, as they finish (in any order).

    A plain class: a dataclass's ``__init__`` calls each ``default_factory``, one made every
    tool step."""

    __slots__ = ("call_ids", "failures", "finished", "spans")

    def __init__(self, call_ids: list[str]) -> None:
        self.call_ids = call_ids
        self.spans: dict[str, Any] = {}
        self.finished: list[tuple[Call, FunctionTool, ToolOutput]] = []
        self.failures: list[tuple[str, RunError]] = []
        """Each call's error that stops the run once every call has finished."""

    @property
    def order(self) -> dict[str, int]:
        return {call_id: index for index, call_id in enumerate(self.call_ids)}


@dataclass(frozen=True, slots=True)
class _TimedOut:
    seconds: float


Result = ToolOutput | NestedOutcome | BaseException | _TimedOut

_OUTPUT = (str, list)
"""A tool's output: text or content parts (a tuple: ``str | list`` in ``isinstance`` would
build the union at every call)."""


async def _run_calls(
    run: Run, plan: list[tuple[Call, FunctionTool | None]], drive: Driver, outcome: _Outcome
) -> asyncio.CancelledError | None:
    """Run the calls (``None``: reject it), each recorded (and committed) as it finishes;
    the cancellation that stopped the run, if one did.

    Async tools run together, each within its timeout. If the run is cancelled
    meanwhile, the tools still running are cancelled too (a hung tool must not
    hold the run); what finished by then is recorded.
    """
    tasks: list[asyncio.Task[None]] = []
    try:
        for call, tool in plan:
            if tool is None:
                run.append(ToolRejected(call.call_id, _rejection(run, call)))
                continue
            try:
                output = start_call(run, call, tool, drive)
            except Exception as exc:  # the tool raised and asked for no formatting
                # A sync tool's retries, if its error allows them, run before the next starts.
                await _finish(run, call, tool, _raised(exc), outcome, drive)
                continue
            if isinstance(output, _OUTPUT):  # a sync tool, done: recorded before the next
                if run.options.durable is None and not tool.tool_output_guardrails:
                    _note(run, call, tool, output, outcome)  # nothing to await
                else:
                    await _record(run, call, tool, output, outcome)
                continue
            if len(plan) == 1:  # nothing to run beside it: no task (see _inline)
                # A coroutine: ``FunctionTool.start``'s, or an agent tool's nested run.
                await _alone(run, call, tool, output, outcome, drive)  # type: ignore[arg-type]
                break
            finish = _finish(run, call, tool, _limited(output, _timeout(run, tool)), outcome, drive)
            tasks.append(asyncio.ensure_future(finish))
        if tasks:
            await (_await_one(tasks[0]) if len(tasks) == 1 else asyncio.wait(tasks))
    except asyncio.CancelledError as exc:
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        return exc
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    for task in tasks:
        if (error := task.exception()) is not None:  # recording failed (a store refused)
            raise error
    return None


async def _alone(
    run: Run,
    call: Call,
    tool: FunctionTool,
    output: Coroutine[Any, Any, ToolOutput],
    outcome: _Outcome,
    drive: Driver,
) -> None:
    """Await the turn's only call in this task, as if in a task of its own (``_inline``):
    the run's cancellation reaches the tool, and is raised even if the tool swallowed it
    and returned (as awaiting its task would), once what the tool returned is recorded.

    ``_finish`` inlined for the usual outcome, an output nothing checks or commits: it is
    appended as a sync tool's is, and no coroutine but the tool's runs a step."""
    current = run.task
    asked = current.cancelling() if current else 0
    context = contextvars.copy_context()  # the tool's, as a task's would be
    seconds = tool.timeout if tool.timeout is not None else run.options.tool_timeout
    pending: Coroutine[Any, Any, Result] = output if seconds is None else _within(output, seconds)
    result: Result
    try:
        # Its first step taken here: most tools finish in it, and then no generator runs.
        try:
            waiting = context.run(pending.send, None)
        except StopIteration as done:
            result = done.value
        else:
            result = await isolated(pending, context, waiting)
    except asyncio.CancelledError as cancelled:
        result = _own_cancellation(cancelled)
    except Exception as exc:
        result = exc
    if (
        isinstance(result, _OUTPUT)
        and run.options.durable is None
        and not tool.tool_output_guardrails
    ):
        _note(run, call, tool, result, outcome)
    else:  # a retry, a check or a commit: in the tool's context, as in its task
        await isolated(_finish(run, call, tool, _ready(result), outcome, drive), context)
    if current and current.cancelling() > asked:
        raise asyncio.CancelledError


async def _ready(result: Result) -> Result:
    """A call's result known already, as ``_finish`` awaits one (raised if it is an error)."""
    if isinstance(result, BaseException):
        raise result
    return result


async def _await_one(task: asyncio.Task[None]) -> None:
    """``asyncio.wait([task])`` for less (no waiter future, no callbacks): its error is left
    for ``task.exception()``; the run's cancellation reaches the task through the await,
    and is raised even if the tool swallowed it and returned (as ``wait`` would)."""
    current = asyncio.current_task()
    asked = current.cancelling() if current else 0
    with contextlib.suppress(Exception):
        await task
    if current and current.cancelling() > asked:
        raise asyncio.CancelledError


async def _finish(
    run: Run,
    call: Call,
    tool: FunctionTool,
    pending: Awaitable[Any],
    outcome: _Outcome,
    drive: Driver,
) -> None:
    """Await a call, try it again while its error allows (``retry_on``), and record its
    outcome; cancelled with the run, it records nothing (it stays in doubt)."""
    effects = tool.side_effects
    # ``_settled(pending)``, inline: a coroutine fewer between the run and the tool.
    result: Result
    try:
        result = await pending
    except asyncio.CancelledError as cancelled:
        result = _own_cancellation(cancelled)
    except Exception as exc:
        result = exc
    retried = 0
    while isinstance(result, Exception) and effects.may_retry(result, retried):
        retried += 1
        if effects.retry_delay:
            await asyncio.sleep(effects.retry_delay)  # the call is in doubt meanwhile
        retry(run, call, result, retried, effects.retries)
        await checkpoint(run)
        result = await _settled(_attempt(run, call, tool, drive))
    if retried and isinstance(result, Exception) and effects.may_retry(result, 0):
        result = _told(run, call, tool, result)  # the last try failed too: the model reads it
    await _record(run, call, tool, result, outcome)


async def _settled(pending: Awaitable[Any]) -> Result:
    """What an awaited call came to: its output, or the error it raised."""
    try:
        return await pending  # type: ignore[no-any-return]
    except asyncio.CancelledError as cancelled:
        return _own_cancellation(cancelled)
    except Exception as exc:
        return exc


def _own_cancellation(cancelled: asyncio.CancelledError) -> asyncio.CancelledError:
    """A cancellation a call raised, as the call's failure if the tool cancelled itself (a
    failure like any other); the run's own (its task is being cancelled) is raised on."""
    task = asyncio.current_task()
    if task is not None and task.cancelling() > 0:
        raise cancelled
    return asyncio.CancelledError()


async def _attempt(run: Run, call: Call, tool: FunctionTool, drive: Driver) -> Result:
    """One more run of a call that failed with an error proving nothing happened."""
    output = start_call(run, call, tool, drive)
    return output if isinstance(output, _OUTPUT) else await _limited(output, _timeout(run, tool))


async def _raised(error: Exception) -> str:
    raise error


def _told(run: Run, call: Call, tool: FunctionTool, error: Exception) -> Result:
    """What the model reads of ``error`` (the error itself if the tool formats none)."""
    try:
        return tool.told(run.ctx.for_call(call.call_id, idempotency_key(run.view, call)), error)
    except Exception as exc:
        return exc


def _timeout(run: Run, tool: FunctionTool) -> float | None:
    return tool.timeout if tool.timeout is not None else run.options.tool_timeout


async def _record(
    run: Run, call: Call, tool: FunctionTool, result: Result, outcome: _Outcome
) -> None:
    """Record what one call did and commit it at once (serialized with the other calls'
    commits by the run's checkpoint)."""
    tripped = False
    if isinstance(result, _OUTPUT) and tool.tool_output_guardrails:
        try:
            result = await guardrails.check_tool_output(run, tool, call, result)
        except GuardrailTripwireTriggered as exc:
            outcome.failures.append((call.call_id, exc))  # recorded; other calls go on
            run.tracer.tool_end(outcome.spans.pop(call.call_id), None, exc)
            tripped = True
    if not tripped:
        _note(run, call, tool, result, outcome)
    if run.options.durable is not None and not outputs_may_wait(run):
        await checkpoint(run)


def _note(run: Run, call: Call, tool: FunctionTool, result: Result, outcome: _Outcome) -> None:
    """Append what one call did (an output its guardrails passed)."""
    span = outcome.spans.pop(call.call_id)
    if isinstance(result, NestedOutcome):  # an agent used as a tool: its nested run
        if result.events:
            run.append(recorded(call, result))
        if result.output is not None:
            run.append(ToolCompleted(call.call_id, result.output))
            outcome.finished.append((call, tool, result.output))
        run.tracer.tool_end(span, result.output)
    elif isinstance(result, _OUTPUT):
        run.append(ToolCompleted(call.call_id, result, review=tool.review_output))
        if tool.review_output:
            run.append(review_request(call, run.options.governance))
        if run.tracer is not NO_TRACER:  # (content parts' text is their JSON: made if traced)
            run.tracer.tool_end(span, output_text(result))
        outcome.finished.append((call, tool, result))
    else:
        run.tracer.tool_end(span, None, result if isinstance(result, BaseException) else None)
        failure = _record_failure(run, call, tool, result)
        if failure is not None:
            outcome.failures.append((call.call_id, failure))


def _record_failure(
    run: Run, call: Call, tool: FunctionTool, result: BaseException | _TimedOut
) -> RunError | None:
    """Record a call that did not return; the error that stops the run, if one must."""
    if isinstance(result, _TimedOut):
        message = TIMEOUT_MESSAGE.format(tool=call.name, timeout=result.seconds)
        run.append(ToolTimedOut(call.call_id, result.seconds, message))
        if (tool.on_timeout or run.options.on_tool_timeout) == "raise":
            return ToolTimeoutError(call.name, call.call_id, result.seconds)
        return None
    if tool.side_effects.leaves_doubt(result):
        # The tool says it may have taken effect: the call stays in doubt, and the next
        # step settles it as the tool declares (or stops for a person).
        return None
    if isinstance(result, RunError):  # tether's own (an MCP server gone): as it is
        return result  # the call stays in doubt all the same
    # The call stays in doubt: it may have had part of its effects.
    error = ToolError(call.name, call.call_id, f"{type(result).__name__}: {result}")
    error.__cause__ = result
    return error


def _limited(
    pending: Awaitable[ToolOutput], seconds: float | None
) -> Awaitable[ToolOutput | _TimedOut]:
    """``pending`` within ``seconds``; ``pending`` itself without a limit (no coroutine around
    it: every step of the tool would pass through it)."""
    return pending if seconds is None else _within(pending, seconds)


async def _within(pending: Awaitable[ToolOutput], seconds: float) -> ToolOutput | _TimedOut:
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
