"""Runs kept in a store: what a user sees when a run is started, decided on and resumed
by id, in SQLite and in PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tether import (
    Agent,
    NotPendingError,
    RunConflictError,
    Runner,
    RunNotFoundError,
    ToolCallInDoubtError,
    ToolError,
    UserError,
    function_tool,
)
from tether.errors import RunBusyError
from tether.journal._events import ToolStarted
from tether.lifecycle import RunHooks
from tether.store import RunStore, RunTip, load_state, save_state
from tether.testing import ScriptedModel, message, tool_call

from .backends import Backend

SEEN: list[object] = []
"""The last stored event each tool body saw while it ran."""


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[RunStore]:
    opened = backend.open(signing_key="k")
    yield opened
    await opened.close()


def booking_agent(model: ScriptedModel, store: RunStore | None = None) -> Agent[None]:
    @function_tool(needs_approval=True)
    async def book_table(seats: int) -> str:
        """Book a table."""
        if store is not None:
            # What is durable while the side effect happens.
            run = (await store.list_runs()).runs[0]
            SEEN.append((await store.load(run.run_id)).events[-1])
        return f"Booked for {seats}"

    return Agent(name="Booker", model=model, tools=[book_table])


async def test_a_stored_run_pauses_is_decided_by_id_and_resumes(
    backend: Backend, store: RunStore
) -> None:
    SEEN.clear()
    first = ScriptedModel([tool_call("book_table", {"seats": 2}, "c1")])
    result = await Runner.run(booking_agent(first), "Book for two", store=store)
    assert result.interruptions and result.run_id.startswith("run_")

    # Another process: a fresh store object, and nothing but the run id.
    other = backend.open(signing_key="k")
    try:
        assert [p.call_id for p in await other.pending_approvals()] == ["c1"]
        assert (await other.load(result.run_id)).status == "waiting"
        state = await load_state(other, result.run_id, booking_agent(first))
        state.approve(state.interruptions[0], by="ana")
        await save_state(other, state)
        assert await other.pending_approvals() == []

        model = ScriptedModel([message("Booked.")])
        agent = booking_agent(model, store=other)
        resumed = await Runner.run(
            agent, await load_state(other, result.run_id, agent), store=other
        )
        assert resumed.final_output == "Booked."
        # Committed before the tool body ran (``at``: when, for the key's lifetime).
        assert [(e.call_id, e.at is not None) for e in SEEN] == [("c1", True)]
        assert all(isinstance(e, ToolStarted) for e in SEEN)
        stored = await other.load(result.run_id)
        assert stored.status == "completed"
        assert stored.events == tuple(resumed.to_state().journal)
        assert await other.recoverable() == []
    finally:
        await other.close()


async def test_a_second_resume_while_one_runs_is_busy_at_once(store: RunStore) -> None:
    model = ScriptedModel([tool_call("book_table", {"seats": 2}, "c1")])
    result = await Runner.run(booking_agent(model), "Book for two", store=store)
    state = await load_state(store, result.run_id, booking_agent(model))
    state.approve(state.interruptions[0])
    await store.acquire(result.run_id, "another-worker", ttl=30)
    with pytest.raises(RunBusyError, match="another-worker"):
        await Runner.run(booking_agent(ScriptedModel([message("x")])), state, store=store)
    assert (await store.load(result.run_id)).status == "waiting"


async def test_a_stale_state_cannot_be_saved_or_resumed(store: RunStore) -> None:
    model = ScriptedModel([tool_call("book_table", {"seats": 2}, "c1")])
    result = await Runner.run(booking_agent(model), "Book for two", store=store)
    one = await load_state(store, result.run_id, booking_agent(model))
    two = await load_state(store, result.run_id, booking_agent(model))
    one.approve(one.interruptions[0], by="ana")
    two.reject(two.interruptions[0], by="bo")
    await save_state(store, one)
    with pytest.raises(RunConflictError):
        await save_state(store, two)
    with pytest.raises(RunConflictError):
        await Runner.run(booking_agent(ScriptedModel([message("x")])), two, store=store)
    events = (await store.load(result.run_id)).events
    assert [e.kind for e in events][-1] == "approval_decided"
    assert events[-1].by == "ana"  # type: ignore[union-attr]


async def test_a_streamed_run_is_stored_too(store: RunStore) -> None:
    model = ScriptedModel([tool_call("book_table", {"seats": 2}, "c1")])
    result = Runner.run_streamed(booking_agent(model), "Book for two", store=store)
    kinds = [event.name async for event in result.stream_events() if hasattr(event, "name")]
    assert "approval_requested" in kinds
    assert [p.call_id for p in await store.pending_approvals(run_id=result.run_id)] == ["c1"]


class Crash(Exception):
    """Stands for the process dying inside the tool, after its side effect."""


def charging_agent(model: ScriptedModel, charges: list[int], *, crash: bool = False) -> Agent[None]:
    @function_tool(needs_approval=True, error_formatter=None)
    def charge_card(amount: int) -> str:
        """Charge the card."""
        charges.append(amount)
        if crash:
            raise Crash
        return "charged"

    return Agent(name="Payments", model=model, tools=[charge_card])


async def _in_doubt_run(store: RunStore, charges: list[int]) -> str:
    model = ScriptedModel([tool_call("charge_card", {"amount": 5}, "pay")])
    result = await Runner.run(charging_agent(model, charges), "Pay", store=store)
    state = await load_state(store, result.run_id, charging_agent(model, charges))
    state.approve(state.interruptions[0], by="ana")
    with pytest.raises(ToolError):
        await Runner.run(charging_agent(model, charges, crash=True), state, store=store)
    return result.run_id


async def test_a_call_in_doubt_stops_the_stored_run_until_a_person_resolves_it(
    store: RunStore,
) -> None:
    charges: list[int] = []
    run_id = await _in_doubt_run(store, charges)
    assert charges == [5]
    assert (await store.load(run_id)).status == "in_doubt"
    assert [r.run_id for r in await store.recoverable()] == [run_id]

    model = ScriptedModel([message("Paid.")])
    agent = charging_agent(model, charges)
    stopped = await Runner.run(agent, await load_state(store, run_id, agent), store=store)
    assert [item.call_id for item in stopped.in_doubt] == ["pay"]
    assert stopped.final_output is None and model.requests == []
    assert charges == [5]  # never silently run again
    assert (await store.load(run_id)).status == "in_doubt"

    state = await load_state(store, run_id, agent)
    state.resolve_doubt(state.in_doubt[0], "output", output="charged", by="ana")
    await save_state(store, state)
    assert (await store.load(run_id)).status == "running"  # ready for any worker
    done = await Runner.run(agent, await load_state(store, run_id, agent), store=store)
    assert done.final_output == "Paid."
    assert charges == [5]
    assert model.requests[0].input[-1] == {
        "type": "function_call_output",
        "call_id": "pay",
        "output": "charged",
    }
    resolved = [e for e in (await store.load(run_id)).events if e.kind == "doubt_resolved"]
    assert [(e.resolution, e.by) for e in resolved] == [("output", "ana")]  # type: ignore[union-attr]


async def test_a_doubt_resolved_to_run_again_runs_the_call_once_more(store: RunStore) -> None:
    charges: list[int] = []
    run_id = await _in_doubt_run(store, charges)
    model = ScriptedModel([message("Paid.")])
    agent = charging_agent(model, charges)
    state = await load_state(store, run_id, agent)
    state.resolve_doubt("pay", "run_again", by="ana")
    done = await Runner.run(agent, state, store=store)
    assert (done.final_output, charges) == ("Paid.", [5, 5])


async def test_a_doubt_resolved_as_failed_tells_the_model(store: RunStore) -> None:
    charges: list[int] = []
    run_id = await _in_doubt_run(store, charges)
    model = ScriptedModel([message("Sorry.")])
    agent = charging_agent(model, charges)
    state = await load_state(store, run_id, agent)
    with pytest.raises(UserError, match="needs the output"):
        state.resolve_doubt("pay", "output")
    with pytest.raises(NotPendingError):
        state.resolve_doubt("other", "failed")
    state.resolve_doubt("pay", "failed", by="ana")
    done = await Runner.run(agent, state, store=store)
    assert done.final_output == "Sorry." and charges == [5]
    assert "failed" in model.requests[0].input[-1]["output"]


async def test_an_in_memory_run_raises_on_a_call_in_doubt_and_its_state_can_be_settled() -> None:
    charges: list[int] = []
    model = ScriptedModel([tool_call("charge_card", {"amount": 5}, "pay"), message("Paid.")])
    result = await Runner.run(charging_agent(model, charges), "Pay")
    state = result.to_state()
    state.approve(state.interruptions[0])
    streamed = Runner.run_streamed(charging_agent(model, charges, crash=True), state)
    with pytest.raises(ToolError):
        async for _ in streamed.stream_events():
            pass
    state = streamed.to_state()  # the journal says the call started, not that it completed
    with pytest.raises(ToolCallInDoubtError, match="'pay'") as caught:
        await Runner.run(charging_agent(model, charges), state)
    assert charges == [5]
    doubtful = caught.value.run_state
    assert [item.call_id for item in doubtful.in_doubt] == ["pay"]
    doubtful.resolve_doubt("pay", "output", output="charged", by="ops")
    done = await Runner.run(charging_agent(model, charges), doubtful)
    assert (done.final_output, charges) == ("Paid.", [5])


def test_import_tether_does_not_import_the_postgres_driver() -> None:
    import subprocess
    import sys

    code = "import sys, tether, tether.store; print('psycopg' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


async def test_runner_resume_takes_a_run_id(backend: Backend, store: RunStore) -> None:
    first = ScriptedModel([tool_call("book_table", {"seats": 3}, "c1")])
    result = await Runner.run(booking_agent(first), "Book for three", store=store)
    state = await load_state(store, result.run_id, booking_agent(first))
    state.approve(state.interruptions[0], by="ana")
    await save_state(store, state)

    other = backend.open(signing_key="k")
    try:
        model = ScriptedModel([message("Booked.")])
        resumed = await Runner.resume(booking_agent(model), result.run_id, store=other)
        assert resumed.final_output == "Booked."
        assert model.requests[0].input[-1]["output"] == "Booked for 3"
        assert (await other.load(result.run_id)).status == "completed"
        with pytest.raises(RunNotFoundError, match="run_nope"):
            await Runner.resume(booking_agent(model), "run_nope", store=other)
    finally:
        await other.close()


@pytest.mark.parametrize("key", [None, "k"], ids=["unsigned", "signed"])
async def test_a_state_behind_the_stored_run_writes_nothing(
    backend: Backend, key: str | None
) -> None:
    store = backend.open(signing_key=key)
    try:
        model = ScriptedModel([tool_call("book_table", {"seats": 2}, "c1")])
        result = await Runner.run(booking_agent(model), "Book for two", store=store)
        behind = await load_state(store, result.run_id, booking_agent(model))
        ahead = await load_state(store, result.run_id, booking_agent(model))
        ahead.approve(ahead.interruptions[0], by="ana")
        done = await Runner.run(
            booking_agent(ScriptedModel([message("Booked.")])), ahead, store=store
        )
        assert done.final_output == "Booked."
        stored = (await store.load(result.run_id)).events

        behind.reject(behind.interruptions[0], by="bo")
        with pytest.raises(RunConflictError):
            await save_state(store, behind)
        with pytest.raises(RunConflictError):
            await Runner.run(booking_agent(ScriptedModel([message("x")])), behind, store=store)
        assert (await store.load(result.run_id)).events == stored
        assert (await store.load(result.run_id)).status == "completed"
    finally:
        await store.close()


@pytest.mark.parametrize("key", [None, "k"], ids=["unsigned", "signed"])
async def test_a_saved_state_resumes_and_another_store_object_resumes_too(
    backend: Backend, key: str | None
) -> None:
    store = backend.open(signing_key=key)
    other = backend.open(signing_key=key)
    try:
        model = ScriptedModel([tool_call("book_table", {"seats": 2}, "c1")])
        first = await Runner.run(booking_agent(model), "Book for two", store=store)
        state = await load_state(store, first.run_id, booking_agent(model))
        state.approve(state.interruptions[0], by="ana")
        await save_state(store, state)
        await save_state(store, state)  # nothing new: nothing written, no conflict
        resumed = await Runner.run(
            booking_agent(ScriptedModel([message("Booked.")])), state, store=store
        )
        assert resumed.final_output == "Booked."
        assert (await store.load(first.run_id)).events == tuple(resumed.to_state().journal)

        # A state loaded through one store object, resumed through another on the same data.
        model = ScriptedModel([tool_call("book_table", {"seats": 3}, "c1")])
        second = await Runner.run(booking_agent(model), "Book for three", store=store)
        state = await load_state(store, second.run_id, booking_agent(model))
        state.approve(state.interruptions[0], by="ana")
        again = await Runner.run(
            booking_agent(ScriptedModel([message("Booked again.")])), state, store=other
        )
        assert again.final_output == "Booked again."
        assert (await other.load(second.run_id)).events == tuple(again.to_state().journal)
    finally:
        await store.close()
        await other.close()


@pytest.mark.parametrize("key", [False, None], ids=["unsigned", "signed"])
@pytest.mark.parametrize("hooked", [False, True])
async def test_a_signed_stores_lease_says_where_the_run_ends_and_a_resume_reads_it(
    backend: Backend, key: bool | None, hooked: bool
) -> None:
    store = backend.open(signing_key=key)
    try:
        model = ScriptedModel([tool_call("book_table", {"seats": 2}, "c1")])
        result = await Runner.run(booking_agent(model), "Book for two", store=store)
        lease = await store.acquire(result.run_id, "w", 30)
        await store.release(result.run_id, "w")
        # Unsigned, the head is the last event's text, which the lease does not read.
        assert lease.tip == ((await store.tip(result.run_id)) if key is None else None)

        state = await load_state(store, result.run_id, booking_agent(model))
        state.approve(state.interruptions[0], by="ana")
        tips = []
        read_tip = store.tip

        async def counted(run_id: str) -> RunTip:
            tips.append(run_id)
            return await read_tip(run_id)

        store.tip = counted  # type: ignore[method-assign]
        hooks = RunHooks[Any]() if hooked else None
        done = await Runner.run(
            booking_agent(ScriptedModel([message("Booked.")])), state, store=store, hooks=hooks
        )
        assert done.final_output == "Booked."
        # Unhooked, the resume's first append takes the lease and checks the run's head
        # itself; with a hook the lease is taken first, and an unsigned one reads the tip.
        assert tips == ([result.run_id] if hooked and key is not None else [])
    finally:
        await store.close()
