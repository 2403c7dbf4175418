"""What a route is given: the application it serves, and who is asking.

The HTTP side never imports ``App``: it serves anything ``Served`` describes, found
on the FastAPI application's state (``build`` puts it there).
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from ..._governance import Approver
from ...errors import UserError
from ...store import RunStore
from .._auth import Authenticator
from .._errors import need_server_extra
from .._inbox import Inbox
from .._session_admin import SessionAdmin
from .._sessions import SessionBook
from .._throttle import SignInThrottle
from ..channels import Channels

try:
    from fastapi import Depends, Request
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise need_server_extra(exc) from exc

__all__ = ["Application", "Served", "Unauthenticated", "Who", "authenticated", "by_token"]


class Served(Protocol):
    """What the HTTP side needs of the ``App`` it serves."""

    inbox: Inbox
    store: RunStore
    authenticate: Authenticator
    signing_key: bytes
    secure_cookies: bool
    max_body_bytes: int
    api_docs: bool
    sessions: SessionBook
    session_admin: SessionAdmin
    session_idle: float
    session_lifetime: float
    sse_poll_interval: float
    title: str
    sign_in_throttle: SignInThrottle
    channels: Channels

    async def aclose(self) -> None: ...


def _served(request: Request) -> Served:
    served: Served = request.app.state.tether_app
    return served


Application = Annotated[Served, Depends(_served)]
"""A route's application (the ``App`` being served)."""


class Unauthenticated(Exception):
    """An API request without a known approver (401)."""


def authenticated(app: Served, headers: Any) -> Approver | None:
    """The approver the app's authenticator finds in ``headers`` (``None``: nobody)."""
    found = app.authenticate(headers)
    if found is None or isinstance(found, Approver):
        return found
    raise UserError(
        f"The app's authenticator returned {found!r}; an authenticator returns a "
        "tether.Approver (or None when the request is not authenticated)."
    )


def by_token(app: Served, request: Request, headers: Any = None) -> Approver | None:
    """The approver the authenticator finds in ``headers`` (default: the request's), under
    the sign-in throttle of the request's client address: ``TooManyRequestsError`` while
    it must wait, and a token it does not know counts as a failed sign-in (a request
    without ``Authorization`` is no attempt)."""
    client = request.client.host if request.client else "unknown"
    headers = request.headers if headers is None else headers
    tried = "authorization" in headers
    if tried:
        app.sign_in_throttle.check(client)
    found = authenticated(app, headers)
    if found is None and tried:
        app.sign_in_throttle.failed(client)
    return found


def _approver(request: Request) -> Approver:
    """The API's dependency: the authenticated approver, else 401 (429: ``by_token``)."""
    found = by_token(request.app.state.tether_app, request)
    if found is None:
        raise Unauthenticated()
    return found


Who = Annotated[Approver, Depends(_approver)]
"""An API endpoint's approver (authenticated by the app's authenticator)."""
