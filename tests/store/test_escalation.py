"""Reminders, escalation and late decisions on stored runs (SQLite and PostgreSQL), with the
clock the test moves: each step lands in the audit trail, in order, before the expiry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest

from tether import (
    Agent,
    Approver,
    Escalation,
    Governance,
    NotAuthorizedError,
    Runner,
    function_tool,
)
from tether.errors import ApprovalExpiredError, DecisionMismatchError
from tether.journal import ApprovalEscalated, Journal
from tether.store import (
    RunStore,
    audit_run,
    decide,
    escalate_approvals,
    expire_approvals,
    load_state,
)
from tether.testing import ScriptedModel, message, tool_call

from .backends import Backend

ANA = Approver("ana", roles=frozenset({"finance"}))
MAYA = Approver("maya", roles=frozenset({"managers"}))
EVE = Approver("eve", roles=frozenset({"support"}))
RAN: list[str] = []


@function_tool(needs_approval=True, approvers={"finance"}, approval_timeout=timedelta(hours=1))
def pay(invoice: str) -> str:
    """Pay an invoice."""
    RAN.append(invoice)
    return f"paid {invoice}"


def clerk(*turns: object) -> Agent[None]:
    return Agent(name="Clerk", model=ScriptedModel(list(turns)), tools=[pay])  # type: ignore[arg-type]


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[RunStore]:
    RAN.clear()
    opened = backend.open()
    yield opened
    await opened.close()


@pytest.fixture
def governance(backend: Backend) -> Governance:
    steps = Escalation(
        remind_after=timedelta(minutes=10),
        escalate_after=timedelta(minutes=30),
        escalate_to={"managers"},
    )
    return Governance(clock=backend.clock, receipt_key="k", escalation=steps)


async def start(store: RunStore, governance: Governance, invoice: str) -> str:
    agent = clerk([tool_call("pay", {"invoice": invoice}, "c1")])
    result = await Runner.run(agent, "Go", store=store, governance=governance)
    return result.run_id


async def sweep(store: RunStore, governance: Governance) -> tuple[int, int, int]:
    """What a worker's sweep does: the steps due, then the expiry."""
    steps = await escalate_approvals(store, governance=governance)
    expired = await expire_approvals(store, governance=governance)
    return len(steps.reminded), len(steps.escalated), len(expired.expired)


async def trail(store: RunStore, run_id: str) -> list[tuple[str, str | None]]:
    return [(r.kind, r.by) for r in await audit_run(store, run_id) if r.call_id == "c1"]


async def test_reminder_then_escalation_then_expiry_in_the_audit_trail(
    backend: Backend, store: RunStore, governance: Governance
) -> None:
    ignored = await start(store, governance, "A-1")
    escalated = await start(store, governance, "A-2")
    backend.clock.advance(5 * 60)
    assert await sweep(store, governance) == (0, 0, 0)
    with pytest.raises(NotAuthorizedError):  # not escalated yet: the managers may not decide
        await decide(
            store, escalated, clerk(), "c1", decision="approve", by=MAYA, governance=governance
        )

    backend.clock.advance(6 * 60)
    assert await sweep(store, governance) == (2, 0, 0)
    assert await sweep(store, governance) == (0, 0, 0)  # a reminder is sent once
    backend.clock.advance(20 * 60)
    assert await sweep(store, governance) == (0, 2, 0)
    with pytest.raises(NotAuthorizedError):  # escalated to the managers, not to anyone
        await decide(
            store, escalated, clerk(), "c1", decision="approve", by=EVE, governance=governance
        )
    await decide(
        store, escalated, clerk(), "c1", decision="approve", by=MAYA, governance=governance
    )
    backend.clock.advance(30 * 60)
    assert await sweep(store, governance) == (0, 0, 1)

    assert await trail(store, ignored) == [
        ("requested", None),
        ("reminded", None),
        ("escalated", None),
        ("expired", "tether:system"),
    ]
    assert await trail(store, escalated) == [
        ("requested", None),
        ("reminded", None),
        ("escalated", None),
        ("decided", "maya"),
    ]
    record = next(r for r in await audit_run(store, ignored) if r.kind == "escalated")
    assert record.roles == ("managers",)
    agent = clerk(message("done"))
    result = await Runner.run(agent, await load_state(store, escalated, agent), store=store)
    assert result.final_output == "done"
    assert RAN == ["A-2"]


