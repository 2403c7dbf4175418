"""Delegations kept beside the run store (SQLite and PostgreSQL): made through one book,
honoured through another (another process of the same inbox), within their period only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from tether import Agent, Approver, Governance, NotAuthorizedError, Runner, function_tool
from tether.approvals import delegate
from tether.store import RunStore, audit_run, decide, delegation_book
from tether.testing import ScriptedModel, tool_call

from .backends import Backend

ANA = Approver("ana", roles=frozenset({"finance"}))
ZOE = Approver("zoe")


@function_tool(needs_approval=True, approvers={"finance"})
def pay(invoice: str) -> str:
    """Pay an invoice."""
    return f"paid {invoice}"


def clerk(*turns: object) -> Agent[None]:
    return Agent(name="Clerk", model=ScriptedModel(list(turns)), tools=[pay])  # type: ignore[arg-type]


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[RunStore]:
    opened = backend.open()
    yield opened
    await opened.close()


async def test_a_stored_delegation_is_honoured_by_another_book_within_its_period(
    backend: Backend, store: RunStore
) -> None:
    governance = Governance(clock=backend.clock)
    made, read = delegation_book(store), delegation_book(store)
    assert type(made).__name__ != "MemoryDelegationBook"
    ends = backend.clock.now + timedelta(hours=2)
    kept = await delegate(made, from_=ANA, to=ZOE, ends=ends, by=ANA, reason="leave",
                          governance=governance)  # fmt: skip
    assert await read.delegations(to="zoe") == [kept]
    assert await read.delegations(to="ana") == []
    runs = []
    for invoice in "AB":
        agent = clerk([tool_call("pay", {"invoice": invoice}, "c1")])
        runs.append((await Runner.run(agent, "Go", store=store, governance=governance)).run_id)

    async def as_zoe(run_id: str) -> int:
        return await decide(
            store, run_id, clerk(), "c1", decision="approve", by=ZOE, on_behalf_of="ana",
            delegations=read, governance=governance,
        )  # fmt: skip

    await as_zoe(runs[0])
    backend.clock.advance(2 * 3600)
    with pytest.raises(NotAuthorizedError, match="no delegation"):
        await as_zoe(runs[1])
    decided = [
        (r.by, r.on_behalf_of) for r in await audit_run(store, runs[0]) if r.kind == "decided"
    ]
    assert decided == [("zoe", "ana")]
    assert [r.kind for r in await audit_run(store, runs[1]) if r.call_id] == ["requested"]
    for book in (made, read):
        await book.aclose()
