"""Chat Completions for every agent, written against openai-agents 0.24: one global switch
of the API, a tool that needs approval, the run resumed after the decision."""

import asyncio
import os

from agents import (
    Agent,
    Runner,
    set_default_openai_api,
    set_default_openai_client,
    set_tracing_disabled,
)
from agents.decorators import tool
from openai import AsyncOpenAI


@tool(needs_approval=True)
def book_room(room: str, hour: int) -> str:
    """Book a meeting room for an hour of today."""
    return f"{room} is booked at {hour}:00."


async def main() -> None:
    # --- local server: point the client at it (the test scripts the model) ---
    set_default_openai_client(
        AsyncOpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"])
    )
    set_tracing_disabled(True)
    # --- end local server ---
    set_default_openai_api("chat_completions")

    agent = Agent(
        name="Facilities",
        instructions="Book rooms when asked.",
        tools=[book_room],
    )
    result = await Runner.run(agent, "Book the Maple room at 3pm.")
    while result.interruptions:
        state = result.to_state()
        for interruption in result.interruptions:
            print(f"Approving {interruption.name}({interruption.arguments})")
            state.approve(interruption)
        result = await Runner.run(agent, state)
    print(result.final_output)


if __name__ == "__main__":
    asyncio.run(main())
