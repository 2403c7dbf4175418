"""The store's fold gate keeps runs' events up to a budget: past it, the oldest runs' events
go first and their views stay, so a load of those runs decodes their rows again."""

from __future__ import annotations

from datetime import UTC, datetime

from tether import Agent, Runner
from tether.journal import Event
from tether.store._gate import FoldGate, fold
from tether.testing import ScriptedModel, message

CREATED = datetime(2026, 1, 1, tzinfo=UTC)


async def _events() -> list[Event]:
    agent = Agent(name="a", model=ScriptedModel([message("hi")]))
    result = await Runner.run(agent, "hello")
    return list(result.to_state().journal)


async def test_past_the_budget_the_oldest_runs_events_go_first_and_their_views_stay() -> None:
    events = await _events()
    n = len(events)
    gate = FoldGate(max_events=2 * n)
    for run_id in ("r1", "r2"):
        gate.keep(run_id, CREATED, n, fold(events), "h", list(events))
    assert gate.events_of("r1", CREATED, n, "h") == tuple(events)
    gate.remember("r3", CREATED, n, events, "h")  # a load: events only

    assert gate.events_of("r1", CREATED, n, "h") is None  # the oldest went
    assert gate.view_of("r1", CREATED, n, "h") is not None  # its view stayed
    assert gate.events_of("r2", CREATED, n, "h") == tuple(events)
    assert gate.events_of("r3", CREATED, n, "h") == tuple(events)
    # Another version, creation time or head is not the one held.
    assert gate.events_of("r2", CREATED, n + 1, "h") is None
    assert gate.events_of("r2", CREATED, n, "other") is None
    assert gate.events_of("r2", datetime(2026, 1, 2, tzinfo=UTC), n, "h") is None

    # Taken for an append, the run's events are the caller's; the budget counts them out.
    held = gate.take_at("r2", n)
    assert held is not None and held.events == events
    gate.remember("r4", CREATED, n, events, "h")
    assert gate.events_of("r3", CREATED, n, "h") == tuple(events)  # within the budget still


async def test_a_run_longer_than_the_budget_keeps_its_view_only() -> None:
    events = await _events()
    gate = FoldGate(max_events=len(events) - 1)
    gate.keep("r1", CREATED, len(events), fold(events), "h", list(events))
    assert gate.events_of("r1", CREATED, len(events), "h") is None
    held = gate.take_at("r1", len(events))
    assert held is not None and held.events is None and held.view.items


async def test_a_load_that_read_an_older_seq_leaves_the_newer_view_held() -> None:
    events = await _events()
    n = len(events)
    gate = FoldGate()
    gate.keep("r1", CREATED, n, fold(events), "new", list(events))
    # A load that read the run before that append committed remembers what it read.
    gate.remember("r1", CREATED, n - 1, events[:-1], "old")
    assert gate.view_of("r1", CREATED, n, "new") is not None
    assert gate.events_of("r1", CREATED, n, "new") == tuple(events)
    # The run deleted and created again (another creation time) is another run: replaced.
    later = datetime(2026, 1, 2, tzinfo=UTC)
    gate.remember("r1", later, 1, events[:1], "h")
    assert gate.view_of("r1", CREATED, n, "new") is None
    assert gate.events_of("r1", later, 1, "h") == tuple(events[:1])
