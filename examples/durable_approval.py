"""A durable approval: start a run in one process, decide and resume it by id in another.

    uv run python examples/durable_approval.py start            # prints the run id
    uv run python examples/durable_approval.py inbox            # what waits for a person
    uv run python examples/durable_approval.py approve RUN_ID   # decide; the run stays paused
    uv run python examples/durable_approval.py resume RUN_ID    # any process, any time later

Each command is a separate process sharing one SQLite file (``--db``, default
``runs.db``). The run is kept in the store as it happens: the tool call is
recorded as started before it runs and as completed right after, so a crash
can never make it run twice. The model is scripted, so this runs offline.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from tether import Agent, Runner, SQLiteRunStore, function_tool
from tether.models import ModelRequest
from tether.store import load_state, save_state
from tether.testing import ScriptedModel, message, tool_call


@function_tool(needs_approval=True)
def refund(order: str, amount: float) -> str:
    """Refund an order.

    Args:
        order: The order number.
        amount: How much to refund.
    """
    print(f"  (the refund of {amount} for order {order} is sent, exactly once)")
    return f"Refunded {amount} for order {order}."


def reply(request: ModelRequest) -> Any:
    # The model asks for the refund first and confirms once it has the tool's output.
    outputs = [item for item in request.input if item.get("type") == "function_call_output"]
    if outputs:
        return message(f"Done: {outputs[-1]['output']}")
    return tool_call("refund", {"order": "A-1017", "amount": 42.0})


def build_agent() -> Agent[None]:
    return Agent(
        name="Support",
        instructions="Refund orders when asked.",
        model=ScriptedModel([reply, reply]),
        tools=[refund],
    )


async def main(args: argparse.Namespace) -> None:
    # Signed by default: the key is TETHER_STORE_KEY, else ~/.config/tether/store.key (made
    # on first use, 0600). Every step below is its own process and finds the same key.
    async with SQLiteRunStore(args.db) as store:
        agent = build_agent()
        if args.command == "start":
            result = await Runner.run(agent, "Please refund order A-1017.", store=store)
            print(f"Run {result.run_id} is waiting for a decision.")
            print(result.run_id)
        elif args.command == "inbox":
            for pending in await store.pending_approvals():
                print(f"{pending.run_id}  {pending.tool}({pending.arguments})")
        elif args.command == "approve":
            state = await load_state(store, args.run_id, agent)
            for item in state.interruptions:
                state.approve(item, by="support-lead")
                print(f"Approved {item.tool_name} {item.arguments}")
            await save_state(store, state)
        elif args.command == "resume":
            result = await Runner.resume(agent, args.run_id, store=store)
            print(f"Final output: {result.final_output}")
            stored = await store.load(args.run_id)
            print(f"Stored: {stored.status}, {stored.seq} events")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["start", "inbox", "approve", "resume"])
    parser.add_argument("run_id", nargs="?")
    parser.add_argument("--db", default="runs.db")
    asyncio.run(main(parser.parse_args()))
