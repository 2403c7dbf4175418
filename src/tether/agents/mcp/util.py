"""``agents.mcp.util``: tool filters and ``MCPUtil``, over tether's MCP servers."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any, TypedDict

from ...tools import FunctionTool

__all__ = ["MCPUtil", "ToolFilterStatic", "create_static_tool_filter", "filtered"]


class ToolFilterStatic(TypedDict, total=False):
    """Which tools of a server the agent sees: only ``allowed_tool_names`` (if given), none
    of ``blocked_tool_names``."""

    allowed_tool_names: list[str]
    blocked_tool_names: list[str]


def create_static_tool_filter(
    allowed_tool_names: list[str] | None = None,
    blocked_tool_names: list[str] | None = None,
) -> ToolFilterStatic | None:
    """A filter keeping ``allowed_tool_names`` and dropping ``blocked_tool_names``;
    ``None`` when both are ``None``."""
    if allowed_tool_names is None and blocked_tool_names is None:
        return None
    result: ToolFilterStatic = {}
    if allowed_tool_names is not None:
        result["allowed_tool_names"] = list(allowed_tool_names)
    if blocked_tool_names is not None:
        result["blocked_tool_names"] = list(blocked_tool_names)
    return result


def filtered(tools: Iterable[FunctionTool], tool_filter: Any) -> list[FunctionTool]:
    """``tools`` through a static filter (a function filter is refused where it is set)."""
    kept = list(tools)
    if not tool_filter:
        return kept
    allowed = tool_filter.get("allowed_tool_names")
    blocked = set(tool_filter.get("blocked_tool_names") or ())
    if allowed is not None:
        kept = [tool for tool in kept if tool.name in set(allowed)]
    return [tool for tool in kept if tool.name not in blocked]


class MCPUtil:
    """Listing the tools of MCP servers, as ``agents.mcp.util.MCPUtil`` does."""

    @classmethod
    async def get_all_function_tools(
        cls,
        servers: Sequence[Any],
        convert_schemas_to_strict: bool = False,
        run_context: Any = None,
        agent: Any = None,
        **_: Any,
    ) -> list[FunctionTool]:
        """The tools of every server, in order (each server's filter applied).

        With ``convert_schemas_to_strict``, a tool whose schema can be made strict is sent in
        strict mode, as the reference does: every object closed
        (``additionalProperties: false``) and all its properties required, a ``default`` of
        ``None`` dropped, ``oneOf`` read as ``anyOf``. A schema that cannot (an object that
        declares no properties and does not close itself, or one that allows extra
        properties) is sent as the server gives it."""
        tools: list[FunctionTool] = []
        for server in servers:
            tools.extend(await server.list_tools())
        if convert_schemas_to_strict:
            tools = [_strict_tool(tool) for tool in tools]
        return tools


class _NotStrict(Exception):
    """The schema cannot be made strict without changing what it accepts."""


def _strict_tool(tool: FunctionTool) -> FunctionTool:
    schema = copy.deepcopy(tool.params_json_schema)
    try:
        strict = _strict_root(schema, reject_open=schema != {})
    except _NotStrict:
        return tool
    return dataclasses.replace(tool, params_json_schema=strict, strict=True)


def _strict_root(schema: dict[str, Any], *, reject_open: bool) -> dict[str, Any]:
    if schema == {}:
        return {"additionalProperties": False, "type": "object", "properties": {}, "required": []}
    strict: dict[str, Any] = _strict_node(schema, reject_open)
    if isinstance(strict.get("anyOf"), list):
        raise _NotStrict("a strict schema's root is not an anyOf")
    if isinstance(strict.get("type"), list):
        if strict["type"] != ["object"]:
            raise _NotStrict("a strict schema's root is an object")
        strict["type"] = "object"
    return strict


def _strict_node(node: Any, reject_open: bool) -> Any:
    if not isinstance(node, dict):
        return node
    if "allOf" in node or ("$ref" in node and len(node) > 1):
        # Merging these as the reference does is not needed by any tool seen so far: the
        # schema is sent as the server gives it.
        raise _NotStrict("allOf or $ref with siblings")
    for key in ("$defs", "definitions"):
        if isinstance(node.get(key), dict):
            node[key] = {name: _strict_node(sub, reject_open) for name, sub in node[key].items()}
    kind, properties = node.get("type"), node.get("properties")
    if kind is None and isinstance(properties, dict):
        kind = node["type"] = "object"
    elif kind is None and node.get("additionalProperties", False) is not False:
        raise _NotStrict("open additionalProperties")
    is_object = kind == "object" or (isinstance(kind, list) and "object" in kind)
    if is_object:
        if reject_open and not properties and node.get("additionalProperties") is not False:
            raise _NotStrict("an object declaring no properties")
        if node.setdefault("additionalProperties", False) is not False:
            raise _NotStrict("open additionalProperties")
    if isinstance(properties, dict):
        node["required"] = list(properties)
        node["properties"] = {
            name: _strict_node(sub, reject_open) for name, sub in properties.items()
        }
    if isinstance(node.get("items"), dict):
        node["items"] = _strict_node(node["items"], reject_open)
    if isinstance(node.get("anyOf"), list):
        node["anyOf"] = [_strict_node(sub, reject_open) for sub in node["anyOf"]]
    if isinstance(node.get("oneOf"), list):
        before = node["anyOf"] if isinstance(node.get("anyOf"), list) else []
        node["anyOf"] = before + [_strict_node(sub, reject_open) for sub in node.pop("oneOf")]
    if "default" in node and node["default"] is None:
        del node["default"]
    return node
