"""Spans for a run on OpenTelemetry: run, turn, model call, tool call, handoff, guardrail,
and the wait for an approval.

Nothing here runs unless ``opentelemetry-api`` is installed (``tether[otel]``) and the
run's tracing is on; what the spans are exported to is the application's
``TracerProvider`` (without one, OpenTelemetry's API exports nothing).

A run's first span puts its ``traceparent`` in the journal (``RunStarted.trace_parent``),
so a run resumed in any process parents its spans to it: one trace from the first model
call to the last, across pauses. The wait for a decision becomes a span when the run
takes the decision up, from the time the approval was requested to the time of the
decision, with who decided and the verdict.

Model inputs and outputs, tool arguments and results go on spans only with
``RunConfig(trace_include_sensitive_data=True)``. Attribute names follow the
OpenTelemetry GenAI semantic conventions where they exist (``gen_ai.*``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._agent import Agent
    from ..journal import Call, GuardrailChecked, RunView
    from ..models import Model, ModelRequest, ModelResponse
    from ._config import RunConfig

__all__ = ["NO_TRACER", "RunTracer", "tracer_for"]


class RunTracer:
    """The tracer of a run that is not traced: every method does nothing."""

    def begin(self, view: RunView, run_id: str, agent: str, resumed: bool) -> str | None:
        """Open the run's span; the ``traceparent`` to journal for a fresh run."""
        return None

    def end(self, error: BaseException | None) -> None:
        """Close every open span of this run."""

    def model_start(self, view: RunView, agent: Agent[Any], model: Model, req: ModelRequest) -> Any:
        """Open a model call's span (and the turn's)."""
        return None

    def model_end(self, span: Any, response: ModelResponse | None) -> None:
        """Close a model call's span."""

    def tool_start(self, view: RunView, call: Call) -> Any:
        """Open a tool call's span."""
        return None

    def tool_end(self, span: Any, output: str | None, error: BaseException | None = None) -> None:
        """Close a tool call's span."""

    def handoff(self, view: RunView, from_agent: str, to_agent: str) -> None:
        """Record a handoff."""

    def guardrail(self, view: RunView, check: GuardrailChecked, start_ns: int) -> None:
        """Record a guardrail check that began at ``start_ns``."""

    def approval_wait(self, view: RunView, call: Call) -> None:
        """Record the wait for the decision on ``call``, from request to decision."""


NO_TRACER = RunTracer()


def tracer_for(config: RunConfig | None, data: dict[str, Any]) -> RunTracer:
    """The run's tracer: OpenTelemetry's if installed and the run's tracing is on."""
    if data.get("tracing_disabled") or (config is not None and config.tracing_disabled):
        return NO_TRACER
    trace = _trace_api()
    if trace is None:
        return NO_TRACER
    provider = config.tracer_provider if config is not None else None
    if provider is None:
        provider = trace.get_tracer_provider()
        # No provider set (the API's proxy) or one switched off: every span would be a
        # no-op, so the run makes none (one set later applies from the next run).
        if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
            return NO_TRACER
    tracer = provider.get_tracer("tether")
    sensitive = bool(data.get("trace_include_sensitive_data"))
    name = str(data.get("workflow_name") or "tether run")
    return _OtelTracer(tracer, sensitive, name)


_api: list[Any] = []
"""``tether.tracing`` and ``opentelemetry.trace`` (``None`` if it is not installed), once
imported: a run asks for them at its start, and an import statement costs microseconds even
for a module already loaded."""


def _trace_api() -> Any:
    """``opentelemetry.trace`` if it is installed and ``set_tracing_disabled`` is not in
    force, else ``None``."""
    if not _api:
        from .. import tracing

        api: Any
        try:
            from opentelemetry import trace as api
        except ImportError:
            api = None
        _api.extend((tracing, api))
    switch, trace = _api
    return None if switch.tracing_disabled() else trace


def _ns(iso: str | None) -> int | None:
    if not iso:
        return None
    try:
        return int(datetime.fromisoformat(iso).timestamp() * 1_000_000_000)
    except ValueError:
        return None


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


