"""A decision on an interruption of a nested run (an agent used as a tool), recorded in
the outer journal: ``RunState`` decides through ``nested_decision``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ..errors import NotPendingError
from ..journal import CallStatus, Journal, RunView
from ..journal._binding import ToolApprovalItem
from ..journal._events import NestedRunRecorded, events_adapter

__all__ = ["nested_decision"]


def nested_decision(
    view: RunView,
    item: ToolApprovalItem,
    decide: Callable[[Journal, ToolApprovalItem], None],
) -> NestedRunRecorded:
    """The event recording a decision on ``item``, an interruption of a nested run.

    ``decide`` appends the decision to the nested journal it is given (as
    ``RunState`` does for its own), with the item as the nested run lists it.
    """
    outermost = item
    while outermost.parent is not None:
        outermost = outermost.parent
    call = view.calls.get(outermost.call_id)
    if call is None or call.status is not CallStatus.SUSPENDED or call.nested_agent is None:
        raise NotPendingError(
            f"Call {item.call_id!r} of {item.tool_name!r} is not waiting for a decision in "
            "this run: the agent tool call it belongs to is not paused. Decide only on the "
            "items of state.interruptions."
        )
    if outermost.fingerprint != call.fingerprint:
        raise NotPendingError(
            f"The approval item for call {item.call_id!r} belongs to another call of "
            f"{call.name!r}. Decide on the items of this state's interruptions."
        )
    journal = Journal(call.nested_events)
    before = len(journal)
    decide(journal, _inner(item))
    return NestedRunRecorded(
        call.call_id,
        call.nested_agent,
        events_adapter().dump_python(journal.events_since(before), mode="json"),
        paused=True,
    )


def _inner(item: ToolApprovalItem) -> ToolApprovalItem:
    """``item`` as the nested run lists it: without its outermost parent."""
    assert item.parent is not None
    if item.parent.parent is None:
        return replace(item, parent=None)
    return replace(item, parent=_inner(item.parent))
