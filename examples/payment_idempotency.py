"""A payment tool that charges exactly once, on the scripted model (no API key needed).

uv run python examples/payment_idempotency.py

The payment service below deduplicates by idempotency key, as real ones do. Its answer
gets lost after it charged (a time-out once the request was sent), and the tool says so:
``doubt_on=TimeoutError`` leaves the call in doubt instead of telling the model it failed.

1. ``idempotent_for``: the service keeps keys for a day, so tether runs the call again
   with the same ``ctx.idempotency_key``: the service answers with the first charge.
2. ``reconcile``: the tool looks the charge up by its key instead.
3. Neither: the stored run stops with the call in doubt until a person settles it.
4. ``retry_on``: the service refuses the first connection (nothing was sent), and tether
   tries the call again with the same key; each retry is in the audit trail too.

Each settlement is in the journal and the audit trail, with who settled it. A crash inside
the tool (the process killed after the charge) is settled the same way on resume:
``tether crashtest payment_idempotency:build_agent`` (run from this folder) kills the run
at every durable write and inside the charge, and finds no charge made twice.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from tether import Agent, RunContext, Runner, function_tool
from tether.store import SQLiteRunStore, load_state, save_state
from tether.testing import ScriptedModel, message, tool_call


class PaymentService:
    """Charges by idempotency key: a key seen before returns its charge, charging nothing."""

    def __init__(self) -> None:
        self.charges: dict[str, str] = {}
        self.lose_next_answer = False
        self.refuse_next = False

    def charge(self, key: str, amount: int) -> str:
        if self.refuse_next:  # before anything is sent: nothing happened
            self.refuse_next = False
            raise ConnectionRefusedError("the payment service refused the connection")
        charge = self.charges.setdefault(key, f"ch_{len(self.charges) + 1} ({amount} EUR)")
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise TimeoutError("the payment service did not answer in time")
        return charge

    def find(self, key: str) -> str | None:
        return self.charges.get(key)


service = PaymentService()


def charge_tool(**declared: Any) -> Any:
    @function_tool(
        needs_approval=True,
        doubt_on=TimeoutError,
        retry_on=ConnectionRefusedError,
        retry_delay=0.1,
        **declared,
    )
    def charge(ctx: RunContext[Any], amount: int) -> str:
        """Charge the customer.

        Args:
            amount: Euros to charge.
        """
        assert ctx.idempotency_key is not None
        return f"charged {service.charge(ctx.idempotency_key, amount)}"

    return charge


def find_charge(ctx: RunContext[Any], arguments: dict[str, Any]) -> str | None:
    """What became of a charge in doubt: the service knows it by its key."""
    assert ctx.idempotency_key is not None
    found = service.find(ctx.idempotency_key)
    return None if found is None else f"charged {found}"


def build_agent() -> Agent[None]:
    """The payment agent whose service keeps keys for a day (the first case), as
    ``tether crashtest`` takes it."""
    model = ScriptedModel([tool_call("charge", {"amount": 30}, "pay"), message("Paid 30 EUR.")])
    tool = charge_tool(idempotent_for=timedelta(hours=24))
    return Agent(name="Payments", model=model, tools=[tool])


async def pay(store: SQLiteRunStore, title: str, refused: bool = False, **declared: Any) -> None:
    print(f"--- {title}")
    model = ScriptedModel([tool_call("charge", {"amount": 30}, "pay"), message("Paid 30 EUR.")])
    agent = Agent(name="Payments", model=model, tools=[charge_tool(**declared)])
    paused = await Runner.run(agent, "Charge 30 EUR for order 7", store=store)
    state = await load_state(store, paused.run_id, agent)
    state.approve(state.interruptions[0], by="ana")
    before = len(service.charges)
    service.lose_next_answer = not refused
    service.refuse_next = refused
    result = await Runner.run(agent, state, store=store)
    for item in result.in_doubt:
        print(f"In doubt, waiting for a person: {item.tool_name} (call {item.call_id})")
        state = await load_state(store, paused.run_id, agent)
        key = next(iter(service.charges))  # a person looks in the service's dashboard
        state.resolve_doubt(
            item,
            "output",
            output=f"charged {service.charges[key]}",
            by="ops",
            reason="found in the payment dashboard",
        )
        await save_state(store, state)
        result = await Runner.run(agent, await load_state(store, paused.run_id, agent), store=store)
    print(f"New charges:  {len(service.charges) - before}")
    print(f"Final output: {result.final_output}")
    for record in result.to_state().audit():
        if record.kind == "resolved":
            print(f"Settled by {record.by}: {record.verdict} ({record.reason})")


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteRunStore(Path(folder) / "runs.db")
        try:
            await pay(store, "run again with the same key", idempotent_for=timedelta(hours=24))
            await pay(store, "reconcile by key", reconcile=find_charge)
            service.charges.clear()
            await pay(store, "no way to tell: a person settles it")
            await pay(store, "a refused connection, retried", refused=True)
        finally:
            await store.close()


if __name__ == "__main__":
    asyncio.run(main())
