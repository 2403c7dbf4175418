"""``RunState.revoke``: a person's decision withdrawn before its call runs, as journal events."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._governance import Approver, as_approver
from ..approvals._revocations import revocations
from ..errors import NotRevocableError
from ..journal import ToolApprovalItem
from ._decision_checks import check_bound, check_decision_arguments, check_reason

if TYPE_CHECKING:
    from ._state import RunState

__all__ = ["revoke"]


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
    view = state._view
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
