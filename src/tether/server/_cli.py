"""``tether serve``, ``tether worker`` and ``tether inbox``: the inbox from a shell.

``tether inbox`` works against a server (``--url``, token in ``TETHER_TOKEN``),
an application (``--app module:app``) or a bare store file (``--store``, for
``list``, ``show`` and ``rules``: deciding needs the application's agents and
policies). Exit status: 0 done, 1 failure, 3 the call is not pending (decided by
someone else), 4 not authenticated or not allowed, 5 no such run (or rule).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from ..errors import (
    ApprovalExpiredError,
    EditNotAllowedError,
    NotAuthorizedError,
    NotPendingError,
    RuleNotFoundError,
    RunConflictError,
    RunNotFoundError,
    StaleDecisionError,
    UserError,
)
from ._errors import need_server_extra

if TYPE_CHECKING:
    from ._app import App

__all__ = ["add_server_commands", "load_app"]

EXIT_NOT_PENDING = 3
EXIT_NOT_ALLOWED = 4
EXIT_NOT_FOUND = 5

Verdict = Literal["released", "replaced", "withheld"]


def add_server_commands(commands: Any) -> None:
    """Add ``serve``, ``worker`` and ``inbox`` to the ``tether`` command line."""
    serve = commands.add_parser("serve", help="serve an App's inbox (JSON API and web page)")
    serve.add_argument("app", help="module:attribute of a tether.App")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=_serve)

    worker = commands.add_parser("worker", help="resume an App's runs once they are decided")
    worker.add_argument("app", help="module:attribute of a tether.App")
    worker.add_argument("--poll", type=float, default=1.0, help="seconds between looks")
    worker.add_argument(
        "--max-backoff",
        type=float,
        default=10.0,
        help="longest wait between looks while the store is unavailable (seconds)",
    )
    worker.set_defaults(func=_worker)

    inbox = commands.add_parser("inbox", help="list and decide pending approvals")
    where = inbox.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a tether server (token in TETHER_TOKEN)")
    where.add_argument("--app", help="module:attribute of a tether.App")
    where.add_argument("--store", help="a SQLite run store file (list and show only)")
    inbox.add_argument("--json", action="store_true", help="print JSON instead of tables")
    actions = inbox.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="pending approvals")
    listing.add_argument("--agent")
    listing.add_argument("--tool")
    listing.add_argument("--run")
    listing.add_argument("--newest", action="store_true", help="newest first")
    listing.add_argument("--limit", type=int, default=50, help="calls per page (1-500)")
    listing.add_argument("--cursor", help="the next_cursor a previous page printed")
    show = actions.add_parser("show", help="a run: status, pending calls, audit trail")
    show.add_argument("run_id")
    runs = actions.add_parser("runs", help="runs, newest first (failed ones with their error)")
    runs.add_argument("--status", choices=["running", "waiting", "in_doubt", "completed", "failed"])
    runs.add_argument("--agent")
    runs.add_argument("--limit", type=int, default=50, help="runs per page (1-500)")
    runs.add_argument("--cursor", help="the next_cursor a previous page printed")
    retry = actions.add_parser("retry", help="try a failed run again (a worker takes it up)")
    retry.add_argument("run_id")
    _add_approver_options(retry)
    for name in ("approve", "reject"):
        action = actions.add_parser(name, help=f"{name} a pending call")
        action.add_argument("run_id")
        action.add_argument("call_id")
        action.add_argument(
            "--always", action="store_true", help=f"{name} the tool's later calls in this run too"
        )
        if name == "reject":
            action.add_argument("--message", "-m", help="what the model reads")
        else:
            action.add_argument(
                "--arguments", help="approve with these arguments (a JSON object; editable tools)"
            )
        action.add_argument(
            "--fingerprint",
            help="the call's fingerprint as list/show printed it (default: read the run now "
            "and decide the call waiting under CALL_ID, printing what was decided)",
        )
        action.add_argument("--reason", help="why (kept in the audit trail)")
        action.add_argument("--by", help="approver id (with --app; a server knows who you are)")
        action.add_argument(
            "--role",
            action="append",
            default=[],
            help="a role of the --by approver (repeat for several; with --app)",
        )
    review = actions.add_parser("review", help="review a call's output before the model reads it")
    review.add_argument("run_id")
    review.add_argument("call_id")
    verdict = review.add_mutually_exclusive_group(required=True)
    verdict.add_argument(
        "--release", action="store_true", help="the model reads the output as the tool returned it"
    )
    verdict.add_argument("--replace", metavar="TEXT", help="the model reads TEXT instead")
    verdict.add_argument(
        "--withhold",
        metavar="MESSAGE",
        nargs="?",
        const="",
        help="the model reads MESSAGE (by default: that the output was withheld)",
    )
    review.add_argument(
        "--fingerprint",
        help="the call's fingerprint as list/show printed it (default: read the run now)",
    )
    _add_approver_options(review)
    rules = actions.add_parser("rules", help="standing approvals (oldest grant first)")
    rules.add_argument("--agent")
    rules.add_argument("--tool")
    rules.add_argument("--live", action="store_true", help="only rules that may still approve")
    rules.add_argument("--limit", type=int, default=100, help="rules to list (1-500)")
    revoke = actions.add_parser("revoke", help="revoke a standing approval")
    revoke.add_argument("rule_id")
    _add_approver_options(revoke)
    inbox.set_defaults(func=_inbox)


def _add_approver_options(action: Any) -> None:
    action.add_argument("--reason", help="why (kept in the audit trail)")
    action.add_argument("--by", help="approver id (with --app; a server knows who you are)")
    action.add_argument(
        "--role",
        action="append",
        default=[],
        help="a role of the --by approver (repeat for several; with --app)",
    )


def load_app(spec: str) -> App:
    """The ``App`` at ``module:attribute`` (the current directory is importable)."""
    from ._app import App

    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise UserError(f"Name the app as module:attribute (like myapp:app), not {spec!r}.")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(f"Cannot import {module_name!r}: {exc}.") from None
    app = getattr(module, attribute, None)
    if not isinstance(app, App):
        raise UserError(f"{spec} is not a tether.App (it is {type(app).__name__}).")
    return app


def _serve(args: argparse.Namespace) -> int:
    app = load_app(args.app)
    try:
        import uvicorn
    except ImportError as exc:
        raise need_server_extra(exc) from exc
    app.asgi  # noqa: B018  (build it now, so a missing extra fails before serving)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _worker(args: argparse.Namespace) -> int:
    from ._worker import Worker

    app = load_app(args.app)
    asyncio.run(Worker(app, poll_interval=args.poll, max_backoff=args.max_backoff).serve())
    return 0


def _inbox(args: argparse.Namespace) -> int:
    from ..cli import fail
    from ..errors import TetherError

    try:
        result = asyncio.run(_inbox_action(args))
    except (NotPendingError, ApprovalExpiredError, StaleDecisionError) as exc:
        return fail(str(exc), EXIT_NOT_PENDING)
    except RunConflictError as exc:
        return fail(str(exc), EXIT_NOT_PENDING)
    except (NotAuthorizedError, EditNotAllowedError) as exc:
        return fail(str(exc), EXIT_NOT_ALLOWED)
    except (RunNotFoundError, RuleNotFoundError) as exc:
        return fail(str(exc), EXIT_NOT_FOUND)
    except _HTTPFailure as exc:
        return fail(exc.message, exc.status)
    except TetherError as exc:
        return fail(str(exc))
    _print(args, result)
    return 0


class _HTTPFailure(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


async def _inbox_action(args: argparse.Namespace) -> Any:
    from ._inbox import rule_json

    if args.url:
        return await _remote(args)
    if args.store:
        from ..store import SQLiteRunStore

        store = SQLiteRunStore(args.store)
        try:
            if args.action == "list":
                from ._inbox import Inbox

                page = await Inbox(store, []).pending(
                    agent=args.agent,
                    tool=args.tool,
                    run_id=args.run,
                    order="newest" if args.newest else "oldest",
                    limit=args.limit,
                    cursor=args.cursor,
                )
                return {
                    "approvals": [call.to_json() for call in page.calls],
                    "next_cursor": page.next_cursor,
                }
            if args.action == "show":
                from ..approvals._audit import audit_trail
                from ..journal._binding import fingerprint as call_fingerprint

                stored = await store.load(args.run_id)
                pending = await store.pending_approvals(run_id=args.run_id)
                return {
                    "run_id": stored.run_id,
                    "agent": stored.root_agent,
                    "status": stored.status,
                    "pending": [
                        {
                            "call_id": p.call_id,
                            "tool": p.tool,
                            "arguments": p.arguments,
                            "kind": p.kind,
                            "fingerprint": call_fingerprint(
                                p.agent, p.tool, p.call_id, p.arguments
                            ),
                        }
                        for p in pending
                    ],
                    "audit": [record.to_json() for record in audit_trail(stored.events)],
                }
            if args.action == "runs":
                from ._inbox import Inbox

                return await _runs(Inbox(store, []), args)
            if args.action == "rules":
                found = await store.list_rules(
                    agent=args.agent,
                    tool=args.tool,
                    live_at=datetime.now(UTC) if args.live else None,
                    limit=_rules_limit(args.limit),
                )
                return {"rules": [rule_json(rule) for rule in found]}
            raise UserError(
                "Deciding needs the application's agents: use --app module:app or --url."
            )
        finally:
            await store.close()
    app = load_app(args.app)
    inbox = app.inbox
    if args.action == "list":
        page = await inbox.pending(
            agent=args.agent,
            tool=args.tool,
            run_id=args.run,
            order="newest" if args.newest else "oldest",
            limit=args.limit,
            cursor=args.cursor,
        )
        return {
            "approvals": [call.to_json() for call in page.calls],
            "next_cursor": page.next_cursor,
        }
    if args.action == "show":
        return (await inbox.show(args.run_id)).to_json()
    if args.action == "runs":
        return await _runs(inbox, args)
    if args.action == "rules":
        found = await inbox.rules(
            agent=args.agent, tool=args.tool, live=args.live, limit=_rules_limit(args.limit)
        )
        return {"rules": [rule_json(rule) for rule in found]}
    if not args.by:
        raise UserError("With --app, say who decides: --by APPROVER.")
    from .._governance import Approver

    approver = Approver(args.by, roles=frozenset(args.role))
    if args.action == "revoke":
        return rule_json(await inbox.revoke_rule(args.rule_id, approver, reason=args.reason))
    if args.action == "retry":
        seq = await inbox.retry(args.run_id, approver, reason=args.reason)
        return {"run_id": args.run_id, "retried_by": approver.id, "seq": seq}
    shown = _shown_call(args, (await inbox.show(args.run_id)).to_json()["pending"])
    fingerprint = shown["fingerprint"] if shown is not None else args.fingerprint
    if args.action == "review":
        verdict, output = _verdict(args)
        seq = await inbox.review(
            args.run_id,
            args.call_id,
            approver,
            verdict,
            output=output,
            reason=args.reason,
            fingerprint=fingerprint,
        )
        return {
            "run_id": args.run_id,
            "call_id": args.call_id,
            "verdict": verdict,
            "seq": seq,
            **_what(shown),
        }
    seq = await inbox.decide(
        args.run_id,
        args.call_id,
        approver,
        args.action,
        message=getattr(args, "message", None),
        reason=args.reason,
        always=args.always,
        arguments=_edited_arguments(args),
        fingerprint=fingerprint,
    )
    return {
        "run_id": args.run_id,
        "call_id": args.call_id,
        "decision": args.action,
        "seq": seq,
        **_what(shown),
    }


async def _runs(inbox: Any, args: argparse.Namespace) -> dict[str, Any]:
    page = await inbox.runs(
        status=args.status, agent=args.agent, limit=args.limit, cursor=args.cursor
    )
    return {"runs": list(page.runs), "next_cursor": page.next_cursor}


def _shown_call(args: argparse.Namespace, pending: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The pending call the decision is about, as a fresh read of the run shows it, when no
    ``--fingerprint`` was given (``None`` with one: the decision names what was seen)."""
    if args.fingerprint:
        return None
    kind = "output_review" if args.action == "review" else "approval"
    return next(
        (c for c in pending if c["call_id"] == args.call_id and c.get("kind", kind) == kind),
        None,
    )


