"""``agents.model_settings``: ``ModelSettings`` taking the reference SDK's options, and
``MCPToolChoice``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._exceptions import UserError
from ..models import ModelSettings as _ModelSettings

__all__ = ["MCPToolChoice", "ModelSettings"]

# The reference's options tether's models do not send; accepted so programs that set them
# run, kept on ``reference_options`` (docs/migrating.md says what is not sent).
_REFERENCE_ONLY = frozenset(
    {
        "reasoning",
        "verbosity",
        "frequency_penalty",
        "presence_penalty",
        "truncation",
        "metadata",
        "store",
        "prompt_cache_retention",
        "include_usage",
        "response_include",
        "top_logprobs",
        "extra_query",
        "extra_body",
        "extra_headers",
        "extra_args",
        "retry",
        "context_management",
    }
)


@dataclass(frozen=True, slots=True)
class MCPToolChoice:
    """Make the model call ``name`` on the hosted MCP server ``server_label``."""

    server_label: str
    name: str


class ModelSettings(_ModelSettings):
    """tether's ``ModelSettings`` that also accepts the reference SDK's other options
    (``reasoning=``, ``verbosity=``, ``store=`` ...). Those are kept on
    ``reference_options`` and not sent to the model: tether's models send
    ``temperature``, ``top_p``, ``max_tokens``, ``tool_choice`` and
    ``parallel_tool_calls``."""

    __slots__ = ("reference_options",)

    def __init__(
        self,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        tool_choice: Any = None,
        parallel_tool_calls: bool | None = None,
        **reference_options: Any,
    ) -> None:
        unknown = sorted(set(reference_options) - _REFERENCE_ONLY)
        if unknown:
            raise UserError(f"ModelSettings has no option(s) {unknown}.")
        if isinstance(tool_choice, MCPToolChoice):
            tool_choice = tool_choice.name
        super().__init__(temperature, top_p, max_tokens, tool_choice, parallel_tool_calls)
        object.__setattr__(
            self, "reference_options", {k: v for k, v in reference_options.items() if v is not None}
        )

    def __getattr__(self, name: str) -> Any:
        if name in _REFERENCE_ONLY:
            return self.reference_options.get(name)
        raise AttributeError(name)
