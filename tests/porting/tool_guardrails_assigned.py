"""Tool guardrails, written against openai-agents 0.24: guardrails assigned to tools after
they are built, an input check that rejects a call, an output check that stops the run."""

import asyncio
import json
import os

from agents import (
    Agent,
    Runner,
    ToolGuardrailFunctionOutput,
    ToolInputGuardrailData,
    ToolOutputGuardrailData,
    ToolOutputGuardrailTripwireTriggered,
    set_default_openai_client,
    set_tracing_disabled,
)
from agents.decorators import tool, tool_input_guardrail, tool_output_guardrail
from openai import AsyncOpenAI


@tool
def post_message(channel: str, text: str) -> str:
    """Post a message to a team channel."""
    return f"Posted to #{channel}: {text}"


@tool
def lookup_employee(employee_id: str) -> dict[str, str]:
    """Look up an employee record."""
    return {"id": employee_id, "name": "Ada Park", "salary": "123000"}


@tool_input_guardrail
def no_credentials(data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
    args = json.loads(data.context.tool_arguments or "{}")
    for key, value in args.items():
        if "password" in str(value).lower():
            return ToolGuardrailFunctionOutput.reject_content(
                message=f"Blocked: {key} mentions a password",
                output_info={"argument": key},
            )
    return ToolGuardrailFunctionOutput(output_info="ok")


@tool_output_guardrail
def no_salaries(data: ToolOutputGuardrailData) -> ToolGuardrailFunctionOutput:
    if "salary" in str(data.output):
        return ToolGuardrailFunctionOutput.raise_exception(output_info={"field": "salary"})
    return ToolGuardrailFunctionOutput(output_info="ok")


post_message.tool_input_guardrails = [no_credentials]
lookup_employee.tool_output_guardrails = [no_salaries]


async def main() -> None:
    # --- local server: point the client at it (the test scripts the model) ---
    set_default_openai_client(
        AsyncOpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"])
    )
    set_tracing_disabled(True)
    # --- end local server ---

    agent = Agent(
        name="Office Assistant",
        instructions="Help with office tasks using the tools.",
        tools=[post_message, lookup_employee],
    )

    print("1. A normal message")
    result = await Runner.run(agent, "Tell #general the build is green.")
    print(f"   {result.final_output}")

    print("2. A message with a password")
    result = await Runner.run(agent, "Post the wifi password hunter2 to #general.")
    print(f"   {result.final_output}")

    print("3. An employee record")
    try:
        result = await Runner.run(agent, "What does employee 42 earn?")
        print(f"   {result.final_output}")
    except ToolOutputGuardrailTripwireTriggered as exc:
        print(f"   Stopped by {exc.guardrail.get_name()}: {exc.output.output_info}")


if __name__ == "__main__":
    asyncio.run(main())