def _what(shown: dict[str, Any] | None) -> dict[str, Any]:
    """What a decision resolved from a fresh read applied to, for the user to see."""
    if shown is None:
        return {}
    return {k: shown[k] for k in ("agent", "tool", "arguments", "fingerprint") if k in shown}


async def _remote(args: argparse.Namespace) -> Any:
    try:
        import httpx
    except ImportError as exc:
        raise need_server_extra(exc) from exc
    token = os.environ.get("TETHER_TOKEN", "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    shown: dict[str, Any] | None = None
    async with httpx.AsyncClient(base_url=args.url, headers=headers, timeout=30) as client:
        try:
            if args.action == "list":
                params = {
                    k: v
                    for k, v in {
                        "agent": args.agent,
                        "tool": args.tool,
                        "run_id": args.run,
                        "order": "newest" if args.newest else "oldest",
                        "limit": args.limit,
                        "cursor": args.cursor,
                    }.items()
                    if v is not None
                }
                response = await client.get("/api/approvals", params=params)
            elif args.action == "show":
                response = await client.get(f"/api/runs/{args.run_id}")
            elif args.action == "runs":
                params = {
                    k: v
                    for k, v in {
                        "status": args.status,
                        "agent": args.agent,
                        "limit": args.limit,
                        "cursor": args.cursor,
                    }.items()
                    if v is not None
                }
                response = await client.get("/api/runs", params=params)
            elif args.action == "retry":
                response = await client.post(
                    f"/api/runs/{args.run_id}/retry", json={"reason": args.reason}
                )
            elif args.action == "rules":
                params = {
                    k: v
                    for k, v in {
                        "agent": args.agent,
                        "tool": args.tool,
                        "live": "true" if args.live else None,
                        "limit": _rules_limit(args.limit),
                    }.items()
                    if v is not None
                }
                response = await client.get("/api/rules", params=params)
            elif args.action == "revoke":
                response = await client.post(
                    f"/api/rules/{args.rule_id}/revocation", json={"reason": args.reason}
                )
            elif args.action == "review":
                verdict, output = _verdict(args)
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
            else:
                shown = await _shown_remote(client, args)
                body: dict[str, Any] = {
                    "decision": args.action,
                    "always": args.always,
                    "reason": args.reason,
                    "fingerprint": _named(args, shown),
                }
                if args.action == "reject":
                    body["message"] = args.message
                elif args.arguments is not None:
                    body["arguments"] = _edited_arguments(args)
                response = await client.post(
                    f"/api/runs/{args.run_id}/calls/{args.call_id}/decision", json=body
                )
        except httpx.HTTPError as exc:
            raise UserError(f"Cannot reach {args.url}: {exc}. Check --url.") from None
    if response.status_code >= 400:
        try:
            message = response.json().get("error", response.text)
        except ValueError:
            message = response.text
        status = {401: EXIT_NOT_ALLOWED, 403: EXIT_NOT_ALLOWED, 404: EXIT_NOT_FOUND}.get(
            response.status_code, EXIT_NOT_PENDING if response.status_code == 409 else 1
        )
        if response.status_code == 401:
            message = f"{message} (set TETHER_TOKEN)"
        raise _HTTPFailure(f"{response.status_code}: {message}", status)
    result = response.json()
    if args.action in ("approve", "reject", "review"):
        result.update(_what(shown))
    return result


async def _shown_remote(client: Any, args: argparse.Namespace) -> dict[str, Any] | None:
    """``_shown_call`` over HTTP: the run as the server shows it now."""
    if args.fingerprint:
        return None
    response = await client.get(f"/api/runs/{args.run_id}")
    if response.status_code >= 400:
        return None  # the decision's own request reports it (404, 401, ...)
    return _shown_call(args, response.json().get("pending", []))


def _named(args: argparse.Namespace, shown: dict[str, Any] | None) -> str:
    """The fingerprint a decision over HTTP names: given, or read from the run; empty when
    the call waits for nothing (the server then says it is not pending)."""
    if args.fingerprint:
        return str(args.fingerprint)
    return str(shown["fingerprint"]) if shown is not None else ""


def _verdict(args: argparse.Namespace) -> tuple[Verdict, str | None]:
    """The review the options ask for, and what the model reads instead (if anything)."""
    if args.release:
        return "released", None
    if args.replace is not None:
        return "replaced", args.replace
    return "withheld", args.withhold or None  # a bare --withhold: the default message


def _rules_limit(limit: int) -> int:
    if not 1 <= limit <= 500:
        raise UserError(f"--limit is from 1 to 500, not {limit}.")
    return limit


def _edited_arguments(args: argparse.Namespace) -> dict[str, Any] | None:
    text = getattr(args, "arguments", None)
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UserError(f"--arguments is not JSON ({exc}); pass a JSON object.") from None
    if not isinstance(value, dict):
        raise UserError("--arguments is a JSON object of the tool's parameters.")
    return value


def _print(args: argparse.Namespace, result: Any) -> None:
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError as exc:
        raise need_server_extra(exc) from exc
    console = Console()
    if args.action == "list":
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
        if result.get("next_cursor"):
            console.print(f"more: --cursor {result['next_cursor']}", markup=False)
    elif args.action == "show":
        console.print(
            f"run {result['run_id']} of {result['agent']}: {result['status']}", markup=False
        )
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
    elif args.action == "runs":
        table = Table(title=f"{len(result['runs'])} runs")
        for column in ("run", "agent", "status", "updated", "error"):
            table.add_column(column)
        for run in result["runs"]:
            failure = run.get("failure")
            error = f"{failure['error']}: {failure['message']}" if failure else ""
            table.add_row(run["run_id"], run["agent"], run["status"], run["updated_at"], error)
        console.print(table)
        if result.get("next_cursor"):
            console.print(f"more: --cursor {result['next_cursor']}", markup=False)
    elif args.action == "retry":
        console.print(f"run {result['run_id']} will be tried again", markup=False)
    elif args.action == "rules":
        table = Table(title=f"{len(result['rules'])} standing approvals")
        for column in ("rule", "agent", "tool", "condition", "uses", "expires", "granted by"):
            table.add_column(column)
        for rule in result["rules"]:
            condition = (
                json.dumps(rule["match"]) if rule["match"] is not None else rule["predicate"]
            )
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
    elif args.action == "revoke":
        console.print(f"revoked rule {result['id']} ({result['tool']})", markup=False)
    elif args.action == "review":
        console.print(
            f"{result['verdict']} the output of {result['call_id']} of run {result['run_id']}",
            markup=False,
        )
        _print_what(console, result)
    else:
        console.print(
            f"{'approved' if result['decision'] == 'approve' else 'rejected'} "
            f"{result['call_id']} of run {result['run_id']}",
            markup=False,
        )
        _print_what(console, result)


def _print_what(console: Any, result: dict[str, Any]) -> None:
    if "fingerprint" in result:
        console.print(
            f"  the call: {result.get('tool', '')} {result.get('arguments', '')} "
            f"({result['fingerprint']})",
            markup=False,
            soft_wrap=True,  # one line: scripts and people copy the fingerprint whole
        )
