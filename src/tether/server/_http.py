"""The HTTP side of ``App``: the JSON API under ``/api``, the web page, and event streams.

The API authenticates every request with the app's authenticator (API token
or proxy header) and never with the cookie, so a page of another origin
cannot make the browser decide through it. The web page uses the signed
session cookie (or the proxy header) and checks a CSRF token on every form.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from .._governance import Approver
from ..errors import (
    ApprovalExpiredError,
    EditNotAllowedError,
    InvalidEditError,
    NotAuthorizedError,
    NotPendingError,
    RuleNotFoundError,
    RunBusyError,
    RunConflictError,
    RunNotFoundError,
    StaleDecisionError,
    StoreUnavailableError,
    TetherError,
    UnknownAgentError,
    UserError,
)
from ._errors import need_server_extra
from ._inbox import PendingCall, rule_json
from ._session import (
    SESSION_COOKIE,
    SID_COOKIE,
    check_csrf,
    csrf_token,
    new_sid,
    open_session,
    seal_session,
)

try:
    import jinja2
    from fastapi import Depends, FastAPI, Form, Query, Request
    from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
    from pydantic import BaseModel, Field
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise need_server_extra(exc) from exc

if TYPE_CHECKING:
    from ._app import App

__all__ = ["build"]

TEMPLATES = pathlib.Path(__file__).parent / "templates"


class DecisionBody(BaseModel):
    """A decision on a pending call."""

    decision: Literal["approve", "reject"]
    fingerprint: str = Field(
        description="The call's fingerprint as the list or run showed it: the decision "
        "applies to that call only (409 StaleDecisionError, nothing recorded, if the call "
        "waiting under this id is another one).",
    )
    message: str | None = Field(None, description="For a rejection: what the model reads.")
    reason: str | None = Field(None, description="Why: kept in the audit trail, not for the model.")
    always: bool = Field(
        False, description="Also decide later calls of the tool for the rest of this run."
    )
    arguments: dict[str, Any] | None = Field(
        None,
        description="For an approval of an editable tool's call: the arguments it runs with "
        "(validated against the tool's parameters; 422 and nothing recorded if they do not fit).",
    )


class ReviewBody(BaseModel):
    """A review of a call's output (a tool declared ``review_output=True``)."""

    verdict: Literal["released", "replaced", "withheld"]
    fingerprint: str = Field(
        description="The call's fingerprint as the list or run showed it: the decision "
        "applies to that call only (409 StaleDecisionError, nothing recorded, if the call "
        "waiting under this id is another one).",
    )
    output: str | None = Field(
        None, description="replaced: what the model reads instead; withheld: its message."
    )
    reason: str | None = Field(None, description="Why: kept in the audit trail.")


class RetryBody(BaseModel):
    """A person's request to try a failed run again (a worker takes it up)."""

    reason: str | None = Field(None, description="Why (kept in the run's journal).")


class ResolutionBody(BaseModel):
    """The resolution of a call in doubt."""

    resolution: Literal["run_again", "output", "failed"]
    fingerprint: str = Field(
        description="The call's fingerprint as the list or run showed it: the decision "
        "applies to that call only (409 StaleDecisionError, nothing recorded, if the call "
        "waiting under this id is another one).",
    )
    output: str | None = None
    reason: str | None = None


class RevocationBody(BaseModel):
    """The revocation of a standing approval."""

    reason: str | None = Field(None, description="Why: kept with the rule.")


class StartBody(BaseModel):
    """A run to start: a worker advances it."""

    agent: str
    input: str
    max_turns: int | None = Field(None, ge=1)


def _status_of(exc: TetherError) -> int:
    if isinstance(exc, StoreUnavailableError):
        return 503  # the database is away: the same request can simply be sent again
    if isinstance(exc, NotAuthorizedError | EditNotAllowedError):
        return 403
    if isinstance(exc, RunNotFoundError | RuleNotFoundError):
        return 404
    if isinstance(
        exc,
        NotPendingError
        | ApprovalExpiredError
        | RunConflictError
        | RunBusyError
        | StaleDecisionError,
    ):
        return 409
    if isinstance(exc, UnknownAgentError | UserError | InvalidEditError):
        return 422
    return 500


