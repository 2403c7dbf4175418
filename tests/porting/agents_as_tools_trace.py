"""Agents as tools, written against openai-agents 0.24: an orchestrator calling translator
agents as tools inside a trace, then a synthesizer reading its items."""

import asyncio
import os

from agents import (
    Agent,
    ItemHelpers,
    MessageOutputItem,
    Runner,
    set_default_openai_client,
    set_tracing_disabled,
    trace,
)
from openai import AsyncOpenAI

french_agent = Agent(
    name="french_agent",
    instructions="You translate the user's message to French.",
    handoff_description="An English to French translator",
)

german_agent = Agent(
    name="german_agent",
    instructions="You translate the user's message to German.",
    handoff_description="An English to German translator",
)

orchestrator = Agent(
    name="orchestrator",
    instructions="You translate using the tools you are given; never translate yourself.",
    tools=[
        french_agent.as_tool(
            tool_name="translate_to_french",
            tool_description="Translate the user's message to French",
        ),
        german_agent.as_tool(
            tool_name="translate_to_german",
            tool_description="Translate the user's message to German",
        ),
    ],
)

synthesizer = Agent(
    name="synthesizer",
    instructions="You inspect translations, correct them if needed, and give a final answer.",
)


async def main() -> None:
    # --- local server: point the client at it (the test scripts the model) ---
    set_default_openai_client(
        AsyncOpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"])
    )
    set_tracing_disabled(True)
    # --- end local server ---

    with trace("Orchestrator evaluator"):
        result = await Runner.run(orchestrator, "Say 'good morning' in French and German.")
        for item in result.new_items:
            if isinstance(item, MessageOutputItem):
                text = ItemHelpers.text_message_output(item)
                if text:
                    print(f"  - Translation step: {text}")
            elif item.type == "tool_call_item":
                print(f"  - Called {item.raw_item.name} with {item.raw_item.arguments}")
            elif item.type == "tool_call_output_item":
                print(f"  - Tool said: {item.output}")
        synthesis = await Runner.run(synthesizer, result.to_input_list())
    print(f"\n\nFinal response:\n{synthesis.final_output}")


if __name__ == "__main__":
    asyncio.run(main())
