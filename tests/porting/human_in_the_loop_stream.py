"""Weather approval on a streamed run, written against openai-agents 0.24."""

import asyncio
import os

from agents import (
    Agent,
    ItemHelpers,
    Runner,
    function_tool,
    set_default_openai_client,
    set_tracing_disabled,
)
from openai import AsyncOpenAI
from openai.types.responses import ResponseTextDeltaEvent


@function_tool(needs_approval=True)
async def get_temperature(city: str) -> str:
    """Get the current temperature and conditions for a city."""
    return f"The current weather in {city} is sunny, with a temperature of 20°C."


async def confirm(question: str) -> bool:
    answer = await asyncio.to_thread(input, f"{question} (y/n): ")
    return answer.strip().lower() in ("y", "yes")


async def consume(result, log: list[str]) -> None:
    deltas: list[str] = []
    async for event in result.stream_events():
        if event.type == "raw_response_event" and isinstance(event.data, ResponseTextDeltaEvent):
            deltas.append(event.data.delta)
        elif event.type == "run_item_stream_event":
            if event.item.type == "tool_call_item":
                log.append(f"[tool called: {event.item.raw_item.name}]")
            elif event.item.type == "tool_call_output_item":
                log.append(f"[tool output: {event.item.output}]")
            elif event.item.type == "message_output_item":
                text = ItemHelpers.text_message_output(event.item)
                log.append(f"[message: {text}] streamed in {len(deltas)} pieces: {''.join(deltas)}")


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
    log: list[str] = []
    result = Runner.run_streamed(agent, "What's the weather in Oakland?")
    await consume(result, log)

    while result.interruptions:
        print("=" * 80)
        print("Human-in-the-loop: approval required for the following tool calls:")
        print("=" * 80)
        state = result.to_state()
        for interruption in result.interruptions:
            print("\nTool call details:")
            print(f"  Agent: {interruption.agent.name}")
            print(f"  Tool: {interruption.name}")
            print(f"  Arguments: {interruption.arguments}")
            if await confirm("\nDo you approve this tool call?"):
                state.approve(interruption, always_approve=False)
                print(f"✓ Approved: {interruption.name}")
            else:
                state.reject(interruption, always_reject=False)
                print(f"✗ Rejected: {interruption.name}")

        print("\nResuming agent execution...\n")
        result = Runner.run_streamed(agent, state)
        await consume(result, log)

    print("=" * 80)
    print("Final Output:")
    print("=" * 80)
    print(result.final_output)
    print("\nDone!")
    if os.environ.get("SHOW_STREAM_LOG"):
        print("\n".join(log))


if __name__ == "__main__":
    asyncio.run(main())
