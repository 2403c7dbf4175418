"""A decision is accepted whenever its call is pending, also while a worker holds the run's
lease, and the run applies it exactly once when it next needs it."""

from __future__ import annotations

import asyncio

import pytest

from tether import Agent, Runner, StaleDecisionError, function_tool
from tether.errors import RunBusyError
from tether.journal import ApprovalDecided, ToolStarted
from tether.store import decide, load_state
from tether.testing import ScriptedModel, message, tool_call

from .backends import Backend


def _agent(started: asyncio.Event, finish: asyncio.Event, ran: list[str]) -> Agent[None]:
    @function_tool(needs_approval=True)
    async def export(table: str) -> str:
        """Export a table (slow)."""
        ran.append(f"export {table}")
        started.set()
        await finish.wait()
        return f"exported {table}"

    @function_tool(needs_approval=True)
    def notify(team: str) -> str:
        """Tell a team."""
        ran.append(f"notify {team}")
        return f"told {team}"

    return Agent(
        name="Ops",
        model=ScriptedModel(
            [
                [
                    tool_call("export", {"table": "orders"}, "c1"),
                    tool_call("notify", {"team": "sales"}, "c2"),
                ],
                message("Done."),
            ]
        ),
        tools=[export, notify],
    )


async def test_a_call_decided_while_a_worker_runs_another_one_runs_once_after_it(
    backend: Backend,
) -> None:
    started, finish, ran = asyncio.Event(), asyncio.Event(), []
    agent = _agent(started, finish, ran)
    store = backend.open()
    try:
        paused = await Runner.run(agent, "Export and tell", store=store)
        run_id = paused.run_id
        first, second = paused.interruptions
        await decide(
            store, run_id, agent, "c1", decision="approve", by="ana", fingerprint=first.fingerprint
        )
        state = await load_state(store, run_id, agent)
        worker = asyncio.create_task(Runner.run(agent, state, store=store))
        await asyncio.wait_for(started.wait(), 10)  # the worker holds the lease, c1 runs
        assert (await store.load(run_id)).summary.lease_owner is not None

        # A person decides c2 now: accepted at once, not "come back later".
        stale = "sha256:" + "1" * 64
        with pytest.raises(StaleDecisionError):
            await decide(
                store, run_id, agent, "c2", decision="approve", by="ben", fingerprint=stale
            )
        await decide(
            store, run_id, agent, "c2", decision="approve", by="ben", fingerprint=second.fingerprint
        )
        finish.set()
        result = await asyncio.wait_for(worker, 10)

        assert result.final_output == "Done."
        assert ran == ["export orders", "notify sales"]
        events = (await store.load(run_id)).events
        assert [(e.call_id, e.by) for e in events if isinstance(e, ApprovalDecided)] == [
            ("c1", "ana"),
            ("c2", "ben"),
        ]
        assert [e.call_id for e in events if isinstance(e, ToolStarted)] == ["c1", "c2"]
    finally:
        await store.close()


async def test_the_lease_still_refuses_anything_but_decisions(backend: Backend) -> None:
    started, finish, ran = asyncio.Event(), asyncio.Event(), []
    agent = _agent(started, finish, ran)
    store = backend.open()
    try:
        paused = await Runner.run(agent, "Export and tell", store=store)
        run_id = paused.run_id
        state = await load_state(store, run_id, agent)
        state.approve("c1", by="ana")
        worker = asyncio.create_task(Runner.run(agent, state, store=store))
        await asyncio.wait_for(started.wait(), 10)
        stored = await store.load(run_id)
        # Not a decision: another process's step, which passes no lease (and a worker never
        # folds it in).
        with pytest.raises(RunBusyError):
            await store.append(run_id, stored.seq, [ToolStarted("c2")])
        finish.set()
        result = await asyncio.wait_for(worker, 10)
        assert [i.call_id for i in result.interruptions] == ["c2"]
        assert ran == ["export orders"]
    finally:
        await store.close()


async def test_the_sweep_expires_a_call_of_a_run_a_worker_holds_and_the_run_goes_on(
    backend: Backend,
) -> None:
    from datetime import UTC, datetime, timedelta

    from tether import Governance
    from tether.approvals import EXPIRED_MESSAGE
    from tether.store import expire_approvals

    now = [datetime(2026, 3, 1, 9, 0, tzinfo=UTC)]
    governance = Governance(clock=lambda: now[0], approval_timeout=timedelta(hours=1))
    started, finish, ran = asyncio.Event(), asyncio.Event(), []
    agent = _agent(started, finish, ran)
    model = agent.model
    assert isinstance(model, ScriptedModel)
    store = backend.open()
    try:
        paused = await Runner.run(agent, "Export and tell", store=store, governance=governance)
        run_id = paused.run_id
        await decide(
            store, run_id, agent, "c1", decision="approve", by="ana", governance=governance
        )
        state = await load_state(store, run_id, agent, governance=governance)
        worker = asyncio.create_task(Runner.run(agent, state, store=store))
        await asyncio.wait_for(started.wait(), 10)

        now[0] += timedelta(hours=2)  # c2's hour to be decided has passed
        swept = await expire_approvals(store, governance=governance)
        assert [(p.run_id, p.call_id) for p in swept.expired] == [(run_id, "c2")]
        assert swept.skipped == ()
        finish.set()
        result = await asyncio.wait_for(worker, 10)

        assert result.final_output == "Done."
        assert ran == ["export orders"]  # c2 expired: it never runs
        outputs = {
            i["call_id"]: i["output"]
            for i in model.requests[-1].input
            if i.get("type") == "function_call_output"
        }
        assert outputs == {"c1": "exported orders", "c2": EXPIRED_MESSAGE.format(tool="notify")}
        expiries = [e for e in (await store.load(run_id)).events if isinstance(e, ApprovalDecided)]
        assert [(e.call_id, e.by, e.expired) for e in expiries] == [
            ("c1", "ana", False),
            ("c2", "tether:system", True),
        ]
    finally:
        await store.close()
