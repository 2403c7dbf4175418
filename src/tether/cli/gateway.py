"""``tether gateway CONFIG [--transport stdio|http] [--host H] [--port N] [--client NAME]``:
the MCP approval gateway (``tether.gateway``; ``docs/gateway.md``)."""

from __future__ import annotations

import argparse
from typing import Any

from ._commands import HELP


def add_gateway_command(commands: Any) -> None:
    """Add ``tether gateway`` (the same arguments as ``python -m tether.gateway``)."""
    gateway = commands.add_parser(
        "gateway",
        help=HELP["gateway"],
        description="Run the MCP approval gateway: an MCP server whose tools are its "
        "upstream servers' tools, each call journaled and, where its policy says so, "
        "waiting for a person's decision in the inbox (docs/gateway.md).",
    )
    gateway.add_argument("config", help="the gateway's TOML configuration file")
    gateway.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    gateway.add_argument("--host", default="127.0.0.1", help="HTTP: the address to listen on")
    gateway.add_argument("--port", type=int, default=8765, help="HTTP: the port to listen on")
    gateway.add_argument(
        "--client", help="stdio: the name of the client that starts it, journaled as who asks"
    )
    gateway.set_defaults(func=_gateway)


def _gateway(args: argparse.Namespace) -> int:
    from ..gateway import main  # the mcp extra loads only for this command

    options = ["--transport", args.transport, "--host", args.host, "--port", str(args.port)]
    if args.client is not None:
        options += ["--client", args.client]
    return main([args.config, *options])
