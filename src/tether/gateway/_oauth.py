"""Who asks, over HTTP: a configured client's bearer token, or an OAuth access token that the
authorization server's introspection endpoint (RFC 7662) says is active and was issued for
this gateway.

The ``mcp`` package does the protocol: its bearer middleware asks ``GatewayTokens`` about
each request's token, refuses one it does not know (401, with the ``WWW-Authenticate``
header that points the client at the gateway's protected-resource metadata, RFC 9728) or
one without the required scopes (403), and keeps the token for the request
(``get_access_token``). This module only answers "is this token good, and whose is it".
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

import httpx
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings

from ._config import GatewayConfig, OAuthConfig, token_client

__all__ = ["GatewayTokens", "auth_settings", "oauth_principal"]

_CACHE_SECONDS = 60.0
"""How long an introspection's "active" answer is reused for the same token (never past the
token's own expiry)."""

_CACHE_SIZE = 1024


def auth_settings(oauth: OAuthConfig) -> AuthSettings:
    """The ``mcp`` package's settings for a gateway that accepts OAuth access tokens."""
    return AuthSettings(
        issuer_url=oauth.issuer_url,  # type: ignore[arg-type]
        resource_server_url=oauth.resource_url,  # type: ignore[arg-type]
        required_scopes=list(oauth.required_scopes) or None,
        validate_token_resource=True,
    )


def oauth_principal() -> str | None:
    """Who the current HTTP request's OAuth access token stands for: its subject (the
    person), else its client; ``None`` without one."""
    token = get_access_token()
    if token is None:
        return None
    return token.subject or token.client_id


class GatewayTokens:
    """The ``mcp`` package's ``TokenVerifier`` for the gateway: a configured client's token
    (its name as the client), else an access token the introspection endpoint calls active,
    issued for ``resource_url``, not expired."""

    def __init__(self, config: GatewayConfig, *, client: httpx.AsyncClient | None = None) -> None:
        assert config.oauth is not None
        self.oauth = config.oauth
        self.clients = config.clients
        self._http = client
        self._seen: dict[str, AccessToken] = {}

    async def verify_token(self, token: str) -> AccessToken | None:
        name = token_client(self.clients, token)
        if name is not None:
            scopes = list(self.oauth.required_scopes)
            return AccessToken(
                token=token, client_id=name, scopes=scopes, resource=self.oauth.resource_url
            )
        digest = hashlib.sha256(token.encode()).hexdigest()
        known = self._seen.get(digest)
        now = time.time()
        if known is not None and (known.expires_at or 0) > now:
            return known
        found = await self._introspect(token, now)
        if found is not None:
            if len(self._seen) >= _CACHE_SIZE:
                self._seen.clear()
            # Reused until it expires or for _CACHE_SECONDS, whichever is first.
            until = min(found.expires_at or now + _CACHE_SECONDS, int(now + _CACHE_SECONDS))
            self._seen[digest] = found.model_copy(update={"expires_at": until})
        return found

    async def _introspect(self, token: str, now: float) -> AccessToken | None:
        oauth = self.oauth
        auth = None
        if oauth.introspection_client_id is not None and oauth.introspection_secret_env:
            auth = (oauth.introspection_client_id, os.environ[oauth.introspection_secret_env])
        try:
            http = self._http or httpx.AsyncClient(timeout=10.0)
            try:
                response = await http.post(
                    oauth.introspection_url,
                    data={"token": token, "token_type_hint": "access_token"},
                    auth=auth,  # type: ignore[arg-type]
                )
            finally:
                if self._http is None:
                    await http.aclose()
            answer: Any = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None  # the endpoint cannot say: no access
        return _access(token, answer, oauth, now)


def _access(token: str, answer: Any, oauth: OAuthConfig, now: float) -> AccessToken | None:
    """The access an introspection ``answer`` grants: only an active token, issued for this
    gateway (``aud``), not expired, naming its client."""
    if not isinstance(answer, dict) or answer.get("active") is not True:
        return None
    audience = answer.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if oauth.resource_url not in audiences:
        return None  # a token for another service must not open this one (RFC 8707)
    expires = answer.get("exp")
    if expires is not None and (not isinstance(expires, int | float) or expires <= now):
        return None
    client_id = answer.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        return None
    scope = answer.get("scope")
    subject = answer.get("sub")
    return AccessToken(
        token=token,
        client_id=client_id,
        scopes=scope.split() if isinstance(scope, str) else [],
        expires_at=int(expires) if expires is not None else None,
        resource=oauth.resource_url,
        subject=subject if isinstance(subject, str) and subject else None,
    )
