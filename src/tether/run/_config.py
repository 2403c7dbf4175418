"""``RunConfig``: settings for a whole run, across its agents.

What is data (a model given by name, model settings, tracing settings) is
journaled when the run starts (``RunStarted.run_config``) and when a resume
gives a new ``RunConfig`` (``RunResumed.run_config``), so a run resumed in
another process without one goes on as it started. What is code (a ``Model``
object, a rejection-message function, a handoff input filter, a tracer
provider) cannot be journaled: pass the ``RunConfig`` again on resume to keep
it (the journal records its data again then, too).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import UserError
from ..journal import ToolApprovalItem
from ..models import Model, ModelSettings

if TYPE_CHECKING:
    from ..approvals import RuleBook
    from ..handoffs import HandoffInputData

__all__ = [
    "DEFAULT_REJECTION_MESSAGE",
    "RejectionMessage",
    "RunConfig",
    "config_data",
    "journaled_settings",
]

RejectionMessage = str | Callable[[ToolApprovalItem], str]
"""What the model reads for a rejected call without a message of its own: a template
(``{tool}`` is the tool's name) or a function of the call."""

DEFAULT_REJECTION_MESSAGE = "The user rejected this call of {tool}; it was not run."
"""What the model reads for a rejected call without a message; ``{tool}`` is the tool's name."""


@dataclass(frozen=True, slots=True)
class RunConfig:
    """Settings for one run, for every agent in it.

    config = RunConfig(model="gpt-4.1", model_settings=ModelSettings(temperature=0),
                       rejection_message=lambda call: f"{call.tool_name} was declined.")
    result = await Runner.run(agent, "...", run_config=config)
    """

    model: Model | str | None = None
    """The model every agent of the run uses, instead of its own."""
    model_settings: ModelSettings | None = None
    """Settings that take precedence over each agent's (fields left ``None`` do not)."""
    rejection_message: RejectionMessage | None = None
    """What the model reads for a rejected call whose decision has no message: a template
    (``{tool}``; journaled, like ``Runner.run(rejection_message=)``) or a function
    ``(call) -> str`` (not journaled: pass it again on resume)."""
    handoff_input_filter: Callable[[HandoffInputData], HandoffInputData] | None = None
    """Filters what the next agent sees on every handoff without a filter of its own."""
    tracing_disabled: bool = False
    """No spans for this run, even when OpenTelemetry is set up."""
    trace_include_sensitive_data: bool = False
    """Put model inputs and outputs, tool arguments and results on spans."""
    workflow_name: str = "tether run"
    """The name of the run's top span."""
    tracer_provider: Any = None
    """An OpenTelemetry ``TracerProvider``; ``None``: the global one."""
    standing_approvals: RuleBook | None = None
    """Where the run looks up standing approvals (a ``MemoryRuleBook``, or a run store);
    ``None``: the run's store when it has one, else none. Not journaled: pass it again on
    resume."""


def config_data(config: RunConfig | None) -> dict[str, Any] | None:
    """The journaled part of ``config``."""
    if config is None:
        return None
    data: dict[str, Any] = {
        "tracing_disabled": bool(config.tracing_disabled),
        "trace_include_sensitive_data": bool(config.trace_include_sensitive_data),
        "workflow_name": str(config.workflow_name),
    }
    if isinstance(config.model, str):
        data["model"] = config.model
    if config.model_settings is not None:
        settings = dataclasses.asdict(config.model_settings)
        data["model_settings"] = {k: v for k, v in settings.items() if v is not None}
    return data


def journaled_settings(data: dict[str, Any]) -> ModelSettings | None:
    """The model settings a run's journaled config holds, if any."""
    settings = data.get("model_settings")
    if not settings:
        return None
    try:
        return ModelSettings(**settings)
    except TypeError as exc:
        raise UserError(f"The run's journaled model settings cannot be used: {exc}.") from None
