"""A browser's requests: who signed in, pages that carry a CSRF token, forms that need one.

A browser is known by its signed session cookie (or, behind a proxy, by the app's
authenticator). Every page sets a random ``sid`` cookie and carries the CSRF
token bound to it; every form posts it back, and is refused (403) without it.
"""

from __future__ import annotations

from typing import Annotated, Any

from ..._governance import Approver
from .._errors import need_server_extra
from ._dependencies import Application, Served, by_token
from ._session import SESSION_COOKIE, SID_COOKIE, check_csrf, csrf_token, new_sid, session_approver
from ._templates import page

try:
    from fastapi import Depends, Form, Request
    from fastapi.responses import RedirectResponse, Response
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise need_server_extra(exc) from exc

__all__ = [
    "Browser",
    "FormChecked",
    "FormSender",
    "Refused",
    "render",
    "signed_in",
    "to_login",
]


async def signed_in(app: Served, request: Request, *, touch: bool = True) -> Approver | None:
    """The approver of a browser request: its session, else the authenticator. ``touch``:
    the request counts as the session's use (it keeps an idle session alive)."""
    found = await session_approver(app, request.cookies.get(SESSION_COOKIE), touch=touch)
    return found or by_token(app, request)


async def _browser(request: Request, app: Application) -> Approver | None:
    return await signed_in(app, request)


Browser = Annotated[Approver | None, Depends(_browser)]
"""Who signed in on this browser (``None``: nobody; a page leads to the sign-in page)."""


def render(
    app: Served,
    request: Request,
    name: str,
    values: dict[str, Any],
    who: Approver | None,
    status: int = 200,
) -> Any:
    """A page for this browser: its CSRF token and who signed in (a new ``sid`` if it had none)."""
    sid = request.cookies.get(SID_COOKIE) or new_sid()
    admin = who is not None and bool(who.roles & app.session_admin.admins)
    values = {
        **values,
        "title": app.title,
        "csrf": csrf_token(app.signing_key, sid),
        "who": who,
        "admin": admin,
    }
    response = page(name, values, status)
    if request.cookies.get(SID_COOKIE) != sid:
        response.set_cookie(
            SID_COOKIE, sid, httponly=True, samesite="strict", secure=app.secure_cookies
        )
    return response


def to_login() -> Any:
    """To the sign-in page."""
    return RedirectResponse("/login", status_code=303)


class Refused(Exception):
    """A form refused before its route ran: the response says why (``build`` sends it)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _form_checked(request: Request, app: Application, csrf: str = Form("")) -> None:
    """Every form's first check: the CSRF token of this browser's ``sid`` (else 403)."""
    if not check_csrf(app.signing_key, request.cookies.get(SID_COOKIE), csrf):
        raise Refused(
            page(
                "error.html",
                {
                    "message": "This form is stale or did not come from this site (no valid "
                    "CSRF token). Reload the page and try again.",
                    "status": 403,
                },
                403,
            )
        )


FormChecked = Annotated[None, Depends(_form_checked)]
"""A form with a valid CSRF token (login and logout: nobody need be signed in)."""


async def _form_sender(request: Request, app: Application, _: FormChecked) -> Approver:
    """Who sends a form: its CSRF token checked first, then signed in (else to sign in)."""
    who = await signed_in(app, request)
    if not who:
        raise Refused(to_login())
    return who


FormSender = Annotated[Approver, Depends(_form_sender)]
"""The signed-in approver sending a form with a valid CSRF token."""
