"""Weather approval, written against openai-agents 0.24: pause, save, load, decide, resume."""

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
async def get_temperature(city: str) -> str:
    """Get the current temperature and conditions for a city."""
    return f"The weather in {city} is sunny, and the temperature is 20°C."


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
        name="Weather Assistant",
        instructions="You are a helpful weather assistant. Use your tools to answer.",
        tools=[get_temperature],
    )
    result = await Runner.run(agent, "What's the temperature in Oakland?")

    while result.interruptions:
        print("=" * 80)
        print("Run interrupted - tool approval required")
        print("=" * 80)
        STATE_FILE.write_text(result.to_state().to_string())
        print(f"State saved to {STATE_FILE}")

        print(f"Loading state from {STATE_FILE}")
        state = await RunState.from_string(agent, STATE_FILE.read_text())

        for interruption in state.get_interruptions():
            print("\nTool call details:")
            print(f"  Agent: {interruption.agent.name}")
            print(f"  Tool: {interruption.name}")
            print(f"  Arguments: {interruption.arguments}")
            if await confirm("\nDo you approve this tool call?"):
                state.approve(interruption)
                print(f"✓ Approved: {interruption.name}")
            else:
                state.reject(interruption, rejection_message="The user declined this lookup.")
                print(f"✗ Rejected: {interruption.name}")

        print("\nResuming agent execution...\n")
        result = await Runner.run(agent, state)

    print("=" * 80)
    print("Final Output:")
    print("=" * 80)
    print(result.final_output)
    print(f"(requests: {result.context_wrapper.usage.requests})")


if __name__ == "__main__":
    asyncio.run(main())
