"""The rerun: a stored run's agent run again from its input in a scratch store, its
models answering with the recorded responses, its pauses decided as they were recorded."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from typing import Any, Literal

from .._agent import Agent
from .._governance import Approver
from ..errors import TetherError, UserError
from ..handoffs import Handoff
from ..run import Runner, RunState
from ..store import RunStore, load_state, save_state
from ..testing import ReplayModel
from ..tools import FunctionTool
from ._trace import revoked

__all__ = ["ToolsMode", "rerun"]

ToolsMode = Literal["real", "recorded"]
MAX_PAUSES = 100
"""Pauses one rerun decides before it stops (a recorded run never needs more)."""


def replayed_agent(agent: Agent[Any], events: Sequence[Any], tools: ToolsMode) -> Agent[Any]:
    """``agent`` and every agent it hands off to, each answering with its recorded model
    responses (and with ``tools="recorded"``, each tool with its recorded outputs)."""
    outputs = {e.call_id: e.output for e in events if e.kind == "tool_completed"}
    made: dict[int, Agent[Any]] = {}

    def replay(original: Agent[Any]) -> Agent[Any]:
        if id(original) in made:
            return made[id(original)]
        answered = any(e.kind == "model_responded" and e.agent == original.name for e in events)
        model = (
            ReplayModel.from_run(events, agent_name=original.name)
            if answered
            else ReplayModel([], name=f"replay of {original.name}")  # never the real model
        )
        changes: dict[str, Any] = {"model": model}
        if tools == "recorded":
            changes["tools"] = [_recorded_tool(tool, outputs) for tool in original.tools]
        clone = made[id(original)] = original.clone(**changes)
        clone.handoffs = [_replayed_handoff(target, replay) for target in original.handoffs]
        return clone

    return replay(agent)


def _replayed_handoff(
    target: Agent[Any] | Handoff, replay: Callable[[Agent[Any]], Agent[Any]]
) -> Agent[Any] | Handoff:
    if isinstance(target, Handoff):
        return dataclasses.replace(target, agent=replay(target.agent))
    return replay(target)


def _recorded_tool(tool: Any, outputs: dict[str, str]) -> Any:
    """A function tool answering each call with the output recorded for its call id."""
    if not isinstance(tool, FunctionTool):
        return tool

    def recorded(ctx: Any, **_: Any) -> str:
        return outputs.get(ctx.call_id, f"(no output was recorded for call {ctx.call_id})")

    return dataclasses.replace(tool, function=recorded, takes_context=True)


async def rerun(
    agent: Agent[Any], events: Sequence[Any], store: RunStore
) -> tuple[tuple[Any, ...], str | None]:
    """Run ``agent`` from the recorded run's input in ``store``, deciding each pause as the
    recorded run's people did; the rerun's events, and the error it stopped on (if any)."""
    started = events[0]
    run_id = started.run_id
    error = await _attempt(
        Runner.run(
            agent, list(started.input), store=store, run_id=run_id, max_turns=started.max_turns
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
        error = await _attempt(Runner.run(agent, state, store=store))
    return (await store.load(run_id)).events, error


async def _attempt(run: Any) -> str | None:
    try:
        await run
    except TetherError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _decide(state: RunState, events: Sequence[Any], applied: set[int]) -> bool:
    """Each pending call decided as recorded; ``False`` if the recorded run has no decision
    for one of them (the rerun paused where the recorded run did not)."""
    decided = False
    withdrawn = revoked(events)
    for item in state.interruptions:
        recorded = [
            (index, event)
            for index, event in enumerate(events)
            if index not in applied
            and _decides(event, item.call_id, item.kind)
            and getattr(event, "seal", None) not in withdrawn
        ]
        for index, event in recorded:
            applied.add(index)
            _apply(state, item.call_id, event)
            decided = True
        if not recorded:
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


def _apply(state: RunState, call_id: str, event: Any) -> None:
    by = Approver(event.by, roles=frozenset(event.roles)) if event.by else None
    if event.kind == "output_reviewed":
        if event.verdict == "released":
            state.release(call_id, by=by, reason=event.reason)
        elif event.verdict == "replaced":
            state.replace_output(call_id, event.output, by=by, reason=event.reason)
        else:
            state.withhold(call_id, message=event.output, by=by, reason=event.reason)
    elif event.approved:
        edit = json.loads(event.edited_arguments) if event.edited_arguments else None
        state.approve(call_id, event.always, by=by, reason=event.reason, arguments=edit)
    else:
        state.reject(call_id, event.always, message=event.message, by=by, reason=event.reason)


def check_run(agent: Agent[Any], events: Sequence[Any]) -> None:
    """``UserError`` unless ``events`` are a run that ``agent`` started."""
    if not events or events[0].kind != "run_started":
        raise UserError("The recorded events do not begin with the run's start: nothing to rerun.")
    if events[0].agent != agent.name:
        raise UserError(
            f"The run was started by agent {events[0].agent!r}, not {agent.name!r}: "
            "name the agent the run started with."
        )
