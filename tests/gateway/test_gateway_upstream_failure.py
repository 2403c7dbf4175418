"""The gateway in-process: an upstream whose connection breaks during a call (the call is
left in doubt, never run again by itself; later calls are refused before anything is
journaled), and a client that goes away while its call waits (the decision still applies)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from mcp.shared.exceptions import MCPError

from tether import Approver
from tether.gateway import Gateway, load_config
from tether.store import decide, load_state

from .conftest import upstream_calls, write_config

T = TypeVar("T")


async def test_a_call_cut_off_is_in_doubt_and_the_next_is_refused(tmp_path: Path) -> None:
    async with Gateway(load_config(write_config(tmp_path))) as gateway:
        result = await gateway.call("crash", {"reason": "test"}, request_key="crash-1")
        assert result.is_error
        assert result.meta is not None and result.meta["tether/error"] == "in_doubt"
        run_id = result.meta["tether/run_id"]
        state = await load_state(gateway.store, run_id, gateway.agents[0])
        assert [item.tool_name for item in state.in_doubt] == ["crash"]
        again = await gateway.call("crash", {"reason": "test"}, request_key="crash-1")
        assert again.meta is not None and again.meta["tether/error"] == "in_doubt"
        runs = await gateway.store.list_runs()
        with pytest.raises(MCPError) as raised:
            await gateway.call("balance", {"account": "acme"})
        assert raised.value.data["type"] == "upstream_unavailable"
        assert len((await gateway.store.list_runs()).runs) == len(runs.runs)
    assert upstream_calls(tmp_path) == [{"tool": "crash", "reason": "test"}]


async def test_a_client_that_goes_away_leaves_the_decided_call_to_the_gateway(
    tmp_path: Path,
) -> None:
    async with Gateway(load_config(write_config(tmp_path))) as gateway:
        asked = asyncio.create_task(
            gateway.call("pay", {"account": "acme", "amount": 8}, request_key="gone-1")
        )
        rows = await _polled(lambda: gateway.store.pending_approvals(tool="pay"))
        asked.cancel()  # the client hung up while the call waited
        await asyncio.gather(asked, return_exceptions=True)
        agent = gateway.agents[0]
        item = (await load_state(gateway.store, rows[0].run_id, agent)).interruptions[0]
        await decide(
            gateway.store,
            rows[0].run_id,
            agent,
            item.call_id,
            decision="approve",
            by=Approver("ana", roles=frozenset({"finance"})),
            fingerprint=item.fingerprint,
        )
        await _polled(lambda: _completed(gateway, rows[0].run_id))
        again = await gateway.call("pay", {"account": "acme", "amount": 8}, request_key="gone-1")
        assert again.content[0].text == "paid 8 EUR to acme"
    assert upstream_calls(tmp_path) == [{"tool": "pay", "account": "acme", "amount": 8, "memo": ""}]


async def _polled(look: Callable[[], Awaitable[T]]) -> T:
    """What ``look`` finds, once it finds something (the store is polled, as the inbox is)."""
    found = await look()
    for _ in range(400):
        if found:
            break
        await asyncio.sleep(0.05)
        found = await look()
    assert found
    return found


async def _completed(gateway: Gateway, run_id: str) -> bool:
    return (await gateway.store.load(run_id)).summary.status == "completed"
