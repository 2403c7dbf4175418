"""``tether inbox --url``: the same actions through a server's JSON API.

The token comes from ``TETHER_TOKEN``; the server knows who decides. A refusal
becomes a ``RemoteFailure`` carrying the exit status the action would have had
against an application.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..errors import NotRevocableError, UserError
from ..server._errors import need_server_extra
from ._exit import EXIT_FAILURE, EXIT_NOT_ALLOWED, EXIT_NOT_FOUND, EXIT_NOT_PENDING
from ._inbox_batch import decide_on_server
from ._inbox_delegations import delegate_on_server
from ._inbox_options import (
    edited_arguments,
    rules_limit,
    shown_call,
    verdict_of,
    what,
    withdrawn_call,
)
from ._inbox_sessions import on_server as sessions_on_server

__all__ = ["RemoteFailure", "remote"]


class RemoteFailure(Exception):
    """The server refused the request: what it said, and the exit status that goes with it."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


async def remote(args: argparse.Namespace) -> Any:
    """The inbox action ``args`` ask for, taken by the server at ``args.url``; its JSON."""
    try:
        import httpx
    except ImportError as exc:
        raise need_server_extra(exc) from exc
    token = os.environ.get("TETHER_TOKEN", "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=args.url, headers=headers, timeout=30) as client:
        try:
            response, shown = await _send(client, args)
        except httpx.HTTPError as exc:
            raise UserError(f"Cannot reach {args.url}: {exc}. Check --url.") from None
    if response.status_code >= 400:
        raise _refusal(response)
    result = response.json()
    if getattr(args, "batch", None):
        result["decision"] = args.action
        results = zip(result["results"], shown, strict=True)
        result["results"] = [{**entry, **seen} for entry, seen in results]
    elif args.action in ("approve", "reject", "review"):
        result.update(what(shown))
    return result


async def _send(client: Any, args: argparse.Namespace) -> tuple[Any, Any]:
    """The request of the action, and the call a decision read from the run (if it did;
    for a batch, what each of its calls was)."""
    if getattr(args, "batch", None):
        return await decide_on_server(client, args)
    if args.action == "list":
        params = _params(
            agent=args.agent,
            tool=args.tool,
            run_id=args.run,
            order="newest" if args.newest else "oldest",
            limit=args.limit,
            cursor=args.cursor,
        )
        return await client.get("/api/approvals", params=params), None
    if args.action == "show":
        return await client.get(f"/api/runs/{args.run_id}"), None
    if args.action == "runs":
        params = _params(status=args.status, agent=args.agent, limit=args.limit, cursor=args.cursor)
        return await client.get("/api/runs", params=params), None
    if args.action in ("sessions", "end-session"):
        return await sessions_on_server(client, args), None
    if args.action == "delegate":
        return await delegate_on_server(client, args), None
    if args.action == "retry":
        body = {"reason": args.reason}
        return await client.post(f"/api/runs/{args.run_id}/retry", json=body), None
    if args.action == "rules":
        params = _params(
            agent=args.agent,
            tool=args.tool,
            live="true" if args.live else None,
            limit=rules_limit(args.limit),
        )
        return await client.get("/api/rules", params=params), None
    if args.action == "revoke":
        body = {"reason": args.reason}
        return await client.post(f"/api/rules/{args.rule_id}/revocation", json=body), None
    if args.action == "withdraw":
        fingerprint = args.fingerprint or withdrawn_call(
            args, (await client.get(f"/api/runs/{args.run_id}")).json()
        )
        if fingerprint is None:
            raise NotRevocableError(
                f"Run {args.run_id!r} shows no decision on call {args.call_id!r} that may be "
                "withdrawn (the call started, or nobody decided it). Nothing was recorded."
            )
        body = {"reason": args.reason, "fingerprint": fingerprint}
        path = f"/api/runs/{args.run_id}/calls/{args.call_id}/revoke"
        return await client.post(path, json=body), None
    if args.action == "undo":
        raise UserError(
            "An undo runs the tool's compensation in this process, with the application's "
            "agents: use --app module:app (the server runs no agent code)."
        )
    if args.action == "review":
        return await _review(client, args)
    return await _decide(client, args)


async def _review(client: Any, args: argparse.Namespace) -> tuple[Any, dict[str, Any] | None]:
    verdict, output = verdict_of(args)
    shown = await _shown_remote(client, args)
    response = await client.post(
        f"/api/runs/{args.run_id}/calls/{args.call_id}/review",
        json={
            "verdict": verdict,
            "output": output,
            "reason": args.reason,
            "fingerprint": _named(args, shown),
        },
    )
    return response, shown


async def _decide(client: Any, args: argparse.Namespace) -> tuple[Any, dict[str, Any] | None]:
    shown = await _shown_remote(client, args)
    body: dict[str, Any] = {
        "decision": args.action,
        "always": args.always,
        "reason": args.reason,
        "fingerprint": _named(args, shown),
    }
    if args.on_behalf_of is not None:
        body["on_behalf_of"] = args.on_behalf_of
    if args.action == "reject":
        body["message"] = args.message
    elif args.arguments is not None:
        body["arguments"] = edited_arguments(args)
    response = await client.post(
        f"/api/runs/{args.run_id}/calls/{args.call_id}/decision", json=body
    )
    return response, shown


def _params(**values: Any) -> dict[str, Any]:
    """Query parameters: the options given (``None``: left out)."""
    return {k: v for k, v in values.items() if v is not None}


def _refusal(response: Any) -> RemoteFailure:
    """What the server said, with the exit status of the refusal."""
    try:
        message = response.json().get("error", response.text)
    except ValueError:
        message = response.text
    status = {401: EXIT_NOT_ALLOWED, 403: EXIT_NOT_ALLOWED, 404: EXIT_NOT_FOUND}.get(
        response.status_code,
        EXIT_NOT_PENDING if response.status_code == 409 else EXIT_FAILURE,
    )
    if response.status_code == 401:
        message = f"{message} (set TETHER_TOKEN)"
    return RemoteFailure(f"{response.status_code}: {message}", status)


async def _shown_remote(client: Any, args: argparse.Namespace) -> dict[str, Any] | None:
    """``shown_call`` over HTTP: the run as the server shows it now."""
    if args.fingerprint:
        return None
    response = await client.get(f"/api/runs/{args.run_id}")
    if response.status_code >= 400:
        return None  # the decision's own request reports it (404, 401, ...)
    return shown_call(args, response.json().get("pending", []))


def _named(args: argparse.Namespace, shown: dict[str, Any] | None) -> str:
    """The fingerprint a decision over HTTP names: given, or read from the run; empty when
    the call waits for nothing (the server then says it is not pending)."""
    if args.fingerprint:
        return str(args.fingerprint)
    return str(shown["fingerprint"]) if shown is not None else ""
