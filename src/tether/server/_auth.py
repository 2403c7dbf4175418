"""Who is asking: authenticators map a request's headers to an approver id.

An authenticator is any callable ``(headers) -> approver id | None``; ``None``
means "not authenticated" (HTTP 401). Two are built in: API tokens and a
header set by a trusted reverse proxy.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Mapping

from .._exceptions import UserError

__all__ = ["Authenticator", "ProxyHeaderAuth", "TokenAuth", "any_of"]

Authenticator = Callable[[Mapping[str, str]], str | None]
"""Maps a request's headers (lower-case names) to an approver id, or ``None``."""


class TokenAuth:
    """``Authorization: Bearer <token>``, each token mapped to an approver id.

    ``TokenAuth({"s3cret": "ana"})``, or ``TokenAuth.from_env()`` which reads
    ``TETHER_API_TOKENS="token1=ana,token2=ben"``. Tokens are compared in
    constant time.
    """

    def __init__(self, tokens: Mapping[str, str]) -> None:
        for token, approver in tokens.items():
            if not token or not approver:
                raise UserError("Every API token and the approver it maps to must be non-empty.")
        self._tokens = dict(tokens)

    @classmethod
    def from_env(cls, variable: str = "TETHER_API_TOKENS") -> TokenAuth:
        """Tokens from ``variable``: comma-separated ``token=approver`` pairs."""
        raw = os.environ.get(variable, "")
        tokens: dict[str, str] = {}
        for pair in filter(None, (part.strip() for part in raw.split(","))):
            token, sep, approver = pair.partition("=")
            if not sep or not token.strip() or not approver.strip():
                raise UserError(
                    f"{variable} holds {pair!r}; write comma-separated token=approver pairs."
                )
            tokens[token.strip()] = approver.strip()
        return cls(tokens)

    def token_approver(self, token: str) -> str | None:
        """The approver a token maps to, or ``None``."""
        found = None
        for known, approver in self._tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                found = approver
        return found

    def __call__(self, headers: Mapping[str, str]) -> str | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.token_approver(token.strip())


class ProxyHeaderAuth:
    """The approver id from a header a reverse proxy sets after it authenticated the user.

    Only safe behind that proxy, and only if the server cannot be reached any
    other way: anyone who reaches the server directly can send the header.
    """

    def __init__(self, header: str = "X-Forwarded-User") -> None:
        self.header = header.lower()

    def __call__(self, headers: Mapping[str, str]) -> str | None:
        value = headers.get(self.header, "").strip()
        return value or None


def any_of(*authenticators: Authenticator) -> Authenticator:
    """The first approver id any of ``authenticators`` finds."""

    def authenticate(headers: Mapping[str, str]) -> str | None:
        for authenticator in authenticators:
            found = authenticator(headers)
            if found:
                return found
        return None

    return authenticate
