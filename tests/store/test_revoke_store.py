"""Withdrawing a decision on a stored run: through the fold and the compare-and-append like
every decision, so a worker never runs a withdrawn approval, and a withdrawal that comes
after the call started loses cleanly."""

from __future__ import annotations

import pytest

from tether import Agent, Runner, function_tool
from tether.errors import NotRevocableError, RunConflictError
from tether.journal import DecisionRevoked, ToolStarted
from tether.store import decide, load_state, revoke, save_state
from tether.testing import ScriptedModel, message, tool_call

from .backends import Backend


def _agent(ran: list[str]) -> Agent[None]:
    @function_tool(needs_approval=True)
    def refund(order: str) -> str:
        """Refund an order."""
        ran.append(order)
        return f"refunded {order}"

    model = ScriptedModel([[tool_call("refund", {"order": "o-1"}, "c1")], message("Done.")])
    return Agent(name="Support", model=model, tools=[refund])


async def _approved(store: object, agent: Agent[None]) -> tuple[str, str]:
    paused = await Runner.run(agent, "Refund o-1", store=store)  # type: ignore[arg-type]
    item = paused.interruptions[0]
    await decide(
        store,  # type: ignore[arg-type]
        paused.run_id,
        agent,
        "c1",
        decision="approve",
        by="ana",
        fingerprint=item.fingerprint,
    )
    return paused.run_id, item.fingerprint


async def test_a_worker_that_loads_the_run_after_the_revoke_does_not_run_the_tool(
    backend: Backend,
) -> None:
    ran: list[str] = []
    agent = _agent(ran)
    store = backend.open()
    try:
        run_id, fingerprint = await _approved(store, agent)
        assert (await store.load(run_id)).summary.status == "running"
        await revoke(
            store, run_id, agent, "c1", by="ana", reason="wrong order", fingerprint=fingerprint
        )

        # The call waits again, in every projection.
        assert (await store.load(run_id)).summary.status == "waiting"
        assert [p.call_id for p in await store.pending_approvals(run_id=run_id)] == ["c1"]

        resumed = await Runner.run(agent, await load_state(store, run_id, agent), store=store)
        assert [item.call_id for item in resumed.interruptions] == ["c1"]
        assert ran == []
        assert not any(isinstance(e, ToolStarted) for e in (await store.load(run_id)).events)
    finally:
        await store.close()


async def test_a_worker_holding_the_approved_run_loses_to_the_revoke(backend: Backend) -> None:
    ran: list[str] = []
    agent = _agent(ran)
    store = backend.open()
    try:
        run_id, _ = await _approved(store, agent)
        worker_state = await load_state(store, run_id, agent)  # the worker read it approved
        await revoke(store, run_id, agent, "c1", by="ana")  # then the person withdrew it
        # Its ToolStarted no longer fits the run: the append conflicts, the tool never runs.
        with pytest.raises(RunConflictError):
            await Runner.run(agent, worker_state, store=store)
        assert ran == []
        again = await Runner.run(agent, await load_state(store, run_id, agent), store=store)
        assert [item.call_id for item in again.interruptions] == ["c1"]
        assert ran == []
    finally:
        await store.close()


async def test_a_revoke_racing_a_started_call_conflicts_then_is_refused(
    backend: Backend,
) -> None:
    ran: list[str] = []
    agent = _agent(ran)
    store = backend.open()
    try:
        run_id, _ = await _approved(store, agent)
        state = await load_state(store, run_id, agent)  # the revoke reads the run ...
        stored = await store.load(run_id)
        await store.append(run_id, stored.seq, [ToolStarted("c1")])  # ... a worker starts c1
        state.revoke("c1", by="ana")
        with pytest.raises(RunConflictError):
            await save_state(store, state)  # nothing of the revoke is written
        with pytest.raises(NotRevocableError, match="in_doubt"):
            await revoke(store, run_id, agent, "c1", by="ana")  # read again: refused
        events = (await store.load(run_id)).events
        assert not any(isinstance(e, DecisionRevoked) for e in events)
        # The fold in the store's transaction refuses it too, whoever writes it.
        with pytest.raises(Exception, match="withdrawal"):
            await store.append(run_id, len(events), [state.journal[-1]])
        assert len((await store.load(run_id)).events) == len(events)
    finally:
        await store.close()


async def test_an_unauthorized_revoke_stores_nothing(backend: Backend) -> None:
    agent = _agent([])
    store = backend.open()
    try:
        run_id, _ = await _approved(store, agent)
        seq = (await store.load(run_id)).seq
        with pytest.raises(NotRevocableError, match="own"):
            await revoke(store, run_id, agent, "c1", by="ben")
        with pytest.raises(NotRevocableError, match="anonymous"):
            await revoke(store, run_id, agent, "c1", by=None)
        assert (await store.load(run_id)).seq == seq
        assert (await store.load(run_id)).summary.status == "running"
    finally:
        await store.close()
