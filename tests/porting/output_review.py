"""A customer lookup whose output a person reviews, written against openai-agents 0.24.

The loop is the reference SDK's approval loop, unchanged: list the interruptions,
approve or reject each, resume. Only the tool's declaration is tether's
(``review_output=True``): its output waits for a person before the model reads it,
and to this loop that review is an interruption like any other (approve: the model
reads the output; reject: it reads the rejection message).
"""

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


@function_tool(review_output=True)
async def lookup_customer(email: str) -> str:
    """Look up a customer's record by email address."""
    return f"{email}: Ada Lovelace, card 4111 1111 1111 1111"


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

    agent = Agent(
        name="Support Desk",
        instructions="You help support staff. Use your tools to answer.",
        tools=[lookup_customer],
    )
    result = await Runner.run(agent, "Who is ada@example.com?")

    while result.interruptions:
        print("Run interrupted - approval required")
        STATE_FILE.write_text(result.to_state().to_string())
        state = await RunState.from_string(agent, STATE_FILE.read_text())

        for interruption in state.get_interruptions():
            print(f"  Type: {interruption.type}")
            print(f"  Agent: {interruption.agent.name}")
            print(f"  Tool: {interruption.name}")
            print(f"  Arguments: {interruption.arguments}")
            if await confirm("Do you approve?"):
                state.approve(interruption)
                print(f"✓ Approved: {interruption.name}")
            else:
                state.reject(interruption, rejection_message="The record is restricted.")
                print(f"✗ Rejected: {interruption.name}")

        result = await Runner.run(agent, state)

    print(f"Final Output: {result.final_output}")


if __name__ == "__main__":
    asyncio.run(main())
