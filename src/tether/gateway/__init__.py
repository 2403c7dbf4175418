"""``tether gateway``: an MCP server in front of other MCP servers, with tether's approvals.

    python -m tether.gateway gateway.toml                  # stdio (a desktop client starts it)
    python -m tether.gateway gateway.toml --transport http --port 8765

Each tool call a client makes is a durable tether run in the configured run store: the
inbox lists the calls that wait, people decide them under the same governance, and the
client's request stays open (with progress notifications) until the decision, then gets
the upstream's result, or a tool error saying why there is none; a 2026-07-28 client that
asks for it gets ``input_required`` at once and comes back later. A tool's policy may let
the client's own user decide (MCP elicitation). See docs/gateway.md.

Needs the ``mcp`` extra; ``import tether`` never imports this package.
"""

from __future__ import annotations

from ..errors import GatewayConfigError, MissingExtraError

try:
    import mcp  # noqa: F401  (the gateway is built on it)
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError(
        f"tether.gateway needs the mcp package ({exc}). Install it with: pip install 'tether[mcp]'"
    ) from None

from ._config import GatewayConfig, ServerConfig, ToolPolicy, load_config, parse_config
from ._gateway import REQUEST_KEY_META, Gateway, run_id_for
from ._relay import RelayModel
from ._server import INPUT_REQUIRED_META, main, mcp_server, serve

__all__ = [
    "INPUT_REQUIRED_META",
    "REQUEST_KEY_META",
    "Gateway",
    "GatewayConfig",
    "GatewayConfigError",
    "RelayModel",
    "ServerConfig",
    "ToolPolicy",
    "load_config",
    "main",
    "mcp_server",
    "parse_config",
    "run_id_for",
    "serve",
]
