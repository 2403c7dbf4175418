"""``RunState.revoke`` and ``RunState.resolve_doubt``: a person withdrawing a decision before
its call runs, or settling a call in doubt, as journal events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from .._governance import Approver, as_approver
from ..approvals._decisions import authorize, policy_for, resolution_event
from ..approvals._revocations import revocations
from ..errors import NotPendingError, NotRevocableError
from ..journal import CallStatus, DoubtResolved, ToolApprovalItem
from ._decision_checks import check_bound, check_decision_arguments, check_reason, doubt_output

if TYPE_CHECKING:
    from ._state import RunState

__all__ = ["resolve", "revoke"]


def revoke(
    state: RunState,
    item: ToolApprovalItem | str,
    *,
    by: Approver | str | None,
    reason: str | None,
    fingerprint: str | None,
) -> None:
    """Append the withdrawal of ``by``'s decision on ``item`` to ``state``'s journal (see
    ``RunState.revoke``); raise, with nothing appended, if it may not be withdrawn."""
    check_decision_arguments(item, always=False, message=None, by=None)
    check_reason(reason)
    approver = as_approver(by)
    view = state.view
    call_id = item if isinstance(item, str) else item.call_id
    call = view.calls.get(call_id)
    if (
        call is None
        or view.completed is not None
        or (isinstance(item, ToolApprovalItem) and item.parent is not None)
    ):
        raise NotRevocableError(
            f"Call {call_id!r} is not a call of this run's current turn (or the run completed, "
            "or it is a call of an agent used as a tool): it has no decision to withdraw. "
            "Nothing was recorded."
        )
    check_bound(item, fingerprint, call)
    events = revocations(
        view, state._graph, state.governance, call, approver, reason=reason, ctx=state.context
    )
    for event in events:
        state._journal.append(event)


def resolve(
    state: RunState,
    item: ToolApprovalItem | str,
    resolution: Literal["run_again", "output", "failed"],
    *,
    output: str | None,
    by: Approver | str | None,
    reason: str | None,
    fingerprint: str | None,
) -> None:
    """Append ``by``'s settlement of the call in doubt ``item`` to ``state``'s journal (see
    ``RunState.resolve_doubt``); raise, with nothing appended, if it may not be settled."""
    check_decision_arguments(item, always=False, message=output, by=None, message_name="output")
    check_reason(reason)
    approver = as_approver(by)
    call_id = item if isinstance(item, str) else item.call_id
    call = state.view.calls.get(call_id)
    if call is None or call.status is not CallStatus.IN_DOUBT:
        raise NotPendingError(
            f"Call {call_id!r} is not in doubt in this run. Resolve only the items of "
            "state.in_doubt."
        )
    check_bound(item, fingerprint, call)
    output = doubt_output(call, resolution, output)
    policy = policy_for(state._graph, call, state.governance)
    authorize(policy, approver, call, state.context, four_eyes=False)
    event = DoubtResolved(call_id, resolution, output, reason=reason)
    state._journal.append(resolution_event(state.view, event, state.governance, approver))
