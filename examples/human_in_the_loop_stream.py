"""Human in the loop, streamed: the run's events arrive as they happen, the run pauses
for approval, and the resumed run streams too.

    uv run python examples/human_in_the_loop_stream.py          # asks y/n
    uv run python examples/human_in_the_loop_stream.py --yes    # approves without asking

The model is scripted (no API key needed) and streams its answer in pieces.
"""

from __future__ import annotations

import argparse
import asyncio

from tether import Agent, Runner, RunResultStreaming, function_tool
from tether.models import ModelRequest
from tether.testing import ScriptedModel, message, tool_call

RULE = "=" * 80


@function_tool(needs_approval=True)
async def get_temperature(city: str) -> str:
    """Get the temperature for a city.

    Args:
        city: The city to look up.
    """
    return f"The current weather in {city} is sunny, with a temperature of 20°C."


def answer(request: ModelRequest) -> dict[str, object]:
    output = str(request.input[-1].get("output", ""))
    if "rejected" in output:
        return message("I can't look up the temperature without your approval.")
    return message(output)


async def drain(result: RunResultStreaming, verbose: bool) -> None:
    async for event in result.stream_events():
        if verbose and event.type == "run_item_stream_event":
            print(f"  [{event.name}]")


async def main(approve: bool | None, verbose: bool) -> None:
    agent: Agent[None] = Agent(
        name="Weather Assistant",
        instructions="You are a helpful weather assistant.",
        model=ScriptedModel([tool_call("get_temperature", {"city": "Oakland"}), answer]),
        tools=[get_temperature],
    )
    result = Runner.run_streamed(agent, "What's the temperature in Oakland?")
    await drain(result, verbose)

    while result.interruptions:
        print(f"{RULE}\nHuman-in-the-loop: approval required for the following tool calls:")
        print(RULE)
        state = result.to_state()
        for item in state.interruptions:
            print("\nTool call details:")
            print(f"  Agent: {item.agent_name}")
            print(f"  Tool: {item.tool_name}")
            print(f"  Arguments: {item.arguments}\n")
            question = "Do you approve this tool call? (y/n):"
            if approve is None:
                reply = await asyncio.to_thread(input, f"{question} ")
                ok = reply.strip().lower() in ("y", "yes")
            else:
                ok = approve
                print(f"{question} {'y' if ok else 'n'}")
            if ok:
                state.approve(item)
                print(f"✓ Approved: {item.tool_name}")
            else:
                state.reject(item)
                print(f"✗ Rejected: {item.tool_name}")
        print("\nResuming agent execution...\n")
        result = Runner.run_streamed(agent, state)
        await drain(result, verbose)

    print(f"{RULE}\nFinal Output:\n{RULE}\n{result.final_output}\n\nDone!")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--yes", action="store_true", help="approve without asking")
    choice.add_argument("--no", action="store_true", help="reject without asking")
    parser.add_argument("--events", action="store_true", help="print each run item event")
    args = parser.parse_args()
    try:
        asyncio.run(main(True if args.yes else False if args.no else None, args.events))
    except EOFError:
        # No one to answer (stdin closed): one line, not a traceback.
        raise SystemExit(
            "Input ended before an answer (y/n) was given. Answer at the prompt, or pass "
            "--yes or --no."
        ) from None
