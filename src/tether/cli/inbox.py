"""``tether inbox``: list and decide pending approvals from a shell.

``tether inbox`` works against a server (``--url``, token in ``TETHER_TOKEN``),
an application (``--app module:app``) or a bare store file (``--store``, for
``list``, ``show``, ``runs`` and ``rules``: deciding needs the application's
agents and policies). ``sessions`` and ``end-session`` list and end the web page's
sign-ins (admins; see ``_inbox_sessions``). Exit status: 0 done, 1 failure, 3 the
call is not pending (decided by someone else), 4 not authenticated or not allowed, 5 no
such run (or rule, or sign-in).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from .._governance import Approver
from ..approvals import audit_trail
from ..errors import (
    ApprovalExpiredError,
    EditNotAllowedError,
    NotAuthorizedError,
    NotFoundError,
    NotPendingError,
    RuleNotFoundError,
    RunConflictError,
    RunNotFoundError,
    StaleDecisionError,
    TetherError,
    ToolCallInDoubtError,
    UserError,
)
from ..journal._binding import fingerprint as call_fingerprint
from ..server import App, Inbox
from ..server._errors import need_server_extra
from ..server._inbox import rule_json
from ..store import RunStore, SQLiteRunStore
from ._commands import HELP
from ._exit import EXIT_NOT_ALLOWED, EXIT_NOT_FOUND, EXIT_NOT_PENDING, fail
from ._inbox_batch import batch_exit_status, decide_on_app, named_calls, split_calls
from ._inbox_delegations import add_delegate_action, delegate_on_app
from ._inbox_options import (
    edited_arguments,
    rules_limit,
    shown_call,
    verdict_of,
    what,
    withdrawn_call,
)
from ._inbox_remote import RemoteFailure, remote
from ._inbox_sessions import add_session_actions
from ._inbox_sessions import on_app as sessions_on_app
from ._load import load_app

__all__ = ["add_inbox_command", "inbox_command"]


def add_inbox_command(commands: Any) -> None:
    """Add ``inbox`` and its actions to the ``tether`` command line."""
    inbox = commands.add_parser("inbox", help=HELP["inbox"])
    where = inbox.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a tether server (token in TETHER_TOKEN)")
    where.add_argument("--app", help="module:attribute of a tether.server.App")
    where.add_argument("--store", help="a SQLite run store file (list and show only)")
    inbox.add_argument("--json", action="store_true", help="print JSON instead of tables")
    actions = inbox.add_subparsers(dest="action", required=True)
    _add_readings(actions)
    retry = actions.add_parser("retry", help="try a failed run again (a worker takes it up)")
    retry.add_argument("run_id")
    _add_approver_options(retry)
    _add_decisions(actions)
    add_delegate_action(actions, _add_approver_options)
    _add_review(actions)
    add_session_actions(actions)
    rules = actions.add_parser("rules", help="standing approvals (oldest grant first)")
    rules.add_argument("--agent")
    rules.add_argument("--tool")
    rules.add_argument("--live", action="store_true", help="only rules that may still approve")
    rules.add_argument("--limit", type=int, default=100, help="rules to list (1-500)")
    revoke = actions.add_parser(
        "revoke",
        help="revoke a standing approval (RULE_ID), or withdraw your decision on a call that "
        "has not started (RUN:CALL[=FINGERPRINT])",
    )
    revoke.add_argument("rule_id", metavar="RULE_ID|RUN:CALL")
    _add_approver_options(revoke)
    undo = actions.add_parser(
        "undo", help="undo a completed call with its tool's compensation, once (--app only)"
    )
    undo.add_argument("call", metavar="RUN:CALL[=FINGERPRINT]")
    _add_approver_options(undo)
    inbox.set_defaults(func=inbox_command)


def _add_readings(actions: Any) -> None:
    """``list``, ``show`` and ``runs``."""
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


def _add_decisions(actions: Any) -> None:
    """``approve`` and ``reject``."""
    for name in ("approve", "reject"):
        action = actions.add_parser(name, help=f"{name} a pending call, or several at once")
        action.add_argument(
            "calls",
            nargs="+",
            metavar="CALL",
            help="RUN_ID CALL_ID for one call; RUN_ID:CALL_ID[=FINGERPRINT] ... for several "
            "(of one run or several: the decisions on one run are recorded all or none)",
        )
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
        action.add_argument(
            "--for", dest="on_behalf_of", metavar="APPROVER",
            help="decide for APPROVER, under their delegation to you (inbox delegate)",
        )  # fmt: skip
        _add_approver_options(action)


def _add_review(actions: Any) -> None:
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


def _add_approver_options(action: Any) -> None:
    action.add_argument("--reason", help="why (kept in the audit trail)")
    action.add_argument("--by", help="approver id (with --app; a server knows who you are)")
    action.add_argument(
        "--role",
        action="append",
        default=[],
        help="a role of the --by approver (repeat for several; with --app)",
    )


def inbox_command(args: argparse.Namespace) -> int:
    """Run ``tether inbox``: print the result, or fail with the exit status of the refusal."""
    try:
        if args.action in ("approve", "reject"):
            split_calls(args)
            if getattr(args, "batch", None) and args.on_behalf_of:
                raise UserError("--for decides one call at a time: name one RUN_ID CALL_ID.")
        elif args.action == "revoke" and ":" in args.rule_id:  # a decision, not a rule
            args.action = "withdraw"
            [(args.run_id, args.call_id, args.fingerprint)] = named_calls([args.rule_id])
        elif args.action == "undo":
            [(args.run_id, args.call_id, args.fingerprint)] = named_calls([args.call])
        result = asyncio.run(_act(args))
    except (NotPendingError, ApprovalExpiredError, StaleDecisionError, ToolCallInDoubtError) as exc:
        return fail(str(exc), EXIT_NOT_PENDING)
    except RunConflictError as exc:
        return fail(str(exc), EXIT_NOT_PENDING)
    except (NotAuthorizedError, EditNotAllowedError) as exc:
        return fail(str(exc), EXIT_NOT_ALLOWED)
    except (RunNotFoundError, RuleNotFoundError, NotFoundError) as exc:
        return fail(str(exc), EXIT_NOT_FOUND)
    except RemoteFailure as exc:
        return fail(exc.message, exc.status)
    except TetherError as exc:
        return fail(str(exc))
    _print(args, result)
    return batch_exit_status(result) if getattr(args, "batch", None) else 0


async def _act(args: argparse.Namespace) -> Any:
    """The action's result as JSON data, from a server, a store file or an application."""
    if args.url:
        return await remote(args)
    if args.store:
        store = SQLiteRunStore(args.store)
        try:
            return await _on_store(store, args)
        finally:
            await store.close()
    return await _on_app(load_app(args.app), args)


