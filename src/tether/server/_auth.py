"""Who is asking: authenticators map a request's headers to an ``Approver``.

An authenticator is any callable ``(headers) -> Approver | None``; ``None``
means "not authenticated" (HTTP 401). The approver it returns (id, display
name, roles) is who every decision is recorded as, and what the governance
policies check (``function_tool(approvers={"finance"})``, ``Agent(approvers=...)``,
``Governance(approvers=...)``). Two are built in: API tokens and headers set by
a trusted reverse proxy.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Mapping
from typing import Any

from .._governance import Approver
from ..errors import UserError

__all__ = [
    "Authenticator",
    "ProxyHeaderAuth",
    "TokenAuth",
    "any_of",
    "credential_of",
    "parse_roles",
    "signed_in_approver",
]

Authenticator = Callable[[Mapping[str, str]], Approver | None]
"""Maps a request's headers (lower-case names) to an ``Approver``, or ``None``."""


def parse_roles(raw: str, separator: str) -> frozenset[str]:
    """Role names from ``raw``, split on ``separator``, blanks dropped."""
    return frozenset(filter(None, (role.strip() for role in raw.split(separator))))


class TokenAuth:
    """``Authorization: Bearer <token>``, each token mapped to an ``Approver``.

    ``TokenAuth({"s3cret": Approver("ana", "Ana", roles={"finance"})})`` (a plain
    string is an approver id without roles), or ``TokenAuth.from_env()``, which
    reads ``TETHER_API_TOKENS="tok1=ana:finance+ops,tok2=ben"``: comma-separated
    ``token=approver`` pairs, each approver optionally followed by ``:`` and its
    roles joined with ``+``. Tokens are compared in constant time.
    """

    def __init__(self, tokens: Mapping[str, Approver | str]) -> None:
        approvers: dict[str, Approver] = {}
        for token, approver in tokens.items():
            if not token or not approver:
                raise UserError("Every API token and the approver it maps to must be non-empty.")
            approvers[token] = approver if isinstance(approver, Approver) else Approver(approver)
        self._tokens = approvers

    @classmethod
    def from_env(cls, variable: str = "TETHER_API_TOKENS") -> TokenAuth:
        """Tokens from ``variable``: comma-separated ``token=approver[:role+role]`` pairs."""
        raw = os.environ.get(variable, "")
        tokens: dict[str, Approver | str] = {}
        for pair in filter(None, (part.strip() for part in raw.split(","))):
            token, sep, who = pair.partition("=")
            approver, _, roles = who.partition(":")
            if not sep or not token.strip() or not approver.strip():
                raise UserError(
                    f"{variable} holds {pair!r}; write comma-separated token=approver pairs, "
                    "each approver optionally with its roles: token=ana:finance+ops."
                )
            tokens[token.strip()] = Approver(approver.strip(), roles=parse_roles(roles, "+"))
        return cls(tokens)

    def token_approver(self, token: str) -> Approver | None:
        """The approver a token maps to, or ``None``."""
        found = None
        for known, approver in self._tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                found = approver
        return found

    @property
    def token_count(self) -> int:
        """How many tokens are configured (none: nobody can sign in with a token)."""
        return len(self._tokens)

    def approver_of_credential(self, key: bytes, credential: str) -> Approver | None:
        """The approver of the token whose ``credential_of(key, token)`` is ``credential``
        (``None`` once that token is gone): a signed-in browser is checked with it."""
        found = None
        for known, approver in self._tokens.items():
            if hmac.compare_digest(credential_of(key, known), credential):
                found = approver
        return found

    def __call__(self, headers: Mapping[str, str]) -> Approver | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.token_approver(token.strip())


class ProxyHeaderAuth:
    """The approver from headers a reverse proxy sets after it authenticated the user.

    ``header`` carries the approver id, ``roles_header`` (optional) the roles,
    comma-separated (``X-Forwarded-Groups: finance, ops``), ``name_header``
    (optional) the display name.

    Only safe behind that proxy, and only if the server cannot be reached any
    other way: anyone who reaches the server directly can send these headers,
    roles included. The proxy must also drop these headers from the requests it
    receives.
    """

    def __init__(
        self,
        header: str = "X-Forwarded-User",
        *,
        roles_header: str | None = None,
        name_header: str | None = None,
    ) -> None:
        self.header = header.lower()
        self.roles_header = roles_header.lower() if roles_header else None
        self.name_header = name_header.lower() if name_header else None

    def __call__(self, headers: Mapping[str, str]) -> Approver | None:
        value = headers.get(self.header, "").strip()
        if not value:
            return None
        roles = parse_roles(headers.get(self.roles_header, ""), ",") if self.roles_header else ()
        name = headers.get(self.name_header, "").strip() if self.name_header else ""
        return Approver(value, name or None, roles=frozenset(roles))


def any_of(*authenticators: Authenticator) -> Authenticator:
    """The approver the first of ``authenticators`` that finds one returns."""
    return _AnyOf(authenticators)


class _AnyOf:
    def __init__(self, authenticators: tuple[Authenticator, ...]) -> None:
        self.authenticators = authenticators

    def __call__(self, headers: Mapping[str, str]) -> Approver | None:
        for authenticator in self.authenticators:
            found = authenticator(headers)
            if found:
                return found
        return None


def credential_of(key: bytes, token: str) -> str:
    """What a session keeps of the token it signed in with: an HMAC, never the token."""
    return hmac.new(key, f"credential\n{token}".encode(), hashlib.sha256).hexdigest()


def signed_in_approver(
    authenticate: Authenticator, key: bytes, credential: str, approver: Approver
) -> Approver | None:
    """Who a browser that signed in as ``approver`` with ``credential`` is now: the approver
    its token maps to in the current configuration (``None``: the token is gone), roles
    included. An authenticator that cannot look tokens up (a function of your own) keeps
    the approver of the sign-in."""
    lookups = _lookups(authenticate)
    if not lookups:
        return approver
    for lookup in lookups:
        found: Any = lookup(key, credential)
        if isinstance(found, Approver):
            return found
    return None


def _lookups(authenticate: Any) -> list[Callable[[bytes, str], Any]]:
    if isinstance(authenticate, _AnyOf):
        return [found for one in authenticate.authenticators for found in _lookups(one)]
    lookup = getattr(authenticate, "approver_of_credential", None)
    return [lookup] if callable(lookup) else []
