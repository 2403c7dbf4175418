"""An agent used as a tool, streamed: the billing agent's own events are shown as they
happen (``as_tool(on_stream=)``), its refund waits for a person, the calling run pauses,
its state is saved to a file and loaded, and the decision resumes both runs.

    uv run python examples/agent_tool_stream.py          # asks y/n
    uv run python examples/agent_tool_stream.py --yes    # approves without asking

The models are scripted (no API key needed).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from tether import Agent, AgentToolStreamEvent, RunItemEvent, Runner, RunState, function_tool
from tether.models import ModelRequest
from tether.testing import ScriptedModel, message, tool_call

STATE_FILE = Path("agent_tool_state.json")


@function_tool(needs_approval=True)
def issue_refund(customer_id: str, amount: int) -> str:
    """Refund an amount to a customer.

    Args:
        customer_id: Who gets the refund.
        amount: How many dollars.
    """
    print(f"    (refunding ${amount} to {customer_id})")
    return f"Refunded ${amount} to {customer_id}."


def show(given: AgentToolStreamEvent) -> None:
    """Print what the billing agent does, as it does it (model deltas left out)."""
    event = given.event
    if isinstance(event, RunItemEvent):
        print(f"  [{given.agent.name} via {given.tool_name}] {event.name}")
    elif event.type == "agent_updated_stream_event":
        print(f"  [{given.agent.name} via {given.tool_name}] starts")


def said(request: ModelRequest) -> dict[str, object]:
    """The last tool output, as the model's answer."""
    return message(str(request.input[-1].get("output", "")))


async def main(approve: bool | None) -> None:
    billing = Agent(
        name="Billing",
        instructions="You handle refunds with your tools.",
        model=ScriptedModel(
            [tool_call("issue_refund", {"customer_id": "ABC123", "amount": 20}), said]
        ),
        tools=[issue_refund],
    )
    support = Agent(
        name="Support",
        instructions="You help customers; ask the billing agent about refunds.",
        model=ScriptedModel([tool_call("ask_billing", {"input": "Refund $20 to ABC123."}), said]),
        tools=[billing.as_tool("ask_billing", "Ask the billing agent.", on_stream=show)],
    )
    result = await Runner.run(support, "Please refund my $20, I am ABC123.")
    while result.interruptions:
        STATE_FILE.write_text(result.to_state().to_string())
        state = RunState.from_string(support, STATE_FILE.read_text())
        for item in state.interruptions:
            asked_by = item.parent.tool_name if item.parent else "-"
            question = f"Approve {item.tool_name} {item.arguments} (asked via {asked_by})? (y/n):"
            if approve is None:
                ok = (await asyncio.to_thread(input, f"{question} ")).strip().lower() == "y"
            else:
                ok = approve
                print(f"{question} {'y' if ok else 'n'}")
            if ok:
                state.approve(item)
            else:
                state.reject(item, message="The refund was declined.")
        result = await Runner.run(support, state)
    print(f"Final: {result.final_output}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--yes", action="store_true", help="approve without asking")
    choice.add_argument("--no", action="store_true", help="reject without asking")
    args = parser.parse_args()
    try:
        asyncio.run(main(True if args.yes else False if args.no else None))
    except EOFError:
        raise SystemExit(
            "Input ended before an answer (y/n) was given; pass --yes or --no."
        ) from None
