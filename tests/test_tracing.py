"""Tracing on OpenTelemetry: one trace across a pause and a resume in another process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tether import (
    Agent,
    GuardrailFunctionOutput,
    RunConfig,
    Runner,
    function_tool,
    input_guardrail,
)
from tether.testing import ScriptedModel, message, tool_call
from tether.tracing import set_tracing_disabled

APP = Path(__file__).resolve().parent / "tracing_app.py"


def stage(name: str, state_file: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, str(APP), name, str(state_file)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    spans: list[dict[str, Any]] = json.loads(done.stdout)
    return spans


def test_a_run_paused_and_resumed_in_another_process_is_one_trace(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    paused = stage("pause", state_file)
    resumed = stage("resume", state_file)
    spans = paused + resumed
    assert len({span["trace_id"] for span in spans}) == 1
    by_id = {span["span_id"]: span for span in spans}
    [first_run] = [s for s in paused if s["name"] == "tether run"]
    [second_run] = [s for s in resumed if s["name"] == "tether run"]
    assert first_run["parent_id"] is None
    assert second_run["parent_id"] == first_run["span_id"]  # continues the same trace
    assert second_run["attributes"]["tether.resumed"] is True
    # Every other span hangs off one of the two run spans.
    for span in spans:
        top = span
        while top["parent_id"] in by_id:
            top = by_id[top["parent_id"]]
        assert top is first_run

    [wait] = [s for s in spans if s["name"] == "tether.approval_wait"]
    assert wait["attributes"]["tether.approval.approver"] == "alice"
    assert wait["attributes"]["tether.approval.verdict"] == "approved"
    assert wait["attributes"]["gen_ai.tool.name"] == "get_temperature"
    assert wait["start"] <= wait["end"]
    # The wait began in the first process, when the approval was requested.
    assert first_run["start"] <= wait["start"] <= first_run["end"]

    models = [s for s in spans if s["name"].startswith("chat ")]
    assert len(models) == 2
    for model in models:
        attributes = model["attributes"]
        assert attributes["gen_ai.operation.name"] == "chat"
        assert attributes["gen_ai.system"] == "ScriptedModel"
        assert attributes["gen_ai.request.model"] == "scripted"
        assert attributes["gen_ai.usage.input_tokens"] >= 0
        assert "gen_ai.input.messages" not in attributes  # content is off by default
    [tool] = [s for s in resumed if s["name"] == "execute_tool get_temperature"]
    assert tool["attributes"]["gen_ai.tool.call.id"] == "call_1"
    assert "gen_ai.tool.call.result" not in tool["attributes"]
    turns = sorted(s["attributes"]["tether.turn"] for s in spans if s["name"] == "tether.turn")
    assert turns == [1, 1, 2]  # turn 1 begins in one process and ends (its tool) in the other


@function_tool
def get_temperature(city: str) -> str:
    """Get the temperature for a city."""
    return f"The temperature in {city} is 20°C"


@input_guardrail
def on_topic(ctx: Any, agent: Any, input: list[Any]) -> GuardrailFunctionOutput:
    return GuardrailFunctionOutput(output_info="fine")


def weather(model: ScriptedModel) -> Agent[Any]:
    return Agent(name="Weather", model=model, tools=[get_temperature], input_guardrails=[on_topic])


def script() -> ScriptedModel:
    return ScriptedModel(
        [tool_call("get_temperature", {"city": "Oakland"}, "c1"), message("It is 20°C.")]
    )


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def provider_for(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


async def test_nothing_is_exported_when_tracing_is_off(exporter: InMemorySpanExporter) -> None:
    provider = provider_for(exporter)
    config = RunConfig(tracing_disabled=True, tracer_provider=provider)
    result = await Runner.run(weather(script()), "Oakland?", run_config=config)
    assert result.final_output == "It is 20°C."
    assert exporter.get_finished_spans() == ()
    set_tracing_disabled(True)
    try:
        await Runner.run(
            weather(script()), "Oakland?", run_config=RunConfig(tracer_provider=provider)
        )
    finally:
        set_tracing_disabled(False)
    assert exporter.get_finished_spans() == ()
    # The same run with tracing on exports its spans.
    await Runner.run(weather(script()), "Oakland?", run_config=RunConfig(tracer_provider=provider))
    names = [span.name for span in exporter.get_finished_spans()]
    assert "tether run" in names and "guardrail on_topic" in names
    assert "execute_tool get_temperature" in names


async def test_content_goes_on_spans_only_when_asked(exporter: InMemorySpanExporter) -> None:
    config = RunConfig(
        tracer_provider=provider_for(exporter),
        trace_include_sensitive_data=True,
        workflow_name="weather desk",
    )
    await Runner.run(weather(script()), "Oakland?", run_config=config)
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert "weather desk" in spans
    chat = next(span for name, span in spans.items() if name.startswith("chat "))
    assert "Oakland?" in str(chat.attributes["gen_ai.input.messages"])
    tool = spans["execute_tool get_temperature"]
    assert tool.attributes["gen_ai.tool.call.result"] == "The temperature in Oakland is 20°C"
