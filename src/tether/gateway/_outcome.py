"""What the client gets back for a gateway run, read off the run's journal (pure).

The journal is the truth: a retried request, another gateway process or a later look all
read the same events and so return the same result. The upstream's result is the call's
output as the tool recorded it (the MCP ``CallToolResult`` as JSON); every other ending
(a rejection, an expiry, a withheld output, a call in doubt, a failed run) is a tool error
whose ``_meta["tether/error"]`` says which.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from mcp import types
from pydantic import ValidationError

from ..approvals import AuditRecord, audit_trail
from ..journal import Event, RunCompleted, RunFailed
from ._upstream import error_result

__all__ = ["completed", "outcome", "waiting_message"]


def outcome(events: Sequence[Event], status: str, run_id: str) -> types.CallToolResult:
    """The result of a run that stopped (``completed``, ``failed`` or ``in_doubt``)."""
    if status == "in_doubt":
        return error_result(
            f"The call is in doubt (run {run_id}): the upstream call was cut off (its connection "
            "broke, or the gateway stopped), so it may or may not have happened. It is not run "
            "again by itself: a person settles it in the inbox (run again, its output, or "
            "failed); then retry this request with the same request id.",
            "in_doubt",
            run_id=run_id,
        )
    completed = next((e for e in reversed(events) if isinstance(e, RunCompleted)), None)
    if completed is None:
        failed = next((e for e in reversed(events) if isinstance(e, RunFailed)), None)
        why = f"{failed.error}: {failed.message}" if failed is not None else status
        return error_result(
            f"The gateway's run {run_id} stopped on an error ({why}). See it in the inbox.",
            "run_failed",
            run_id=run_id,
        )
    trail = audit_trail(events)
    withdrawn = {r.revokes for r in trail if r.kind == "revoked"}  # decisions taken back
    records = [r for r in trail if r.call_id is not None and r.seq not in withdrawn]
    output = completed.output if isinstance(completed.output, str) else json.dumps(completed.output)
    refused = _refusal(records)
    if refused is not None:
        kind, by = refused
        return error_result(output, kind, run_id=run_id, by=by)
    result, meta = _result_meta(output, run_id)
    notes = _notes(records, meta)
    if not notes:
        return result.model_copy(update={"meta": meta})
    content = [types.TextContent(type="text", text=n) for n in notes] + list(result.content)
    return result.model_copy(update={"content": content, "meta": meta})


def completed(output: str, run_id: str | None) -> types.CallToolResult:
    """``outcome`` of a run that made its one call with nobody deciding (``_direct``): no
    decision to read off the journal, so its recorded ``output`` says it all (``run_id``
    ``None``: a call that was not journaled)."""
    result, meta = _result_meta(output, run_id)
    return result.model_copy(update={"meta": meta or None})


def _result_meta(output: str, run_id: str | None) -> tuple[types.CallToolResult, dict[str, Any]]:
    result = _as_result(output)
    meta = dict(result.meta or {})
    if run_id is not None:
        meta["tether/run_id"] = run_id
    if result.is_error:
        meta.setdefault("tether/error", "upstream_tool_error")
    return result, meta


def _refusal(records: list[AuditRecord]) -> tuple[str, str | None] | None:
    """Why the call gave no upstream result, with who said so; ``None`` if it ran. The
    output the run recorded (what a model would read) is the explanation."""
    for record in records:
        if record.kind == "expired":
            return "approval_expired", None
        if record.kind == "decided" and record.verdict == "rejected":
            return "rejected", record.by
        if record.kind == "executed" and record.outcome == "timed_out":
            return "timed_out", None
        if record.kind == "resolved" and record.verdict == "failed":
            return "failed", record.by
        if record.kind == "reviewed" and record.verdict == "withheld":
            return "output_withheld", record.by
    return None


def _notes(records: list[AuditRecord], meta: dict[str, Any]) -> list[str]:
    """Lines telling the client what a person changed: edited arguments, a replaced output."""
    notes = []
    for record in records:
        if record.kind == "decided" and record.edited_arguments is not None:
            meta["tether/edited_arguments"] = json.loads(record.edited_arguments)
            notes.append(
                f"Note: an approver ({record.by or 'unnamed'}) edited the arguments; the tool "
                f"ran with {record.edited_arguments}."
            )
        if record.kind == "reviewed" and record.verdict == "replaced":
            meta["tether/output_replaced"] = True
            notes.append(f"Note: a reviewer ({record.by or 'unnamed'}) replaced the output.")
    return notes


def _as_result(output: str) -> types.CallToolResult:
    """The recorded output as a result: the upstream's JSON, or a person's plain text."""
    try:
        return types.CallToolResult.model_validate(json.loads(output))
    except (ValueError, ValidationError):
        return types.CallToolResult(content=[types.TextContent(type="text", text=output)])


def waiting_message(rows: Sequence[Any], roles: frozenset[str]) -> str:
    """The progress line a waiting client reads: what waits, for whom, until when."""
    if not rows:
        return "waiting"
    row = rows[0]
    what = "review of the output" if row.kind == "output_review" else "approval"
    who = f" by {', '.join(sorted(roles))}" if roles else ""
    needs = f" ({row.required_approvals} approvals)" if row.required_approvals > 1 else ""
    until = ""
    if row.expires_at is not None:
        at = row.expires_at.astimezone(UTC)
        until = f", expires {at.strftime('%Y-%m-%d %H:%M:%S UTC')}"
    return f"waiting for {what}{who}{needs} of {row.tool} (run {row.run_id}){until}"