class _Unauthenticated(Exception):
    pass


def _authenticated(app: App, headers: Any) -> Approver | None:
    found = app.authenticate(headers)
    if found is None or isinstance(found, Approver):
        return found
    raise UserError(
        f"The app's authenticator returned {found!r}; an authenticator returns a "
        "tether.Approver (or None when the request is not authenticated)."
    )


def _approver(request: Request) -> Approver:
    """The API's dependency: the authenticated approver, else 401."""
    found = _authenticated(request.app.state.tether_app, request.headers)
    if found is None:
        raise _Unauthenticated()
    return found


Who = Annotated[Approver, Depends(_approver)]
"""An API endpoint's approver (authenticated by the app's authenticator)."""


def build(app: App) -> FastAPI:
    """The FastAPI application serving ``app``."""
    api = FastAPI(
        title=app.title,
        description="Approvals waiting in tether runs, and decisions on them.",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # everything from a model or a tool is escaped
        undefined=jinja2.StrictUndefined,
    )
    env.filters["pretty"] = _pretty
    env.filters["summary"] = _summary
    env.filters["age"] = _age
    env.filters["left"] = _left

    @api.exception_handler(_Unauthenticated)
    async def unauthenticated(request: Request, exc: _Unauthenticated) -> JSONResponse:
        return JSONResponse(
            {"error": "not authenticated: send Authorization: Bearer <token>."},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @api.exception_handler(TetherError)
    async def tether_error(request: Request, exc: TetherError) -> Any:
        status = _status_of(exc)
        if request.url.path.startswith("/api"):
            return JSONResponse({"error": str(exc), "type": type(exc).__name__}, status_code=status)
        return _page(env, "error.html", {"message": str(exc), "status": status}, status)

    api.state.tether_app = app

    def authenticated(headers: Any) -> Approver | None:
        return _authenticated(app, headers)

    # -- JSON API ----------------------------------------------------------------------

    @api.get("/api/approvals", summary="List pending approvals across runs")
    async def list_approvals(
        who: Who,
        agent: str | None = None,
        tool: str | None = None,
        run_id: str | None = None,
        older_than: float | None = Query(None, description="seconds waited at least"),
        newer_than: float | None = Query(None, description="seconds waited at most"),
        order: Literal["oldest", "newest"] = "oldest",
        limit: int = Query(50, ge=1, le=500),
        cursor: str | None = None,
    ) -> dict[str, Any]:
        page = await app.inbox.pending(
            agent=agent,
            tool=tool,
            run_id=run_id,
            older_than=None if older_than is None else timedelta(seconds=older_than),
            newer_than=None if newer_than is None else timedelta(seconds=newer_than),
            order=order,
            limit=limit,
            cursor=cursor,
        )
        now = app.inbox.governance.now()
        return {
            "approvals": [call.to_json(now) for call in page.calls],
            "next_cursor": page.next_cursor,
        }

    @api.get("/api/runs", summary="List runs (newest first by default)")
    async def list_runs(
        who: Who,
        status: Literal["running", "waiting", "in_doubt", "completed", "failed"] | None = None,
        agent: str | None = None,
        order: Literal["oldest", "newest"] = "newest",
        limit: int = Query(50, ge=1, le=500),
        cursor: str | None = None,
    ) -> dict[str, Any]:
        page = await app.inbox.runs(
            status=status, agent=agent, order=order, limit=limit, cursor=cursor
        )
        return {"runs": list(page.runs), "next_cursor": page.next_cursor}

    @api.get("/api/runs/{run_id}", summary="Show a run")
    async def show_run(run_id: str, who: Who) -> dict[str, Any]:
        return (await app.inbox.show(run_id)).to_json(app.inbox.governance.now())

    @api.post("/api/runs", status_code=201, summary="Start a run (a worker advances it)")
    async def start_run(body: StartBody, who: Who) -> dict[str, Any]:
        run_id = await app.inbox.start(body.agent, body.input, max_turns=body.max_turns)
        return {"run_id": run_id}

    @api.post("/api/runs/{run_id}/calls/{call_id}/decision", summary="Decide a pending call")
    async def decide(run_id: str, call_id: str, body: DecisionBody, who: Who) -> dict[str, Any]:
        seq = await app.inbox.decide(
            run_id,
            call_id,
            who,
            body.decision,
            message=body.message,
            reason=body.reason,
            always=body.always,
            arguments=body.arguments,
            fingerprint=body.fingerprint,
        )
        return {
            "run_id": run_id,
            "call_id": call_id,
            "decision": body.decision,
            "always": body.always,
            "by": who.id,
            "roles": sorted(who.roles),
            "seq": seq,
        }

    @api.post("/api/runs/{run_id}/calls/{call_id}/review", summary="Review a call's output")
    async def review_output(
        run_id: str, call_id: str, body: ReviewBody, who: Who
    ) -> dict[str, Any]:
        seq = await app.inbox.review(
            run_id,
            call_id,
            who,
            body.verdict,
            output=body.output,
            reason=body.reason,
            fingerprint=body.fingerprint,
        )
        return {
            "run_id": run_id,
            "call_id": call_id,
            "verdict": body.verdict,
            "by": who.id,
            "seq": seq,
        }

    @api.post("/api/runs/{run_id}/calls/{call_id}/resolution", summary="Resolve a call in doubt")
    async def resolve(run_id: str, call_id: str, body: ResolutionBody, who: Who) -> dict[str, Any]:
        seq = await app.inbox.resolve(
            run_id,
            call_id,
            who,
            body.resolution,
            output=body.output,
            reason=body.reason,
            fingerprint=body.fingerprint,
        )
        return {"run_id": run_id, "call_id": call_id, "resolution": body.resolution, "seq": seq}

    @api.post("/api/runs/{run_id}/retry", summary="Try a failed run again")
    async def retry(run_id: str, body: RetryBody, who: Who) -> dict[str, Any]:
        seq = await app.inbox.retry(run_id, who, reason=body.reason)
        return {"run_id": run_id, "retried_by": who.id, "seq": seq}

    @api.get("/api/rules", summary="List standing approvals (oldest grant first)")
    async def list_rules(
        who: Who,
        agent: str | None = None,
        tool: str | None = None,
        live: bool = Query(False, description="only rules that may still approve a call"),
        limit: int = Query(100, ge=1, le=500),
    ) -> dict[str, Any]:
        rules = await app.inbox.rules(agent=agent, tool=tool, live=live, limit=limit)
        return {"rules": [rule_json(rule) for rule in rules]}

    @api.post("/api/rules/{rule_id}/revocation", summary="Revoke a standing approval")
    async def revoke_rule(rule_id: str, body: RevocationBody, who: Who) -> dict[str, Any]:
        rule = await app.inbox.revoke_rule(rule_id, who, reason=body.reason)
        return rule_json(rule)

    @api.get("/api/events", summary="Server-Sent Events: inbox changes")
    async def api_events(who: Who) -> StreamingResponse:
        return _event_stream(app)

    # -- web page ------------------------------------------------------------------------

    def browser(request: Request) -> Approver | None:
        """The approver of a browser request: session cookie, else the authenticator."""
        found = open_session(
            app.signing_key, request.cookies.get(SID_COOKIE), request.cookies.get(SESSION_COOKIE)
        )
        return found or authenticated(request.headers)

    def render(request: Request, name: str, values: dict[str, Any], status: int = 200) -> Any:
        sid = request.cookies.get(SID_COOKIE) or new_sid()
        values = {
            **values,
            "title": app.title,
            "csrf": csrf_token(app.signing_key, sid),
            "who": browser(request),
        }
        response = _page(env, name, values, status)
        if request.cookies.get(SID_COOKIE) != sid:
            response.set_cookie(
                SID_COOKIE, sid, httponly=True, samesite="strict", secure=app.secure_cookies
            )
        return response

    def refuse_without_csrf(request: Request, token: str | None) -> Any:
        if check_csrf(app.signing_key, request.cookies.get(SID_COOKIE), token):
            return None
        return _page(
            env,
            "error.html",
            {
                "message": "This form is stale or did not come from this site (no valid CSRF "
                "token). Reload the page and try again.",
                "status": 403,
            },
            403,
        )

    def to_login() -> Any:
        return RedirectResponse("/login", status_code=303)

    @api.get("/login", include_in_schema=False)
    async def login_page(request: Request) -> Any:
        return render(request, "login.html", {"failed": False})

    @api.post("/login", include_in_schema=False)
    async def login(request: Request, token: str = Form(""), csrf: str = Form("")) -> Any:
        refused = refuse_without_csrf(request, csrf)
        if refused is not None:
            return refused
        found = authenticated({"authorization": f"Bearer {token.strip()}"})
        if not found:
            return render(request, "login.html", {"failed": True}, 401)
        response = RedirectResponse("/", status_code=303)
        sid = request.cookies[SID_COOKIE]
        response.set_cookie(
            SESSION_COOKIE,
            seal_session(app.signing_key, sid, found),
            httponly=True,
            samesite="strict",
            secure=app.secure_cookies,
        )
        return response

    @api.post("/logout", include_in_schema=False)
    async def logout(request: Request, csrf: str = Form("")) -> Any:
        refused = refuse_without_csrf(request, csrf)
        if refused is not None:
            return refused
        response = to_login()
        response.delete_cookie(SESSION_COOKIE)
        return response

    @api.get("/", include_in_schema=False)
    async def inbox_page(
        request: Request,
        agent: str | None = None,
        tool: str | None = None,
        order: Literal["oldest", "newest"] = "oldest",
        cursor: str | None = None,
    ) -> Any:
        if not browser(request):
            return to_login()
        page = await app.inbox.pending(agent=agent, tool=tool, order=order, limit=50, cursor=cursor)
        return render(
            request,
            "inbox.html",
            {
                "calls": page.calls,
                "next_cursor": page.next_cursor,
                "order": order,
                "now": app.inbox.governance.now(),
            },
        )

    @api.get("/runs", include_in_schema=False)
    async def runs_page(
        request: Request,
        status: Literal["running", "waiting", "in_doubt", "completed"] | None = None,
        order: Literal["oldest", "newest"] = "newest",
        cursor: str | None = None,
    ) -> Any:
        if not browser(request):
            return to_login()
        page = await app.inbox.runs(status=status, order=order, limit=50, cursor=cursor)
        return render(
            request,
            "runs.html",
            {"runs": page.runs, "next_cursor": page.next_cursor, "order": order, "status": status},
        )

    @api.get("/rules", include_in_schema=False)
    async def rules_page(request: Request, live: bool = False) -> Any:
        if not browser(request):
            return to_login()
        rules = await app.inbox.rules(live=live, limit=500)
        return render(
            request,
            "rules.html",
            {"rules": rules, "live": live, "now": app.inbox.governance.now()},
        )

    @api.post("/rules/{rule_id}/revocation", include_in_schema=False)
    async def revoke_form(
        request: Request, rule_id: str, reason: str = Form(""), csrf: str = Form("")
    ) -> Any:
        refused = refuse_without_csrf(request, csrf)
        if refused is not None:
            return refused
        who = browser(request)
        if not who:
            return to_login()
        await app.inbox.revoke_rule(rule_id, who, reason=reason.strip() or None)
        return RedirectResponse("/rules", status_code=303)

    @api.get("/runs/{run_id}", include_in_schema=False)
    async def run_page(request: Request, run_id: str) -> Any:
        if not browser(request):
            return to_login()
        run = await app.inbox.show(run_id)
        return render(
            request,
            "run.html",
            {"run": run, "now": app.inbox.governance.now(), "receipts": _receipts(app)},
        )

    @api.post("/runs/{run_id}/retry", include_in_schema=False)
    async def retry_form(
        request: Request, run_id: str, reason: str = Form(""), csrf: str = Form("")
    ) -> Any:
        refused = refuse_without_csrf(request, csrf)
        if refused is not None:
            return refused
        who = browser(request)
        if not who:
            return to_login()
        await app.inbox.retry(run_id, who, reason=reason.strip() or None)
        return RedirectResponse(f"/runs/{run_id}", status_code=303)

    @api.get("/runs/{run_id}/calls/{call_id}", include_in_schema=False)
    async def call_page(request: Request, run_id: str, call_id: str) -> Any:
        if not browser(request):
            return to_login()
        run = await app.inbox.show(run_id)
        call = next((c for c in run.pending if c.call_id == call_id), None)
        expired = next((c for c in run.expired if c.call_id == call_id), None)
        tools = await app.inbox.tools_of(call.agent) if call else {}
        return render(
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
            },
        )

    @api.post("/runs/{run_id}/calls/{call_id}/decision", include_in_schema=False)
    async def decide_form(
        request: Request,
        run_id: str,
        call_id: str,
        decision: str = Form(""),
        message: str = Form(""),
        reason: str = Form(""),
        always: str = Form(""),
        arguments: str | None = Form(None),
        fingerprint: str = Form(""),
        csrf: str = Form(""),
    ) -> Any:
        refused = refuse_without_csrf(request, csrf)
        if refused is not None:
            return refused
        who = browser(request)
        if not who:
            return to_login()
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

    @api.post("/runs/{run_id}/calls/{call_id}/review", include_in_schema=False)
    async def review_form(
        request: Request,
        run_id: str,
        call_id: str,
        verdict: str = Form(""),
        output: str = Form(""),
        reason: str = Form(""),
        fingerprint: str = Form(""),
        csrf: str = Form(""),
    ) -> Any:
        refused = refuse_without_csrf(request, csrf)
        if refused is not None:
            return refused
        who = browser(request)
        if not who:
            return to_login()
        if verdict not in ("released", "replaced", "withheld"):
            raise UserError(
                f"verdict must be 'released', 'replaced' or 'withheld', not {verdict!r}."
            )
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

    @api.get("/events", include_in_schema=False)
    async def web_events(request: Request) -> Any:
        if not browser(request):
            return JSONResponse({"error": "not authenticated"}, status_code=401)
        return _event_stream(app)

    return api


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
        value = json.loads(text)
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


