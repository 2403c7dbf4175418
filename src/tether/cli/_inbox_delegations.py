"""``tether inbox delegate``: hand your approvals to another approver for a period.

Through a server (``--url``: ``POST /api/delegations`` as the token's approver) or an
application (``--app``, as ``--by`` with its ``--role``s). ``approve`` and ``reject`` take
``--for APPROVER`` to decide under a delegation from them.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from .._governance import Approver
from ..approvals import delegate
from ..errors import UserError
from ..server import App

__all__ = ["add_delegate_action", "delegate_on_app", "delegate_on_server", "delegated"]


def add_delegate_action(actions: Any, approver_options: Any) -> None:
    action = actions.add_parser(
        "delegate", help="hand your approvals to another approver until a time"
    )
    action.add_argument("to", metavar="APPROVER", help="who decides for you meanwhile")
    action.add_argument("--until", required=True, help="when it ends (ISO 8601 with a zone)")
    action.add_argument("--since", help="when it starts (ISO 8601 with a zone; default: now)")
    approver_options(action)


def _moment(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"{option} is an ISO 8601 time with a zone, not {text!r}.") from None
    if moment.tzinfo is None:
        raise UserError(f"{option} needs a zone (e.g. {text}+00:00).")
    return moment


async def delegate_on_app(app: App, approver: Approver, args: argparse.Namespace) -> Any:
    ends = _moment(args.until, "--until")
    assert ends is not None
    made = await delegate(
        app.inbox.delegations, from_=approver, to=args.to, ends=ends, by=approver,
        starts=_moment(args.since, "--since"), reason=args.reason,
        governance=app.inbox.governance,
    )  # fmt: skip
    await app.inbox.delegations.aclose()
    return {
        "id": made.id, "from_id": made.from_id, "to": made.to,
        "starts": made.starts.isoformat(), "ends": made.ends.isoformat(),
    }  # fmt: skip


async def delegate_on_server(client: Any, args: argparse.Namespace) -> Any:
    body = {"to": args.to, "ends": args.until, "starts": args.since, "reason": args.reason}
    return await client.post("/api/delegations", json={k: v for k, v in body.items() if v})


def delegated(console: Any, result: dict[str, Any]) -> None:
    console.print(
        f"{result['from_id']}'s approvals go to {result['to']} from {result['starts']} "
        f"until {result['ends']}",
        markup=False,
        soft_wrap=True,
    )
