"""A chat kept in an OpenAI Conversation, asking before each tool call (y/n).

    OPENAI_API_KEY=... uv run python examples/openai_session_hitl.py
    OPENAI_API_KEY=... uv run python examples/openai_session_hitl.py --conversation conv_...

The conversation lives on OpenAI's servers (the Conversations API): every
message, tool call and tool output is added to it exactly once, across the
pauses for approval. Pass --conversation to continue an earlier one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from tether import Agent, Runner, function_tool
from tether.sessions import OpenAIConversationsSession


@function_tool(needs_approval=True)
def get_weather(location: str) -> str:
    """Get the current weather for a location.

    Args:
        location: City and state, for example "Oakland, CA".
    """
    return "Foggy, 58°F" if location.startswith("San Francisco") else "Sunny, 72°F"


async def read(prompt: str) -> str:
    try:
        return await asyncio.to_thread(input, prompt)
    except EOFError:
        return ""


async def chat(conversation_id: str | None, model: str) -> None:
    session = OpenAIConversationsSession(conversation_id)
    agent: Agent[Any] = Agent(
        name="HITL Assistant",
        instructions="Answer briefly. Use get_weather for weather questions.",
        model=model,
        tools=[get_weather],
    )
    print("=== OpenAI Session + HITL Example ===")
    print("Enter a message to chat with the agent. Submit an empty line to exit.")
    print("The agent will ask for approval before using tools.\n")
    while text := (await read("You: ")).strip():
        result = await Runner.run(agent, text, session=session)
        while result.interruptions:
            state = result.to_state()
            for item in state.interruptions:
                question = (
                    f"\nAgent {item.agent_name} wants to call '{item.tool_name}' "
                    f"with {item.arguments}. Approve? (y/n): "
                )
                if (await read(question)).strip().lower() in ("y", "yes"):
                    state.approve(item)
                    print("Approved tool call.")
                else:
                    state.reject(item)
                    print("Rejected tool call.")
            result = await Runner.run(agent, state, session=session)
        print(f"Assistant: {result.final_output}\n")
    if session.session_id:
        print(f"(conversation {session.session_id})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversation", help="an existing conversation id to continue")
    parser.add_argument("--model", default="gpt-4.1-mini")
    args = parser.parse_args()
    if not os.environ.get("OPENAI_API_KEY"):
        sys.exit(
            "This example talks to OpenAI: set OPENAI_API_KEY (or see memory_session_hitl.py)."
        )
    asyncio.run(chat(args.conversation, args.model))
