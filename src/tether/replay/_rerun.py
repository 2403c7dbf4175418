"""The rerun: a stored run's agent run again from its input in a scratch store, its
models answering with the recorded responses, its pauses decided as they were recorded."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from .._agent import Agent
from .._agent_graph import copy_graph
from .._governance import Approver
from ..approvals import MemoryRuleBook, RuleScope, StandingApproval
from ..errors import TetherError, UserError
from ..journal._binding import ToolApprovalItem
from ..journal._events import events_adapter
from ..run import RunConfig, Runner, RunState
from ..store import RunStore, load_state, save_state
from ..testing import ReplayModel
from ..tools import FunctionTool
from ._trace import plain, revoked

__all__ = ["ToolsMode", "rerun"]

ToolsMode = Literal["real", "recorded"]
MAX_PAUSES = 100
"""Pauses one rerun decides before it stops (a recorded run never needs more)."""


def flattened(events: Sequence[Any]) -> list[Any]:
    """The run's events, each nested run's events (an agent used as a tool) after the
    record that holds them, nested ones too."""
    every: list[Any] = []
    for event in events:
        every.append(event)
        if event.kind == "nested_run_recorded":
            every += flattened(events_adapter().validate_python(plain(event.events)))
    return every


def replayed_agent(agent: Agent[Any], events: Sequence[Any], tools: ToolsMode) -> Agent[Any]:
    """``agent`` and every agent it reaches (handoffs, agents used as tools), each answering
    with its recorded model responses, nested runs' included (and with ``tools="recorded"``,
    each tool with its recorded outputs)."""
    every = flattened(events)
    outputs = {e.call_id: e.output for e in every if e.kind == "tool_completed"}

    def replay(original: Agent[Any], _conversation: Agent[Any]) -> Agent[Any]:
        answered = any(e.kind == "model_responded" and e.agent == original.name for e in every)
        model = (
            ReplayModel.from_run(every, agent_name=original.name)
            if answered
            else ReplayModel([], name=f"replay of {original.name}")  # never the real model
        )
        changes: dict[str, Any] = {"model": model}
        if tools == "recorded":
            changes["tools"] = [_recorded_tool(tool, outputs) for tool in original.tools]
        return original.clone(**changes)

    return copy_graph(agent, replay)


def _recorded_tool(tool: Any, outputs: dict[str, str]) -> Any:
    """A function tool answering each call with the output recorded for its call id (an
    agent used as a tool too: its nested run is not run again)."""
    if not isinstance(tool, FunctionTool):
        return tool

    def recorded(ctx: Any, **_: Any) -> str:
        return outputs.get(ctx.call_id, f"(no output was recorded for call {ctx.call_id})")

    return dataclasses.replace(tool, function=recorded, takes_context=True)


async def recorded_rules(events: Sequence[Any]) -> MemoryRuleBook:
    """Standing approvals that approve, in the rerun, exactly the calls that one approved in
    the recorded run: one rule per such call, its arguments, one use, the grantor's name,
    roles and reason (the recorded rules themselves are in the store, not the journal)."""
    book = MemoryRuleBook()
    requests = {e.call_id: e for e in events if e.kind == "approval_requested"}
    for n, event in enumerate(events):
        request = requests.get(getattr(event, "call_id", None))
        if event.kind != "approval_decided" or event.rule is None or request is None:
            continue
        arguments = json.loads(request.arguments or "{}")
        rule = StandingApproval(
            id=f"{event.rule}~{n}",
            agent=request.agent,
            tool=request.tool,
            scope=RuleScope.agent(),
            match=arguments if isinstance(arguments, dict) else {},
            predicate=None,
            max_uses=1,
            uses=0,
            expires_at=None,
            granted_by=event.by or "",
            granted_roles=tuple(event.roles),
            granted_at=datetime.now(UTC),
            reason=event.reason,
        )
        await book.save_rule(rule)
    return book


async def rerun(
    agent: Agent[Any], events: Sequence[Any], store: RunStore
) -> tuple[tuple[Any, ...], str | None]:
    """Run ``agent`` from the recorded run's input in ``store``, deciding each pause as the
    recorded run's people did, and approving by a standing approval each call that one
    approved; the rerun's events, and the error it stopped on (if any)."""
    started = events[0]
    run_id = started.run_id
    config = RunConfig(standing_approvals=await recorded_rules(flattened(events)))
    error = await _attempt(
        Runner.run(
            agent,
            list(started.input),
            store=store,
            run_id=run_id,
            max_turns=started.max_turns,
            run_config=config,
        )
    )
    applied: set[int] = set()
    for _ in range(MAX_PAUSES):
        if error is not None:
            break
        state = await load_state(store, run_id, agent)
        if not state.interruptions or not _decide(state, events, applied):
            break
        await save_state(store, state)
        error = await _attempt(Runner.run(agent, state, store=store, run_config=config))
    return (await store.load(run_id)).events, error


