"""Handoff input filters and nested history, written against openai-agents 0.24: a filter
that reads the run items it is given (their classes, agents and raw items) and drops the
tool items by class, then the same handoff with the run's nest_handoff_history."""

import asyncio
import os

from agents import (
    Agent,
    HandoffInputData,
    HandoffOutputItem,
    RunConfig,
    Runner,
    ToolCallItem,
    ToolCallOutputItem,
    handoff,
    set_default_openai_client,
    set_tracing_disabled,
)
from agents.decorators import tool
from openai import AsyncOpenAI


@tool
def lookup(code: str) -> str:
    """Look a code up."""
    return f"{code} is fine"


def without_tools(data: HandoffInputData) -> HandoffInputData:
    for item in (*data.pre_handoff_items, *data.new_items):
        line = f"{type(item).__name__} {item.type} {item.agent.name}"
        if isinstance(item, HandoffOutputItem):
            line += f" {item.source_agent.name}->{item.target_agent.name}"
        if isinstance(item, ToolCallItem):
            line += f" {item.raw_item.name} {item.raw_item.arguments}"
        print(line)
    tools = (ToolCallItem, ToolCallOutputItem)
    return data.clone(
        pre_handoff_items=tuple(i for i in data.pre_handoff_items if not isinstance(i, tools)),
    )


async def main() -> None:
    # --- local server: point the client at it (the test scripts the model) ---
    set_default_openai_client(
        AsyncOpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"])
    )
    set_tracing_disabled(True)
    # --- end local server ---

    helper = Agent(name="Helper", instructions="Finish the request.")
    filtered = handoff(helper, input_filter=without_tools)
    for handoffs, config in (
        ([filtered], RunConfig()),
        ([helper], RunConfig(nest_handoff_history=True)),
    ):
        desk = Agent(name="Desk", instructions="Look codes up.", tools=[lookup], handoffs=handoffs)
        result = await Runner.run(desk, "Check A1, then pass me on.", run_config=config)
        print(f"Final: {result.final_output} ({result.last_agent.name})")


if __name__ == "__main__":
    asyncio.run(main())
