"""A streamed agent tool whose nested run needs an approval, written against openai-agents
0.24: ``as_tool(on_stream=)`` prints each nested event; the nested approval pauses the
calling run, whose state is saved to JSON, loaded, decided on stdin and resumed."""

import asyncio
import os
from pathlib import Path

from agents import (
    Agent,
    Runner,
    RunState,
    function_tool,
    set_default_openai_client,
    set_tracing_disabled,
)
from openai import AsyncOpenAI

STATE_FILE = Path("result.json")


@function_tool(needs_approval=True)
def issue_refund(customer_id: str, amount: int) -> str:
    """Refund an amount to a customer."""
    return f"Refunded ${amount} to {customer_id}."


billing = Agent(
    name="Billing Agent",
    instructions="You handle refunds with your tools.",
    tools=[issue_refund],
)


def show(payload: dict) -> None:
    event = payload["event"]
    where = f"agent={payload['agent'].name} call={payload['tool_call'].call_id}"
    if event.type == "raw_response_event":
        print(f"[stream] {where} raw {event.data.type}")
    elif event.type == "run_item_stream_event":
        raw = getattr(event.item, "raw_item", None)
        detail = raw.get("type") if isinstance(raw, dict) else getattr(raw, "type", None)
        print(f"[stream] {where} item {event.name} {event.item.type} {detail}")
    else:
        print(f"[stream] {where} agent_updated {event.new_agent.name}")


support = Agent(
    name="Support",
    instructions="You help customers; ask the billing agent for refunds.",
    tools=[
        billing.as_tool(
            tool_name="billing_agent",
            tool_description="Ask the billing agent.",
            on_stream=show,
        )
    ],
)


async def confirm(question: str) -> bool:
    answer = await asyncio.to_thread(input, f"{question} (y/n): ")
    return answer.strip().lower() in ("y", "yes")


async def main() -> None:
    # --- local server: point the client at it (the test scripts the model) ---
    set_default_openai_client(
        AsyncOpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"])
    )
    set_tracing_disabled(True)
    # --- end local server ---

    result = await Runner.run(support, "Refund $20 to customer ABC123.")
    while result.interruptions:
        print("Paused for:")
        for item in result.interruptions:
            print(f"  {item.agent.name} {item.name} {item.arguments}")
        STATE_FILE.write_text(result.to_state().to_string())
        state = await RunState.from_string(support, STATE_FILE.read_text())
        for item in state.get_interruptions():
            if await confirm(f"Approve {item.name}?"):
                state.approve(item)
            else:
                state.reject(item, rejection_message="The refund was declined.")
        result = await Runner.run(support, state)
    print(f"Final: {result.final_output}")


if __name__ == "__main__":
    asyncio.run(main())
