"""Reprs in the reference SDK's shape, for the objects programs print: an ``Agent``, a
``FunctionTool`` and ``ModelSettings`` list the reference's fields, in its order, with the
values tether holds (a program printing a stream event prints the agent inside it).

Where tether has no such field the reference's default is shown (``prompt=None``,
``timeout_behavior='error_as_result'``); what runs a tool (``on_invoke_tool``) is tether's
own function, shown as itself.
"""

from __future__ import annotations

from typing import Any

from ..tools import FunctionTool

__all__ = ["agent_repr", "settings_repr", "tool_repr"]


class _Shown:
    """A value whose repr is the text given."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _call(name: str, fields: list[tuple[str, Any]]) -> str:
    return f"{name}({', '.join(f'{key}={value!r}' for key, value in fields)})"


def _listed(values: Any) -> list[Any] | None:
    return list(values) if values else None


def tool_repr(tool: Any) -> str:
    """A tool as the reference SDK's ``FunctionTool`` repr shows it (other tools as
    themselves)."""
    if not isinstance(tool, FunctionTool):
        return repr(tool)
    fields: list[tuple[str, Any]] = [
        ("name", tool.name),
        ("description", tool.description),
        ("params_json_schema", tool.params_json_schema),
        ("on_invoke_tool", _Shown(repr(tool.function))),
        ("strict_json_schema", tool.strict),
        ("is_enabled", tool.is_enabled),
        ("tool_input_guardrails", _listed(tool.tool_input_guardrails)),
        ("tool_output_guardrails", _listed(tool.tool_output_guardrails)),
        ("needs_approval", tool.needs_approval),
        ("timeout_seconds", tool.timeout),
        ("timeout_behavior", "error_as_result"),
        ("timeout_error_function", None),
        ("defer_loading", False),
        ("custom_data_extractor", None),
        ("allowed_callers", None),
        ("output_json_schema", None),
    ]
    return _call("FunctionTool", fields)


def settings_repr(
    settings: Any, options: dict[str, Any], tool_choice: Any, fields: tuple[str, ...]
) -> str:
    """``ModelSettings`` as the reference's repr lists its ``fields``."""
    values = {**options, "tool_choice": tool_choice}
    for name in ("temperature", "top_p", "max_tokens", "parallel_tool_calls"):
        values[name] = getattr(settings, name)
    return _call("ModelSettings", [(name, values.get(name)) for name in fields])


def agent_repr(agent: Any, model: Any, output_type: Any, hooks: Any) -> str:
    """An agent as the reference SDK's ``Agent`` repr lists its fields; ``model``,
    ``output_type`` and ``hooks`` are the values it was given."""
    fields: list[tuple[str, Any]] = [
        ("name", agent.name),
        ("handoff_description", agent.handoff_description),
        ("tools", _Shown(f"[{', '.join(tool_repr(tool) for tool in agent.tools)}]")),
        ("mcp_servers", agent.mcp_servers),
        ("mcp_config", agent.mcp_config),
        ("instructions", agent.instructions),
        ("prompt", None),
        ("handoffs", agent.handoffs),
        ("model", model),
        ("model_settings", agent.model_settings),
        ("input_guardrails", agent.input_guardrails),
        ("output_guardrails", agent.output_guardrails),
        ("output_type", output_type),
        ("hooks", hooks),
        ("tool_use_behavior", agent.tool_use_behavior),
        ("reset_tool_choice", agent.reset_tool_choice),
    ]
    return _call("Agent", fields)
