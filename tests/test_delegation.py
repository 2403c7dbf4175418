"""Delegation: an approver hands their approvals to another person for a period; within it
the delegate decides what the delegator may, recorded as on their behalf; outside it,
refused with nothing recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tether import Agent, Approver, Governance, NotAuthorizedError, Runner, function_tool
from tether.approvals import MemoryDelegationBook, delegate
from tether.errors import ReceiptError, UserError
from tether.store import SQLiteRunStore, audit_run, decide
from tether.testing import ScriptedModel, tool_call

ANA = Approver("ana", roles=frozenset({"finance"}))
BEN = Approver("ben", roles=frozenset({"finance"}))
ZOE = Approver("zoe", roles=frozenset({"support"}))


@function_tool(needs_approval=True, approvers={"finance"})
def pay(invoice: str) -> str:
    """Pay an invoice."""
    return f"paid {invoice}"


@function_tool(needs_approval=True, approvers={"finance"}, required_approvals=2)
def wire(amount: int) -> str:
    """Wire money (four-eyes)."""
    return f"wired {amount}"


def clerk(*turns: object) -> Agent[None]:
    return Agent(name="Clerk", model=ScriptedModel(list(turns)), tools=[pay, wire])  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(tmp_path: Path, clock: Clock) -> AsyncIterator[SQLiteRunStore]:
    opened = SQLiteRunStore(tmp_path / "runs.db", clock=clock)
    yield opened
    await opened.close()


async def start(store: SQLiteRunStore, governance: Governance, tool: str, args: dict) -> str:  # type: ignore[type-arg]
    agent = clerk([tool_call(tool, args, "c1")])
    return (await Runner.run(agent, "Go", store=store, governance=governance)).run_id


async def test_a_delegate_decides_within_the_period_only_and_the_trail_says_for_whom(
    store: SQLiteRunStore, clock: Clock
) -> None:
    governance = Governance(clock=clock)
    book = MemoryDelegationBook()
    starts, ends = clock.now + timedelta(hours=1), clock.now + timedelta(hours=3)
    await delegate(book, from_=ANA, to=ZOE, starts=starts, ends=ends, by=ANA, reason="leave",
                   governance=governance)  # fmt: skip
    early, within, late = [await start(store, governance, "pay", {"invoice": i}) for i in "ABC"]

    async def as_zoe(run_id: str) -> int:
        return await decide(
            store, run_id, clerk(), "c1", decision="approve", by=ZOE, on_behalf_of="ana",
            delegations=book, governance=governance,
        )  # fmt: skip

    with pytest.raises(NotAuthorizedError, match="no delegation"):
        await as_zoe(early)  # before the period
    with pytest.raises(NotAuthorizedError):  # on her own, zoe has not the role
        await decide(
            store, within, clerk(), "c1", decision="approve", by=ZOE, governance=governance
        )
    clock.now = starts + timedelta(minutes=5)
    await as_zoe(within)
    clock.now = ends
    with pytest.raises(NotAuthorizedError, match="no delegation"):
        await as_zoe(late)  # the period is over
    with pytest.raises(NotAuthorizedError, match="no delegation"):  # only ana's authority
        await decide(
            store, late, clerk(), "c1", decision="approve", by=ZOE, on_behalf_of="ben",
            delegations=book, governance=governance,
        )  # fmt: skip

    decided = [r for r in await audit_run(store, within) if r.kind == "decided"]
    assert [(r.by, r.on_behalf_of, r.roles) for r in decided] == [("zoe", "ana", ("finance",))]
    for run_id in (early, late):
        assert [r.kind for r in await audit_run(store, run_id) if r.call_id] == ["requested"]


async def test_only_the_delegator_delegates_and_four_eyes_counts_people(
    store: SQLiteRunStore, clock: Clock
) -> None:
    governance = Governance(clock=clock)
    book = MemoryDelegationBook()
    ends = clock.now + timedelta(days=1)
    with pytest.raises(NotAuthorizedError, match="only their own"):
        await delegate(book, from_=ANA, to=ZOE, ends=ends, by=BEN, governance=governance)
    with pytest.raises(UserError):
        await delegate(book, from_=ANA, to=ZOE, ends=clock.now, by=ANA, governance=governance)
    assert await book.delegations() == []
    await delegate(book, from_=ANA, to=ZOE, ends=ends, by=ANA, governance=governance)
    run_id = await start(store, governance, "wire", {"amount": 5})
    await decide(store, run_id, clerk(), "c1", decision="approve", by=ANA, governance=governance)
    with pytest.raises(NotAuthorizedError, match="distinct approvers"):
        await decide(
            store, run_id, clerk(), "c1", decision="approve", by=ZOE, on_behalf_of="ana",
            delegations=book, governance=governance,
        )  # fmt: skip
    await decide(store, run_id, clerk(), "c1", decision="approve", by=BEN, governance=governance)
    decided = [(r.by, r.partial) for r in await audit_run(store, run_id) if r.kind == "decided"]
    assert decided == [("ana", True), ("ben", False)]


async def test_in_memory_a_delegate_decides_as_the_delegator_and_the_receipt_binds_it(
    clock: Clock,
) -> None:
    from dataclasses import replace

    from tether.approvals import verify_receipts
    from tether.journal import ApprovalDecided

    governance = Governance(clock=clock, receipt_key="k")
    result = await Runner.run(clerk([tool_call("pay", {"invoice": "A"}, "c1")]), "Go",
                              governance=governance)  # fmt: skip
    state = result.to_state()
    with pytest.raises(NotAuthorizedError):
        state.approve("c1", by=ZOE)
    state.approve("c1", by=Approver("zoe", on_behalf_of=ANA))
    decided = [e for e in state.journal if isinstance(e, ApprovalDecided)]
    assert [(e.by, e.on_behalf_of, e.roles) for e in decided] == [("zoe", "ana", ("finance",))]
    [check] = verify_receipts(state.journal, "k")
    assert check.status == "valid"
    stripped = replace(decided[0], on_behalf_of=None)
    with pytest.raises(ReceiptError, match="does not verify"):
        verify_receipts([*state.journal[:-1], stripped], "k")
    with pytest.raises(UserError):
        Approver("x", on_behalf_of=Approver("zoe", on_behalf_of=ANA))
