"""The HTTP side of ``App``: the JSON API under ``/api``, the web page, and event streams.

- ``api``: the JSON API; every request authenticated by the app's authenticator
  (API token or proxy header), never by the cookie, so a page of another origin
  cannot make the browser decide through it.
- ``web``: the web page; the signed session cookie (or the proxy header), and a
  CSRF token checked on every form (``_browser``).
- ``events``: Server-Sent Events of inbox changes, for both.

``build`` assembles them, with one mapping of tether's errors to status codes.
"""

from __future__ import annotations

from typing import Any

from ...errors import (
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
from .._errors import need_server_extra
from . import api, events, web
from ._browser import Refused
from ._dependencies import Served, Unauthenticated
from ._templates import page

try:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise need_server_extra(exc) from exc

__all__ = ["build"]


def build(app: Served) -> FastAPI:
    """The FastAPI application serving ``app``."""
    asgi = FastAPI(
        title=app.title,
        description="Approvals waiting in tether runs, and decisions on them.",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    asgi.state.tether_app = app
    asgi.add_exception_handler(Unauthenticated, _unauthenticated)
    asgi.add_exception_handler(TetherError, _tether_error)
    asgi.add_exception_handler(Refused, _refused)
    asgi.include_router(api.router)
    asgi.include_router(events.router)
    asgi.include_router(web.router)
    return asgi


async def _unauthenticated(request: Request, exc: Exception) -> Any:
    return JSONResponse(
        {"error": "not authenticated: send Authorization: Bearer <token>."},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def _tether_error(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, TetherError)
    status = _status_of(exc)
    if request.url.path.startswith("/api"):
        return JSONResponse({"error": str(exc), "type": type(exc).__name__}, status_code=status)
    return page("error.html", {"message": str(exc), "status": status}, status)


async def _refused(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, Refused)
    return exc.response


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
