"""An agent with one tool, run end to end on the scripted model (no API key needed).

uv run python examples/hello.py
"""

from __future__ import annotations

import asyncio

from tether import Agent, Runner, function_tool
from tether.testing import ScriptedModel, message, tool_call


@function_tool
def get_temperature(city: str) -> str:
    """Get the current temperature for a city.

    Args:
        city: The city to look up.
    """
    return f"The temperature in {city} is 20°C"


async def main() -> None:
    # The scripted model plays the model's part: first it calls the tool, then it answers.
    model = ScriptedModel(
        [
            tool_call("get_temperature", {"city": "Oakland"}),
            message("It is 20°C in Oakland right now."),
        ]
    )
    agent = Agent(
        name="Weather Assistant",
        instructions="You answer questions about the weather.",
        model=model,
        tools=[get_temperature],
    )
    result = await Runner.run(agent, "What's the temperature in Oakland?")
    tool_output = model.requests[1].input[-1]["output"]
    print(f"Tool said:    {tool_output}")
    print(f"Final output: {result.final_output}")


if __name__ == "__main__":
    asyncio.run(main())