async def _on_store(store: SQLiteRunStore, args: argparse.Namespace) -> Any:
    """Reading a bare store file (no agents: deciding is refused)."""
    if args.action == "list":
        return await _pending(Inbox(store, []), args)
    if args.action == "show":
        return await _stored_run(store, args.run_id)
    if args.action == "runs":
        return await _runs(Inbox(store, []), args)
    if args.action in ("sessions", "end-session"):
        raise UserError(
            "Sign-ins end by the application's lifetimes: use --app module:app or --url."
        )
    if args.action == "rules":
        found = await store.list_rules(
            agent=args.agent,
            tool=args.tool,
            live_at=datetime.now(UTC) if args.live else None,
            limit=rules_limit(args.limit),
        )
        return {"rules": [rule_json(rule) for rule in found]}
    raise UserError("Deciding needs the application's agents: use --app module:app or --url.")


async def _on_app(app: App, args: argparse.Namespace) -> Any:
    """Reading and deciding through the application's inbox (decisions need ``--by``)."""
    inbox = app.inbox
    if args.action in ("sessions", "end-session"):
        return await sessions_on_app(app, args)
    if args.action == "list":
        return await _pending(inbox, args)
    if args.action == "show":
        return (await inbox.show(args.run_id)).to_json()
    if args.action == "runs":
        return await _runs(inbox, args)
    if args.action == "rules":
        found = await inbox.rules(
            agent=args.agent, tool=args.tool, live=args.live, limit=rules_limit(args.limit)
        )
        return {"rules": [rule_json(rule) for rule in found]}
    if not args.by:
        raise UserError("With --app, say who decides: --by APPROVER.")
    approver = Approver(args.by, roles=frozenset(args.role))
    if args.action == "revoke":
        return rule_json(await inbox.revoke_rule(args.rule_id, approver, reason=args.reason))
    if args.action == "delegate":
        return await delegate_on_app(app, approver, args)
    if args.action == "retry":
        seq = await inbox.retry(args.run_id, approver, reason=args.reason)
        return {"run_id": args.run_id, "retried_by": approver.id, "seq": seq}
    if args.action == "withdraw":
        fingerprint = args.fingerprint or withdrawn_call(
            args, (await inbox.show(args.run_id, approver)).to_json()
        )
        seq = await inbox.revoke(
            args.run_id, args.call_id, approver, reason=args.reason, fingerprint=fingerprint
        )
        return {"run_id": args.run_id, "call_id": args.call_id, "revoked_by": args.by, "seq": seq}
    if args.action == "undo":
        done = await inbox.undo(
            args.run_id, args.call_id, approver, reason=args.reason, fingerprint=args.fingerprint
        )
        return {"run_id": args.run_id, "call_id": args.call_id, "undone_by": args.by} | {
            "output": done.output,
            "failed": done.failed,
        }
    if getattr(args, "batch", None):
        return await decide_on_app(inbox, approver, args)
    return await _decide(inbox, approver, args)


