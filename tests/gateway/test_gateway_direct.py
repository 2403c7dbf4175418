"""A call that needs no decision, journaled by the gateway in two appends: the same events
the run loop writes for it, ``ToolStarted`` durable before the upstream sees the call, the
outcome before the client reads it, and the run leased (``lease_ttl``) while the call runs."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tether import Runner
from tether.errors import GatewayConfigError
from tether.gateway import Gateway, load_config, run_id_for
from tether.gateway._relay import request_text
from tether.journal import Event, RunStarted, ToolStarted
from tether.store import SQLiteRunStore

from .conftest import counted_appends, upstream_calls, write_config


class Clock:
    """The store's clock, moved by the test (it decides when a lease has lapsed)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def _upstream_started(folder: Path) -> None:
    """Return once the upstream logged that a ``slow`` call started (it holds until released)."""
    for _ in range(2000):
        if [c for c in upstream_calls(folder) if c.get("event") == "started"]:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the upstream never started the call")


def _comparable(events: tuple[Event, ...]) -> list[Event]:
    """The events without what differs between two runs of one call: id and start time."""
    same: list[Event] = []
    for event in events:
        if isinstance(event, RunStarted):
            event = dataclasses.replace(event, run_id="-")
        if isinstance(event, ToolStarted):
            event = dataclasses.replace(event, at=None)
        same.append(event)
    return same


async def test_a_call_without_a_decision_is_journaled_as_the_run_loop_would(
    tmp_path: Path,
) -> None:
    async with Gateway(load_config(write_config(tmp_path))) as gateway:
        appends = counted_appends(gateway)
        result = await gateway.call("balance", {"account": "acme"}, request_key="r1")
        assert result.content[0].text == "acme: 120 EUR"
        assert appends == [
            ["run_started", "model_responded", "tool_started"],
            ["tool_completed", "model_responded", "run_completed"],
        ]
        direct = await gateway.store.load(run_id_for("bank", "r1"))
        assert direct.summary.status == "completed"  # durable before the call returned

        # The same call made by the run loop itself.
        await Runner.run(
            gateway.agents[0],
            request_text("balance", {"account": "acme"}),
            store=gateway.store,
            run_id="by-the-loop",
            governance=gateway.governance,
        )
        looped = await gateway.store.load("by-the-loop")
        assert _comparable(direct.events) == _comparable(looped.events)


async def test_who_asked_is_in_the_first_append(tmp_path: Path) -> None:
    async with Gateway(load_config(write_config(tmp_path))) as gateway:
        await gateway.call("balance", {"account": "acme"}, request_key="r2", requested_by="ide")
        stored = await gateway.store.load(run_id_for("bank", "ide\0r2"))
        first = stored.events[0]
        assert isinstance(first, RunStarted) and first.requested_by == "ide"
        assert stored.summary.status == "completed"


async def test_the_call_is_started_in_the_store_before_the_upstream_sees_it(
    tmp_path: Path,
) -> None:
    clock = Clock()
    store = SQLiteRunStore(tmp_path / "runs.db", clock=clock)
    config = load_config(write_config(tmp_path))
    try:
        async with Gateway(config, store=store, lease_ttl=5) as gateway:
            call = asyncio.create_task(gateway.call("slow", {"key": "w"}, request_key="w"))
            await _upstream_started(tmp_path)
            run_id = run_id_for("bank", "w")
            under_way = await store.load(run_id)
            assert [e.kind for e in under_way.events][-1] == "tool_started"
            assert under_way.summary.status == "running"
            assert under_way.summary.lease_owner is not None
            clock.now += timedelta(seconds=4)  # within the lease: still this gateway's
            assert (await store.load(run_id)).summary.status == "running"
            (tmp_path / "release-w").touch()
            result = await call
            assert result.content[0].text == "slow w done"
    finally:
        await store.close()


async def test_a_call_whose_gateway_is_gone_is_in_doubt_once_its_lease_lapses(
    tmp_path: Path,
) -> None:
    clock = Clock()
    store = SQLiteRunStore(tmp_path / "runs.db", clock=clock)
    config = load_config(write_config(tmp_path))
    try:
        async with Gateway(config, store=store, lease_ttl=5) as gateway:
            call = asyncio.create_task(gateway.call("slow", {"key": "g"}, request_key="g"))
            await _upstream_started(tmp_path)
            run_id = run_id_for("bank", "g")
            # Seen from another process: the lease lapses when nobody renews it.
            clock.now += timedelta(seconds=6)
            assert (await store.load(run_id)).summary.status == "in_doubt"
            call.cancel()
            (tmp_path / "release-g").touch()
            await asyncio.gather(call, return_exceptions=True)
    finally:
        await store.close()


async def test_the_lease_must_be_positive(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    with pytest.raises(GatewayConfigError, match="lease_ttl"):
        Gateway(config, lease_ttl=0)
    assert load_config(write_config(tmp_path, lease_ttl=3)).lease_ttl == 3.0
    assert config.lease_ttl == 30.0


async def test_a_gateway_that_traces_leaves_its_calls_to_the_run_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    async with Gateway(load_config(write_config(tmp_path))) as gateway:
        result = await gateway.call("balance", {"account": "acme"}, request_key="t1")
        assert result.content[0].text == "acme: 120 EUR"
        stored = await gateway.store.load(run_id_for("bank", "t1"))
        assert stored.summary.status == "completed"
    names = [span.name for span in exporter.get_finished_spans()]
    assert any("balance" in name for name in names), names
