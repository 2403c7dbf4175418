"""``tether inbox sessions`` and ``tether inbox end-session``: the web page's sign-ins.

Against a server (``--url``) the token's approver must be an admin (``App(admins=...)``);
with ``--app`` the command acts as the store's owner. A bare ``--store`` is refused: when
a sign-in ends depends on the application's lifetimes.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import NotFoundError, UserError
from ..server import App

__all__ = ["add_session_actions", "on_app", "on_server"]


def add_session_actions(actions: Any) -> None:
    """Add ``sessions`` and ``end-session`` to ``tether inbox``'s actions."""
    listing = actions.add_parser("sessions", help="the web page's live sign-ins (admins)")
    listing.add_argument("--approver", help="only this approver's")
    end = actions.add_parser(
        "end-session",
        help="end a sign-in, or every sign-in of one approver (admins)",
        description="End a sign-in by the name `sessions` shows, or all of --approver's: "
        "its cookie stops working at the next request, wherever it is.",
    )
    end.add_argument("session", nargs="?", help="the sign-in's name (its `session` column)")
    end.add_argument("--approver", help="end every sign-in of this approver instead")


def _check(args: argparse.Namespace) -> None:
    if args.action == "end-session" and (args.session is None) == (args.approver is None):
        raise UserError("tether inbox end-session takes a SESSION or --approver ID (one).")


async def on_app(app: App, args: argparse.Namespace) -> dict[str, Any]:
    """The action on ``app``'s session book, as the store's owner."""
    _check(args)
    admin = app.session_admin
    if args.action == "sessions":
        return {"sessions": [info.to_json() for info in await admin.live(args.approver)]}
    if args.approver is not None:
        return {"ended": await admin.end_all_of(args.approver)}
    if not await admin.end(args.session):
        raise NotFoundError(
            f"No live sign-in named {args.session!r}: `tether inbox sessions` lists them "
            "(it may have ended already)."
        )
    return {"ended": 1}


async def on_server(client: Any, args: argparse.Namespace) -> Any:
    """The action's request to a server's JSON API."""
    _check(args)
    if args.action == "sessions":
        params = {"approver": args.approver} if args.approver else {}
        return await client.get("/api/sessions", params=params)
    if args.approver is not None:
        return await client.delete("/api/sessions", params={"approver": args.approver})
    return await client.delete(f"/api/sessions/{args.session}")
