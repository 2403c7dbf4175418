"""The channels' endpoints: Slack's interactions, and the confirmation page of e-mail links.

- ``POST /slack/interactions``: a button press of a Slack message (``SlackChannel.interact``
  checks its signature, freshness and replay, maps the user and decides through the inbox).
- ``GET /confirm/{token}``: the page an e-mail link opens; it decides nothing.
- ``POST /confirm/{token}``: the page's form (CSRF token), deciding once as the link's
  approver, bound to the call's fingerprint; refused when the link is spent, expired, or
  the browser is signed in as someone else.
"""

from __future__ import annotations

from typing import Any

from ..._governance import Approver
from ...errors import StateError, StoreError
from .._errors import need_server_extra
from ..channels import EmailChannel, LinkClaims, Request, SlackChannel
from ._browser import FormChecked, render, signed_in
from ._dependencies import Application, Served
from ._limits import TEXT_CHARS

try:
    from fastapi import APIRouter, Form
    from fastapi import Request as HTTPRequest
    from fastapi.responses import JSONResponse, Response
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise need_server_extra(exc) from exc

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.post("/slack/interactions")
async def slack_interactions(request: HTTPRequest, app: Application) -> Any:
    body = await request.body()
    outcome = None
    for channel in app.channels.channels.values():
        if isinstance(channel, SlackChannel):
            outcome = await channel.interact(app.channels, body, request.headers)
            if outcome.result != "forged":
                break
    if outcome is None:
        return Response(status_code=404)
    if outcome.body is not None:
        return JSONResponse(outcome.body, status_code=outcome.status)
    return Response(status_code=outcome.status)


@router.get("/confirm/{token}")
async def confirm_page(request: HTTPRequest, app: Application, token: str) -> Any:
    who = await signed_in(app, request, touch=False)
    return await _page(app, request, token, who, decision=None, message="")


@router.post("/confirm/{token}")
async def confirm(
    request: HTTPRequest,
    app: Application,
    token: str,
    _: FormChecked,
    decision: str = Form(""),
    message: str = Form("", max_length=TEXT_CHARS),
) -> Any:
    if decision not in ("approve", "reject"):
        decision = ""
    who = await signed_in(app, request, touch=False)
    return await _page(app, request, token, who, decision=decision or None, message=message)


async def _page(
    app: Served,
    request: HTTPRequest,
    token: str,
    who: Approver | None,
    *,
    decision: str | None,
    message: str,
) -> Any:
    """The confirmation page: what the link names and, for a POST, the decision taken."""
    found = _claims(app, token)
    values: dict[str, Any] = {
        "action": f"/confirm/{token}",
        "now": app.inbox.governance.now(),
        "request": None,
        "approver": None,
        "can_decide": False,
        "refused": True,
    }

    def show(status: int, heading: str, notice: str, **more: Any) -> Any:
        values.update(more, heading=heading, notice=notice)
        return render(app, request, "confirm.html", values, who, status)

    if found is None:
        return show(
            404,
            "Not a valid link",
            "This link is not one the inbox sent, or it was changed. Nothing was recorded.",
        )
    channel, claims, approver = found
    if approver is not None:
        values["approver"] = approver
        values["request"] = await app.channels.request(
            claims.run_id, claims.call_id, claims.fingerprint
        )
    refusal = await _refusal(app, channel, claims, approver, who, values["request"])
    if refusal is not None:
        return show(*refusal)
    if decision is None:
        return show(
            200,
            "Confirm your decision",
            "Approve or reject the call below.",
            can_decide=True,
            refused=False,
        )
    assert approver is not None
    return await _decide(app, claims, approver, decision, message, show)


async def _refusal(
    app: Served,
    channel: EmailChannel,
    claims: LinkClaims,
    approver: Approver | None,
    who: Approver | None,
    shown: Request | None,
) -> tuple[int, str, str] | None:
    """Why the link may not decide now (status, heading, notice), or ``None``."""
    if approver is None:
        return (
            403,
            "Link refused",
            (
                "The person this link was sent to may no longer decide "
                "from e-mail. Nothing was recorded."
            ),
        )
    if claims.expired(app.inbox.governance.now().timestamp()):
        return (
            410,
            "Link expired",
            ("This link has expired. Nothing was recorded; decide in the inbox."),
        )
    if await app.channels.book.spent(claims.nonce):
        return (
            410,
            "Link already used",
            ("This link was used once and works no more. Nothing more was recorded."),
        )
    if who is None and channel.require_sign_in:
        return (
            401,
            "Sign in first",
            (
                f"This link decides only once you are signed in to the "
                f"inbox as {approver.id}. Sign in, then open it again."
            ),
        )
    if who is not None and who.id != approver.id:
        return (
            403,
            "Not your link",
            (
                f"This link was sent to {approver.id}, and this browser "
                f"is signed in as {who.id}. Nothing was recorded."
            ),
        )
    if shown is None or shown.status != "pending":
        return 409, "Nothing to decide", "The call no longer waits for a decision."
    return None


async def _decide(
    app: Served, claims: LinkClaims, approver: Approver, decision: str, message: str, show: Any
) -> Any:
    if not await app.channels.book.spend(claims.nonce, claims.expires):
        return show(410, "Link already used", "This link was used once and works no more.")
    try:
        await app.inbox.decide(
            claims.run_id,
            claims.call_id,
            approver,
            "approve" if decision == "approve" else "reject",
            message=(message.strip() or None) if decision == "reject" else None,
            reason="decided from an e-mail link",
            fingerprint=claims.fingerprint,
        )
    except (StateError, StoreError) as exc:
        return show(403, "Not recorded", f"{exc}")
    request = await app.channels.request(claims.run_id, claims.call_id, claims.fingerprint)
    verb = "Approved" if decision == "approve" else "Rejected"
    return show(
        200, verb, f"{verb} as {approver.id}; the run goes on.", request=request, refused=False
    )


def _claims(app: Served, token: str) -> tuple[EmailChannel, LinkClaims, Approver | None] | None:
    """The e-mail channel whose key signed ``token``, its claims and their approver."""
    for channel in app.channels.channels.values():
        if isinstance(channel, EmailChannel) and channel.links is not None:
            claims = channel.links.verify(token)
            if claims is not None:
                return channel, claims, channel.approver(claims.approver)
    return None
