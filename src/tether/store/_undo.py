"""Undoing a completed call of a stored run with its tool's compensation, exactly once.

The request is authorized like a decision (the call's policy) and committed, with a
compare-and-append, before the compensation runs: two people asking at once cannot both
run it, and a crash between the request and its ``UndoCompleted`` leaves the undo in doubt
(refused from then on, never run again silently), as a crash leaves a tool call.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from typing import Any

from .._agent import Agent
from .._context import RunContext
from .._governance import Approver, Governance, as_approver
from ..errors import RunConflictError, UserError
from ..journal import Call, UndoCompleted
from ..run._stored import load_state, save_state
from ..run._undo_request import request_undo
from ..tools import FunctionTool
from ._protocol import RunStore

__all__ = ["undo"]

_COMPLETE_ATTEMPTS = 5
"""The outcome is appended again when the run moved on meanwhile (a session synced, say)."""


async def undo(
    store: RunStore,
    run_id: str,
    agent: Agent[Any],
    call_id: str,
    *,
    by: Approver | str,
    reason: str | None = None,
    governance: Governance | None = None,
    context: Any = None,
    fingerprint: str | None = None,
) -> UndoCompleted:
    """Undo completed call ``call_id`` of a stored run with its tool's compensation
    (``function_tool(undo=...)``); return the recorded outcome (``failed`` if it raised).

    ``by`` asks, authorized by the call's policy (``NotAuthorizedError``); ``fingerprint``
    binds the request to the call as it ran (``StaleDecisionError``). ``UndoRequested`` is
    committed before the compensation runs (``RunConflictError`` if the run moved: nothing
    ran; ``RunBusyError`` while a worker holds it), then ``UndoCompleted`` with what it
    returned. An undo is run once: asked again, it is refused with ``NotPendingError``, or,
    if the process died while it ran, with ``ToolCallInDoubtError``: check the outside world.
    """
    approver = as_approver(by)
    if approver is None:
        raise UserError("An undo is asked for by someone: pass by=Approver(...) or an id.")
    state = await load_state(store, run_id, agent, context=context, governance=governance)
    call, tool = request_undo(state, call_id, approver, reason=reason, fingerprint=fingerprint)
    seq = await save_state(store, state)  # write-ahead: committed before the undo runs
    outcome = await _compensate(tool, call, run_id, state.view.turns, context)
    return await _record(store, run_id, seq, outcome)


async def _compensate(
    tool: FunctionTool, call: Call, run_id: str, turn: int, context: Any
) -> UndoCompleted:
    """Run ``tool``'s compensation for ``call``: its outcome, failed if it raised."""
    key = (
        "tether-undo-"
        + hashlib.sha256(json.dumps([run_id, call.call_id, call.fingerprint]).encode()).hexdigest()[
            :40
        ]
    )
    ctx: RunContext[Any] = RunContext(
        context,
        agent_name=call.agent,
        turn=turn,
        run_id=run_id,
        call_id=call.call_id,
        idempotency_key=key,
    )
    assert tool.undo is not None
    try:
        output = call.held if call.held is not None else call.output  # the tool's own
        result = tool.undo(ctx, json.loads(call.arguments or "{}"), output)
        if inspect.isawaitable(result):
            result = await result
    except Exception as exc:  # recorded: the undo ran and failed; it does not run again
        return UndoCompleted(call.call_id, f"{type(exc).__name__}: {exc}", failed=True)
    text = result if isinstance(result, str) else json.dumps(result, default=str)
    return UndoCompleted(call.call_id, text)


async def _record(store: RunStore, run_id: str, seq: int, outcome: UndoCompleted) -> UndoCompleted:
    """Append ``outcome`` after the request (at ``seq``, or wherever the run is by now)."""
    for _ in range(_COMPLETE_ATTEMPTS):
        try:
            await store.append(run_id, seq, [outcome])
            return outcome
        except RunConflictError:
            seq = (await store.load(run_id)).seq
    raise RunConflictError(run_id, seq, None)
