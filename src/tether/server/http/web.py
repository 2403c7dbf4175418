"""The web page: sign in, the inbox, runs, calls, standing approvals, and their forms.

Pages need a signed-in browser (else they lead to the sign-in page); forms carry
the page's CSRF token and the session cookie (``FormSender``), and each ends in a
redirect to the page that shows what it changed.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from ...errors import UserError
from .._batch import DecisionEntry
from .._errors import need_server_extra
from ._browser import Browser, FormChecked, FormSender, render, to_login
from ._dependencies import Application, Served, by_token
from ._limits import BATCH_ENTRIES, CONTENT_CHARS, CURSOR_CHARS, NAME_CHARS, TEXT_CHARS
from ._session import SESSION_COOKIE, begin_session, end_session

try:
    from fastapi import APIRouter, Form, Query, Request
    from fastapi.responses import RedirectResponse
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise need_server_extra(exc) from exc

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/login")
async def login_page(request: Request, app: Application, who: Browser) -> Any:
    return render(app, request, "login.html", {"failed": False}, who)


@router.post("/login")
async def login(
    request: Request, app: Application, _: FormChecked, token: str = Form("", max_length=TEXT_CHARS)
) -> Any:
    found = by_token(app, request, {"authorization": f"Bearer {token.strip()}"})
    if not found:
        return render(app, request, "login.html", {"failed": True}, None, 401)
    await end_session(app, request.cookies.get(SESSION_COOKIE))  # a new id at each sign-in
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        await begin_session(app, found, token.strip()),
        httponly=True,
        samesite="strict",
        secure=app.secure_cookies,
    )
    return response


@router.post("/logout")
async def logout(request: Request, app: Application, _: FormChecked) -> Any:
    await end_session(app, request.cookies.get(SESSION_COOKIE))
    response = to_login()
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/")
async def inbox_page(
    request: Request,
    app: Application,
    who: Browser,
    agent: str | None = Query(None, max_length=NAME_CHARS),
    tool: str | None = Query(None, max_length=NAME_CHARS),
    order: Literal["oldest", "newest"] = "oldest",
    cursor: str | None = Query(None, max_length=CURSOR_CHARS),
) -> Any:
    if not who:
        return to_login()
    page = await app.inbox.pending(
        agent=agent, tool=tool, order=order, limit=50, cursor=cursor, viewer=who
    )
    return render(
        app,
        request,
        "inbox.html",
        {
            "calls": page.calls,
            "next_cursor": page.next_cursor,
            "order": order,
            "now": app.inbox.governance.now(),
            "channel_trouble": await app.channels.trouble(),
        },
        who,
    )


@router.post("/decisions")
async def decide_many_form(
    request: Request,
    who: FormSender,
    app: Application,
    decision: str = Form(""),
    call: Annotated[list[str] | None, Form()] = None,
    reason: str = Form("", max_length=TEXT_CHARS),
) -> Any:
    if decision not in ("approve", "reject"):
        raise UserError(f"decision must be 'approve' or 'reject', not {decision!r}.")
    if not call:
        raise UserError("No call was selected: tick the calls to decide, then decide them.")
    if len(call) > BATCH_ENTRIES:
        raise UserError(f"At most {BATCH_ENTRIES} calls are decided at once.")
    entries = [
        DecisionEntry(
            *_selected(value),
            decision="approve" if decision == "approve" else "reject",
            reason=reason.strip() or None,
        )
        for value in call
    ]
    results = await app.inbox.decide_many(who, entries)
    values = {"results": results, "decision": decision}
    return render(app, request, "decided.html", values, who)


def _selected(value: str) -> tuple[str, str, str]:
    """A ticked call of the list: its run id, call id and fingerprint (a JSON array)."""
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if (
        not isinstance(parsed, list)
        or len(parsed) != 3
        or not all(isinstance(part, str) and 0 < len(part) <= NAME_CHARS for part in parsed)
    ):
        raise UserError(
            "A selected call is not one the list showed. Nothing was recorded; reload the "
            "list and select again."
        )
    return parsed[0], parsed[1], parsed[2]


@router.get("/runs")
async def runs_page(
    request: Request,
    app: Application,
    who: Browser,
    status: Literal["running", "waiting", "in_doubt", "completed"] | None = None,
    order: Literal["oldest", "newest"] = "newest",
    cursor: str | None = Query(None, max_length=CURSOR_CHARS),
) -> Any:
    if not who:
        return to_login()
    page = await app.inbox.runs(status=status, order=order, limit=50, cursor=cursor, viewer=who)
    return render(
        app,
        request,
        "runs.html",
        {"runs": page.runs, "next_cursor": page.next_cursor, "order": order, "status": status},
        who,
    )


@router.get("/rules")
async def rules_page(request: Request, app: Application, who: Browser, live: bool = False) -> Any:
    if not who:
        return to_login()
    rules = await app.inbox.rules(live=live, limit=500, viewer=who)
    values = {"rules": rules, "live": live, "now": app.inbox.governance.now()}
    return render(app, request, "rules.html", values, who)


@router.post("/rules/{rule_id}/revocation")
async def revoke_form(
    rule_id: str, who: FormSender, app: Application, reason: str = Form("", max_length=TEXT_CHARS)
) -> Any:
    await app.inbox.revoke_rule(rule_id, who, reason=reason.strip() or None)
    return RedirectResponse("/rules", status_code=303)


@router.get("/sessions")
async def sessions_page(request: Request, app: Application, who: Browser) -> Any:
    if not who:
        return to_login()
    app.session_admin.check(who)
    values = {"sessions": await app.session_admin.live()}
    return render(app, request, "sessions.html", values, who)


@router.post("/sessions/{session}/end")
async def end_session_form(session: str, who: FormSender, app: Application) -> Any:
    app.session_admin.check(who)
    await app.session_admin.end(session)  # one ended meanwhile is ended all the same
    return RedirectResponse("/sessions", status_code=303)


@router.get("/runs/{run_id}")
async def run_page(request: Request, app: Application, who: Browser, run_id: str) -> Any:
    if not who:
        return to_login()
    run = await app.inbox.show(run_id, who)
    values = {"run": run, "now": app.inbox.governance.now(), "receipts": _receipts(app)}
    return render(app, request, "run.html", values, who)


@router.post("/runs/{run_id}/retry")
async def retry_form(
    run_id: str, who: FormSender, app: Application, reason: str = Form("", max_length=TEXT_CHARS)
) -> Any:
    await app.inbox.retry(run_id, who, reason=reason.strip() or None)
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


@router.get("/runs/{run_id}/calls/{call_id}")
async def call_page(
    request: Request, app: Application, who: Browser, run_id: str, call_id: str
) -> Any:
    if not who:
        return to_login()
    run = await app.inbox.show(run_id, who)
    call = next((c for c in run.pending if c.call_id == call_id), None)
    expired = next((c for c in run.expired if c.call_id == call_id), None)
    tools = await app.inbox.tools_of(call.agent) if call else {}
    return render(
        app,
        request,
        "call.html",
        {
            "run": run,
            "call": call,
            "expired": expired,
            "call_id": call_id,
            "decisions": run.decisions_on(call_id),
            "description": tools.get(call.tool, "") if call else "",
            "now": app.inbox.governance.now(),
            "receipts": _receipts(app),
            "withdraw": run.withdrawable_by(call_id, who.id),
        },
        who,
    )


@router.post("/runs/{run_id}/calls/{call_id}/revoke")
async def revoke_decision_form(
    run_id: str,
    call_id: str,
    who: FormSender,
    app: Application,
    reason: str = Form("", max_length=TEXT_CHARS),
    fingerprint: str = Form("", max_length=NAME_CHARS),
) -> Any:
    await app.inbox.revoke(
        run_id, call_id, who, reason=reason.strip() or None, fingerprint=_shown(fingerprint)
    )
    return RedirectResponse(f"/runs/{run_id}/calls/{call_id}", status_code=303)


@router.post("/runs/{run_id}/calls/{call_id}/decision")
async def decide_form(
    run_id: str,
    call_id: str,
    who: FormSender,
    app: Application,
    decision: str = Form(""),
    message: str = Form("", max_length=TEXT_CHARS),
    reason: str = Form("", max_length=TEXT_CHARS),
    always: str = Form(""),
    arguments: str | None = Form(None, max_length=CONTENT_CHARS),
    fingerprint: str = Form("", max_length=NAME_CHARS),
) -> Any:
    if decision not in ("approve", "reject"):
        raise UserError(f"decision must be 'approve' or 'reject', not {decision!r}.")
    await app.inbox.decide(
        run_id,
        call_id,
        who,
        "approve" if decision == "approve" else "reject",
        message=(message.strip() or None) if decision == "reject" else None,
        reason=reason.strip() or None,
        always=always == "on",
        arguments=None if arguments is None else _edited(arguments),
        fingerprint=_shown(fingerprint),
    )
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


@router.post("/runs/{run_id}/calls/{call_id}/review")
async def review_form(
    run_id: str,
    call_id: str,
    who: FormSender,
    app: Application,
    verdict: str = Form(""),
    output: str = Form("", max_length=CONTENT_CHARS),
    reason: str = Form("", max_length=TEXT_CHARS),
    fingerprint: str = Form("", max_length=NAME_CHARS),
) -> Any:
    if verdict not in ("released", "replaced", "withheld"):
        raise UserError(f"verdict must be 'released', 'replaced' or 'withheld', not {verdict!r}.")
    await app.inbox.review(
        run_id,
        call_id,
        who,
        "released"
        if verdict == "released"
        else "replaced"
        if verdict == "replaced"
        else "withheld",
        output=None if verdict == "released" else (output if output.strip() else None),
        reason=reason.strip() or None,
        fingerprint=_shown(fingerprint),
    )
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


def _shown(fingerprint: str) -> str:
    """The fingerprint a form carries: the call as its page showed it."""
    if not fingerprint:
        raise UserError(
            "The form names no call fingerprint; decide from the call's page, which shows "
            "the call the decision applies to."
        )
    return fingerprint


def _edited(text: str) -> dict[str, Any]:
    """The edit form's arguments: a JSON object (``UserError``, a 422, otherwise)."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        raise UserError(
            f"The edited arguments are not JSON ({exc}). Nothing was recorded; fix them and "
            "approve again."
        ) from None
    if not isinstance(value, dict):
        raise UserError(
            "The edited arguments are a JSON object of the tool's parameters, not "
            f"{type(value).__name__}. Nothing was recorded."
        )
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _receipts(app: Served) -> bool:
    """Whether decisions carry receipts the inbox can verify (a receipt key is set)."""
    return app.inbox.governance.receipt_key is not None
