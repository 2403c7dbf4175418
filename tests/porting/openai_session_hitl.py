"""A chat kept in an OpenAI Conversations session, with a weather tool that needs approval;
written against openai-agents 0.24."""

import asyncio
import os

from agents import (
    Agent,
    OpenAIConversationsSession,
    Runner,
    function_tool,
    set_default_openai_client,
    set_tracing_disabled,
)
from openai import AsyncOpenAI

WEATHER = {"san francisco": "Foggy, 58°F", "oakland": "Sunny, 72°F"}


@function_tool(needs_approval=True)
async def get_weather(location: str) -> str:
    """Get the current weather for a location."""
    city = location.split(",")[0].strip().lower()
    return WEATHER.get(city, "Weather data unavailable")


async def ask(question: str) -> str:
    return await asyncio.to_thread(input, question)


async def settle(agent, result, session):
    """Ask about every pending call and resume until the run has an answer."""
    while result.interruptions:
        state = result.to_state()
        for interruption in state.get_interruptions():
            answer = await ask(
                f"\nAgent {interruption.agent.name} wants to call '{interruption.name}' "
                f"with {interruption.arguments}. Approve? (y/n): "
            )
            if answer.strip().lower() in ("y", "yes"):
                state.approve(interruption)
                print("Approved tool call.")
            else:
                state.reject(interruption)
                print("Rejected tool call.")
        result = await Runner.run(agent, state, session=session)
    return result


async def main() -> None:
    # --- local server: point the client at it (the test scripts the model) ---
    set_default_openai_client(
        AsyncOpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"])
    )
    set_tracing_disabled(True)
    conversations = AsyncOpenAI(
        base_url=os.environ["CONVERSATIONS_BASE_URL"], api_key=os.environ["CONVERSATIONS_API_KEY"]
    )
    # --- end local server ---

    agent = Agent(
        name="HITL Assistant",
        instructions="Answer briefly. Use get_weather for weather questions.",
        tools=[get_weather],
    )
    session = OpenAIConversationsSession(openai_client=conversations)
    print("=== OpenAI Session + HITL Example ===")
    print("Enter a message to chat with the agent. Submit an empty line to exit.")
    print("The agent will ask for approval before using tools.")

    while True:
        message = (await ask("\nYou: ")).strip()
        if not message:
            break
        result = await Runner.run(agent, message, session=session)
        result = await settle(agent, result, session)
        print(f"Assistant: {result.final_output}")

    await session.clear_session()


if __name__ == "__main__":
    asyncio.run(main())
