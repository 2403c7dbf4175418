"""A traced weather run, one stage per process, printing the spans it finished as JSON.

    python tracing_app.py pause STATE_FILE     run until the approval, save the state
    python tracing_app.py resume STATE_FILE    load it, approve as "alice", finish

The process sets up OpenTelemetry as an application does (a global TracerProvider
with an in-memory exporter) and prints every finished span at the end.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tether import Agent, Runner, RunState, function_tool
from tether.testing import ScriptedModel, message, tool_call


@function_tool(needs_approval=True)
def get_temperature(city: str) -> str:
    """Get the temperature for a city."""
    return f"The temperature in {city} is 20°C"


def agent(model: ScriptedModel) -> Agent[Any]:
    return Agent(name="Weather Assistant", model=model, tools=[get_temperature])


def span_json(span: Any) -> dict[str, Any]:
    parent = span.parent
    return {
        "name": span.name,
        "trace_id": format(span.context.trace_id, "032x"),
        "span_id": format(span.context.span_id, "016x"),
        "parent_id": format(parent.span_id, "016x") if parent is not None else None,
        "start": span.start_time,
        "end": span.end_time,
        "attributes": dict(span.attributes or {}),
    }


async def stage(name: str, state_file: Path) -> None:
    if name == "pause":
        model = ScriptedModel([tool_call("get_temperature", {"city": "Oakland"}, "call_1")])
        result = await Runner.run(agent(model), "What's the temperature in Oakland?")
        state_file.write_text(result.to_state().to_string())
    else:
        model = ScriptedModel([message("It is 20°C in Oakland.")])
        weather = agent(model)
        state = RunState.from_string(weather, state_file.read_text())
        for item in state.interruptions:
            state.approve(item, by="alice")
        result = await Runner.run(weather, state)
        assert result.final_output == "It is 20°C in Oakland."


if __name__ == "__main__":
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    asyncio.run(stage(sys.argv[1], Path(sys.argv[2])))
    print(json.dumps([span_json(span) for span in exporter.get_finished_spans()]))
