"""``tether inbox approve|reject RUN:CALL RUN:CALL ...``: several calls decided at once.

Each ``RUN:CALL`` may name the fingerprint the approver saw (``RUN:CALL=FINGERPRINT``, as
``list`` and ``show`` print it); without one, each run is read once now and the call
waiting under ``CALL`` is the one decided (what was decided is printed). The decisions on
one run are recorded all or none; the exit status is 0 when every call was decided, else
the status of the first refusal (3 not pending, 4 not allowed, 5 no such run, 1 other).
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from .._governance import Approver
from ..errors import TetherError, UserError
from ..server import DecisionEntry, Inbox
from ._exit import EXIT_FAILURE, EXIT_NOT_ALLOWED, EXIT_NOT_FOUND, EXIT_NOT_PENDING

__all__ = [
    "batch_exit_status",
    "decide_on_app",
    "decide_on_server",
    "named_calls",
    "split_calls",
]

_EXIT = {
    "NotPendingError": EXIT_NOT_PENDING,
    "ApprovalExpiredError": EXIT_NOT_PENDING,
    "StaleDecisionError": EXIT_NOT_PENDING,
    "RunConflictError": EXIT_NOT_PENDING,
    "NotAuthorizedError": EXIT_NOT_ALLOWED,
    "RunNotFoundError": EXIT_NOT_FOUND,
}

Named = tuple[str, str, str | None]
"""A call on the command line: run id, call id, and the fingerprint given (if any)."""


def split_calls(args: argparse.Namespace) -> None:
    """``approve`` / ``reject``'s positionals: ``RUN CALL`` (one call: ``args.run_id`` and
    ``args.call_id``) or ``RUN:CALL[=FINGERPRINT] ...`` (a batch: ``args.batch``)."""
    calls: list[str] = args.calls
    args.batch = None
    if len(calls) == 2 and not any(":" in call for call in calls):
        args.run_id, args.call_id = calls
        return
    if not all(":" in call for call in calls):
        raise UserError(
            "Name one call as RUN CALL, or several as RUN:CALL RUN:CALL ... "
            "(each optionally RUN:CALL=FINGERPRINT)."
        )
    if args.fingerprint:
        raise UserError("--fingerprint names one call; in a batch write RUN:CALL=FINGERPRINT.")
    if getattr(args, "arguments", None) is not None:
        raise UserError("--arguments edits one call; approve an edited call on its own.")
    args.batch = named_calls(calls)


def named_calls(calls: list[str]) -> list[Named]:
    """``RUN:CALL[=FINGERPRINT]`` positionals as (run, call, fingerprint or ``None``)."""
    return [_named(call) for call in calls]


def _named(text: str) -> Named:
    call, _, fingerprint = text.partition("=")
    run_id, _, call_id = call.partition(":")
    if not run_id or not call_id:
        raise UserError(f"{text!r} is not RUN:CALL (or RUN:CALL=FINGERPRINT).")
    return run_id, call_id, fingerprint or None


Reader = Callable[[str], Awaitable[list[dict[str, Any]] | None]]
"""A run's pending calls as shown now (``None``: it cannot be read; the decision says why)."""


async def _entries(
    args: argparse.Namespace, pending_of: Reader
) -> tuple[list[DecisionEntry], list[dict[str, Any]]]:
    """The batch's entries, and what each decides (the call as read, when it was read)."""
    shown_runs: dict[str, list[dict[str, Any]] | None] = {}
    entries: list[DecisionEntry] = []
    shown: list[dict[str, Any]] = []
    for run_id, call_id, fingerprint in args.batch:
        seen: dict[str, Any] = {}
        if fingerprint is None:
            if run_id not in shown_runs:
                shown_runs[run_id] = await pending_of(run_id)
            seen = next(
                (
                    call
                    for call in shown_runs[run_id] or []
                    if call["call_id"] == call_id and call.get("kind", "approval") == "approval"
                ),
                {},
            )
            fingerprint = str(seen.get("fingerprint", ""))
        entries.append(
            DecisionEntry(
                run_id,
                call_id,
                fingerprint,
                "approve" if args.action == "approve" else "reject",
                message=getattr(args, "message", None),
                reason=args.reason,
                always=args.always,
            )
        )
        shown.append({k: seen[k] for k in ("tool", "arguments") if k in seen})
    return entries, shown


async def decide_on_app(inbox: Inbox, approver: Approver, args: argparse.Namespace) -> Any:
    """The batch through the application's inbox, as ``approver``."""

    async def pending_of(run_id: str) -> list[dict[str, Any]] | None:
        try:
            return list((await inbox.show(run_id)).to_json()["pending"])
        except TetherError:  # no such run, ...: the decision on it says so
            return None

    entries, shown = await _entries(args, pending_of)
    results = await inbox.decide_many(approver, entries)
    return {
        "by": approver.id,
        "decision": args.action,
        "decided": sum(result.ok for result in results),
        "results": [{**r.to_json(), **seen} for r, seen in zip(results, shown, strict=True)],
    }


async def decide_on_server(client: Any, args: argparse.Namespace) -> tuple[Any, list[Any]]:
    """The batch's request to a server (``POST /api/decisions``), and what each call was."""

    async def pending_of(run_id: str) -> list[dict[str, Any]] | None:
        response = await client.get(f"/api/runs/{run_id}")
        if response.status_code >= 400:
            return None
        return list(response.json().get("pending", []))

    entries, shown = await _entries(args, pending_of)
    body = {
        "decisions": [
            {
                "run_id": e.run_id,
                "call_id": e.call_id,
                "decision": e.decision,
                "fingerprint": e.fingerprint,
                "message": e.message,
                "reason": e.reason,
                "always": e.always,
            }
            for e in entries
        ]
    }
    return await client.post("/api/decisions", json=body), shown


def batch_exit_status(result: dict[str, Any]) -> int:
    """0 if every call was decided, else the exit status of the first refusal."""
    for entry in result["results"]:
        if entry["outcome"] == "refused":
            return _EXIT.get(str(entry["type"]), EXIT_FAILURE)
    return 0
