"""What the run loop may know of a tool step before it runs: whether its first commit can
carry more (the turn's model response, the run's lease) and whether outputs may wait for
the next commit. Each answer says no wherever code could act before that commit.
"""

from __future__ import annotations

from ..journal import CallStatus, SessionSynced, ToolCompleted
from ._run import Run
from ._steps import ExecuteTools, next_step

__all__ = ["decided_calls_start_first", "outputs_may_wait", "quiet_tool_step"]


def quiet_tool_step(run: Run) -> bool:
    """Whether the tool step about to run does nothing that acts on the turn's model response
    before its first commit, which then carries the response too (``_loop``).

    That holds when every open call is new, is no hosted call and no handoff, has no input
    guardrail and no approval predicate (code that might act: a static ``needs_approval``
    only), its agent has no hooks, and a call that needs approval can only be approved by a
    standing approval whose use the store counts in that very commit. The step's first
    commit is then the calls' ``ToolStarted`` before their tools run, or, if every call
    waits for a person, the approval requests at the end of the step.
    """
    durable = run.options.durable
    book = run.options.rules
    open_calls = [call for call in run.view.calls.values() if call.status is not CallStatus.DONE]
    if durable is None or not open_calls:
        return False
    for call in open_calls:
        if call.status is not CallStatus.NEW or call.hosted:
            return False
        owner = run.graph.get(call.agent)
        if owner is None or owner.hooks is not None or call.name in owner.handoff_tools:
            return False
        tool = owner.function_tools.get(call.name)
        if tool is None:
            continue  # answered at once: there is no such tool
        if tool.tool_input_guardrails or not isinstance(tool.needs_approval, bool):
            return False
        if tool.needs_approval and book is not None and not durable.counts_rule_uses(book):
            return False  # a rule's use would be counted elsewhere, before the commit
    return True


def decided_calls_start_first(run: Run) -> bool:
    """Whether a resumed run's first step only carries out decisions, committing before
    anything acts: the turn's open calls are decided (approved or rejected; the others wait
    for a person), none is hosted, a handoff or an unknown tool, and no lifecycle hook,
    session or stream is there to run first. The step's first commit is then the approved
    calls' ``ToolStarted`` before their tools run (or the decisions, before a rejection's
    message is worded), so the run's lease can be taken by that commit
    (``Durable.holding``) rather than a transaction before it.
    """
    options = run.options
    if run.start is not None or options.session is not None or options.hooks is not None:
        return False
    if options.stream or options.durable is None or run.agent.hooks is not None:
        return False
    decided = False
    for call in run.view.calls.values():
        status = call.status
        if status in _SETTLED:
            continue
        if status not in _DECIDED or call.hosted:
            return False  # a new call's check, a doubt's settling, a nested run: code first
        owner = run.graph.get(call.agent)
        if owner is None or owner.hooks is not None or call.name in owner.handoff_tools:
            return False
        if call.name not in owner.function_tools:
            return False
        decided = True
    return decided and isinstance(next_step(run.view, run.agent), ExecuteTools)


_SETTLED = (CallStatus.DONE, CallStatus.REVIEW, CallStatus.PENDING)
_DECIDED = (CallStatus.APPROVED, CallStatus.REJECTED)


def outputs_may_wait(run: Run) -> bool:
    """Whether all the store lacks may wait for the run's next commit (``_loop``): outputs
    of calls whose tools are ``idempotent`` (and the session's marks), which no lifecycle
    hook acts on and no person reviews.

    Their ``ToolStarted`` is already durable, so a crash before that next commit leaves such
    a call in doubt, and the run's next step runs it again (``_doubt.settle``): harmless by
    the tool's own declaration. A turn of idempotent calls then takes one commit, not one
    per call: the outputs ride with the next model response and the next calls' starts.
    """
    durable = run.options.durable
    if durable is None or run.options.hooks is not None:
        return False
    return durable.lacks_only(run.journal, lambda event: _may_wait(run, event))


def _may_wait(run: Run, event: object) -> bool:
    if isinstance(event, SessionSynced):
        return True
    if not isinstance(event, ToolCompleted) or event.review:
        return False
    call = run.view.calls.get(event.call_id)
    owner = run.graph.get(call.agent) if call is not None else None
    if call is None or owner is None or owner.hooks is not None or call.nested_agent:
        return False
    tool = owner.function_tools.get(call.name)
    return tool is not None and tool.idempotent
