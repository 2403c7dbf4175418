"""Tool time limits and a cancelled run, on the scripted model (no API key needed).

uv run python examples/time_limits.py

1. A tool that hangs is cancelled at its ``timeout``; the model reads that it
   did not finish, and the run goes on.
2. A run cut off by the caller's ``asyncio.timeout`` stops at once even though
   a tool hangs; ``run_state_of`` gives the state, which resumes later.
"""

from __future__ import annotations

import asyncio

from tether import Agent, Runner, RunState, function_tool
from tether.run import run_state_of
from tether.testing import ScriptedModel, message, tool_call

warehouse_up = asyncio.Event()  # set once the (pretend) warehouse answers again


@function_tool(timeout=0.2)
async def check_stock(item: str) -> str:
    """How many of an item are in stock.

    Args:
        item: The item to look up.
    """
    await warehouse_up.wait()  # the warehouse does not answer
    return f"12 x {item}"


@function_tool(idempotent=True)
async def count_shelves(aisle: str) -> str:
    """Count the shelves of an aisle (harmless to repeat).

    Args:
        aisle: The aisle to count.
    """
    await warehouse_up.wait()
    return f"aisle {aisle}: 8 shelves"


async def main() -> None:
    model = ScriptedModel(
        [
            tool_call("check_stock", {"item": "lamp"}),
            message("The warehouse did not answer in time; try again later."),
        ]
    )
    agent = Agent(name="Stock Clerk", model=model, tools=[check_stock])
    result = await Runner.run(agent, "Do we have lamps?")
    print(f"Tool said:    {model.requests[1].input[-1]['output']}")
    print(f"Final output: {result.final_output}")

    model = ScriptedModel([tool_call("count_shelves", {"aisle": "7"}), message("Aisle 7 has 8.")])
    agent = Agent(name="Stock Clerk", model=model, tools=[count_shelves])
    try:
        async with asyncio.timeout(0.2):
            await Runner.run(agent, "How many shelves in aisle 7?")
    except TimeoutError as error:
        state = run_state_of(error)
        assert state is not None
        text = state.to_string()
        print("Run cut off by the caller's deadline; state saved.")

        # Later, perhaps in another process: the call cut short is in doubt, and
        # count_shelves is idempotent, so resuming runs it again.
        warehouse_up.set()
        resumed = await Runner.run(agent, RunState.from_string(agent, text))
        print(f"Resumed:      {resumed.final_output}")


if __name__ == "__main__":
    asyncio.run(main())
