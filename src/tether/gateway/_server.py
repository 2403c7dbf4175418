"""The gateway as an MCP server (the ``mcp`` package's low-level ``Server``), on stdio or
streamable HTTP, and ``main``: ``python -m tether.gateway CONFIG [--transport ...]``."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

import uvicorn
from mcp import types
from mcp.server.lowlevel import Server
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
from mcp.server.stdio import stdio_server
from mcp_types import INVALID_REQUEST
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from ..errors import GatewayConfigError, TetherError
from ._config import check_client_name, load_config, token_client
from ._elicit import QUESTION_KEY, QUESTION_SCHEMA, Answer, Ask
from ._gateway import REQUEST_KEY_META, Gateway, invalid
from ._oauth import GatewayTokens, auth_settings, oauth_principal

__all__ = ["INPUT_REQUIRED_META", "client_name", "main", "mcp_server", "serve"]

_CLIENT_HELP = (
    "stdio: the name of the client that starts the gateway, journaled as who asked for each "
    "call (RunStarted.requested_by; under four-eyes it may not approve its own calls)"
)

log = logging.getLogger("tether.gateway")

SERVER_NAME = "tether-gateway"
"""The gateway's MCP server name, and the audience of the request states it seals."""

INPUT_REQUIRED_META = "tether/input-required"
"""The ``_meta`` key of a ``tools/call`` (2026-07-28) asking, ``true``, for ``input_required``
while the call waits for a person, or, ``false``, for the request to stay open."""

REQUEST_STATE_TTL = 24 * 3600.0
"""Seconds a request state of a paused call stays good (each answer gives a fresh one)."""


