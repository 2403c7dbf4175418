"""One error envelope for every error the HTTP side answers.

``{"error": <what went wrong and what to do>, "type": <error class name>}`` with the
status of the error's class: tether's own errors (``TetherError``), requests FastAPI
refuses (validation: 422, an unknown path: 404, a wrong method: 405, an unreadable
body: 400) and the 401 of an unauthenticated request. Outside ``/api`` (the web page) the
same message comes as a page.
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
from .._errors import (
    BadRequestError,
    InvalidRequestError,
    MethodNotAllowedError,
    NotAuthenticatedError,
    NotFoundError,
    RequestError,
    TooManyRequestsError,
    need_server_extra,
)
from ._browser import Refused
from ._dependencies import Unauthenticated
from ._templates import page

try:
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise need_server_extra(exc) from exc

__all__ = ["error_json", "install"]


def install(asgi: FastAPI) -> None:
    """Map every error the application may answer to the one envelope."""
    asgi.add_exception_handler(Unauthenticated, _unauthenticated)
    asgi.add_exception_handler(TetherError, _tether_error)
    asgi.add_exception_handler(Refused, _refused)
    asgi.add_exception_handler(RequestValidationError, _invalid)
    asgi.add_exception_handler(HTTPException, _http_error)


def error_json(exc: TetherError, status: int, headers: dict[str, str] | None = None) -> Any:
    """The envelope of ``exc`` as a JSON response."""
    body = {"error": str(exc), "type": type(exc).__name__}
    return JSONResponse(body, status_code=status, headers=headers)


def _respond(request: Request, exc: TetherError, status: int, **headers: str) -> Any:
    # The API answers JSON; the web page's paths answer the same message as a page.
    if request.url.path.startswith("/api"):
        return error_json(exc, status, headers or None)
    response = page("error.html", {"message": str(exc), "status": status}, status)
    response.headers.update(headers)
    return response


async def _unauthenticated(request: Request, exc: Exception) -> Any:
    error = NotAuthenticatedError("not authenticated: send Authorization: Bearer <token>.")
    return error_json(error, 401, {"WWW-Authenticate": "Bearer"})


async def _tether_error(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, TetherError)
    if isinstance(exc, TooManyRequestsError):
        return _respond(request, exc, exc.status, **{"Retry-After": str(exc.retry_after)})
    return _respond(request, exc, _status_of(exc))


async def _refused(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, Refused)
    return exc.response


async def _invalid(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(_problem(error) for error in exc.errors()) or "it does not fit"
    error = InvalidRequestError(
        f"The request does not fit {request.method} {request.url.path}: {problems}. Nothing was "
        "recorded; fix the request and send it again (the API is described at "
        "/api/openapi.json)."
    )
    return _respond(request, error, 422)


def _problem(error: Any) -> str:
    # Never the input itself: it may be large, or not even JSON (NaN).
    where = ".".join(str(part) for part in error.get("loc", ()))
    message = str(error.get("msg", "invalid"))
    if error.get("type") == "json_invalid":  # its location is a character offset
        detail = (error.get("ctx") or {}).get("error")
        where, message = "body", f"not JSON ({detail})" if detail else "not JSON"
    return f"{where}: {message}" if where else message


async def _http_error(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    error: RequestError
    if status == 404:
        error = NotFoundError(
            f"Nothing at {request.url.path}: the API's paths are listed at /api/openapi.json."
        )
    elif status == 405:
        error = MethodNotAllowedError(
            f"{request.url.path} does not take {request.method}: see /api/openapi.json."
        )
    elif status == 400:
        error = BadRequestError(
            f"The request could not be read ({exc.detail}): send the body as UTF-8 JSON (the "
            "API) or as the page's form. Nothing was recorded."
        )
    else:
        error = RequestError(str(exc.detail))
    headers = dict(exc.headers or {})
    return _respond(request, error, status, **headers)


def _status_of(exc: TetherError) -> int:
    if isinstance(exc, RequestError):
        return exc.status
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
