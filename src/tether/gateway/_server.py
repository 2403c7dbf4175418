"""The gateway as an MCP server (the ``mcp`` package's low-level ``Server``), on stdio or
streamable HTTP, and ``main``: ``python -m tether.gateway CONFIG [--transport ...]``."""

from __future__ import annotations

import argparse
import asyncio
import hmac
import itertools
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

import uvicorn
from mcp import types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp_types import INVALID_REQUEST

from ..errors import GatewayConfigError, TetherError
from ._config import check_client_name, load_config
from ._elicit import QUESTION_SCHEMA, Answer, Ask
from ._gateway import REQUEST_KEY_META, Gateway

__all__ = ["client_name", "main", "mcp_server", "serve"]

_CLIENT_HELP = (
    "stdio: the name of the client that starts the gateway, journaled as who asked for each "
    "call (RunStarted.requested_by; under four-eyes it may not approve its own calls)"
)

log = logging.getLogger("tether.gateway")


def mcp_server(gateway: Gateway, *, client: str | None = None) -> Server[Any]:
    """An MCP server offering ``gateway``'s tools; each call goes through ``gateway.call``.

    ``client`` names who asks when no bearer token of a configured client does: over stdio,
    the one client that started the process (``--client``)."""

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> Any:
        return types.ListToolsResult(tools=gateway.list_tools())

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> Any:
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
            requested_by=client_name(gateway, _header(ctx, "authorization")) or client,
            ask=_asker(ctx),
        )

    return Server(
        "tether-gateway",
        version="0.1.0",
        instructions=(
            "Tools of other MCP servers, behind human approval: a call may wait for a person "
            "to decide (progress notifications say for whom), and a rejection is a tool error."
        ),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def _asker(ctx: Any) -> Ask | None:
    """How to ask the user of the client that sent this request (form elicitation, tied to
    the request), or ``None`` when the client declared no elicitation capability."""
    session = ctx.session
    wanted = types.ClientCapabilities(elicitation=types.ElicitationCapability())
    if not session.check_client_capability(wanted) or not session.can_send_request:
        return None

    async def ask(message: str) -> Answer:
        result = await session.elicit_form(
            message, QUESTION_SCHEMA, related_request_id=ctx.request_id
        )
        reason = (result.content or {}).get("reason")
        text = reason.strip() if isinstance(reason, str) else ""
        return Answer(result.action, text or None)

    return ask


def client_name(gateway: Gateway, authorization: str | None) -> str | None:
    """The configured client whose bearer token ``authorization`` carries, else ``None``."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    for known, name in gateway.config.clients.items():
        if hmac.compare_digest(known.encode(), token.strip().encode()):
            return name
    return None


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
    app: Any = server.streamable_http_app(host=host)
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
