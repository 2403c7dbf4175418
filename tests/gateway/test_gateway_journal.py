"""What a call that needs nobody costs in the journal, as its tool is configured: with
``journal = false`` nothing (straight to the upstream, no run); with ``idempotent = true``
one commit after the upstream answered (a crash during the call leaves no run)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tether.errors import RunNotFoundError
from tether.gateway import Gateway, load_config, run_id_for

from .conftest import counted_appends, upstream_calls, write_config

UNJOURNALED = "\n[servers.bank.defaults]\njournal = false\n"


async def _runs(gateway: Gateway) -> list[str]:
    return [run.run_id for run in (await gateway.store.list_runs()).runs]


async def test_an_unjournaled_call_reaches_the_upstream_once_and_leaves_no_run(
    tmp_path: Path,
) -> None:
    async with Gateway(load_config(write_config(tmp_path, UNJOURNALED))) as gateway:
        appends = counted_appends(gateway)
        result = await gateway.call("balance", {"account": "acme"}, request_key="u1")
        assert result.content[0].text == "acme: 120 EUR"
        assert not result.is_error and "tether/run_id" not in (result.meta or {})
        assert [c["tool"] for c in upstream_calls(tmp_path)] == ["balance"]
        assert appends == []
        with pytest.raises(RunNotFoundError):
            await gateway.store.load(run_id_for("bank", "u1"))
        # Nothing recorded it, so the same request again is a new call upstream.
        await gateway.call("balance", {"account": "acme"}, request_key="u1")
        assert [c["tool"] for c in upstream_calls(tmp_path)] == ["balance", "balance"]
        assert await _runs(gateway) == []


async def test_an_unjournaled_tools_error_is_the_clients(tmp_path: Path) -> None:
    async with Gateway(load_config(write_config(tmp_path, UNJOURNALED))) as gateway:
        result = await gateway.call("freeze", {"account": "nobody"})  # matches no rule
        assert result.is_error and "no account 'nobody'" in result.content[0].text
        assert (result.meta or {}).get("tether/error") == "upstream_tool_error"
        assert await _runs(gateway) == []


async def test_an_unjournaled_call_cut_off_says_that_nothing_recorded_it(tmp_path: Path) -> None:
    async with Gateway(load_config(write_config(tmp_path, UNJOURNALED))) as gateway:
        result = await gateway.call("crash", {"reason": "test"}, request_key="x1")
        assert result.is_error and (result.meta or {})["tether/error"] == "cut_off"
        assert "journal = false" in result.content[0].text
        assert await _runs(gateway) == []


async def test_a_gated_tool_of_an_unjournaled_server_still_waits_and_is_journaled(
    tmp_path: Path,
) -> None:
    async with Gateway(load_config(write_config(tmp_path, UNJOURNALED))) as gateway:
        call = asyncio.create_task(
            gateway.call("pay", {"account": "acme", "amount": 5}, request_key="p1")
        )
        run_id = run_id_for("bank", "p1")
        for _ in range(500):
            if [p.run_id for p in await gateway.store.pending_approvals()] == [run_id]:
                break
            await asyncio.sleep(0.01)
        stored = await gateway.store.load(run_id)
        assert stored.summary.status == "waiting"
        assert "approval_requested" in [event.kind for event in stored.events]
        assert upstream_calls(tmp_path) == []  # nobody decided: the upstream saw nothing
        assert not call.done()
        call.cancel()
        await asyncio.gather(call, return_exceptions=True)


IDEMPOTENT = "\n[servers.bank.defaults]\nidempotent = true\n"
SIX = [
    "run_started",
    "model_responded",
    "tool_started",
    "tool_completed",
    "model_responded",
    "run_completed",
]


async def test_an_idempotent_call_is_journaled_in_one_commit_after_the_upstream(
    tmp_path: Path,
) -> None:
    async with Gateway(load_config(write_config(tmp_path, IDEMPOTENT))) as gateway:
        appends = counted_appends(gateway)
        result = await gateway.call("balance", {"account": "acme"}, request_key="i1")
        assert result.content[0].text == "acme: 120 EUR"
        run_id = run_id_for("bank", "i1")
        assert (result.meta or {})["tether/run_id"] == run_id
        assert appends == [SIX]
        stored = await gateway.store.load(run_id)
        assert stored.summary.status == "completed"
        assert stored.summary.lease_owner is None  # one commit, no lease to give up
        # A retry of the request reads its run: the upstream is not called again.
        again = await gateway.call("balance", {"account": "acme"}, request_key="i1")
        assert again.content[0].text == "acme: 120 EUR"
        assert [c["tool"] for c in upstream_calls(tmp_path)] == ["balance"]
        assert appends == [SIX]


async def test_an_idempotent_call_under_way_has_no_run_yet(tmp_path: Path) -> None:
    async with Gateway(load_config(write_config(tmp_path, IDEMPOTENT))) as gateway:
        call = asyncio.create_task(gateway.call("slow", {"key": "s"}, request_key="s"))
        for _ in range(2000):
            if [c for c in upstream_calls(tmp_path) if c.get("event") == "started"]:
                break
            await asyncio.sleep(0.01)
        # A crash now leaves nothing in the store: a retry calls the upstream again.
        with pytest.raises(RunNotFoundError):
            await gateway.store.load(run_id_for("bank", "s"))
        (tmp_path / "release-s").touch()
        assert (await call).content[0].text == "slow s done"
        stored = await gateway.store.load(run_id_for("bank", "s"))
        assert [event.kind for event in stored.events] == SIX


async def test_an_idempotent_call_cut_off_journals_nothing_and_says_so(tmp_path: Path) -> None:
    async with Gateway(load_config(write_config(tmp_path, IDEMPOTENT))) as gateway:
        result = await gateway.call("crash", {"reason": "test"}, request_key="c1")
        assert result.is_error and (result.meta or {})["tether/error"] == "cut_off"
        assert "calls it again" in result.content[0].text
        assert await _runs(gateway) == []


async def test_the_upstreams_idempotent_hint_counts_only_when_trusted(tmp_path: Path) -> None:
    trusted = "\n[servers.bank.defaults]\ntrust_idempotent_hint = true\n"
    for extra, balance_appends in (("", 2), (trusted, 1)):
        folder = tmp_path / str(balance_appends)
        folder.mkdir()
        async with Gateway(load_config(write_config(folder, extra))) as gateway:
            appends = counted_appends(gateway)
            await gateway.call("balance", {"account": "acme"})  # annotated read-only
            assert len(appends) == balance_appends
            appends.clear()
            await gateway.call("freeze", {"account": "acme"})  # no annotation: two commits
            assert len(appends) == 2
