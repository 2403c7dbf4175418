"""Output reviews in a run store (SQLite and PostgreSQL): the pending projection lists them
with their kind, a rebuild gives the same rows, and a review resumes the stored run."""

from __future__ import annotations

import pytest

from tether import Agent, Approver, NotPendingError, Runner, UserError, function_tool
from tether.store import load_state, review, save_state
from tether.testing import ScriptedModel, message, tool_call

from .backends import Backend

ANA = Approver("ana")


async def test_the_pending_projection_lists_reviews_by_kind_and_rebuilds_them(
    backend: Backend,
) -> None:
    ran: list[str] = []

    @function_tool(review_output=True)
    def lookup(email: str) -> str:
        """Look a customer up."""
        ran.append(email)
        return f"{email}: secret"

    @function_tool(needs_approval=True)
    def refund(order: str) -> str:
        """Refund an order."""
        return "refunded"

    model = ScriptedModel(
        [
            [
                tool_call("lookup", {"email": "a@example.com"}, "c1"),
                tool_call("refund", {"order": "o-1"}, "c2"),
            ],
            message("done"),
        ]
    )
    agent = Agent(name="Support", model=model, tools=[lookup, refund])
    store = backend.open()
    try:
        result = await Runner.run(agent, "Help", store=store)
        rows = await store.pending_approvals(run_id=result.run_id)
        listed = sorted((row.call_id, row.kind, row.tool, row.arguments) for row in rows)
        assert listed == [
            ("c1", "output_review", "lookup", '{"email": "a@example.com"}'),
            ("c2", "approval", "refund", '{"order": "o-1"}'),
        ]
        page = await store.list_runs()
        assert [run.status for run in page.runs] == ["waiting"]

        await store.rebuild_projections(result.run_id)
        rebuilt = await store.pending_approvals(run_id=result.run_id)
        assert sorted((r.call_id, r.kind) for r in rebuilt) == [
            ("c1", "output_review"),
            ("c2", "approval"),
        ]

        with pytest.raises(UserError, match="needs the output"):
            await review(store, result.run_id, agent, "c1", "replaced", by=ANA)
        await review(
            store,
            result.run_id,
            agent,
            "c1",
            "replaced",
            output="a@example.com: [redacted]",
            by=ANA,
        )
        with pytest.raises(NotPendingError):
            await review(store, result.run_id, agent, "c1", "released", by=ANA)
        assert [r.call_id for r in await store.pending_approvals(run_id=result.run_id)] == ["c2"]
        state = await load_state(store, result.run_id, agent)
        state.approve("c2", by=ANA)
        await save_state(store, state)
        resumed = await Runner.resume(agent, result.run_id, store=store)
    finally:
        await store.close()
    assert resumed.final_output == "done"
    assert ran == ["a@example.com"]
    outputs = [
        i["output"] for i in model.requests[-1].input if i.get("type") == "function_call_output"
    ]
    assert outputs == ["a@example.com: [redacted]", "refunded"]
