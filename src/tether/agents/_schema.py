"""A function tool's parameters schema as the reference SDK sends it: pydantic's schema of
the arguments, with its titles and non-``None`` defaults kept, made strict by closing every
object (``additionalProperties: false``, appended) and requiring all its properties.

tether's own ``function_tool`` drops titles and defaults; the facade's tools send the
reference's shape so the model is asked the same. A schema using ``allOf`` or a ``$ref``
beside other keywords (which the reference rewrites) keeps tether's shape.
"""

from __future__ import annotations

import copy
from typing import Any

from ..tools import FunctionTool

__all__ = ["OpenObject", "Unsupported", "reference_schema", "strict_copy"]


class Unsupported(Exception):
    """A schema the reference would rewrite in ways the facade does not."""


class OpenObject(Unsupported):
    """An object that allows more properties than it names: strict mode cannot hold a model
    to it."""


def strict_copy(schema: dict[str, Any]) -> dict[str, Any]:
    """A strict copy of ``schema``, as the reference makes it (``Unsupported`` if not)."""
    return _strict(copy.deepcopy(schema))


def reference_schema(tool: FunctionTool) -> dict[str, Any]:
    """The reference's parameters schema for ``tool`` (tether's, where the two would
    differ in more than titles, defaults and key order)."""
    schema = copy.deepcopy(tool.args_model.model_json_schema())
    # tether's arguments model forbids extra keys, which pydantic states first; the
    # reference's states it where strictness adds it.
    if schema.get("additionalProperties") is False:
        del schema["additionalProperties"]
    if not tool.strict:
        return tool.params_json_schema
    try:
        return _strict(schema)
    except Unsupported:
        return tool.params_json_schema


def _strict(node: dict[str, Any]) -> dict[str, Any]:
    if "allOf" in node or ("$ref" in node and len(node) > 1):
        raise Unsupported
    for key in ("$defs", "definitions"):
        if isinstance(node.get(key), dict):
            node[key] = {name: _strict(child) for name, child in node[key].items()}
    properties = node.get("properties")
    if node.get("type") is None and isinstance(properties, dict):
        node["type"] = "object"
    kind = node.get("type")
    closable = kind == "object" or (isinstance(kind, list) and "object" in kind)
    if closable and node.setdefault("additionalProperties", False) is not False:
        raise OpenObject
    if isinstance(properties, dict):
        node["required"] = list(properties)
        node["properties"] = {name: _strict(child) for name, child in properties.items()}
    if isinstance(node.get("items"), dict):
        node["items"] = _strict(node["items"])
    if isinstance(node.get("anyOf"), list):
        node["anyOf"] = [_strict(variant) for variant in node["anyOf"]]
    if isinstance(node.get("oneOf"), list):
        node["anyOf"] = [*node.get("anyOf", []), *(_strict(v) for v in node.pop("oneOf"))]
    if "default" in node and node["default"] is None:
        del node["default"]
    return node