class _OtelTracer(RunTracer):
    def __init__(self, tracer: Any, sensitive: bool, workflow: str) -> None:
        from opentelemetry import trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self._trace = trace
        self._propagator = TraceContextTextMapPropagator()
        self._tracer = tracer
        self._sensitive = sensitive
        self._workflow = workflow
        self._run: Any = None
        self._turn: Any = None
        self._turn_number = -1

    def _context(self, span: Any) -> Any:
        return self._trace.set_span_in_context(span)

    def begin(self, view: RunView, run_id: str, agent: str, resumed: bool) -> str | None:
        parent = None
        if resumed and view.trace_parent:
            parent = self._propagator.extract({"traceparent": view.trace_parent})
        attributes = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": agent,
            "tether.resumed": resumed,
            "tether.run_id": run_id,
        }
        self._run = self._tracer.start_span(self._workflow, context=parent, attributes=attributes)
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier, context=self._context(self._run))
        return carrier.get("traceparent")

    def end(self, error: BaseException | None) -> None:
        from opentelemetry.trace import Status, StatusCode

        for span in (self._turn, self._run):
            if span is None:
                continue
            if error is not None:
                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            span.end()
        self._turn = self._run = None

    def _turn_span(self, view: RunView, number: int, agent: str) -> Any:
        if self._turn is not None and self._turn_number == number:
            return self._turn
        if self._turn is not None:
            self._turn.end()
        self._turn_number = number
        self._turn = self._tracer.start_span(
            "tether.turn",
            context=self._context(self._run),
            attributes={"tether.turn": number, "gen_ai.agent.name": agent},
        )
        return self._turn

    def model_start(self, view: RunView, agent: Agent[Any], model: Model, req: ModelRequest) -> Any:
        turn = self._turn_span(view, view.turns + 1, agent.name)
        name = str(getattr(model, "model", None) or getattr(model, "name", None) or "model")
        system = (
            "openai"
            if type(model).__module__.startswith("tether.models.openai")
            else (type(model).__name__)
        )
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": system,
            "gen_ai.provider.name": system,
            "gen_ai.request.model": name,
            "gen_ai.agent.name": agent.name,
        }
        settings = req.settings
        if settings.temperature is not None:
            attributes["gen_ai.request.temperature"] = settings.temperature
        if settings.max_tokens is not None:
            attributes["gen_ai.request.max_tokens"] = settings.max_tokens
        if self._sensitive:
            attributes["gen_ai.input.messages"] = _json(list(req.input))
            if req.instructions:
                attributes["gen_ai.system_instructions"] = req.instructions
        return self._tracer.start_span(
            f"chat {name}", context=self._context(turn), attributes=attributes
        )

    def model_end(self, span: Any, response: ModelResponse | None) -> None:
        if span is None:
            return
        if response is not None:
            usage = response.usage
            span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
            if response.response_id:
                span.set_attribute("gen_ai.response.id", response.response_id)
            if self._sensitive:
                span.set_attribute("gen_ai.output.messages", _json(list(response.output)))
        span.end()

    def tool_start(self, view: RunView, call: Call) -> Any:
        turn = self._turn_span(view, view.turns, call.agent)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": call.name,
            "gen_ai.tool.call.id": call.call_id,
            "gen_ai.agent.name": call.agent,
        }
        if self._sensitive:
            attributes["gen_ai.tool.call.arguments"] = call.arguments
        return self._tracer.start_span(
            f"execute_tool {call.name}", context=self._context(turn), attributes=attributes
        )

    def tool_end(self, span: Any, output: str | None, error: BaseException | None = None) -> None:
        if span is None:
            return
        if error is not None:
            from opentelemetry.trace import Status, StatusCode

            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        elif output is not None and self._sensitive:
            span.set_attribute("gen_ai.tool.call.result", output)
        span.end()

    def handoff(self, view: RunView, from_agent: str, to_agent: str) -> None:
        turn = self._turn_span(view, view.turns, from_agent)
        self._tracer.start_span(
            "tether.handoff",
            context=self._context(turn),
            attributes={"tether.handoff.from": from_agent, "tether.handoff.to": to_agent},
        ).end()

    def guardrail(self, view: RunView, check: GuardrailChecked, start_ns: int) -> None:
        parent = self._run if check.stage == "input" else self._turn_span(view, view.turns, "")
        attributes: dict[str, Any] = {
            "tether.guardrail.name": check.guardrail,
            "tether.guardrail.stage": check.stage,
            "tether.guardrail.outcome": check.outcome,
            "tether.guardrail.triggered": check.outcome != "pass",
        }
        if check.call_id:
            attributes["gen_ai.tool.call.id"] = check.call_id
        self._tracer.start_span(
            f"guardrail {check.guardrail}",
            context=self._context(parent),
            attributes=attributes,
            start_time=start_ns,
        ).end()

    def approval_wait(self, view: RunView, call: Call) -> None:
        decision, requested = call.decision, call.requested
        if decision is None:
            return
        end = _ns(decision.at)
        start = _ns(requested.at if requested is not None else None) or end
        attributes: dict[str, Any] = {
            "tether.approval.approver": decision.by or "",
            "tether.approval.verdict": "approved" if decision.approved else "rejected",
            "tether.approval.automatic": decision.automatic,
            "gen_ai.tool.name": call.name,
            "gen_ai.tool.call.id": call.call_id,
            "gen_ai.agent.name": call.agent,
        }
        span = self._tracer.start_span(
            "tether.approval_wait",
            context=self._context(self._run),
            attributes=attributes,
            start_time=start,
        )
        span.end(end_time=end)
