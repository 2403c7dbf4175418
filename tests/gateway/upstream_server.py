"""The upstream MCP server of the gateway's tests (the mcp package's own server, on stdio).

    python upstream_server.py FOLDER

Every call it receives is appended to FOLDER/calls.log (one JSON line), so a test counts
exactly which calls reached the upstream, and how often. The ``slow`` tool logs when it
starts (with its own pid and its parent's: the gateway that started it) and holds until the
file FOLDER/release-KEY exists, then logs that it finished: a test kills the gateway at a
known point of an upstream call instead of after a sleep.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

folder = Path(sys.argv[1])
folder.mkdir(parents=True, exist_ok=True)
upstream = MCPServer("bank")


def log(tool: str, **arguments: object) -> None:
    with (folder / "calls.log").open("a") as calls:
        calls.write(json.dumps({"tool": tool, **arguments}) + "\n")


@upstream.tool(annotations=ToolAnnotations(read_only_hint=True, title="Balance"))
def balance(account: str) -> str:
    """Read an account's balance."""
    log("balance", account=account)
    return f"{account}: 120 EUR"


@upstream.tool()
def pay(account: str, amount: int, memo: str = "") -> str:
    """Pay an amount to an account."""
    log("pay", account=account, amount=amount, memo=memo)
    return f"paid {amount} EUR to {account}"


@upstream.tool()
def transfer(source: str, target: str, amount: int) -> str:
    """Move an amount from one account to another."""
    log("transfer", source=source, target=target, amount=amount)
    return f"moved {amount} EUR from {source} to {target}"


@upstream.tool()
def refund(account: str, amount: int) -> str:
    """Refund an amount to an account (its caller's user decides: elicitation)."""
    log("refund", account=account, amount=amount)
    return f"refunded {amount} EUR to {account}"


@upstream.tool()
def close_account(account: str) -> str:
    """Close an account (hidden by the gateway's configuration)."""
    log("close_account", account=account)
    return f"closed {account}"


@upstream.tool()
def statement(account: str) -> str:
    """An account's statement (reviewed before the client reads it)."""
    log("statement", account=account)
    return f"{account}: salary 3000, rent -1200"


@upstream.tool()
def freeze(account: str) -> str:
    """Freeze an account; refuses unknown accounts."""
    log("freeze", account=account)
    if account != "acme":
        raise ToolError(f"no account {account!r}")
    return f"froze {account}"


@upstream.tool()
async def slow(key: str) -> str:
    """Hold until the test releases ``key`` (the file release-KEY), then answer."""
    log("slow", key=key, event="started", pid=os.getpid(), gateway=os.getppid())
    with anyio.fail_after(120):
        # Another process writes the file: nothing in this one could set an event.
        while not (folder / f"release-{key}").exists():  # noqa: ASYNC110
            await anyio.sleep(0.02)
    log("slow", key=key, event="finished")
    return f"slow {key} done"


@upstream.tool()
def crash(reason: str) -> str:
    """Stop the server in the middle of the call (the connection breaks)."""
    log("crash", reason=reason)
    os._exit(3)


if __name__ == "__main__":
    upstream.run()
