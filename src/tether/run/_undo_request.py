"""A person asking to undo a completed call, as a journal event of the run's own state.

``tether.store.undo`` loads the run, calls ``request_undo`` and commits the state before the
compensation runs; the request is checked here, where the state's journal lives, so that
every append to a run's journal is made by ``tether.run`` (and folded as it is made)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .._agent import Agent
from .._duration import iso_utc
from .._governance import Approver
from ..approvals._decisions import authorize, policy_for
from ..errors import NotPendingError, StaleDecisionError, ToolCallInDoubtError, UserError
from ..journal import Call, UndoCompleted, UndoRequested
from ..journal._binding import undo_seal
from ..tools import FunctionTool

if TYPE_CHECKING:
    from ._state import RunState

__all__ = ["request_undo"]


def request_undo(
    state: RunState,
    call_id: str,
    approver: Approver,
    *,
    reason: str | None,
    fingerprint: str | None,
) -> tuple[Call, FunctionTool]:
    """Append ``approver``'s request to undo completed call ``call_id`` to ``state``'s
    journal; return the call as it ran and the tool whose compensation reverses it. Raise,
    with nothing appended, if it cannot be undone or ``approver`` may not ask."""
    view = state.view
    call, tool = _undoable(view.ran.get(call_id), view.undos.get(call_id), state.agents(), call_id)
    if fingerprint is not None and fingerprint != call.fingerprint:
        raise StaleDecisionError(
            f"The undo names {fingerprint!r}, but call {call_id!r} ran as {call.fingerprint!r}."
            " Nothing was recorded; read the run again."
        )
    policy = policy_for(state.agents(), call, state.governance)
    authorize(policy, approver, call, state.context, four_eyes=False)
    request = UndoRequested(
        call_id,
        call.fingerprint,
        by=approver.id,
        at=iso_utc(state.governance.now()),
        roles=tuple(sorted(approver.roles)),
        reason=reason,
    )
    state._journal.append(replace(request, seal=undo_seal(view.run_id, request)))
    return call, tool


def _undoable(
    call: Call | None,
    done: UndoRequested | UndoCompleted | None,
    graph: dict[str, Agent[Any]],
    call_id: str,
) -> tuple[Call, FunctionTool]:
    """The call to undo and its tool, or the error that says why it cannot be undone."""
    if call is None:
        raise NotPendingError(
            f"Call {call_id!r} did not run to an output in this run: there is nothing to undo."
        )
    if isinstance(done, UndoCompleted):
        raise NotPendingError(f"Call {call_id!r} was undone already; an undo runs once.")
    if isinstance(done, UndoRequested):
        raise ToolCallInDoubtError(f"undo of {call.name}", call_id)
    owner = graph.get(call.agent)
    tool = owner.function_tools.get(call.name) if owner is not None else None
    if not isinstance(tool, FunctionTool) or tool.undo is None:
        raise UserError(
            f"Tool {call.name!r} declares no undo: declare function_tool(undo=...) with the "
            "compensation that reverses a call."
        )
    return call, tool
