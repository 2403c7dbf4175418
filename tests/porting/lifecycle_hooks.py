"""Run and agent hooks, written against openai-agents 0.24: every lifecycle event printed with
the usage so far, the agent's turn input, and the tool context in tool hooks."""

import asyncio
import os
from typing import Any, cast

from agents import (
    Agent,
    AgentHookContext,
    AgentHooks,
    RunContextWrapper,
    RunHooks,
    Runner,
    Tool,
    Usage,
    set_default_openai_client,
    set_tracing_disabled,
)
from agents.decorators import tool
from agents.items import ModelResponse, TResponseInputItem
from agents.tool_context import ToolContext
from openai import AsyncOpenAI


class AuditHooks(AgentHooks[Any]):
    async def on_start(self, context: AgentHookContext[Any], agent: Agent[Any]) -> None:
        print(f"#### {agent.name} starts with turn_input: {context.turn_input}")

    async def on_end(self, context: RunContextWrapper[Any], agent: Agent[Any], output: Any) -> None:
        print(f"#### {agent.name} produced output: {output}.")


class CountingHooks(RunHooks):
    def __init__(self) -> None:
        self.events = 0

    def _usage(self, usage: Usage) -> str:
        return (
            f"{usage.requests} requests, {usage.input_tokens} input tokens, "
            f"{usage.output_tokens} output tokens, {usage.total_tokens} total tokens"
        )

    async def on_agent_start(self, context: AgentHookContext, agent: Agent) -> None:
        self.events += 1
        print(f"### {self.events}: {agent.name} started, turn_input {context.turn_input}")

    async def on_llm_start(
        self,
        context: RunContextWrapper,
        agent: Agent,
        system_prompt: str | None,
        input_items: list[TResponseInputItem],
    ) -> None:
        self.events += 1
        print(f"### {self.events}: LLM started. Usage: {self._usage(context.usage)}")

    async def on_llm_end(
        self, context: RunContextWrapper, agent: Agent, response: ModelResponse
    ) -> None:
        self.events += 1
        print(f"### {self.events}: LLM ended. Usage: {self._usage(context.usage)}")

    async def on_tool_start(self, context: RunContextWrapper, agent: Agent, tool: Tool) -> None:
        self.events += 1
        tool_context = cast(ToolContext[Any], context)
        print(
            f"### {self.events}: Tool {tool.name} started. name={tool_context.tool_name}, "
            f"call_id={tool_context.tool_call_id}, args={tool_context.tool_arguments}"
        )

    async def on_tool_end(
        self, context: RunContextWrapper, agent: Agent, tool: Tool, result: object
    ) -> None:
        self.events += 1
        tool_context = cast(ToolContext[Any], context)
        print(
            f"### {self.events}: Tool {tool.name} finished. result={result}, "
            f"call_id={tool_context.tool_call_id}, args={tool_context.tool_arguments}"
        )

    async def on_agent_end(self, context: RunContextWrapper, agent: Agent, output: Any) -> None:
        self.events += 1
        print(f"### {self.events}: {agent.name} ended. Usage: {self._usage(context.usage)}")


@tool
def roll_dice(sides: int) -> int:
    """Roll a die with the given number of sides."""
    return min(4, sides)


async def main() -> None:
    # --- local server: point the client at it (the test scripts the model) ---
    set_default_openai_client(
        AsyncOpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"])
    )
    set_tracing_disabled(True)
    # --- end local server ---

    agent = Agent(
        name="Dice Agent",
        instructions="Roll the dice the user asks for and report the result.",
        tools=[roll_dice],
        hooks=AuditHooks(),
    )
    result = await Runner.run(agent, "Roll a six-sided die.", hooks=CountingHooks())
    print(f"Done: {result.final_output}")


if __name__ == "__main__":
    asyncio.run(main())
