"""One-time links: a token naming one approver, one call (its fingerprint) and an expiry,
signed with the app's key, and spent once in the channel book.

    token = base64url(JSON [version, approver, run, call, fingerprint, expires, nonce])
            + "." + base64url(HMAC-SHA256(key, that first part))

The key is derived from ``App.signing_key`` for this use only. A token that does not
verify, has expired or was spent decides nothing; who holds it decides only as the approver
it names (the page refuses a signed-in browser of anyone else).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

__all__ = ["LinkClaims", "Links"]

_VERSION = 1


@dataclass(frozen=True, slots=True)
class LinkClaims:
    """What a verified link names."""

    approver: str
    run_id: str
    call_id: str
    fingerprint: str
    expires: float
    """Epoch seconds."""
    nonce: str

    def expired(self, now: float) -> bool:
        return now >= self.expires


class Links:
    """Issues and verifies one-time link tokens with a key derived from ``key``."""

    def __init__(self, key: bytes) -> None:
        self._key = hmac.new(key, b"tether.channels.link", hashlib.sha256).digest()

    def issue(
        self, approver: str, run_id: str, call_id: str, fingerprint: str, expires: float
    ) -> str:
        """A new token (a fresh nonce each time)."""
        body = [_VERSION, approver, run_id, call_id, fingerprint, expires, secrets.token_hex(16)]
        head = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{head}.{_b64(self._mac(head))}"

    def verify(self, token: str) -> LinkClaims | None:
        """The claims of a token this key signed, else ``None`` (expiry is the caller's)."""
        head, _, mac = token.partition(".")
        try:
            given = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
            if not hmac.compare_digest(given, self._mac(head)):
                return None
            body = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
            version, approver, run_id, call_id, fp, expires, nonce = body
        except (ValueError, TypeError):
            return None
        if version != _VERSION:
            return None
        return LinkClaims(approver, run_id, call_id, fp, float(expires), nonce)

    def _mac(self, head: str) -> bytes:
        return hmac.new(self._key, head.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