async def test_a_late_sweep_records_the_missed_steps_before_the_expiry(
    backend: Backend, store: RunStore, governance: Governance
) -> None:
    run_id = await start(store, governance, "A-1")
    backend.clock.advance(2 * 3600)
    assert await sweep(store, governance) == (1, 1, 1)
    kinds = [kind for kind, _ in await trail(store, run_id)]
    assert kinds == ["requested", "reminded", "escalated", "expired"]


async def test_steps_due_after_the_deadline_never_happen(backend: Backend, store: RunStore) -> None:
    steps = Escalation(remind_after=timedelta(minutes=50), escalate_after=timedelta(hours=2),
                       escalate_to={"managers"})  # fmt: skip
    governance = Governance(clock=backend.clock, escalation=steps)
    run_id = await start(store, governance, "A-1")
    backend.clock.advance(3 * 3600)
    assert await sweep(store, governance) == (1, 0, 1)
    kinds = [kind for kind, _ in await trail(store, run_id)]
    assert kinds == ["requested", "reminded", "expired"]


async def test_a_decision_after_the_deadline_is_refused_and_recorded_as_late(
    backend: Backend, store: RunStore, governance: Governance
) -> None:
    before_sweep = await start(store, governance, "A-1")
    after_sweep = await start(store, governance, "A-2")
    backend.clock.advance(3600)
    await late_approval(store, governance, before_sweep)  # expires it, then refuses
    swept = await expire_approvals(store, governance=governance)
    assert [row.run_id for row in swept.expired] == [after_sweep]
    await late_approval(store, governance, after_sweep)
    for run_id in (before_sweep, after_sweep):
        assert await trail(store, run_id) == [
            ("requested", None),
            ("expired", "tether:system"),
            ("late", "ana"),
        ]
        late = (await audit_run(store, run_id))[-1]
        assert (late.verdict, late.reason, late.roles) == ("approved", "sorry", ("finance",))
    agent = clerk(message("noted"))
    result = await Runner.run(agent, await load_state(store, before_sweep, agent), store=store)
    assert result.final_output == "noted"
    assert RAN == []


async def late_approval(store: RunStore, governance: Governance, run_id: str) -> None:
    with pytest.raises(ApprovalExpiredError, match="recorded as late"):
        await decide(
            store, run_id, clerk(), "c1", decision="approve", by=ANA, reason="sorry",
            governance=governance,
        )  # fmt: skip
    with pytest.raises(ApprovalExpiredError):  # nobody the policy allows: no trace of it
        await decide(store, run_id, clerk(), "c1", decision="reject", by=EVE, governance=governance)


async def test_an_escalation_widened_by_editing_the_journal_is_refused(
    backend: Backend, store: RunStore, governance: Governance
) -> None:
    run_id = await start(store, governance, "A-1")
    backend.clock.advance(31 * 60)
    await escalate_approvals(store, governance=governance)
    events = list((await store.load(run_id)).events)
    at = next(i for i, e in enumerate(events) if isinstance(e, ApprovalEscalated))
    escalation = events[at]
    assert isinstance(escalation, ApprovalEscalated)
    events[at] = replace(escalation, roles=("managers", "support"))
    with pytest.raises(DecisionMismatchError, match="escalation"):
        Journal(events)


def test_an_escalation_policy_refuses_what_it_cannot_use() -> None:
    from tether.errors import UserError

    with pytest.raises(UserError, match="when, and to whom"):
        Escalation(escalate_after=600)
    with pytest.raises(UserError, match="when, and to whom"):
        Escalation(remind_after=60, escalate_to={"managers"})
    with pytest.raises(UserError, match="needs remind_after"):
        Escalation()
    with pytest.raises(UserError, match="positive"):
        Escalation(remind_after=-5)
    with pytest.raises(UserError, match="set of names"):
        Escalation(escalate_after=60, escalate_to={""})
    with pytest.raises(UserError, match="an Escalation"):
        Governance(escalation={"remind_after": 60})  # type: ignore[arg-type]
    steps = Escalation(remind_after=60, escalate_after=timedelta(minutes=5), escalate_to="ops")
    assert steps.escalate_to == frozenset({"ops"})
    assert steps.first_step() == timedelta(minutes=1)