def _receipts(app: App) -> bool:
    """Whether decisions carry receipts the inbox can verify (a receipt key is set)."""
    return app.inbox.governance.receipt_key is not None


def _page(env: jinja2.Environment, name: str, values: dict[str, Any], status: int) -> Any:
    # Only our own inline script runs (it carries this response's nonce): should anything
    # ever slip past escaping, the browser would not execute it.
    nonce = secrets.token_urlsafe(16)
    html = env.get_template(name).render(**values, nonce=nonce)
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Content-Security-Policy": f"default-src 'self'; script-src 'nonce-{nonce}'; "
            "img-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
            "form-action 'self'; base-uri 'none'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )


_SSE_PAGE = 200
"""Rows one poll of the event stream reads at a time (it pages on until it caught up)."""

_SSE_MARGIN = timedelta(seconds=5)
"""How far back a poll looks again: a request or an update may be committed a little after
the time it carries (another process wrote it), so the stream re-reads a short window and
drops what it already sent."""


def _event_stream(app: App) -> StreamingResponse:
    """Inbox changes since the stream opened, read as changes only (never every waiting call).

    - ``ready``: ``{"since": <time>}`` once, when the stream starts.
    - ``approval_requested``: a call started waiting (read from the pending projection
      by request time, a keyset page after the last one seen).
    - ``run_updated``: a run was written (decided, resumed, completed), with its status
      (read from the runs updated since the last poll).
    - ``approval_removed``: a call this stream announced is not waiting any more.
    """

    store = app.store
    announced: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    sent_requests: dict[tuple[str, str], datetime] = {}
    sent_updates: dict[tuple[str, str], datetime] = {}

    async def changes(window: datetime) -> list[tuple[str, dict[str, Any]]]:
        """What changed since ``window`` that this stream has not sent yet."""
        out: list[tuple[str, dict[str, Any]]] = []
        after: tuple[datetime, str, str] | None = None
        while True:
            rows = await store.pending_approvals(
                requested_after=window, after=after, limit=_SSE_PAGE
            )
            for row in rows:
                key = (row.run_id, row.call_id)
                if key in sent_requests:
                    continue
                data = {
                    "run_id": row.run_id,
                    "call_id": row.call_id,
                    "agent": row.agent,
                    "tool": row.tool,
                    "requested_at": row.requested_at.isoformat(),
                }
                sent_requests[key] = row.requested_at
                announced.setdefault(row.run_id, {})[key] = data
                out.append(("approval_requested", data))
            if len(rows) < _SSE_PAGE:
                break
            after = (rows[-1].requested_at, rows[-1].run_id, rows[-1].call_id)
        cursor: str | None = None
        while True:
            page = await store.list_runs(updated_after=window, cursor=cursor, limit=_SSE_PAGE)
            for run in page.runs:
                update = (run.run_id, run.updated_at.isoformat())
                if update in sent_updates:
                    continue
                sent_updates[update] = run.updated_at
                calls = announced.get(run.run_id)
                if calls:
                    still = {
                        (p.run_id, p.call_id)
                        for p in await store.pending_approvals(run_id=run.run_id, limit=1000)
                    }
                    for key in [key for key in calls if key not in still]:
                        out.append(("approval_removed", calls.pop(key)))
                out.append(("run_updated", {"run_id": run.run_id, "status": run.status}))
            cursor = page.next_cursor
            if cursor is None:
                break
        return out

    async def events() -> AsyncIterator[str]:
        since = app.inbox.governance.now()
        # What changed just before the stream opened is what the page already shows: taken
        # as sent (a page reloading on it would reload for ever).
        await changes(since - _SSE_MARGIN)
        announced.clear()
        yield _sse("ready", {"since": since.isoformat()})
        while True:
            await asyncio.sleep(app.sse_poll_interval)
            now = app.inbox.governance.now()
            for event, data in await changes(since - _SSE_MARGIN):
                yield _sse(event, data)
            since = now
            # What fell out of the re-read window cannot come back: forget it.
            horizon = since - 2 * _SSE_MARGIN
            for sent in (sent_requests, sent_updates):
                for key in [key for key, at in sent.items() if at < horizon]:
                    del sent[key]

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def _pretty(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments), indent=2, ensure_ascii=False)
    except ValueError:
        return arguments


def _summary(arguments: str, width: int = 80) -> str:
    try:
        parsed = json.loads(arguments)
    except ValueError:
        text = arguments
    else:
        if isinstance(parsed, dict):
            text = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in parsed.items())
        else:
            text = json.dumps(parsed, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def _left(call: PendingCall, now: datetime) -> str:
    """Time left before the call's approval expires, in words."""
    left = call.seconds_left(now)
    if left is None:
        return "no deadline"
    if left <= 0:
        return "expired"
    return f"{_span(int(left))} left"


def _age(moment: datetime, now: datetime) -> str:
    return _span(max(0, int((now - moment).total_seconds())))


def _span(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"
