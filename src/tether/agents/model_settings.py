"""``agents.model_settings``: ``ModelSettings`` taking the reference SDK's options, and
``MCPToolChoice``."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ..errors import UserError
from ..models import ModelSettings as _ModelSettings

__all__ = ["MCPToolChoice", "ModelSettings"]

FIELDS = (
    "temperature",
    "top_p",
    "frequency_penalty",
    "presence_penalty",
    "tool_choice",
    "parallel_tool_calls",
    "truncation",
    "max_tokens",
    "reasoning",
    "verbosity",
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
    "prompt_cache_options",
    "preserve_raw_usage",
    "timeout",
)
"""The reference's ``ModelSettings`` fields, in its order (its repr lists them so)."""

# The reference's options beyond tether's five: accepted so programs that set them run,
# kept on ``reference_options`` (docs/migrating.md says which are sent).
_REFERENCE_ONLY = frozenset(FIELDS) - {
    "temperature",
    "top_p",
    "max_tokens",
    "tool_choice",
    "parallel_tool_calls",
}


MCP_TOOL_CHOICE = "_mcp_tool_choice"
"""Where ``reference_options`` keep an ``MCPToolChoice`` given as ``tool_choice``."""


@dataclass(frozen=True, slots=True)
class MCPToolChoice:
    """Make the model call ``name`` on the hosted MCP server ``server_label``."""

    server_label: str
    name: str


class ModelSettings(_ModelSettings):
    """tether's ``ModelSettings`` that also accepts the reference SDK's other options
    (``reasoning=``, ``verbosity=``, ``store=`` ...), kept on ``reference_options``.

    An agent's settings reach the model whole when the run's models come from
    ``tether.agents`` (a model given by name, resolved by the facade's ``Runner``): the
    Responses API gets ``reasoning``, ``text.verbosity``, ``store``, ``metadata``,
    ``truncation``, ``top_logprobs``, ``prompt_cache_retention``; Chat Completions gets
    ``reasoning_effort``, ``verbosity``, ``store``, ``metadata``, ``frequency_penalty``,
    ``presence_penalty``, ``top_logprobs``; ``extra_args`` go to either as given. A
    ``RunConfig``'s settings are journaled as tether's five fields only."""

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
        options = {k: v for k, v in reference_options.items() if v is not None}
        if isinstance(tool_choice, MCPToolChoice):
            # tether's settings name the tool; the facade's models send the choice whole.
            options[MCP_TOOL_CHOICE] = tool_choice
            tool_choice = tool_choice.name
        super().__init__(temperature, top_p, max_tokens, tool_choice, parallel_tool_calls)
        object.__setattr__(self, "reference_options", options)

    def merged(self, override: _ModelSettings | None) -> ModelSettings:
        """tether's merge, keeping the reference options of both."""
        merged = super().merged(override)
        options = {**self.reference_options, **getattr(override, "reference_options", {})}
        if not isinstance(merged, ModelSettings):
            merged = ModelSettings(**{f.name: getattr(merged, f.name) for f in fields(merged)})
        object.__setattr__(merged, "reference_options", options)
        return merged

    def resolve(self, override: _ModelSettings | None) -> ModelSettings:
        """The reference SDK's name for ``merged``: ``override``'s set values win."""
        return self.merged(override)

    def __repr__(self) -> str:
        from ._reprs import settings_repr

        options = {k: v for k, v in self.reference_options.items() if k != MCP_TOOL_CHOICE}
        choice = self.reference_options.get(MCP_TOOL_CHOICE, self.tool_choice)
        return settings_repr(self, options, choice, FIELDS)

    def __getattr__(self, name: str) -> Any:
        if name in _REFERENCE_ONLY:
            return self.reference_options.get(name)
        raise AttributeError(name)


# The reference's settings for a model given by name when the agent sets none: GPT-5
# models get low verbosity and, where the model takes one, a default reasoning effort.
_DATED = r"(-\d{4}-\d{2}-\d{2})?"
_EFFORTS: tuple[tuple[str, str], ...] = (
    (rf"gpt-5{_DATED}", "low"),
    (r"gpt-5\.2-codex", "low"),
    (r"gpt-5\.3-codex", "none"),
    (rf"gpt-5\.(2|4)-pro{_DATED}", "medium"),
    (rf"gpt-5\.(1|2|4|5|6){_DATED}", "none"),
    (rf"gpt-5\.4-(mini|nano){_DATED}", "none"),
    (rf"gpt-5\.6-(sol|terra|luna){_DATED}", "none"),
)
_CHAT_LATEST = r"gpt-5(\.\d+)?-chat-latest"


def takes_reasoning_settings(model: str) -> bool:
    """Whether ``model`` is a GPT-5 model that takes reasoning settings (a
    ``-chat-latest`` alias does not)."""
    import re

    return model.startswith("gpt-5") and not re.fullmatch(_CHAT_LATEST, model)


def default_model_settings(model: str) -> ModelSettings:
    """The settings the reference SDK gives an agent on ``model`` that sets none."""
    import re

    if not takes_reasoning_settings(model):
        return ModelSettings()
    for pattern, effort in _EFFORTS:
        if re.fullmatch(pattern, model):
            from openai.types.shared import Reasoning

            return ModelSettings(reasoning=Reasoning(effort=effort), verbosity="low")  # type: ignore[arg-type]
    return ModelSettings(verbosity="low")
