"""A small upstream MCP server for the gateway example: a bank with two tools.

    python bank_server.py          # over stdio, as the gateway starts it

``balance`` only reads (the gateway lets it through); ``pay`` moves money (the gateway's
configuration makes it wait for an approver with the ``finance`` role).
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

bank = MCPServer("bank")
balances = {"acme": 1200, "globex": 300}


@bank.tool(annotations=ToolAnnotations(read_only_hint=True))
def balance(account: str) -> str:
    """Read an account's balance."""
    return f"{account}: {balances.get(account, 0)} EUR"


@bank.tool()
def pay(account: str, amount: int) -> str:
    """Pay an amount (EUR) from the house account to an account."""
    balances[account] = balances.get(account, 0) + amount
    return f"Paid {amount} EUR to {account}; its balance is {balances[account]} EUR."


if __name__ == "__main__":
    bank.run()
