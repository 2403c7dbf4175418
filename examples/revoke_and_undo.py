"""Taking a decision back before the call runs, and undoing a call after it ran.

    uv run python examples/revoke_and_undo.py

A refund waits for approval in a SQLite run store (``--db``, default ``runs.db``). The
support lead approves it, then withdraws the approval before any worker ran it: resuming
the run stops on the same call again, and the refund is never sent on that approval.
Approved again, the refund runs once; withdrawing now is refused, since it started. Later
the customer keeps the order: the refund is undone with the tool's compensation, once.
The model is scripted, so this runs offline.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from tether import Agent, RunContext, Runner, SQLiteRunStore, function_tool
from tether.errors import NotPendingError, NotRevocableError
from tether.models import ModelRequest
from tether.store import audit_run, decide, revoke, undo
from tether.testing import ScriptedModel, message, tool_call


def cancel_refund(ctx: RunContext[None], arguments: dict[str, Any], output: str) -> str:
    """The compensation: called once, with the call's arguments and the tool's output."""
    print(f"  (the refund of order {arguments['order']} is cancelled, exactly once)")
    return f"Cancelled: {output}"


@function_tool(needs_approval=True, undo=cancel_refund)
def refund(order: str, amount: float) -> str:
    """Refund an order.

    Args:
        order: The order number.
        amount: How much to refund.
    """
    print(f"  (the refund of {amount} for order {order} is sent, exactly once)")
    return f"Refunded {amount} for order {order}."


def reply(request: ModelRequest) -> Any:
    outputs = [item for item in request.input if item.get("type") == "function_call_output"]
    if outputs:
        return message(f"Done: {outputs[-1]['output']}")
    return tool_call("refund", {"order": "A-1017", "amount": 42.0}, "call_refund")


async def main(db: str) -> None:
    agent = Agent(name="Support", model=ScriptedModel([reply, reply]), tools=[refund])
    async with SQLiteRunStore(db) as store:
        paused = await Runner.run(agent, "Please refund order A-1017.", store=store)
        run_id, call = paused.run_id, paused.interruptions[0]
        print(f"Waiting: {call.tool_name} {call.arguments}")

        await decide(store, run_id, agent, call.call_id, decision="approve", by="lead")
        await revoke(store, run_id, agent, call.call_id, by="lead", reason="wrong amount?")
        print("Approved, then withdrawn before it ran.")
        again = await Runner.resume(agent, run_id, store=store)
        print(f"Resumed: still waiting on {[i.tool_name for i in again.interruptions]}")

        await decide(store, run_id, agent, call.call_id, decision="approve", by="lead")
        done = await Runner.resume(agent, run_id, store=store)
        print(f"Final output: {done.final_output}")
        try:
            await revoke(store, run_id, agent, call.call_id, by="lead")
        except NotRevocableError:
            print("Withdrawing now is refused: the call ran.")

        outcome = await undo(store, run_id, agent, call.call_id, by="lead", reason="kept it")
        print(f"Undone: {outcome.output}")
        try:
            await undo(store, run_id, agent, call.call_id, by="lead")
        except NotPendingError:
            print("A second undo is refused: it ran once.")
        trail = [record.kind for record in await audit_run(store, run_id)]
        print("Audit trail:", " ".join(trail))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="runs.db")
    asyncio.run(main(parser.parse_args().db))
