"""An input guardrail that runs before the agent, written against openai-agents 0.24:
``@input_guardrail(run_in_parallel=False)``. A question that passes reaches the agent,
which calls a tool; one that trips reaches no hook, no model and no tool, plain and
streamed."""

import asyncio
import os

from agents import (
    Agent,
    GuardrailFunctionOutput,
    InputGuardrailTripwireTriggered,
    RunHooks,
    Runner,
    function_tool,
    input_guardrail,
    set_default_openai_client,
    set_tracing_disabled,
)
from openai import AsyncOpenAI


@function_tool
def launch(target: str) -> str:
    """Launch a rocket at a target."""
    print(f"  tool: launching at {target}")
    return f"Launched at {target}."


@input_guardrail(name="no_homework", run_in_parallel=False)
async def no_homework(ctx, agent, input) -> GuardrailFunctionOutput:
    text = input if isinstance(input, str) else str(input)
    print(f"  guardrail checks the input (run_in_parallel={no_homework.run_in_parallel})")
    return GuardrailFunctionOutput(output_info="homework?", tripwire_triggered="solve" in text)


class Hooks(RunHooks):
    async def on_agent_start(self, context, agent) -> None:
        print(f"  hook: {agent.name} starts")

    async def on_llm_start(self, context, agent, system_prompt, input_items) -> None:
        print(f"  hook: {agent.name} asks its model")

    async def on_tool_start(self, context, agent, tool) -> None:
        print(f"  hook: {agent.name} runs {tool.name}")


agent = Agent(
    name="Mission Control",
    instructions="You launch rockets with your tools.",
    tools=[launch],
    input_guardrails=[no_homework],
)


async def main() -> None:
    # --- local server: point the client at it (the test scripts the model) ---
    set_default_openai_client(
        AsyncOpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"])
    )
    set_tracing_disabled(True)
    # --- end local server ---

    print("Launch at the moon.")
    result = await Runner.run(agent, "Launch at the moon.", hooks=Hooks())
    print(f"  answer: {result.final_output}")

    print("Please solve 2x + 5 = 11.")
    try:
        await Runner.run(agent, "Please solve 2x + 5 = 11.", hooks=Hooks())
    except InputGuardrailTripwireTriggered as exc:
        print(f"  tripped: {exc.guardrail_result.guardrail.get_name()}")

    print("Please solve 3x = 9, streamed.")
    streamed = Runner.run_streamed(agent, "Please solve 3x = 9.", hooks=Hooks())
    try:
        async for event in streamed.stream_events():
            print(f"  event: {event.type}")
    except InputGuardrailTripwireTriggered as exc:
        print(f"  tripped: {exc.guardrail_result.output.output_info}")


if __name__ == "__main__":
    asyncio.run(main())
