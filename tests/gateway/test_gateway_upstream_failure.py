"""An upstream whose connection breaks during a call: the call is left in doubt (it may have
happened), never run again by itself; later calls are refused before anything is journaled."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp.shared.exceptions import MCPError

from tether.gateway import Gateway, load_config
from tether.store import load_state

from .conftest import upstream_calls, write_config


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