async def _attempt(run: Any) -> str | None:
    try:
        await run
    except TetherError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _decide(state: RunState, events: Sequence[Any], applied: set[int]) -> bool:
    """Each pending call decided as recorded (a nested run's too); ``False`` if none could
    be (the rerun paused where the recorded run did not).

    A call the recorded run decided automatically after an ``always`` is left to the
    rerun, which takes the same decision on resuming once the ``always`` is applied (one
    approved by a standing approval never pauses: see ``recorded_rules``)."""
    every = flattened(events)
    withdrawn = revoked(every)
    decided = False
    for item in state.interruptions:
        recorded = [
            (index, event)
            for index, event in enumerate(every)
            if index not in applied
            and _decides(event, item.call_id, item.kind)
            and getattr(event, "seal", None) not in withdrawn
        ]
        for index, event in recorded:
            applied.add(index)
            _apply(state, item, event)
            decided = True
        if not recorded and not _automatic(every, item.call_id):
            return False
    return decided


def _decides(event: Any, call_id: str, kind: str) -> bool:
    if getattr(event, "call_id", None) != call_id:
        return False
    if kind == "output_review":
        return bool(event.kind == "output_reviewed")
    # automatic (an earlier ``always``), expired (the system) and standing-rule decisions
    # are made by the run itself, not by a person at the pause
    return bool(
        event.kind == "approval_decided"
        and not event.automatic
        and not event.expired
        and event.rule is None
    )


def _automatic(events: Sequence[Any], call_id: str) -> bool:
    """Whether the recorded run decided ``call_id`` after an ``always``."""
    return any(
        e.kind == "approval_decided" and e.call_id == call_id and e.automatic for e in events
    )


def _apply(state: RunState, item: ToolApprovalItem, event: Any) -> None:
    by = Approver(event.by, roles=frozenset(event.roles)) if event.by else None
    call_id = item.call_id
    if event.kind == "output_reviewed":
        if event.verdict == "released":
            state.release(call_id, by=by, reason=event.reason)
        elif event.verdict == "replaced":
            state.replace_output(call_id, event.output, by=by, reason=event.reason)
        else:
            state.withhold(call_id, message=event.output, by=by, reason=event.reason)
    elif event.approved:
        edit = json.loads(event.edited_arguments) if event.edited_arguments else None
        state.approve(item, event.always, by=by, reason=event.reason, arguments=edit)
    else:
        state.reject(item, event.always, message=event.message, by=by, reason=event.reason)


def check_run(agent: Agent[Any], events: Sequence[Any]) -> None:
    """``UserError`` unless ``events`` are a run that ``agent`` started."""
    if not events or events[0].kind != "run_started":
        raise UserError("The recorded events do not begin with the run's start: nothing to rerun.")
    if events[0].agent != agent.name:
        raise UserError(
            f"The run was started by agent {events[0].agent!r}, not {agent.name!r}: "
            "name the agent the run started with."
        )
