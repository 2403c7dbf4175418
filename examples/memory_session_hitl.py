"""A chat on a SQLite session, asking before each tool call (y/n).

    uv run python examples/memory_session_hitl.py                   # in memory
    uv run python examples/memory_session_hitl.py --db chat.db      # kept in a file

With OPENAI_API_KEY set it talks to OpenAI; without, a scripted model plays the
seed's conversation (the Bay Bridge, then the weather in both cities). Every
message, tool call and tool output is stored in the session exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from tether import Agent, Runner, SQLiteSession, function_tool
from tether.models import Model, OpenAIResponsesModel
from tether.testing import ScriptedModel, message, tool_call


@function_tool(needs_approval=True)
def get_weather(location: str) -> str:
    """Get the current weather for a location.

    Args:
        location: City and state, for example "Oakland, CA".
    """
    return "Foggy, 58°F" if location.startswith("San Francisco") else "Sunny, 72°F"


def choose_model() -> Model:
    if os.environ.get("OPENAI_API_KEY"):
        return OpenAIResponsesModel("gpt-4.1-mini")
    return ScriptedModel(
        [
            message("The Bay Bridge connects San Francisco and Oakland in California."),
            [
                tool_call("get_weather", {"location": "San Francisco, CA"}),
                tool_call("get_weather", {"location": "Oakland, CA"}),
            ],
            message("San Francisco is foggy at 58°F. Oakland is sunny at 72°F."),
        ]
    )


async def read(prompt: str) -> str:
    try:
        return await asyncio.to_thread(input, prompt)
    except EOFError:
        return ""


async def chat(db: str) -> None:
    session = SQLiteSession("chat", db)
    agent: Agent[Any] = Agent(
        name="HITL Assistant",
        instructions="Answer briefly. Use get_weather for weather questions.",
        model=choose_model(),
        tools=[get_weather],
    )
    print("=== Memory Session + HITL Example ===")
    print(f"Session id: {db}")
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
    stored = await session.get_items()
    print(f"(the session holds {len(stored)} items)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=":memory:", help="SQLite file (default: in memory)")
    asyncio.run(chat(parser.parse_args().db))
