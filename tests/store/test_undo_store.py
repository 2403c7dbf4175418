"""Undoing a completed call with its tool's compensation (``function_tool(undo=...)``): the
request is authorized and committed before the compensation runs, the compensation runs
once, and both are in the journal and the audit trail."""

from __future__ import annotations

from typing import Any

import pytest

from tether import Agent, Approver, RunContext, Runner, function_tool
from tether.errors import (
    NotAuthorizedError,
    NotPendingError,
    StaleDecisionError,
    StateFormatError,
    ToolCallInDoubtError,
    UserError,
)
from tether.journal import UndoCompleted, UndoRequested
from tether.store import RunStore, audit_run, undo
from tether.testing import ScriptedModel, message, tool_call

from .backends import Backend

ANA = Approver("ana", roles=frozenset({"support"}))


class Crash(BaseException):
    """The process dies while the compensation runs (nothing after it is recorded)."""


def _agent(undone: list[tuple[Any, ...]], *, fail: BaseException | None = None) -> Agent[None]:
    def cancel_refund(ctx: RunContext[None], arguments: dict[str, Any], output: str) -> str:
        undone.append((ctx.run_id, ctx.call_id, arguments, output))
        if fail is not None:
            raise fail
        return f"cancelled the refund of {arguments['order']}"

    @function_tool(approvers={"support"}, undo=cancel_refund)
    def refund(order: str) -> str:
        """Refund an order."""
        return f"refunded {order}"

    @function_tool
    def lookup(order: str) -> str:
        """Look an order up."""
        return f"{order}: shipped"

    model = ScriptedModel(
        [
            [
                tool_call("refund", {"order": "o-1"}, "c1"),
                tool_call("lookup", {"order": "o-1"}, "c2"),
            ],
            message("Refunded."),
        ]
    )
    return Agent(name="Support", model=model, tools=[refund, lookup])


async def _completed(store: RunStore, agent: Agent[None]) -> str:
    result = await Runner.run(agent, "Refund o-1", store=store)
    assert result.final_output == "Refunded."
    return result.run_id


async def test_an_undo_runs_once_and_is_audited(backend: Backend) -> None:
    undone: list[tuple[Any, ...]] = []
    agent = _agent(undone)
    store = backend.open()
    try:
        run_id = await _completed(store, agent)
        outcome = await undo(store, run_id, agent, "c1", by=ANA, reason="changed their mind")
        assert outcome == UndoCompleted("c1", "cancelled the refund of o-1")
        assert undone == [(run_id, "c1", {"order": "o-1"}, "refunded o-1")]

        with pytest.raises(NotPendingError, match="undone already"):
            await undo(store, run_id, agent, "c1", by=ANA)
        assert len(undone) == 1

        trail = [r for r in await audit_run(store, run_id) if r.kind.startswith("undo")]
        assert [(r.kind, r.by, r.reason, r.outcome, r.output) for r in trail] == [
            ("undo_requested", "ana", "changed their mind", None, None),
            ("undone", None, None, "completed", "cancelled the refund of o-1"),
        ]
        assert (await store.load(run_id)).summary.status == "completed"
    finally:
        await store.close()


async def test_a_crash_mid_undo_leaves_it_in_doubt_and_it_never_runs_again(
    backend: Backend,
) -> None:
    undone: list[tuple[Any, ...]] = []
    agent = _agent(undone, fail=Crash())
    store = backend.open()
    try:
        run_id = await _completed(store, agent)
        with pytest.raises(Crash):
            await undo(store, run_id, agent, "c1", by=ANA)
        events = (await store.load(run_id)).events
        assert isinstance(events[-1], UndoRequested)  # written before it ran
        with pytest.raises(ToolCallInDoubtError):
            await undo(store, run_id, agent, "c1", by=ANA)
        assert len(undone) == 1
    finally:
        await store.close()


async def test_a_failed_compensation_is_recorded_and_not_run_again(backend: Backend) -> None:
    undone: list[tuple[Any, ...]] = []
    agent = _agent(undone, fail=RuntimeError("the payment provider said no"))
    store = backend.open()
    try:
        run_id = await _completed(store, agent)
        outcome = await undo(store, run_id, agent, "c1", by=ANA)
        assert outcome.failed and "the payment provider said no" in outcome.output
        with pytest.raises(NotPendingError):
            await undo(store, run_id, agent, "c1", by=ANA)
        assert len(undone) == 1
    finally:
        await store.close()


async def test_refused_undos_record_nothing(backend: Backend) -> None:
    undone: list[tuple[Any, ...]] = []
    agent = _agent(undone)
    store = backend.open()
    try:
        run_id = await _completed(store, agent)
        seq = (await store.load(run_id)).seq
        with pytest.raises(NotAuthorizedError):
            await undo(store, run_id, agent, "c1", by=Approver("bob", roles=frozenset({"sales"})))
        with pytest.raises(StaleDecisionError):
            await undo(store, run_id, agent, "c1", by=ANA, fingerprint="sha256:" + "0" * 64)
        with pytest.raises(UserError, match="declares no undo"):
            await undo(store, run_id, agent, "c2", by=ANA)
        with pytest.raises(NotPendingError, match="nothing to undo"):
            await undo(store, run_id, agent, "c9", by=ANA)
        # The store's fold refuses an undo of a call that never ran, whoever writes it.
        with pytest.raises(StateFormatError):
            await store.append(run_id, seq, [UndoRequested("c9", "sha256:x")])
        assert (await store.load(run_id)).seq == seq
        assert undone == []
    finally:
        await store.close()
