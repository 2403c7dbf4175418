"""``tether inbox`` results as tables for people (``--json`` prints them as they are).

Needs the ``server`` extra (rich); ``tether.cli.inbox`` imports this module only to
print, so a missing extra fails with ``ServerDependencyError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from ._inbox_delegations import delegated

__all__ = ["print_tables"]


def _waiting(console: Console, result: dict[str, Any]) -> None:
    table = Table(title=f"{len(result['approvals'])} waiting")
    deadlines = any(call.get("expires_at") for call in result["approvals"])
    columns = ["run", "call", "agent", "tool", "arguments", "requested"]
    for column in [*columns, "expires"] if deadlines else columns:
        table.add_column(column)
    for call in result["approvals"]:
        row = [
            call["run_id"],
            call["call_id"],
            call["agent"],
            call["tool"] + (" (output review)" if call.get("kind") == "output_review" else ""),
            call["arguments"],
            call["requested_at"],
        ]
        table.add_row(*row, *([call.get("expires_at") or "never"] if deadlines else []))
    console.print(table)
    _more(console, result)


def _run(console: Console, result: dict[str, Any]) -> None:
    console.print(f"run {result['run_id']} of {result['agent']}: {result['status']}", markup=False)
    if result.get("failure"):
        failure = result["failure"]
        console.print(
            f"failed: {failure['error']}: {failure['message']} "
            f"({failure['attempts']} attempts; `tether inbox retry {result['run_id']}`)",
            markup=False,
        )
    table = Table(title="waiting for a decision")
    for column in ("call", "tool", "arguments", "fingerprint"):
        table.add_column(column)
    for call in result["pending"]:
        review = " (output review)" if call.get("kind") == "output_review" else ""
        table.add_row(
            call["call_id"], call["tool"] + review, call["arguments"], call["fingerprint"]
        )
    console.print(table)
    trail = Table(title="audit trail")
    for column in ("what", "call", "by", "detail"):
        trail.add_column(column)
    for entry in result["audit"]:
        what = entry["kind"] + (f" ({entry['verdict']})" if entry.get("verdict") else "")
        detail = (
            entry.get("reason")
            or entry.get("message")
            or entry.get("output")
            or entry.get("arguments")
            or ""
        )
        trail.add_row(what, entry.get("call_id") or "", entry.get("by") or "", str(detail))
    console.print(trail)


def _runs(console: Console, result: dict[str, Any]) -> None:
    table = Table(title=f"{len(result['runs'])} runs")
    for column in ("run", "agent", "status", "updated", "error"):
        table.add_column(column)
    for run in result["runs"]:
        failure = run.get("failure")
        error = f"{failure['error']}: {failure['message']}" if failure else ""
        table.add_row(run["run_id"], run["agent"], run["status"], run["updated_at"], error)
    console.print(table)
    _more(console, result)


def _retried(console: Console, result: dict[str, Any]) -> None:
    console.print(f"run {result['run_id']} will be tried again", markup=False)


def _rules(console: Console, result: dict[str, Any]) -> None:
    table = Table(title=f"{len(result['rules'])} standing approvals")
    for column in ("rule", "agent", "tool", "condition", "uses", "expires", "granted by"):
        table.add_column(column)
    for rule in result["rules"]:
        condition = json.dumps(rule["match"]) if rule["match"] is not None else rule["predicate"]
        if rule["revoked_at"]:
            condition = f"{condition} (revoked by {rule['revoked_by']})"
        uses = f"{rule['uses']}/{rule['max_uses']}" if rule["max_uses"] else str(rule["uses"])
        table.add_row(
            rule["id"],
            rule["agent"],
            rule["tool"],
            str(condition),
            uses,
            rule["expires_at"] or "never",
            rule["granted_by"] or "",
        )
    console.print(table)


def _revoked(console: Console, result: dict[str, Any]) -> None:
    console.print(f"revoked rule {result['id']} ({result['tool']})", markup=False)


def _withdrawn(console: Console, result: dict[str, Any]) -> None:
    console.print(
        f"withdrew the decision of {result['revoked_by']} on {result['call_id']} of run "
        f"{result['run_id']}: it waits for a decision again",
        markup=False,
        soft_wrap=True,
    )


def _undone(console: Console, result: dict[str, Any]) -> None:
    what = "the undo failed" if result["failed"] else "undone"
    console.print(
        f"{what}: {result['call_id']} of run {result['run_id']}: {result['output']}",
        markup=False,
        soft_wrap=True,
    )


def _reviewed(console: Console, result: dict[str, Any]) -> None:
    console.print(
        f"{result['verdict']} the output of {result['call_id']} of run {result['run_id']}",
        markup=False,
    )
    _the_call(console, result)


def _decision(console: Console, result: dict[str, Any]) -> None:
    console.print(
        f"{'approved' if result['decision'] == 'approve' else 'rejected'} "
        f"{result['call_id']} of run {result['run_id']}",
        markup=False,
    )
    _the_call(console, result)


def _batch(console: Console, result: dict[str, Any]) -> None:
    done = "approved" if result["decision"] == "approve" else "rejected"
    for entry in result["results"]:
        call = f"{entry['call_id']} of run {entry['run_id']}"
        if entry["outcome"] == "decided":
            what = f": {entry['tool']} {entry['arguments']}" if "tool" in entry else ""
            line = f"{done} {call}{what}"
        elif entry["outcome"] == "refused":
            line = f"refused {call} ({entry['type']}): {entry['error']}"
        else:
            line = f"not recorded {call}: {entry['error']}"
        console.print(line, markup=False, soft_wrap=True)
    console.print(f"{result['decided']} of {len(result['results'])} {done}", markup=False)


def _sessions(console: Console, result: dict[str, Any]) -> None:
    table = Table(title=f"{len(result['sessions'])} live sign-ins")
    for column in ("session", "approver", "roles", "signed in", "last used", "ends"):
        table.add_column(column)
    for info in result["sessions"]:
        table.add_row(
            info["session"],
            info["approver"],
            ", ".join(info["roles"]),
            info["signed_in_at"],
            info["last_seen_at"],
            info["ends_at"],
        )
    console.print(table)


def _ended(console: Console, result: dict[str, Any]) -> None:
    console.print(f"ended {result['ended']} sign-in{'' if result['ended'] == 1 else 's'}")


def _more(console: Console, result: dict[str, Any]) -> None:
    if result.get("next_cursor"):
        console.print(f"more: --cursor {result['next_cursor']}", markup=False)


def _the_call(console: Console, result: dict[str, Any]) -> None:
    if "fingerprint" in result:
        console.print(
            f"  the call: {result.get('tool', '')} {result.get('arguments', '')} "
            f"({result['fingerprint']})",
            markup=False,
            soft_wrap=True,  # one line: scripts and people copy the fingerprint whole
        )


_PRINTERS: dict[str, Callable[[Console, Any], None]] = {
    "list": _waiting,
    "show": _run,
    "runs": _runs,
    "retry": _retried,
    "rules": _rules,
    "revoke": _revoked,
    "withdraw": _withdrawn,
    "undo": _undone,
    "review": _reviewed,
    "batch": _batch,
    "sessions": _sessions,
    "end-session": _ended,
    "delegate": delegated,
}
"""How each action's result is shown (approve and reject: ``_decision``)."""


def print_tables(action: str, result: Any) -> None:
    """Print the result of inbox ``action`` on the terminal."""
    console = Console()
    printer = _PRINTERS.get(action) or _decision
    printer(console, result)
