"""The web page's session cookie and CSRF token, both HMAC-signed with the app's key.

Every browser gets a random ``sid`` cookie; the CSRF token of a form is
HMAC(key, sid), so a page of another origin (which cannot read the cookie)
cannot make a valid form post. Logging in sets a session cookie carrying the
approver (id, display name, roles), signed and bound to the same ``sid``: a
change of roles reaches a browser when it signs in again (sessions last 12 hours).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

from ..._governance import Approver
from ...errors import UserError

__all__ = [
    "SESSION_COOKIE",
    "SID_COOKIE",
    "check_csrf",
    "csrf_token",
    "new_sid",
    "open_session",
    "seal_session",
]

SID_COOKIE = "tether_sid"
SESSION_COOKIE = "tether_session"
SESSION_SECONDS = 12 * 3600


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


def seal_session(key: bytes, sid: str, approver: Approver, now: float | None = None) -> str:
    until = int((now or time.time()) + SESSION_SECONDS)
    who = json.dumps([approver.id, approver.display_name, sorted(approver.roles)])
    body = base64.urlsafe_b64encode(f"{sid}\n{until}\n{who}".encode()).decode()
    return f"{body}.{_mac(key, 'session', body)}"


def open_session(key: bytes, sid: str | None, cookie: str | None) -> Approver | None:
    """The approver a session cookie names, if it is ours, unexpired and bound to ``sid``."""
    if not sid or not cookie or "." not in cookie:
        return None
    body, _, mac = cookie.rpartition(".")
    if not hmac.compare_digest(_mac(key, "session", body), mac):
        return None
    try:
        bound, until, who = base64.urlsafe_b64decode(body.encode()).decode().split("\n", 2)
        if bound != sid or int(until) < time.time():
            return None
        approver_id, name, roles = json.loads(who)
        return Approver(approver_id, name, roles=frozenset(roles))
    except (ValueError, TypeError, UserError):
        return None
