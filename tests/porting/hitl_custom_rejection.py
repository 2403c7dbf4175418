"""A rejected call's message, written against openai-agents 0.24: one call rejected with the
run's tool_error_formatter, one with the SDK's default message."""

import asyncio
import os

from agents import (
    Agent,
    ModelSettings,
    RunConfig,
    Runner,
    ToolErrorFormatterArgs,
    set_default_openai_client,
    set_tracing_disabled,
)
from agents.decorators import tool
from openai import AsyncOpenAI
from openai.types.shared import Reasoning


@tool(needs_approval=True)
def publish_release_notes(version: str) -> str:
    """Publish the release notes of a version."""
    return f"Release notes for {version} published."


def explain_rejection(args: ToolErrorFormatterArgs[None]) -> str | None:
    if args.kind != "approval_rejected":
        return None
    return f"Publishing was held back by the release manager ({args.tool_name})."


async def main() -> None:
    # --- local server: point the client at it (the test scripts the model) ---
    set_default_openai_client(
        AsyncOpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"])
    )
    set_tracing_disabled(True)
    # --- end local server ---

    agent = Agent(
        name="Release Agent",
        instructions="Publish release notes when asked.",
        tools=[publish_release_notes],
        model_settings=ModelSettings(reasoning=Reasoning(effort="low")),
    )
    for config in (RunConfig(tool_error_formatter=explain_rejection), RunConfig()):
        result = await Runner.run(agent, "Publish the notes for 2.1.", run_config=config)
        for interruption in result.interruptions:
            print(f"Rejecting {interruption.name} {interruption.arguments}")
            state = result.to_state()
            state.reject(interruption)
            result = await Runner.run(agent, state, run_config=config)
        for item in result.new_items:
            if item.type == "tool_call_output_item":
                print(f"Model was told: {item.output}")
        print(f"Final: {result.final_output}")


if __name__ == "__main__":
    asyncio.run(main())