def mcp_server(gateway: Gateway, *, client: str | None = None) -> Server[Any]:
    """An MCP server offering ``gateway``'s tools; each call goes through ``gateway.call``
    (the request held open, with progress; the client's user asked through elicitation),
    or, for a 2026-07-28 client that asks for ``input_required``, ``gateway.call_or_pause``
    (its request states sealed by the ``mcp`` package's ``RequestStateBoundary`` under the
    key of ``request_state_key_env``, bound to the tool, its arguments and the client).

    ``client`` names who asks when no bearer token of a configured client does: over stdio,
    the one client that started the process (``--client``)."""

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> Any:
        return types.ListToolsResult(tools=gateway.list_tools())

    def who(ctx: Any) -> str | None:
        named = client_name(gateway, _header(ctx, "authorization"))
        return named or (oauth_principal() if gateway.config.oauth else None) or client

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> Any:
        if _pauses(gateway, ctx, params):
            # 2026-07-28: a call that waits for a person answers input_required at once, and
            # the client comes back with the (sealed) request state naming the call.
            state = _paused_state(params.request_state)
            return await gateway.call_or_pause(
                params.name,
                params.arguments,
                request_key=state.get("key") or _request_key(ctx),
                requested_by=who(ctx),
                can_ask=_can_elicit(ctx),
                answer=_answer(state, params.input_responses),
            )
        sent = itertools.count(1)

        async def progress(message: str) -> None:
            # Progress must grow; the count of reports does. Nothing goes out unless the
            # client asked for progress (a progress token in the request's _meta).
            await ctx.session.report_progress(next(sent), None, message)

        return await gateway.call(
            params.name,
            params.arguments,
            request_key=_request_key(ctx),
            progress=progress,
            requested_by=who(ctx),
            ask=_asker(ctx),
        )

    server: Server[Any] = Server(
        SERVER_NAME,
        version="0.1.0",
        instructions=(
            "Tools of other MCP servers, behind human approval: a call may wait for a person "
            "to decide (progress notifications say for whom), and a rejection is a tool error."
        ),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
    key_env = gateway.config.request_state_key_env
    security = RequestStateSecurity(
        keys=[os.environ[key_env] if key_env else os.urandom(32)],
        ttl=REQUEST_STATE_TTL,
        bind_principal=who,  # a state comes back only from the client it was given to
    )
    server.middleware.append(RequestStateBoundary(security, default_audience=SERVER_NAME))
    return server


def _pauses(gateway: Gateway, ctx: Any, params: types.CallToolRequestParams) -> bool:
    """Whether this call answers ``input_required`` while it waits: a 2026-07-28 client
    that asks so (``_meta["tether/input-required"]``, else the gateway's ``input_required``),
    or comes back with a request state."""
    if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return False
    if params.request_state is not None:
        return True
    wanted = (ctx.meta or {}).get(INPUT_REQUIRED_META)
    return wanted if isinstance(wanted, bool) else gateway.config.input_required


def _paused_state(state: str | None) -> dict[str, str]:
    """A request state the gateway gave (sealed, so it is its own): the request key, and
    the call its question was about."""
    if state is None:
        return {}
    try:
        found = json.loads(state)
    except ValueError:
        found = None
    if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
        found = {}
    if not found.get("key"):
        raise invalid("The request state names no call of this gateway.", "invalid_request_state")
    return found


def _answer(
    state: dict[str, str], responses: types.InputResponses | None
) -> tuple[str, str, Answer] | None:
    """The client's answer to the question its last ``input_required`` asked, if any."""
    given = (responses or {}).get(QUESTION_KEY)
    call_id, fingerprint = state.get("call"), state.get("fingerprint")
    if not isinstance(given, types.ElicitResult) or not call_id or not fingerprint:
        return None
    return call_id, fingerprint, _read(given)


def _read(result: types.ElicitResult) -> Answer:
    reason = (result.content or {}).get("reason")
    text = reason.strip() if isinstance(reason, str) else ""
    return Answer(result.action, text or None)


_ELICITATION = types.ClientCapabilities(elicitation=types.ElicitationCapability())


def _can_elicit(ctx: Any) -> bool:
    """Whether the client declared the elicitation capability."""
    return bool(ctx.session.check_client_capability(_ELICITATION))


def _asker(ctx: Any) -> Ask | None:
    """How to ask the user of the client that sent this request (form elicitation, tied to
    the request), or ``None`` when the client declared no elicitation capability."""
    session = ctx.session
    if not _can_elicit(ctx) or not session.can_send_request:
        return None

    async def ask(message: str) -> Answer:
        result = await session.elicit_form(
            message, QUESTION_SCHEMA, related_request_id=ctx.request_id
        )
        return _read(result)

    return ask


def client_name(gateway: Gateway, authorization: str | None) -> str | None:
    """The configured client whose bearer token ``authorization`` carries, else ``None``."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return token_client(gateway.config.clients, token.strip())


def _header(ctx: Any, name: str) -> str | None:
    headers = getattr(ctx.request, "headers", None)
    return None if headers is None else headers.get(name)


def _request_key(ctx: Any) -> str | None:
    """The request's identity: the client's ``_meta`` request id, else (over HTTP) its
    session and JSON-RPC id, else none (every call a new run)."""
    meta = ctx.meta or {}
    key = meta.get(REQUEST_KEY_META)
    if isinstance(key, str) and key:
        return f"client:{key}"
    headers = getattr(ctx.request, "headers", None)
    session = headers.get("mcp-session-id") if headers is not None else None
    if session and ctx.request_id is not None:
        return f"session:{session}:{ctx.request_id}"
    return None


async def serve(
    gateway: Gateway,
    *,
    transport: str = "stdio",
    host: str = "127.0.0.1",
    port: int = 8765,
    client: str | None = None,
) -> None:
    """Serve an opened ``gateway`` until the client (stdio) or the process (HTTP) stops;
    ``client`` (stdio only) names the client that started it, as who asks for each call."""
    if client is not None and transport != "stdio":
        raise GatewayConfigError(_NAMED_OVER_HTTP, "--client")
    server = mcp_server(gateway, client=client)
    if transport == "stdio":
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())
        return
    app: Any
    oauth = gateway.config.oauth
    if oauth is not None:  # the mcp package checks every request's token (_oauth)
        verifier = GatewayTokens(gateway.config)
        app = server.streamable_http_app(
            host=host, auth=auth_settings(oauth), token_verifier=verifier
        )
    else:
        app = server.streamable_http_app(host=host)
        if gateway.config.clients:
            app = _Authenticated(app, gateway)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve()


class _Authenticated:
    """ASGI: HTTP requests without a configured client's bearer token are refused (401,
    a JSON-RPC error typed ``unauthorized`` in ``data.type``) before the MCP server sees
    them, so nothing is journaled."""

    def __init__(self, app: Any, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = dict(scope.get("headers") or [])
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        if scope["type"] != "http" or client_name(self.gateway, authorization) is not None:
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": None,
                "error": {
                    "code": INVALID_REQUEST,
                    "message": "This gateway serves only its configured clients: send "
                    "'Authorization: Bearer <your token>' (its [clients] table).",
                    "data": {"type": "unauthorized"},
                },
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer realm="tether-gateway"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


_NAMED_OVER_HTTP = (
    "--client names the one client of a stdio gateway; over HTTP each client is named by "
    "its bearer token (a [clients.NAME] table)"
)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tether.gateway CONFIG [--transport stdio|http] [--host H] [--port N]
    [--client NAME]``."""
    parser = argparse.ArgumentParser(
        prog="python -m tether.gateway",
        description="An MCP server that puts tether's approvals in front of other MCP servers.",
    )
    parser.add_argument("config", help="the gateway's TOML configuration file")
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP: the address to listen on")
    parser.add_argument("--port", type=int, default=8765, help="HTTP: the port to listen on")
    parser.add_argument("--client", help=_CLIENT_HELP)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        if args.client is not None:
            check_client_name(args.client)
            if args.transport != "stdio":
                raise GatewayConfigError(_NAMED_OVER_HTTP, "--client")
        config = load_config(args.config)
    except GatewayConfigError as exc:
        print(f"tether gateway: {exc}", file=sys.stderr)
        return 2

    async def run() -> None:
        async with Gateway(config) as gateway:
            await serve(
                gateway,
                transport=args.transport,
                host=args.host,
                port=args.port,
                client=args.client,
            )

    try:
        asyncio.run(run())
    except GatewayConfigError as exc:
        print(f"tether gateway: {exc}", file=sys.stderr)
        return 2
    except TetherError as exc:
        print(f"tether gateway: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
