"""Checks on what a person's decision names (its item, approver, reason, fingerprint,
output), made before anything is recorded: a refused decision leaves the journal as it was.
"""

from __future__ import annotations

from typing import Any

from ..errors import StaleDecisionError, UserError
from ..journal import Call, ToolApprovalItem

__all__ = ["check_bound", "check_decision_arguments", "check_reason", "doubt_output"]


def check_decision_arguments(
    item: Any, *, always: Any, message: Any, by: Any, message_name: str = "message"
) -> None:
    """Refuse what would make an unloadable decision, before anything is recorded."""
    if not isinstance(item, ToolApprovalItem | str):
        raise UserError(
            f"Decide on an item of state.interruptions (a ToolApprovalItem) or its call id "
            f"(a str), not a {type(item).__name__}."
        )
    if not isinstance(always, bool):
        raise UserError(f"always must be True or False, got {type(always).__name__}.")
    for name, value in ((message_name, message), ("by", by)):
        if value is not None and not isinstance(value, str):
            raise UserError(f"{name} must be a str or None, got {type(value).__name__}.")


def check_bound(item: ToolApprovalItem | str, fingerprint: Any, call: Call) -> None:
    """Refuse a decision that names another call than ``call`` (``StaleDecisionError``)."""
    if fingerprint is not None and not isinstance(fingerprint, str):
        raise UserError(f"fingerprint must be a str or None, got {type(fingerprint).__name__}.")
    named = {fingerprint} if fingerprint is not None else set()
    if isinstance(item, ToolApprovalItem):
        named.add(item.fingerprint)
    for seen in named:
        if seen != call.fingerprint:
            raise StaleDecisionError(
                f"The decision on call {call.call_id!r} of {call.name!r} was made on "
                f"{seen!r}, but the call waiting under that id is {call.fingerprint!r} "
                f"(arguments {call.arguments}): its arguments changed, or the model reused "
                "the call id, since the approver saw it. Nothing was recorded; read the run "
                "again and decide on what it shows."
            )


def check_reason(reason: Any) -> None:
    if reason is not None and not isinstance(reason, str):
        raise UserError(f"reason must be a str or None, got {type(reason).__name__}.")


def doubt_output(call: Call, resolution: str, output: str | None) -> str | None:
    """The output a resolution of ``call`` in doubt gives the model (``None``: it runs
    again), or the ``UserError`` that says what is missing."""
    if resolution not in ("run_again", "output", "failed"):
        raise UserError(
            f"resolution must be 'run_again', 'output' or 'failed', not {resolution!r}."
        )
    if resolution == "output" and output is None:
        raise UserError("resolve_doubt(..., 'output') needs the output the call produced.")
    if resolution == "run_again":
        output = None
    elif resolution == "failed" and output is None:
        output = (
            f"The call of {call.name} failed: it was interrupted and was judged not to "
            "have taken effect."
        )
    return output
