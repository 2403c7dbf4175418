"""Who decides: a payment that needs two people from finance, and one that expires.

    uv run python examples/governance.py

A clerk agent asks to wire money (four-eyes: two distinct approvers with the
``finance`` role) and to pay an invoice (must be decided within an hour). The
script shows a refused approver, the two approvals, an expiry (with a clock it
moves itself), the audit trail as JSON Lines and the receipts verified with the
application's key. The model is scripted, so this runs offline.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tether import (
    Agent,
    Approver,
    Governance,
    NotAuthorizedError,
    Runner,
    SQLiteRunStore,
    function_tool,
)
from tether.approvals import audit_jsonl, verify_receipts
from tether.errors import ApprovalExpiredError
from tether.store import audit_run, decide, expire_approvals, load_state
from tether.testing import ScriptedModel, message, tool_call

RECEIPT_KEY = "example-key: use a secret from your configuration"


class Clock:
    """The example's clock: it moves when the script says so (use the default in real code)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@function_tool(needs_approval=True, approvers={"finance"}, required_approvals=2)
def wire(account: str, amount: int) -> str:
    """Wire money to an account."""
    print(f"  (wired {amount} to {account}, exactly once)")
    return f"Wired {amount} to {account}."


@function_tool(needs_approval=True, approvers={"finance"}, approval_timeout=timedelta(hours=1))
def pay(invoice: str) -> str:
    """Pay an invoice."""
    print(f"  (paid {invoice})")
    return f"Paid {invoice}."


async def main() -> None:
    clock = Clock()
    governance = Governance(clock=clock, receipt_key=RECEIPT_KEY)
    ana = Approver("u-ana", "Ana", roles=frozenset({"finance"}))
    ben = Approver("u-ben", "Ben", roles=frozenset({"finance"}))
    sam = Approver("u-sam", "Sam", roles=frozenset({"support"}))

    model = ScriptedModel(
        [
            [
                tool_call("wire", {"account": "DE02 1203", "amount": 9000}, "wire-1"),
                tool_call("pay", {"invoice": "INV-77"}, "pay-1"),
            ],
            message("The wire went out; the invoice approval expired, so it was not paid."),
        ]
    )
    clerk = Agent(name="Clerk", model=model, tools=[wire, pay])
    store = SQLiteRunStore(":memory:")
    try:
        result = await Runner.run(clerk, "Settle March", store=store, governance=governance)
        run_id = result.run_id
        print("Waiting:", [(p.tool, p.expires_at) for p in await store.pending_approvals()])

        try:
            await decide(
                store, run_id, clerk, "wire-1", decision="approve", by=sam, governance=governance
            )
        except NotAuthorizedError as exc:
            print("Refused:", exc)
        await decide(
            store,
            run_id,
            clerk,
            "wire-1",
            decision="approve",
            by=ana,
            reason="matches PO-5531",
            governance=governance,
        )
        try:
            await decide(
                store, run_id, clerk, "wire-1", decision="approve", by=ana, governance=governance
            )
        except NotAuthorizedError as exc:
            print("Refused:", exc)
        await decide(
            store, run_id, clerk, "wire-1", decision="approve", by=ben, governance=governance
        )

        clock.now += timedelta(hours=2)  # nobody decided on the invoice in time
        swept = await expire_approvals(store, governance=governance)
        print("Expired by the sweep:", [(p.run_id == run_id, p.call_id) for p in swept.expired])
        try:
            await decide(
                store, run_id, clerk, "pay-1", decision="approve", by=ben, governance=governance
            )
        except ApprovalExpiredError as exc:
            print("Too late:", exc)

        state = await load_state(store, run_id, clerk, governance=governance)
        result = await Runner.run(clerk, state, store=store)
        print("Final output:", result.final_output)

        print("Audit trail (JSON Lines):")
        print(audit_jsonl(await audit_run(store, run_id)), end="")
        checks = verify_receipts((await store.load(run_id)).events, RECEIPT_KEY)
        print(f"{len(checks)} receipts verify.")
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
