"""Observing and shaping a run: guardrails, lifecycle hooks, RunConfig and tracing.

    uv run python examples/observed_run.py

A payments agent asks to send two transfers. A tool guardrail refuses the
oversized one before anyone is asked about it; the other waits for approval,
which is given, and the run finishes. Hooks print each step; with
opentelemetry-sdk installed (`pip install 'tether[otel]' opentelemetry-sdk`) the
spans of the run are printed at the end. The model is scripted, so this runs
offline.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tether import (
    Agent,
    RunConfig,
    RunContext,
    RunHooks,
    Runner,
    ToolGuardrailFunctionOutput,
    function_tool,
    tool_input_guardrail,
)
from tether.guardrails import ToolInputGuardrailData
from tether.testing import ScriptedModel, message, tool_call

LIMIT = 1_000


@tool_input_guardrail
def within_limit(data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
    amount = (data.context.context or {}).get("amounts", {}).get(data.call_id, 0)
    if amount > LIMIT:
        return ToolGuardrailFunctionOutput.reject_content(
            f"Refused: {amount} is over the limit of {LIMIT}.", output_info={"amount": amount}
        )
    return ToolGuardrailFunctionOutput.allow()


@function_tool(needs_approval=True, tool_input_guardrails=[within_limit])
def send_money(to: str, amount: int) -> str:
    """Send money to someone."""
    return f"Sent {amount} to {to}."


class Narrator(RunHooks[Any]):
    async def on_llm_start(self, context: RunContext[Any], agent: Any, *args: Any) -> None:
        print(f"  [hook] {agent.name} asks the model (turn {context.turn + 1})")

    async def on_approval_requested(self, context: Any, agent: Any, approval: Any) -> None:
        print(f"  [hook] approval requested: {approval.tool_name} {approval.arguments}")

    async def on_approval_decided(
        self, context: Any, agent: Any, approval: Any, approved: bool
    ) -> None:
        print(f"  [hook] decision taken up: {'approved' if approved else 'rejected'}")

    async def on_tool_end(self, context: Any, agent: Any, tool: Any, result: str) -> None:
        print(f"  [hook] {tool.name} -> {result}")


def tracing() -> Any:
    """An in-memory span exporter, if opentelemetry-sdk is installed."""
    try:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter,
        )
    except ImportError:
        return None, None
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter, provider


async def main() -> None:
    model = ScriptedModel(
        [
            [
                tool_call("send_money", {"to": "Ana", "amount": 50}, "small"),
                tool_call("send_money", {"to": "Bo", "amount": 50_000}, "large"),
            ],
            message("Sent 50 to Ana; the 50,000 to Bo was over the limit."),
        ]
    )
    agent = Agent(name="Payments", model=model, tools=[send_money])
    context = {"amounts": {"small": 50, "large": 50_000}}
    exporter, provider = tracing()
    config = RunConfig(workflow_name="payments", tracer_provider=provider)
    hooks = Narrator()

    print("Run:")
    result = await Runner.run(
        agent, "Pay Ana 50 and Bo 50,000", context=context, hooks=hooks, run_config=config
    )
    print(f"Waiting for a decision on: {[item.call_id for item in result.interruptions]}")
    state = result.to_state()
    for item in state.interruptions:
        state.approve(item, by="treasurer")
    print("Resume:")
    result = await Runner.run(agent, state, hooks=hooks, run_config=config)
    print(f"Final output: {result.final_output}")
    if exporter is not None:
        print("Spans:", ", ".join(sorted({span.name for span in exporter.get_finished_spans()})))


if __name__ == "__main__":
    asyncio.run(main())