async def _decide(inbox: Inbox, approver: Approver, args: argparse.Namespace) -> Any:
    """``approve``, ``reject`` or ``review``: on the call as given, or as the run shows it now."""
    shown = shown_call(args, (await inbox.show(args.run_id)).to_json()["pending"])
    fingerprint = shown["fingerprint"] if shown is not None else args.fingerprint
    if args.action == "review":
        verdict, output = verdict_of(args)
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
            **what(shown),
        }
    seq = await inbox.decide(
        args.run_id,
        args.call_id,
        approver,
        args.action,
        message=getattr(args, "message", None),
        reason=args.reason,
        always=args.always,
        arguments=edited_arguments(args),
        fingerprint=fingerprint,
        on_behalf_of=args.on_behalf_of,
    )
    return {
        "run_id": args.run_id,
        "call_id": args.call_id,
        "decision": args.action,
        "seq": seq,
        **what(shown),
    }


async def _pending(inbox: Inbox, args: argparse.Namespace) -> dict[str, Any]:
    page = await inbox.pending(
        agent=args.agent,
        tool=args.tool,
        run_id=args.run,
        order="newest" if args.newest else "oldest",
        limit=args.limit,
        cursor=args.cursor,
    )
    return {"approvals": [call.to_json() for call in page.calls], "next_cursor": page.next_cursor}


async def _runs(inbox: Inbox, args: argparse.Namespace) -> dict[str, Any]:
    page = await inbox.runs(
        status=args.status, agent=args.agent, limit=args.limit, cursor=args.cursor
    )
    return {"runs": list(page.runs), "next_cursor": page.next_cursor}


async def _stored_run(store: RunStore, run_id: str) -> dict[str, Any]:
    """A run as a store file shows it: no agents, so its pending calls as the store lists them."""
    stored = await store.load(run_id)
    pending = await store.pending_approvals(run_id=run_id)
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
                "fingerprint": call_fingerprint(p.agent, p.tool, p.call_id, p.arguments),
            }
            for p in pending
        ],
        "audit": [record.to_json() for record in audit_trail(stored.events)],
    }


def _print(args: argparse.Namespace, result: Any) -> None:
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return
    try:
        from ._inbox_tables import print_tables
    except ImportError as exc:
        raise need_server_extra(exc) from exc
    print_tables("batch" if getattr(args, "batch", None) else args.action, result)
