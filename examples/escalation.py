"""Reminders, escalation, a late decision and a delegation, on a SQLite store and the
scripted model (no API key needed). The clock is a fake one the example moves, so the
hours pass at once.

uv run python examples/escalation.py

1. A payment waits for finance. After 1 hour its approvers are reminded; after 4 hours
   the managers may decide it too; a manager approves it.
2. Nobody decides another one: it expires at 8 hours, and an approval that comes after
   that is refused and recorded as late.
3. Ana (finance) is away: she delegates to Zoe for 6 hours, and Zoe approves a payment
   on her behalf; 7 hours later the delegation is over and Zoe is refused.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tether import (
    Agent,
    Approver,
    Escalation,
    Governance,
    NotAuthorizedError,
    Runner,
    function_tool,
)
from tether.approvals import delegate
from tether.errors import ApprovalExpiredError
from tether.store import (
    SQLiteRunStore,
    audit_run,
    decide,
    delegation_book,
    escalate_approvals,
    expire_approvals,
)
from tether.testing import ScriptedModel, message, tool_call

ANA = Approver("ana", roles=frozenset({"finance"}))
MAYA = Approver("maya", roles=frozenset({"managers"}))
ZOE = Approver("zoe")


class Clock:
    """Time that moves when the example says so."""

    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def hours(self, hours: float) -> None:
        self.now += timedelta(hours=hours)


@function_tool(needs_approval=True, approvers={"finance"}, approval_timeout=timedelta(hours=8))
def pay(invoice: str) -> str:
    """Pay an invoice.

    Args:
        invoice: The invoice to pay.
    """
    return f"paid {invoice}"


def clerk(invoice: str = "") -> Agent[None]:
    turns = [tool_call("pay", {"invoice": invoice}, "c1"), message("Done.")] if invoice else []
    return Agent(name="Clerk", model=ScriptedModel(turns), tools=[pay])


async def sweep(store: SQLiteRunStore, governance: Governance) -> None:
    """What a worker's sweep does (``tether serve``'s workers run it periodically)."""
    await escalate_approvals(store, governance=governance)
    await expire_approvals(store, governance=governance)


async def trail(store: SQLiteRunStore, run_id: str, title: str) -> None:
    print(title)
    for record in await audit_run(store, run_id):
        if record.call_id is None:
            continue
        who = f" by {record.by}" if record.by else ""
        who += f" for {record.on_behalf_of}" if record.on_behalf_of else ""
        group = ", ".join((*record.roles, *record.approvers)) if record.kind == "escalated" else ""
        line = f"  {record.kind:<10}{who}{' to ' + group if group else ''}"
        print(line.rstrip())


async def main(folder: Path) -> None:
    clock = Clock()
    steps = Escalation(
        remind_after=timedelta(hours=1),
        escalate_after=timedelta(hours=4),
        escalate_to={"managers"},
    )
    governance = Governance(clock=clock, escalation=steps)
    store = SQLiteRunStore(folder / "runs.db", clock=clock)  # one clock for both

    async def start(invoice: str) -> str:
        result = await Runner.run(clerk(invoice), "Pay it", store=store, governance=governance)
        return result.run_id

    escalated, ignored = await start("INV-1"), await start("INV-2")
    for hours in (1.5, 3):
        clock.hours(hours)
        await sweep(store, governance)
    await decide(
        store, escalated, clerk(), "c1", decision="approve", by=MAYA, governance=governance
    )
    await trail(store, escalated, "INV-1: reminded, escalated, approved by a manager")

    clock.hours(4)
    await sweep(store, governance)
    try:
        await decide(
            store, ignored, clerk(), "c1", decision="approve", by=ANA, governance=governance
        )
    except ApprovalExpiredError:
        await trail(store, ignored, "INV-2: nobody decided in time; Ana's approval came late")

    book = delegation_book(store)
    await delegate(book, from_=ANA, to=ZOE, ends=clock.now + timedelta(hours=6), by=ANA,
                   reason="on leave", governance=governance)  # fmt: skip
    first, second = await start("INV-3"), await start("INV-4")
    await decide(store, first, clerk(), "c1", decision="approve", by=ZOE, on_behalf_of="ana",
                 delegations=book, governance=governance)  # fmt: skip
    await trail(store, first, "INV-3: approved by Zoe on Ana's behalf")
    clock.hours(7)  # INV-4 still waits (its deadline is 8 hours), the delegation is over
    try:
        await decide(store, second, clerk(), "c1", decision="approve", by=ZOE, on_behalf_of="ana",
                     delegations=book, governance=governance)  # fmt: skip
    except NotAuthorizedError:
        print("INV-4: the delegation is over; Zoe may not decide for Ana any more")
    await book.aclose()
    await store.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(main(Path(folder)))
