"""The web page's sign-in session and CSRF token.

Every browser gets a random ``sid`` cookie; the CSRF token of a form is HMAC(key, sid),
so a page of another origin (which cannot read the cookie) cannot make a valid form
post. Signing in adds a session to the app's session book (``tether.server._sessions``,
beside the run store) and gives the browser its random id in the session cookie. Each
request finds it there and asks the authenticator who its token is now: a token
removed from the configuration, or an approver's changed roles, take effect at the next
request; signing out deletes it; it ends after ``session_idle`` seconds unused and
``session_lifetime`` seconds after it began.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from ..._governance import Approver
from .._auth import credential_of, signed_in_approver
from .._sessions import SignIn
from ._dependencies import Served

__all__ = [
    "SESSION_COOKIE",
    "SID_COOKIE",
    "begin_session",
    "check_csrf",
    "csrf_token",
    "end_session",
    "new_sid",
    "session_approver",
]

SID_COOKIE = "tether_sid"
SESSION_COOKIE = "tether_session"
_TOUCH_EVERY = 60.0
"""Seconds between two writes of a session's last use (not one write per request)."""


def new_sid() -> str:
    return secrets.token_urlsafe(24)


def _mac(key: bytes, purpose: str, value: str) -> str:
    digest = hmac.new(key, f"{purpose}\n{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def csrf_token(key: bytes, sid: str) -> str:
    return _mac(key, "csrf", sid)


def check_csrf(key: bytes, sid: str | None, token: str | None) -> bool:
    if not sid or not token:
        return False
    return hmac.compare_digest(csrf_token(key, sid), token)


def _key(session_id: str) -> str:
    # The book keeps this, not the id: reading the table does not sign anyone in.
    return hashlib.sha256(session_id.encode()).hexdigest()


async def begin_session(app: Served, approver: Approver, token: str) -> str:
    """A new session of ``approver``, signed in with ``token``: the session cookie's value."""
    session_id = secrets.token_urlsafe(32)
    now = app.inbox.governance.now().timestamp()
    sign_in = SignIn(approver, credential_of(app.signing_key, token), now, now)
    await app.sessions.add(_key(session_id), sign_in)
    return session_id


async def session_approver(
    app: Served, cookie: str | None, *, touch: bool = True
) -> Approver | None:
    """Who the session ``cookie`` names is now, or ``None`` (no such session, or it ended)."""
    if not cookie or len(cookie) > 100:
        return None
    key = _key(cookie)
    found = await app.sessions.get(key)
    if found is None:
        return None
    now = app.inbox.governance.now().timestamp()
    expired = (
        now - found.created_at > app.session_lifetime or now - found.seen_at > app.session_idle
    )
    who = (
        None
        if expired
        else signed_in_approver(app.authenticate, app.signing_key, found.credential, found.approver)
    )
    if who is None:
        await app.sessions.remove(key)
        return None
    if touch and now - found.seen_at > min(_TOUCH_EVERY, app.session_idle / 10):
        await app.sessions.seen(key, now)
    return who


async def end_session(app: Served, cookie: str | None) -> None:
    """Sign out: the session is deleted, so its cookie no longer works anywhere."""
    if cookie and len(cookie) <= 100:
        await app.sessions.remove(_key(cookie))
