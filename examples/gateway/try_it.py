"""The gateway, offline, end to end: an MCP client calls the bank through the gateway, and an
approver decides the payment in between.

    uv run python examples/gateway/try_it.py

The client starts ``python -m tether.gateway gateway.toml`` over stdio, as a desktop MCP
client would (on copies of this folder's files in a temporary folder, so that the run
store it writes, ``runs.db``, goes there). ``balance`` answers at once. ``pay`` waits: the
call is a run in the store, which the inbox lists (``tether inbox --store runs.db list``);
here the approver decides it from this same script through ``tether.store.decide``, as the
inbox's page or ``tether inbox approve`` would. The client then gets the bank's answer.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from tether import Approver
from tether.gateway import Gateway, load_config
from tether.store import PendingApproval, decide, load_state

HERE = Path(__file__).resolve().parent
ANA = Approver("ana", "Ana", roles=frozenset({"finance"}))


async def approve_when_asked(approver: Gateway) -> None:
    """What a person does in the inbox: find the waiting call, look at it, approve it."""
    rows: list[PendingApproval] = []
    while not rows:  # what the inbox's list shows, looked at again and again
        await asyncio.sleep(0.1)
        rows = await approver.store.pending_approvals(tool="pay")
    row = rows[0]
    agent = approver.agents[0]
    item = (await load_state(approver.store, row.run_id, agent)).interruptions[0]
    await asyncio.sleep(1.5)  # a person takes a moment; the client is told what it waits for
    print(f"Approver sees:  {item.tool_name} {item.arguments} (run {row.run_id})")
    await decide(
        approver.store, row.run_id, agent, item.call_id, decision="approve", by=ANA,
        fingerprint=item.fingerprint, reason="invoice 2026-118", governance=approver.governance,
    )  # fmt: skip
    print("Approver:       approved as ana (finance)")


async def main(folder: Path) -> None:
    for name in ("gateway.toml", "bank_server.py"):
        shutil.copy(HERE / name, folder / name)
    config = folder / "gateway.toml"
    # An MCP client starts its server with a few variables only (PATH, HOME, ...): pass on
    # TETHER_STORE_KEY, if set, so the gateway signs the store with the approver's key.
    keys = {k: v for k, v in os.environ.items() if k in ("TETHER_STORE_KEY", "TETHER_KEY_FILE")}
    gateway = StdioServerParameters(
        command=sys.executable, args=["-m", "tether.gateway", str(config)], env=keys or None
    )

    async def progress(done: float, total: float | None, message: str | None) -> None:
        if done == 1:  # the first notification; one comes every progress_interval
            print(f"Client waits:   {message}")

    async with (
        Gateway(load_config(config)) as approver,
        stdio_client(gateway) as (read, write),
        ClientSession(read, write) as client,
    ):
        await client.initialize()
        tools = await client.list_tools()
        print("Tools:         ", ", ".join(tool.name for tool in tools.tools))
        result = await client.call_tool("balance", {"account": "acme"})
        print("balance:       ", result.content[0].text)
        deciding = asyncio.create_task(approve_when_asked(approver))
        result = await client.call_tool(
            "pay", {"account": "acme", "amount": 250}, progress_callback=progress
        )
        await deciding
        print("pay:           ", result.content[0].text)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(main(Path(folder)))
